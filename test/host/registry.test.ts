import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  createRegistryClient,
  type ImageRef,
  lookupCredentials,
  parseImageRef,
} from '../../services/host/index.js'
import { docker } from '../helpers/docker.js'
import {
  configWith,
  digestOf,
  pushImage,
  type RegistryAuth,
  registryUnavailable,
  startRegistry,
} from '../helpers/registry.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 29's registry client against the real distribution registry on
// loopback (Debian's docker-registry), with images pushed by the real
// engine: what a tag points to is asked with a manifest HEAD only (never a
// GET, never a layer), and is the digest the engine records for the tag;
// a moved tag is seen; no tag, a stopped registry, refused credentials are
// reasons; basic auth with the Docker config's credentials; Docker Hub's
// token scheme anonymously and with credentials; a multi-arch index
// answers with the index's digest; no password in any reason.

const unavailable = registryUnavailable()
const pid = process.pid

/** Pushes a distinct image as host/repo:tag (then removes it here); its digest. */
async function push(host: string, repo: string, tag: string, variant: string, configDir?: string) {
  const name = `${host}/${repo}:${tag}`
  const digest = await pushImage(name, variant, configDir)
  docker('image', 'rm', name)
  return digest
}

const refOf = (text: string) => {
  const ref = parseImageRef(text)
  if ('problem' in ref) throw new Error(ref.problem)
  return ref as ImageRef
}

const clientFor = (configDir?: string) =>
  createRegistryClient({
    credentials: async (registry) =>
      configDir
        ? (await lookupCredentials(registry, join(configDir, 'config.json'))).found
        : undefined,
    timeoutMs: 10_000,
  })

t.test(
  'an open registry: HEAD only, the digest the engine records, a moved tag, errors',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const repo = `app-${pid}`
    const first = await push(registry.host, repo, 'stable', 'one')
    const client = clientFor()
    const ref = refOf(`${registry.host}/${repo}:stable`)
    const asked = await client.remoteDigest(ref)
    t.match(
      asked,
      { ok: true, digest: first, requests: 1 },
      'the digest the engine recorded for the push',
    )
    t.match(asked, { mediaType: /manifest/ })

    const second = await push(registry.host, repo, 'stable', 'two')
    t.not(second, first)
    t.match(await client.remoteDigest(ref), { ok: true, digest: second }, 'the moved tag is seen')

    const asks = registry.manifestRequests().filter((line) => !line.startsWith('PUT'))
    t.same(
      asks,
      [`HEAD /v2/${repo}/manifests/stable`, `HEAD /v2/${repo}/manifests/stable`],
      'HEAD only: no manifest GET, no blob',
    )

    t.match(await client.remoteDigest(refOf(`${registry.host}/${repo}:nope`)), {
      ok: false,
      kind: 'missing',
      reason: `${registry.host}/${repo}:nope: no such tag on the registry (404)`,
    })

    // A multi-arch index under a tag: the index's own digest, as the engine records for a pull by tag.
    const manifest = execFileSync('curl', [
      '-sf',
      '-H',
      'accept: application/vnd.docker.distribution.manifest.v2+json',
      `http://${registry.host}/v2/${repo}/manifests/${second}`,
    ])
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: second,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    })
    const put = await fetch(`http://${registry.host}/v2/${repo}/manifests/multi`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    })
    t.equal(put.status, 201, 'the index is stored')
    t.match(await client.remoteDigest(refOf(`${registry.host}/${repo}:multi`)), {
      ok: true,
      digest: digestOf(index),
      mediaType: 'application/vnd.oci.image.index.v1+json',
    })

    await registry.stop()
    t.match(await client.remoteDigest(ref), {
      ok: false,
      kind: 'unreachable',
      reason: new RegExp(
        `^${registry.host.replace(/\./g, '\\.')}/${repo}:stable: the registry cannot be reached \\(ECONNREFUSED\\)$`,
      ),
    })
  },
)

t.test(
  "basic auth (htpasswd): the Docker config's credentials, or a reason",
  { skip: unavailable ?? false },
  async (t) => {
    const password = `pw-${pid}-basic-secret`
    const registry = await startRegistry({ kind: 'basic', username: 'deployer', password })
    t.teardown(() => registry.close())
    const config = configWith(registry.host, 'deployer', password)
    const repo = `private-${pid}`
    const digest = await push(registry.host, repo, 'v1', 'basic', config)
    const ref = refOf(`${registry.host}/${repo}:v1`)
    t.match(await clientFor(config).remoteDigest(ref), { ok: true, digest, requests: 2 })
    const without = await clientFor().remoteDigest(ref)
    t.match(without, {
      ok: false,
      kind: 'auth',
      reason: /wants credentials \(basic\) and the Docker config has none/,
    })
    const wrong = await clientFor(
      configWith(registry.host, 'deployer', 'wrong-password'),
    ).remoteDigest(ref)
    t.match(wrong, { ok: false, kind: 'auth', reason: /refused \(401/ })
    for (const result of [without, wrong]) t.notMatch(JSON.stringify(result), password)
  },
)

t.test(
  "Docker Hub's token scheme: anonymous pulls and private ones",
  { skip: unavailable ?? false },
  async (t) => {
    const check = async (auth: RegistryAuth & { kind: 'token' }) => {
      const registry = await startRegistry(auth)
      t.teardown(() => registry.close())
      return registry
    }
    // Anonymous: a token for anyone, asked once and kept until it expires.
    const open = await check({ kind: 'token' })
    // Pushing needs a token too: the token service hands one to anyone here.
    const repo = `hub-${pid}`
    const digest = await push(open.host, repo, 'latest', 'token')
    const client = clientFor()
    const ref = refOf(`${open.host}/${repo}`)
    t.match(
      await client.remoteDigest(ref),
      { ok: true, digest, requests: 3 },
      'HEAD 401, token, HEAD',
    )
    const before = open.tokenRequests.length
    t.match(
      await client.remoteDigest(ref),
      { ok: true, digest, requests: 2 },
      'the kept token: no new token request',
    )
    t.equal(open.tokenRequests.length, before)
    t.match(open.tokenRequests.at(-1), { scope: `repository:${repo}:pull`, withCredentials: false })

    // Private: the token service wants the Docker config's credentials.
    const password = `pw-${pid}-token-secret`
    const closed = await check({ kind: 'token', username: 'robot', password })
    const config = configWith(closed.host, 'robot', password)
    const privateDigest = await push(closed.host, repo, 'stable', 'private', config)
    const privateRef = refOf(`${closed.host}/${repo}:stable`)
    t.match(await clientFor(config).remoteDigest(privateRef), { ok: true, digest: privateDigest })
    t.match(closed.tokenRequests.at(-1), { withCredentials: true })
    const refused = await clientFor().remoteDigest(privateRef)
    t.match(refused, {
      ok: false,
      kind: 'auth',
      reason:
        /token service answered 401 UNAUTHORIZED \(no credentials for it in the Docker config\)/,
    })
    t.notMatch(JSON.stringify(refused), password)
  },
)

t.test('credentials from a Docker config', async (t) => {
  const dir = tempDir('docker-cd-dockercfg-')
  const file = join(dir, 'config.json')
  t.same(
    await lookupCredentials('ghcr.io', join(dir, 'none.json')),
    { found: undefined },
    'no file: none',
  )
  writeFileSync(
    file,
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
        'https://ghcr.io': { username: 'gh', password: 'ghp' },
        'registry.example.com:5000': { auth: Buffer.from('u:p:with:colons').toString('base64') },
      },
      credHelpers: { 'quay.io': 'secretservice' },
    }),
  )
  t.same(await lookupCredentials('docker.io', file), {
    found: { username: 'hubuser', password: 'hubpass' },
  })
  t.same(await lookupCredentials('ghcr.io', file), { found: { username: 'gh', password: 'ghp' } })
  t.same(await lookupCredentials('registry.example.com:5000', file), {
    found: { username: 'u', password: 'p:with:colons' },
  })
  t.match(await lookupCredentials('quay.io', file), {
    found: undefined,
    note: /credential helper "secretservice", which docker-cd does not run/,
  })
  t.same(await lookupCredentials('other.example', file), { found: undefined })
  mkdirSync(join(dir, 'broken'))
  writeFileSync(join(dir, 'broken', 'config.json'), '{not json')
  t.match(await lookupCredentials('ghcr.io', join(dir, 'broken', 'config.json')), {
    found: undefined,
    note: /cannot be read \(not JSON\)/,
  })
})
