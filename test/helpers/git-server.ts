import { execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import {
  createServer as createPlainServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { tempDir } from './temp-dir.js'

// A real Git server for tests: `git http-backend` (smart HTTP, protocol v2)
// behind Node's https on 127.0.0.1, with a self-signed certificate and a
// token check. It counts requests, can be stopped and restarted on the same
// port, can hang without answering, and on every request scans all process
// command lines for the token.

export type GitServerOptions = {
  /** Required token; undefined serves anonymously. */
  token?: string
  username?: string
  /** Plain http instead of https (only to show what must never be reached). */
  plainHttp?: boolean
}

export type GitRequest = {
  method: string
  path: string
  service: string
  authorized: boolean
  /** Whether the request carried any Authorization header at all. */
  withAuthorization: boolean
}

export function createCertificate(dir: string): { cert: string; key: string; caFile: string } {
  const keyFile = join(dir, 'key.pem')
  const caFile = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  )
  return { cert: readFileSync(caFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), caFile }
}

export function commandLinesContaining(needles: string[]): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    let cmdline: string
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      continue
    }
    if (needles.some((needle) => cmdline.includes(needle))) found.push(`${pid}: ${cmdline}`)
  }
  return found
}

export async function startGitServer(options: GitServerOptions = {}) {
  const root = tempDir('docker-cd-git-')
  const tls = createCertificate(root)
  const reposDir = join(root, 'repos')
  execFileSync('mkdir', ['-p', reposDir])
  const username = options.username ?? 'x-access-token'
  const basic = (token: string) => Buffer.from(`${username}:${token}`).toString('base64')
  let expected = options.token ? `Basic ${basic(options.token)}` : undefined
  const secrets = options.token ? [options.token, basic(options.token)] : []

  const requests: GitRequest[] = []
  const tokenLeaks: string[] = []
  const sockets = new Set<Socket>()
  const listeners: ((request: GitRequest) => void)[] = []
  let hang = false
  let garbage = false
  let delayMs = 0
  let redirectBase: string | undefined
  let port = 0

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (delayMs > 0) setTimeout(() => handle(req, res), delayMs)
    else handle(req, res)
  }
  const server: Server = options.plainHttp
    ? createPlainServer(onRequest)
    : createServer({ cert: tls.cert, key: tls.key }, onRequest)
  const scheme = options.plainHttp ? 'http' : 'https'
  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1')
    const authorized = !expected || req.headers.authorization === expected
    const service =
      url.searchParams.get('service') ??
      (url.pathname.endsWith('/git-upload-pack') ? 'upload-pack' : url.pathname)
    const record = {
      method: req.method ?? 'GET',
      path: url.pathname,
      service,
      authorized,
      withAuthorization: req.headers.authorization !== undefined,
    }
    requests.push(record)
    for (const listener of listeners) listener(record)
    if (secrets.length) tokenLeaks.push(...commandLinesContaining(secrets))
    if (hang) return // leave the client waiting until it gives up
    if (garbage && authorized) {
      // A hostile server: an endless ref advertisement, as fast as the
      // client takes it (git buffers the whole advertisement in memory).
      res.writeHead(200, { 'Content-Type': `application/x-git-${service}-advertisement` })
      const chunk = Buffer.alloc(1024 * 1024, 0x61)
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', pump)
      }
      res.on('error', () => {})
      pump()
      return
    }
    if (redirectBase) {
      res.writeHead(301, { Location: `${redirectBase}${url.pathname}${url.search}` })
      res.end()
      return
    }
    if (!authorized) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' })
      res.end('authentication required\n')
      return
    }
    const backend = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: reposDir,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: authorized && expected ? username : '',
        REMOTE_ADDR: '127.0.0.1',
      },
    })
    req.pipe(backend.stdin)
    backend.stdin.on('error', () => {})
    let head = Buffer.alloc(0)
    let headersSent = false
    backend.stdout.on('data', (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk)
        return
      }
      head = Buffer.concat([head, chunk])
      const separator = head.indexOf('\r\n\r\n')
      if (separator === -1) return
      const headers: Record<string, string> = {}
      let status = 200
      for (const line of head.subarray(0, separator).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':')
        const name = line.slice(0, colon).trim()
        const value = line.slice(colon + 1).trim()
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10)
        else headers[name] = value
      }
      res.writeHead(status, headers)
      headersSent = true
      res.write(head.subarray(separator + 4))
    })
    backend.stderr.resume()
    backend.on('close', () => {
      if (!headersSent) res.writeHead(500).end()
      else res.end()
    })
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  async function listen() {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    port = (server.address() as AddressInfo).port
  }
  async function stop() {
    for (const socket of sockets) socket.destroy()
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  await listen()

  return {
    root,
    reposDir,
    caFile: tls.caFile,
    token: options.token,
    username,
    requests,
    tokenLeaks,
    get port() {
      return port
    },
    base: () => `${scheme}://127.0.0.1:${port}`,
    url: (name: string) => `${scheme}://127.0.0.1:${port}/${name}.git`,
    /** Requests that reached the server since the given index (see `requests.length`). */
    countSince: (index: number, service?: string) =>
      requests.slice(index).filter((request) => !service || request.service.includes(service))
        .length,
    onRequest(listener: (request: GitRequest) => void) {
      listeners.push(listener)
    },
    /** Changes the accepted token, as when the old one is revoked. */
    setToken(token: string) {
      expected = `Basic ${basic(token)}`
      secrets.push(token, basic(token))
    },
    setHang(value: boolean) {
      hang = value
    },
    /** Answers with endless bytes (a hostile server) while true. */
    setGarbage(value: boolean) {
      garbage = value
    },
    /** Answers every request with a 301 to the same path under `base` (undefined: serve again). */
    setRedirect(base: string | undefined) {
      redirectBase = base
    },
    /** Answers every request only after this delay, like a distant or overloaded host. */
    setDelay(ms: number) {
      delayMs = ms
    },
    stop,
    restart: listen,
    async close() {
      await stop()
      execFileSync('rm', ['-rf', root])
    },
  }
}

export type GitServer = Awaited<ReturnType<typeof startGitServer>>
