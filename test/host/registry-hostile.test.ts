import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createRegistryClient, type ImageRef, parseImageRef } from '../../services/host/index.js'
import { waitFor } from '../helpers/build.js'

// A hostile registry on loopback (a real HTTP server playing one): its
// answers are read up to a bound — an endless error body from the token
// service, a token answer of megabytes, a manifest without a digest header
// that never ends — so a Compose file naming such a registry cannot make
// docker-cd hold unbounded memory. Each ends with a reason, and the
// connection is closed by docker-cd while the server is still writing.

async function hostileRegistry(token: (res: ServerResponse) => void) {
  let closedWhileWriting = 0
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/token') return token(res)
    if (req.method === 'HEAD' && !req.headers.authorization) {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://127.0.0.1:${(server.address() as AddressInfo).port}/token",service="evil"`,
      })
      return res.end()
    }
    if (req.method === 'HEAD')
      return res.writeHead(200, { 'content-type': 'application/json' }).end()
    endless(res, 200)
  })
  function endless(res: ServerResponse, status: number) {
    res.writeHead(status, { 'content-type': 'application/json' })
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const write = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', write)
    }
    res.on('close', () => closedWhileWriting++)
    write()
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const ref = parseImageRef(`127.0.0.1:${(server.address() as AddressInfo).port}/app:1`) as ImageRef
  return { ref, endless, closed: () => closedWhileWriting, server }
}

const client = createRegistryClient({ credentials: async () => undefined, timeoutMs: 10_000 })

t.test('an endless error body from the token service', async (t) => {
  const evil = await hostileRegistry((res) => evil.endless(res, 500))
  t.match(await client.remoteDigest(evil.ref), {
    ok: false,
    kind: 'unreachable',
    reason: /token service answered 500/,
  })
  await waitFor(() => evil.closed() === 1, 'docker-cd to hang up while the body was still coming')
  t.pass('docker-cd hung up while the body was still coming')
})

t.test('a token answer past its bound', async (t) => {
  const evil = await hostileRegistry((res) => evil.endless(res, 200))
  t.match(await client.remoteDigest(evil.ref), {
    ok: false,
    reason: /token service answered more than 64 KiB/,
  })
  await waitFor(() => evil.closed() === 1, 'docker-cd to hang up')
  t.pass('docker-cd hung up')
})

t.test('a manifest without a digest header that never ends', async (t) => {
  const evil = await hostileRegistry((res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}')
  })
  t.match(await client.remoteDigest(evil.ref), {
    ok: false,
    kind: 'unreachable',
    reason: /manifest is larger than 4 MiB/,
  })
  await waitFor(() => evil.closed() === 1, 'docker-cd to hang up')
  t.pass('docker-cd hung up')
})
