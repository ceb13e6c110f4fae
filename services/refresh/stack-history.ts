import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Snapshot, StackStamp } from './snapshot.js'

// When each stack's tree last changed, kept in a small JSON file next to the
// mirror in GIT_CACHE_DIR so `changedAt`/`changedRevision` survive a
// restart. It is a cache like the mirror: a missing, unreadable or corrupt
// file is an empty history (every stack counts as first seen), never fatal.

type HistoryFile = { version: 1; stacks: Record<string, StackStamp> }

/** What a cache dir's files about one repository and deploy directory are named by. */
export const repositoryKey = (repoUrl: string, deployDir: string) =>
  createHash('sha256').update(`${repoUrl}\0${deployDir}`).digest('hex').slice(0, 16)

export function stackHistoryFile(cacheDir: string, repoUrl: string, deployDir: string): string {
  return join(cacheDir, `${repositoryKey(repoUrl, deployDir)}.stacks.json`)
}

export function createStackHistory(file: string, onError: (error: unknown) => void) {
  let writing: Promise<void> = Promise.resolve()

  function load(): ReadonlyMap<string, StackStamp> {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return new Map() // first start
    }
    try {
      const parsed = JSON.parse(text) as HistoryFile
      if (parsed?.version !== 1 || typeof parsed.stacks !== 'object')
        throw new Error('unknown format')
      const valid = Object.entries(parsed.stacks).filter(
        ([, stamp]) =>
          typeof stamp?.treeOid === 'string' &&
          typeof stamp.changedAt === 'string' &&
          typeof stamp.changedRevision === 'string' &&
          ['undefined', 'string'].includes(typeof stamp.changedSubject),
      )
      return new Map(valid)
    } catch (error) {
      onError(new Error(`ignoring corrupt stack history ${file}: ${(error as Error).message}`))
      return new Map()
    }
  }

  /** Writes the stamps of a snapshot's stacks (atomically, one write at a time). */
  function save(snapshot: Snapshot): Promise<void> {
    const content: HistoryFile = {
      version: 1,
      stacks: Object.fromEntries(
        snapshot.stacks.map((stack) => [
          stack.path,
          {
            treeOid: stack.treeOid,
            changedAt: stack.changedAt,
            changedRevision: stack.changedRevision,
            ...(stack.firstLook ? { firstLook: true } : {}),
            ...(stack.changedSubject ? { changedSubject: stack.changedSubject } : {}),
            ...(stack.lookupPending ? { lookupPending: true } : {}),
          },
        ]),
      ),
    }
    writing = writing.then(async () => {
      const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`
      try {
        await writeFile(temporary, JSON.stringify(content))
        await rename(temporary, file)
      } catch (error) {
        onError(error)
      }
    })
    return writing
  }

  return { load, save }
}

export type StackHistory = ReturnType<typeof createStackHistory>
