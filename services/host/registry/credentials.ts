import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'

// Registry credentials from the Docker CLI's config (`docker login` writes
// them): `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, its
// `auths` map of registry → `{auth: base64("user:password")}` (or
// `username`/`password`). Docker Hub's entry is keyed
// `https://index.docker.io/v1/`; other registries by host, with or without
// a scheme. Credential helpers (`credsStore`, `credHelpers`) keep secrets in
// a program docker-cd does not run: such a registry has no credentials here,
// and the reason says so. Read at every lookup (a `docker login` counts at
// once; the file is small). Nothing here is ever logged.

export type RegistryCredentials = { username: string; password: string }

export type CredentialLookup = { found: RegistryCredentials } | { found: undefined; note?: string }

type ConfigFile = {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>
  credsStore?: string
  credHelpers?: Record<string, string>
}

const HUB_KEYS = [
  'https://index.docker.io/v1/',
  'index.docker.io',
  'docker.io',
  'registry-1.docker.io',
]

/** The config file Docker's CLI reads, for this environment. */
export function dockerConfigFile(env: Record<string, string | undefined> = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json')
}

/** The host part of an `auths` key (`https://ghcr.io/v1/` → `ghcr.io`). */
function keyHost(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase()
}

function decode(entry: NonNullable<ConfigFile['auths']>[string]): RegistryCredentials | undefined {
  if (entry.username && entry.password)
    return { username: entry.username, password: entry.password }
  if (!entry.auth) return undefined
  const text = Buffer.from(entry.auth, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

/** Credentials for a registry (as the CLI names it: `docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
export async function lookupCredentials(
  registry: string,
  file: string = dockerConfigFile(),
): Promise<CredentialLookup> {
  let config: ConfigFile
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as ConfigFile
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { found: undefined }
    return {
      found: undefined,
      note: `the Docker config ${file} cannot be read (${code ?? 'not JSON'})`,
    }
  }
  const wanted = registry === 'docker.io' ? HUB_KEYS : [registry.toLowerCase()]
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    const host = keyHost(key)
    if (!wanted.includes(key) && !wanted.includes(host)) continue
    const credentials = decode(entry ?? {})
    if (credentials) return { found: credentials }
  }
  const helper =
    config.credHelpers?.[registry] ??
    (registry === 'docker.io' ? config.credHelpers?.['index.docker.io'] : undefined) ??
    config.credsStore
  if (helper)
    return {
      found: undefined,
      note: `the Docker config keeps ${registry}'s credentials in the credential helper "${helper}", which docker-cd does not run: put them in "auths" of a config file of its own (DOCKER_CONFIG)`,
    }
  return { found: undefined }
}
