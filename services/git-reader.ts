import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RefType } from '../schemas/refresh.js'
import { catFileObjects } from './cat-file-stream.js'
import { describeFsError, mkdirFailureCode } from './fs-error.js'
import { GitError, type GitErrorCode, runGit, startGit } from './git-command.js'
import { type GitEnvironmentOptions, gitEnvironment, gitSecrets } from './git-environment.js'
import {
  type BatchObject,
  parseBatchOutput,
  parseTree,
  parseTreeListing,
  type TreeEntry,
  type TreeListing,
} from './git-objects.js'
import { findRedirect, repositoryUrlOf } from './redirect-probe.js'

// Everything this service asks of Git: resolve the configured revision on the
// remote, fetch it shallowly into a persistent bare mirror, and read trees
// and blobs from that mirror in batches. The mirror is its own business: a
// missing, foreign or broken one is rebuilt here, on the next fetch.

type GitReaderOptions = GitEnvironmentOptions & {
  repoUrl: string
  revision: string
  cacheDir: string
  timeoutMs: number
  /** Address-space limit of each git process (GIT_MEMORY_LIMIT); 0: none. */
  memoryLimitBytes: number
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
/** The served snapshot's commit, kept through pruning. */
const SERVED_REF = 'refs/docker-cd/served'
/** Prune once the objects take this many times their size after the last prune. */
const PRUNE_GROWTH = 2
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
  const secrets = gitSecrets(options)
  const mirrorDir = join(
    options.cacheDir,
    `${createHash('sha256').update(options.repoUrl).digest('hex').slice(0, 16)}.git`,
  )
  const env = gitEnvironment(options)
  /** Set when git reported the mirror broken: the next fetch rebuilds it. */
  let mirrorBroken = false
  /** Consumer reads (listings, streams) in progress; pruning waits for none. */
  let activeReads = 0
  /** Object KiB after the last prune, the growth reference. */
  let prunedKiB: number | undefined
  /** Built by this process and not fetched into yet: its first fetch is the reference. */
  let freshMirror = false
  /** Counts a read from the call on (same tick as the snapshot lookup) to its end. */
  function reading<T>(read: Promise<T>): Promise<T> {
    activeReads++
    const done = () => {
      activeReads--
    }
    read.then(done, done)
    return read
  }

  /** Removes the token (raw and base64) and any URL userinfo from text git printed. */
  function scrub(text: string): string {
    let clean = text
    for (const secret of secrets) clean = clean.split(secret).join('[REDACTED]')
    return clean.replace(/(https?:\/\/)[^/\s@]+@/g, '$1')
  }

  let cacheDirReady: Promise<unknown> | undefined
  async function git(args: string[], signal?: AbortSignal, input?: string, cwd = mirrorDir) {
    try {
      return await runGit(args, {
        cwd,
        env,
        input,
        signal,
        timeoutMs: options.timeoutMs,
        memoryLimitBytes: options.memoryLimitBytes,
        scrub,
      })
    } catch (error) {
      throw await explain(error)
    }
  }

  /** What an operator can do about each failure category. */
  const hints: Partial<Record<GitErrorCode, string>> = {
    disk_full: `free space on the volume of GIT_CACHE_DIR ${options.cacheDir}; the mirror is kept and the next refresh continues from it`,
    cache_unwritable: `GIT_CACHE_DIR ${options.cacheDir} must be writable by this process`,
    memory_limit:
      'git reached GIT_MEMORY_LIMIT: a server sending endless data, or a file larger than the limit; raise GIT_MEMORY_LIMIT for the latter',
    host_key_unverified:
      "the server's host key is not in GIT_SSH_KNOWN_HOSTS_FILE, or differs from it: add the host's key, e.g. from ssh-keyscan, checked against the fingerprints the host publishes",
    auth_failed: options.sshCommand
      ? 'check GIT_SSH_KEY_FILE: its public half must be a deploy key of this repository, or the user in GIT_REPO_URL must be allowed to read it'
      : options.accessToken
        ? 'check GIT_ACCESS_TOKEN (still valid, allowed to read this repository) and GIT_USERNAME (GitLab: oauth2, Bitbucket: x-token-auth)'
        : 'the repository needs credentials: set GIT_ACCESS_TOKEN (and GIT_USERNAME if the host needs one)',
  }

  /** Adds what an operator can do about a failure; remembers a broken mirror. */
  async function explain(error: unknown): Promise<unknown> {
    if (!(error instanceof GitError)) return error
    if (error.code === 'corrupt_mirror') mirrorBroken = true
    if (error.code === 'unreachable' && /returned error: 30[1278]\b/.test(error.detail)) {
      const location = await findRedirect(options.repoUrl, {
        caFile: options.sslCaInfo,
        timeoutMs: Math.min(options.timeoutMs, 10_000),
      })
      const where = location ? scrub(repositoryUrlOf(location)) : 'another URL'
      return new GitError(
        'unreachable',
        `the server redirected to ${where}; redirects are not followed, so the token never leaves for another host: set GIT_REPO_URL to the final URL`,
      )
    }
    const hint = hints[error.code]
    return hint ? new GitError(error.code, `${error.detail} (${hint})`) : error
  }

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
    cacheDirReady ??= mkdir(options.cacheDir, { recursive: true }).catch(async (error) => {
      cacheDirReady = undefined
      const code = await mkdirFailureCode(options.cacheDir, error.code)
      throw cacheWriteFailure(Object.assign(error, { code }))
    })
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

  /** The mirror exists, is this repository's, and is not known to be broken. */
  async function mirrorUsable(): Promise<boolean> {
    const marker = await readFile(join(mirrorDir, 'docker-cd-url'), 'utf8').catch(() => undefined)
    return marker === options.repoUrl && !mirrorBroken
  }

  /** Creates the bare mirror, or rebuilds it when it is missing, foreign or broken. */
  async function ensureMirror(signal?: AbortSignal): Promise<void> {
    if (await mirrorUsable()) return
    await rebuildMirror(signal)
    mirrorBroken = false
  }

  async function rebuildMirror(signal?: AbortSignal): Promise<void> {
    try {
      await rm(mirrorDir, { recursive: true, force: true })
      await mkdir(mirrorDir, { recursive: true })
    } catch (error) {
      throw cacheWriteFailure(error)
    }
    prunedKiB = undefined
    freshMirror = true
    await git(['init', '--bare', '--quiet'], signal)
    // The credential-free URL, so a shared cache dir never mixes repositories.
    await writeFile(join(mirrorDir, 'docker-cd-url'), options.repoUrl).catch((error) => {
      throw cacheWriteFailure(error)
    })
  }

  /** A failed write to the cache dir, as a category: full disk or no write access. */
  function cacheWriteFailure(error: unknown): unknown {
    const code = (error as NodeJS.ErrnoException).code
    const detail = `GIT_CACHE_DIR ${options.cacheDir}: ${describeFsError(code)}`
    if (code === 'ENOSPC' || code === 'EDQUOT') return new GitError('disk_full', detail)
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM')
      return new GitError('cache_unwritable', detail)
    return error
  }

  /**
   * Shallow fetch of the resolved revision. Returns the commit actually
   * fetched, which is newer than `resolved.sha` if someone pushed in between.
   * A mirror that is missing, belongs to another URL or was reported broken
   * by an earlier command is rebuilt first.
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
    if (freshMirror) {
      // Nothing superseded yet: what the first fetch brought is the reference.
      prunedKiB = await objectsKiB(signal)
      freshMirror = false
    }
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

  /** Every entry below a tree, trees before their contents (`ls-tree -r -t`). */
  async function listTree(treeOid: string, signal?: AbortSignal): Promise<TreeListing[]> {
    const { stdout } = await reading(
      git(['ls-tree', '-r', '-t', '-z', '--full-tree', treeOid], signal),
    )
    return parseTreeListing(stdout)
  }

  /**
   * Streams objects from the mirror in one `cat-file --batch`, content in
   * pieces. A local read: it ends with its reader (`stop`), not at
   * GIT_TIMEOUT, so a slow download is not cut off.
   */
  function streamObjects(oids: string[], signal?: AbortSignal) {
    const cat = startGit(['cat-file', '--batch'], {
      cwd: mirrorDir,
      env,
      memoryLimitBytes: options.memoryLimitBytes,
      scrub,
      signal,
      input: oids.length ? `${oids.join('\n')}\n` : '',
    })
    reading(cat.finished).catch(() => {})
    return {
      objects: catFileObjects(cat.stdout, oids),
      finished: cat.finished,
      stop: cat.stop,
    }
  }

  /**
   * SHA-256 of each blob, hashed while it streams out of `cat-file --batch`:
   * memory stays at one chunk whatever the blob weighs (a Compose file can be
   * small in Git and huge on disk).
   */
  async function hashBlobs(oids: string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const hashes = new Map<string, string>()
    if (oids.length === 0) return hashes
    const stream = streamObjects(oids, signal)
    try {
      for await (const object of stream.objects) {
        if (object.missing) {
          mirrorBroken = true
          throw new GitError(
            'corrupt_mirror',
            `object ${object.request} is missing from the mirror`,
          )
        }
        const hash = createHash('sha256')
        for await (const piece of object.content) hash.update(piece)
        hashes.set(object.oid, hash.digest('hex'))
      }
      await stream.finished
    } catch (error) {
      stream.stop()
      if (signal?.aborted) throw new GitError('aborted', 'git cat-file was stopped: shutting down')
      if (error instanceof GitError) throw await explain(error)
      mirrorBroken = true
      throw new GitError('corrupt_mirror', `reading blobs failed: ${(error as Error).message}`)
    }
    return hashes
  }

  /** Disk use of the mirror's objects (loose and packed), in KiB. */
  async function objectsKiB(signal?: AbortSignal): Promise<number> {
    const { stdout } = await git(['count-objects', '-v'], signal)
    const field = (name: string) =>
      Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(stdout.toString('utf8'))?.[1] ?? 0)
    return field('size') + field('size-pack')
  }

  /**
   * Keeps the mirror near the size of what it serves. Every fetch leaves the
   * superseded objects behind (300 commits of 100 KB took a mirror from
   * 148 KB to 38 MB). Called before a fetch, while the snapshot being served
   * is `served`: once the objects have grown PRUNE_GROWTH-fold since the last
   * prune (or on the first call of this process), everything no ref reaches
   * is dropped, keeping the fetched target and `served` (they differ after a
   * refresh that fetched and then failed). Skipped while a consumer reads
   * from the mirror (an archive of an older snapshot may be streaming); the
   * next refresh tries again. Runs in the refresh queue, so never beside a
   * fetch. Resolves true when it pruned.
   */
  async function pruneMirror(served: string | null, signal?: AbortSignal): Promise<boolean> {
    if (activeReads > 0 || !(await mirrorUsable())) return false
    const size = await objectsKiB(signal)
    if (prunedKiB !== undefined && size <= prunedKiB * PRUNE_GROWTH) return false
    if (activeReads > 0) return false
    const kept = served
      ? await git(['update-ref', SERVED_REF, served], signal).then(
          () => true,
          () => false, // not in the mirror (rebuilt since): nothing to keep
        )
      : false
    if (!kept) await git(['update-ref', '-d', SERVED_REF], signal)
    await git(['repack', '-a', '-d', '-q'], signal)
    await git(['prune', '--expire=now'], signal)
    prunedKiB = await objectsKiB(signal)
    return true
  }

  return {
    resolveRevision,
    fetchRevision,
    pruneMirror,
    readDeployTree,
    readByOid,
    hashBlobs,
    listTree,
    streamObjects,
  }
}

export type GitReader = ReturnType<typeof createGitReader>
