import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RefType } from '../schemas/refresh.js'
import { GitError, runGit } from './git-command.js'
import { type BatchObject, parseBatchOutput, parseTree, type TreeEntry } from './git-objects.js'

// Everything this service asks of Git: resolve the configured revision on the
// remote, fetch it shallowly into a persistent bare mirror, and read trees
// and blobs from that mirror in batches.

export type GitReaderOptions = {
  repoUrl: string
  revision: string
  accessToken?: string | undefined
  username: string
  cacheDir: string
  timeoutMs: number
  sslCaInfo?: string | undefined
}

export type ResolvedRevision = {
  /** Full commit SHA (annotated tags peeled). */
  sha: string
  /** The revision as configured, without `refs/heads/` or `refs/tags/`. */
  ref: string
  refType: RefType
  /** What to fetch: the full ref name, or the commit SHA. */
  fetchTarget: string
}

const FULL_SHA = /^[0-9a-f]{40}$/i
const TARGET_REF = 'refs/docker-cd/target'
const ENV_PASSTHROUGH = [
  'PATH',
  'HOME',
  'TMPDIR',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]

/** What the ref looks like before asking the remote. */
export function describeRevision(revision: string): {
  ref: string
  candidates: string[]
  commit: boolean
} {
  if (FULL_SHA.test(revision)) return { ref: revision.toLowerCase(), candidates: [], commit: true }
  if (revision.startsWith('refs/heads/') || revision.startsWith('refs/tags/')) {
    const ref = revision.replace(/^refs\/(heads|tags)\//, '')
    return { ref, candidates: [revision], commit: false }
  }
  return {
    ref: revision,
    candidates: [`refs/heads/${revision}`, `refs/tags/${revision}`],
    commit: false,
  }
}

/** Picks the commit for the revision from `git ls-remote` output; branches win over tags. */
export function pickRemoteRef(
  lsRemote: string,
  candidates: string[],
): { name: string; sha: string } | undefined {
  const refs = new Map<string, string>()
  for (const line of lsRemote.split('\n')) {
    const [sha, name] = line.split('\t')
    if (sha && name) refs.set(name, sha)
  }
  for (const name of candidates) {
    const sha = refs.get(`${name}^{}`) ?? refs.get(name)
    if (sha) return { name, sha }
  }
  return undefined
}

export function createGitReader(options: GitReaderOptions) {
  const secrets = [options.accessToken, basicCredential(options)].filter((value): value is string =>
    Boolean(value),
  )
  const mirrorDir = join(
    options.cacheDir,
    `${createHash('sha256').update(options.repoUrl).digest('hex').slice(0, 16)}.git`,
  )

  /** Removes the token (raw and base64) and any URL userinfo from text git printed. */
  function scrub(text: string): string {
    let clean = text
    for (const secret of secrets) clean = clean.split(secret).join('[REDACTED]')
    return clean.replace(/(https?:\/\/)[^/\s@]+@/g, '$1')
  }

  // The token travels in git's environment only: never argv, URL or config file.
  const env: Record<string, string> = {
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  }
  for (const name of ENV_PASSTHROUGH) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  if (options.sslCaInfo) env.GIT_SSL_CAINFO = options.sslCaInfo
  const configEntries: [string, string][] = [
    ['protocol.version', '2'],
    ['credential.helper', ''],
    ['core.askPass', ''],
    ['gc.autoDetach', 'false'],
  ]
  const credential = basicCredential(options)
  if (credential) configEntries.push(['http.extraHeader', `Authorization: Basic ${credential}`])
  env.GIT_CONFIG_COUNT = String(configEntries.length)
  configEntries.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key
    env[`GIT_CONFIG_VALUE_${index}`] = value
  })

  let cacheDirReady: Promise<unknown> | undefined
  const git = (args: string[], signal?: AbortSignal, input?: string, cwd = mirrorDir) =>
    runGit(args, { cwd, env, input, signal, timeoutMs: options.timeoutMs, scrub })

  /** Resolves the configured revision on the remote (one `ls-remote`, refs filtered server-side). */
  async function resolveRevision(signal?: AbortSignal): Promise<ResolvedRevision> {
    const described = describeRevision(options.revision)
    if (described.commit) {
      return {
        sha: described.ref,
        ref: described.ref,
        refType: 'commit',
        fetchTarget: described.ref,
      }
    }
    const patterns = described.candidates.flatMap((name) =>
      name.startsWith('refs/tags/') ? [name, `${name}^{}`] : [name],
    )
    cacheDirReady ??= mkdir(options.cacheDir, { recursive: true })
    await cacheDirReady
    const { stdout } = await git(
      ['ls-remote', '--', options.repoUrl, ...patterns],
      signal,
      undefined,
      options.cacheDir,
    )
    const found = pickRemoteRef(stdout.toString('utf8'), described.candidates)
    if (!found) {
      throw new GitError(
        'ref_not_found',
        `revision "${options.revision}" is not a branch or tag of the repository`,
      )
    }
    return {
      sha: found.sha,
      ref: described.ref,
      refType: found.name.startsWith('refs/tags/') ? 'tag' : 'branch',
      fetchTarget: found.name,
    }
  }

  /** Creates the bare mirror, or rebuilds it when it is missing, foreign or broken. */
  async function ensureMirror(signal?: AbortSignal): Promise<void> {
    const marker = await readFile(join(mirrorDir, 'docker-cd-url'), 'utf8').catch(() => undefined)
    if (marker === options.repoUrl) return
    await rebuildMirror(signal)
  }

  async function rebuildMirror(signal?: AbortSignal): Promise<void> {
    await rm(mirrorDir, { recursive: true, force: true })
    await mkdir(mirrorDir, { recursive: true })
    await git(['init', '--bare', '--quiet'], signal)
    // The credential-free URL, so a shared cache dir never mixes repositories.
    await writeFile(join(mirrorDir, 'docker-cd-url'), options.repoUrl)
  }

  /**
   * Shallow fetch of the resolved revision. Returns the commit actually
   * fetched, which is newer than `resolved.sha` if someone pushed in between.
   */
  async function fetchRevision(resolved: ResolvedRevision, signal?: AbortSignal): Promise<string> {
    await ensureMirror(signal)
    const refspec = `+${resolved.fetchTarget}:${TARGET_REF}`
    await git(
      [
        'fetch',
        '--quiet',
        '--depth=1',
        '--no-tags',
        '--no-write-fetch-head',
        '--',
        options.repoUrl,
        refspec,
      ],
      signal,
    )
    const { stdout } = await git(
      ['rev-parse', '--verify', '--quiet', `${TARGET_REF}^{commit}`],
      signal,
    )
    return stdout.toString('utf8').trim()
  }

  /** Reads objects named by `requests` (`<oid>` or `<commit>:<path>`) in one `cat-file --batch`. */
  async function readObjects(requests: string[], signal?: AbortSignal): Promise<BatchObject[]> {
    if (requests.length === 0) return []
    const { stdout } = await git(['cat-file', '--batch'], signal, `${requests.join('\n')}\n`)
    return parseBatchOutput(stdout, requests)
  }

  /** The deploy directory's tree at a commit. */
  async function readDeployTree(
    commit: string,
    deployDir: string,
    signal?: AbortSignal,
  ): Promise<{ oid: string; entries: TreeEntry[] }> {
    const request = deployDir === '' ? `${commit}^{tree}` : `${commit}:${deployDir}`
    const [object] = await readObjects([request], signal)
    if (!object || object.missing) {
      if (deployDir === '')
        throw new GitError('corrupt_mirror', `commit ${commit} is missing from the mirror`)
      throw new GitError(
        'path_not_found',
        `deploy directory "${deployDir}" does not exist at ${commit.slice(0, 12)}`,
      )
    }
    if (object.type !== 'tree') {
      throw new GitError(
        'path_not_found',
        `deploy directory "${deployDir}" is not a directory at ${commit.slice(0, 12)}`,
      )
    }
    return { oid: object.oid, entries: parseTree(object.content) }
  }

  /** Reads trees or blobs by object id; a missing object means the mirror is broken. */
  async function readByOid(oids: string[], signal?: AbortSignal): Promise<Map<string, Buffer>> {
    const objects = await readObjects(oids, signal)
    const found = new Map<string, Buffer>()
    for (const object of objects) {
      if (object.missing)
        throw new GitError('corrupt_mirror', `object ${object.request} is missing from the mirror`)
      found.set(object.oid, object.content)
    }
    return found
  }

  return {
    resolveRevision,
    fetchRevision,
    rebuildMirror,
    readDeployTree,
    readByOid,
    scrub,
    mirrorDir,
  }
}

export type GitReader = ReturnType<typeof createGitReader>

function basicCredential(
  options: Pick<GitReaderOptions, 'accessToken' | 'username'>,
): string | undefined {
  if (!options.accessToken) return undefined
  return Buffer.from(`${options.username}:${options.accessToken}`).toString('base64')
}
