import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { waitFor } from './build.js'
import { docker, ensureTestImage, hostUnavailable } from './docker.js'
import { freePort } from './free-port.js'
import { createCertificate } from './git-server.js'
import { tempDir } from './temp-dir.js'

// A real registry on loopback for the image-update tests: Debian's
// `docker-registry` (the CNCF distribution registry, 2.8), storage in a temp
// dir, on a free port of 127.0.0.1, which the engine trusts over plain HTTP
// without configuration. Auth, as each test asks:
// - none;
// - `basic`: an htpasswd file (bcrypt, `htpasswd -B`), the registry's own;
// - `token`: Docker Hub's scheme — the registry answers 401 with
//   `WWW-Authenticate: Bearer realm=…` and accepts JWTs from a token service,
//   here a small loopback one that signs them (RS256, its certificate in the
//   JWT's x5c and in the registry's rootcertbundle) for the pull scope asked,
//   to anyone, or only to the user and password given (anonymous pulls, as
//   Docker Hub's public images, or credentials, as private ones).
// Every request to the registry is counted from its access log: the tests
// and the benchmark count manifest requests by method.

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'token'; username?: string; password?: string }

export type Registry = {
  /** `127.0.0.1:<port>`: the registry as an image reference names it. */
  host: string
  /** Its directory: config, data, `access.log`. */
  logDir: string
  /** Requests the token service answered (token auth), with whether credentials came. */
  tokenRequests: { scope: string; withCredentials: boolean }[]
  /** Manifest requests seen in the registry's access log: `HEAD /v2/app/manifests/stable`. */
  manifestRequests: () => string[]
  stop: () => Promise<void>
  start: () => Promise<void>
  close: () => Promise<void>
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')

export async function startRegistry(auth: RegistryAuth = { kind: 'none' }): Promise<Registry> {
  const dir = tempDir('docker-cd-registry-')
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const tokenRequests: Registry['tokenRequests'] = []
  let tokenServer: ReturnType<typeof createServer> | undefined
  let authConfig = ''
  if (auth.kind === 'basic') {
    const htpasswd = join(dir, 'htpasswd')
    execFileSync('htpasswd', ['-Bbc', htpasswd, auth.username, auth.password], { stdio: 'ignore' })
    authConfig = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${htpasswd}\n`
  }
  if (auth.kind === 'token') {
    const tls = createCertificate(dir)
    const key = createPrivateKey(tls.key)
    const der = Buffer.from(
      tls.cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
      'base64',
    )
    tokenServer = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const scope = url.searchParams.get('scope') ?? ''
      const given = req.headers.authorization
      tokenRequests.push({ scope, withCredentials: given !== undefined })
      if (auth.username) {
        const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
        if (given !== expected) {
          res.writeHead(401, { 'content-type': 'application/json' })
          res.end(
            JSON.stringify({
              errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
            }),
          )
          return
        }
      }
      const [type, name, actions] = scope.split(':')
      const now = Math.floor(Date.now() / 1000)
      const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }
      const claims = {
        iss: 'test-token-issuer',
        sub: auth.username ?? '',
        aud: 'test-registry',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access: type && name ? [{ type, name, actions: (actions ?? '').split(',') }] : [],
      }
      const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
      const signature = sign('RSA-SHA256', Buffer.from(signingInput), key)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ token: `${signingInput}.${b64url(signature)}`, expires_in: 300 }))
    })
    await new Promise<void>((resolve) => tokenServer?.listen(0, '127.0.0.1', resolve))
    const tokenPort = (tokenServer.address() as AddressInfo).port
    authConfig = `auth:\n  token:\n    realm: http://127.0.0.1:${tokenPort}/token\n    service: test-registry\n    issuer: test-token-issuer\n    rootcertbundle: ${tls.caFile}\n`
  }
  const config = join(dir, 'config.yml')
  const log = join(dir, 'access.log')
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${authConfig}`,
  )
  let daemon: ChildProcess | undefined
  const start = async () => {
    const out = (await import('node:fs')).openSync(log, 'a')
    daemon = spawn('docker-registry', ['serve', config], { stdio: ['ignore', out, out] })
    await waitFor(
      async () => {
        try {
          const res = await fetch(`http://${host}/v2/`)
          await res.arrayBuffer()
          return res.status === 200 || res.status === 401
        } catch {
          return false
        }
      },
      'the registry to answer',
      30_000,
    )
  }
  const stop = async () => {
    const running = daemon
    daemon = undefined
    if (!running || running.exitCode !== null) return
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve())
      running.kill('SIGTERM')
    })
  }
  await start()
  return {
    host,
    logDir: dir,
    tokenRequests,
    manifestRequests: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .map((line) => /"(HEAD|GET|PUT) (\/v2\/[^ ]*\/manifests\/[^ ?"]*)/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => `${match[1]} ${match[2]}`),
    stop,
    start,
    close: async () => {
      await stop()
      await new Promise((resolve) =>
        tokenServer ? tokenServer.close(resolve) : resolve(undefined),
      )
    },
  }
}

/** A Docker config dir holding credentials for `host`, as `docker login` writes them. */
export function configWith(host: string, username: string, password: string): string {
  const dir = tempDir('docker-cd-dockercfg-')
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      auths: { [host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } },
    }),
  )
  return dir
}

/** A manifest's digest, as the registry names it (sha256 of its exact bytes). */
export const digestOf = (bytes: Buffer | string) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** Why the registry tests cannot run here (no engine, or the package missing), or undefined. */
export function registryUnavailable(): string | undefined {
  const engine = hostUnavailable()
  if (engine) return engine
  try {
    execFileSync('docker-registry', ['--version'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'docker-registry is not installed (scripts/ensure-registry.sh)'
  }
}

/**
 * Builds a distinct image from the test image (a label) as `reference` and
 * pushes it with the real engine (with `configDir`'s credentials); its
 * digest in that repository. Asynchronous: a token service the engine asks
 * during the push may run in this process.
 */
export async function pushImage(
  reference: string,
  variant: string,
  configDir?: string,
  /** More Dockerfile lines (a HEALTHCHECK that fails, say). */
  extra = '',
) {
  const context = tempDir('docker-cd-push-')
  writeFileSync(
    join(context, 'Dockerfile'),
    `FROM ${ensureTestImage()}\nLABEL variant="${variant}"\n${extra}`,
  )
  docker('build', '-q', '-t', reference, context)
  await promisify(execFile)('docker', [
    ...(configDir ? ['--config', configDir] : []),
    'push',
    reference,
  ])
  const digests = JSON.parse(
    docker('image', 'inspect', '--format', '{{json .RepoDigests}}', reference),
  ) as string[]
  const repository = reference.replace(/:[^/:]*$/, '')
  const found = digests.find((entry) => entry.startsWith(`${repository}@`))
  if (!found) throw new Error(`no repo digest for ${reference}: ${digests.join(', ')}`)
  return found.split('@')[1] as string
}

/**
 * Moves `repository:to` in the registry onto the manifest `repository:from`
 * names (what a publisher's push does to a tag), through the registry's API:
 * the engine here keeps its own tags as they are, so only docker-cd's pull
 * brings the new image to the host.
 */
export async function moveTag(
  registry: Pick<Registry, 'host'>,
  repository: string,
  from: string,
  to: string,
  credentials?: { username: string; password: string },
) {
  const auth = credentials
    ? {
        authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
      }
    : {}
  const manifest = `http://${registry.host}/v2/${repository}/manifests`
  const got = await fetch(`${manifest}/${from}`, {
    headers: {
      ...auth,
      accept:
        'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
    },
  })
  if (!got.ok) throw new Error(`reading ${repository}:${from}: HTTP ${got.status}`)
  const body = Buffer.from(await got.arrayBuffer())
  const put = await fetch(`${manifest}/${to}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': got.headers.get('content-type') ?? '' },
    body,
  })
  if (!put.ok) throw new Error(`moving ${repository}:${to}: HTTP ${put.status}`)
  return digestOf(body)
}

/**
 * A registry that answers oddly: a loopback proxy in front of `registry`
 * (the engine trusts it without configuration) that can tell docker-cd's
 * manifest HEADs another digest, and refuse the engine's manifest GETs (a
 * pull) as unauthorized. Counts the engine's manifest GETs.
 */
export async function startOddRegistry(
  registry: Pick<Registry, 'host'>,
  odd: { headDigest?: () => string | undefined; refusePulls?: () => boolean },
) {
  const { request } = await import('node:http')
  let pulls = 0
  const proxy = createServer((req, res) => {
    const manifest = /\/manifests\/[^/]+$/.test(req.url ?? '')
    const fromDockerCd = req.headers['user-agent'] === 'docker-cd'
    if (manifest && req.method === 'GET' && !fromDockerCd) {
      pulls++
      if (odd.refusePulls?.()) {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'access denied' }] }))
        return
      }
    }
    const [host, port] = registry.host.split(':')
    const upstream = request(
      { host, port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const headers = { ...answer.headers }
        const digest = odd.headDigest?.()
        if (manifest && req.method === 'HEAD' && fromDockerCd && digest)
          headers['docker-content-digest'] = digest
        res.writeHead(answer.statusCode ?? 502, headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    host: `127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    /** The engine's manifest GETs so far (pulls). */
    pulls: () => pulls,
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  }
}
