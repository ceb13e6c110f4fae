import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { GitServer } from './git-server.js'
import { tempDir } from './temp-dir.js'

// Builds repositories for the test Git server: a working copy that commits
// stacks and pushes (over the filesystem, so pushes do not count as server
// requests) into a bare repository the server serves.

const gitEnv = {
  PATH: process.env.PATH,
  HOME: tmpdir(),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'fixture',
  GIT_AUTHOR_EMAIL: 'fixture@example.test',
  GIT_COMMITTER_NAME: 'fixture',
  GIT_COMMITTER_EMAIL: 'fixture@example.test',
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: gitEnv,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  }).trim()
}

export const composeFor = (name: string, image = 'nginx:1.27') =>
  `services:\n  ${name.replace(/[^a-z0-9]/gi, '-')}:\n    image: ${image}\n`

/** The expected composeHash, computed independently of the service. */
export const sha256 = (content: string | Buffer) =>
  createHash('sha256').update(content).digest('hex')

/** A stack as /api/stacks lists it before any reconciler has deployed it. */
export const missingStack = (path: string, composeFile: string, content: string | Buffer) => ({
  path,
  composeFile,
  composeHash: sha256(content),
  status: 'missing',
})

let repoCounter = 0

export function createFixtureRepo(
  server: GitServer,
  options: {
    name?: string
    branch?: string
    stacks?: number
    deployDir?: string
    extraFilesPerStack?: number
  } = {},
) {
  const name = options.name ?? `repo-${process.pid}-${++repoCounter}`
  const branch = options.branch ?? 'main'
  const deployDir = options.deployDir ?? ''
  const bareDir = join(server.reposDir, `${name}.git`)
  const workDir = tempDir('docker-cd-work-')
  git(server.reposDir, 'init', '--quiet', '--bare', `--initial-branch=${branch}`, bareDir)
  // GitHub allows fetching any reachable commit by SHA; so does this server.
  git(bareDir, 'config', 'uploadpack.allowReachableSHA1InWant', 'true')
  git(workDir, 'init', '--quiet', `--initial-branch=${branch}`)
  git(workDir, 'remote', 'add', 'origin', bareDir)

  const abs = (path: string) => join(workDir, path)
  const stackPath = (stack: string) => (deployDir ? join(deployDir, stack) : stack)

  const repo = {
    name,
    branch,
    workDir,
    bareDir,
    url: server.url(name),
    writeFile(path: string, content: string | Buffer) {
      mkdirSync(dirname(abs(path)), { recursive: true })
      writeFileSync(abs(path), content)
      return repo
    },
    remove(path: string) {
      rmSync(abs(path), { recursive: true, force: true })
      return repo
    },
    symlink(path: string, target: string) {
      mkdirSync(dirname(abs(path)), { recursive: true })
      symlinkSync(target, abs(path))
      return repo
    },
    writeStack(stack: string, content: string | Buffer = composeFor(stack), file = 'compose.yaml') {
      return repo.writeFile(join(stackPath(stack), file), content)
    },
    removeStack(stack: string) {
      return repo.remove(stackPath(stack))
    },
    /** A gitlink (submodule entry) without a .gitmodules file. */
    addSubmodule(path: string, commit = '1'.repeat(40)) {
      git(workDir, 'update-index', '--add', '--cacheinfo', `160000,${commit},${path}`)
      return repo
    },
    commit(message = 'change'): string {
      git(workDir, 'add', '-A')
      git(workDir, 'commit', '--quiet', '--allow-empty', '-m', message)
      return git(workDir, 'rev-parse', 'HEAD')
    },
    push(ref = branch) {
      git(workDir, 'push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${ref}`)
      return git(workDir, 'rev-parse', 'HEAD')
    },
    commitAndPush(message = 'change'): string {
      repo.commit(message)
      return repo.push()
    },
    /** Rewrites history: drops the last commit, commits something else, force-pushes. */
    forcePush(change: () => void): string {
      git(workDir, 'reset', '--quiet', '--hard', 'HEAD~1')
      change()
      repo.commit('rewritten')
      return repo.push()
    },
    tag(tagName: string, annotated = false) {
      if (annotated) git(workDir, 'tag', '-a', '-m', `release ${tagName}`, tagName)
      else git(workDir, 'tag', tagName)
      git(workDir, 'push', '--quiet', '--force', 'origin', `refs/tags/${tagName}`)
      return git(workDir, 'rev-parse', `${tagName}^{commit}`)
    },
    deleteRemoteBranch(ref = branch) {
      git(bareDir, 'update-ref', '-d', `refs/heads/${ref}`)
    },
    head: () => git(workDir, 'rev-parse', 'HEAD'),
    /**
     * Writes a tree object as given, with names git itself would never make
     * ('..', '.git', a '/' in a name): what a hand-made push can hold.
     */
    rawTree(entries: RawTreeEntry[]): string {
      // Git's order: by name bytes, a tree's name as if followed by '/'.
      const key = (entry: RawTreeEntry) =>
        Buffer.from(entry.mode === '40000' ? `${entry.name}/` : entry.name)
      const sorted = [...entries].sort((a, b) => Buffer.compare(key(a), key(b)))
      const content = Buffer.concat(
        sorted.flatMap((entry) => [
          Buffer.from(`${entry.mode} ${entry.name}\0`),
          Buffer.from(entry.oid, 'hex'),
        ]),
      )
      return execFileSync('git', ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], {
        cwd: workDir,
        input: content,
        encoding: 'utf8',
      }).trim()
    },
    /** The entries of a tree (`HEAD:path` and the like), for building a raw one from it. */
    treeEntries(treeish: string): RawTreeEntry[] {
      return git(workDir, 'ls-tree', treeish)
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [meta = '', name = ''] = line.split('\t')
          const [mode = '', , oid = ''] = meta.split(' ')
          return { mode: mode === '040000' ? '40000' : mode, name, oid }
        })
    },
    blob(content: string): string {
      return execFileSync('git', ['hash-object', '-w', '--stdin'], {
        cwd: workDir,
        input: content,
        encoding: 'utf8',
      }).trim()
    },
    /** Pushes a commit of `tree` on top of HEAD (the work dir stays where it is). */
    pushTree(tree: string, message = 'hand-made tree'): string {
      const commit = git(workDir, 'commit-tree', tree, '-p', 'HEAD', '-m', message)
      git(workDir, 'push', '--quiet', '--force', 'origin', `${commit}:refs/heads/${branch}`)
      return commit
    },
  }
  for (let index = 0; index < (options.stacks ?? 0); index++) {
    const stack = `stack-${String(index).padStart(5, '0')}`
    repo.writeStack(stack)
    for (let extra = 0; extra < (options.extraFilesPerStack ?? 0); extra++) {
      repo.writeFile(join(stackPath(stack), `config-${extra}.env`), `VALUE=${stack}-${extra}\n`)
    }
  }
  if (options.stacks !== undefined) repo.commitAndPush('initial stacks')
  return repo
}

export type FixtureRepo = ReturnType<typeof createFixtureRepo>

export type RawTreeEntry = { mode: string; name: string; oid: string }
