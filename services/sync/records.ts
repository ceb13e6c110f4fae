import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stackFileKey } from '../base/index.js'
import type { FileChange } from '../host/index.js'
import {
  type FailedImage,
  failedImagesAfter,
  type ImageUpdate,
  type RunningImage,
} from './image-updates.js'
import type { FailureEvidence } from './read-back.js'

// What docker-cd deployed, per stack, kept in GIT_CACHE_DIR so it survives
// a restart: the tree and revision it last deployed (the good tree a
// rollback returns to), the last result, the tree that failed (not retried
// until the tree changes or someone asks), and the last sync runs. A record
// is also docker-cd's claim of ownership: it changes only Compose projects
// it has a record for (or is handed over). One small JSON file per stack,
// replaced whole (written beside it, renamed over it), so work stays
// proportional to the stack that changed. A missing or unreadable file is
// "unknown": the host is evaluated afresh and Compose's plan says what to do.
//
// A deploy is written down as in progress (`inProgress`) before `up`
// changes the host, and a tree becomes `deployedTreeHash` only once it
// passed the health gate and the read-back: a docker-cd killed mid-deploy
// finds, after its restart, which tree it was applying and which good tree
// to return to, instead of trusting whatever the containers look like.

export const HISTORY_SIZE = 20

export type SyncTrigger =
  | 'git'
  | 'manual'
  | 'self-heal'
  | 'adopt'
  | 'retry'
  | 'prune'
  | 'recover'
  | 'image'
export type SyncResult = 'completed' | 'failed' | 'interrupted'

/** A tree docker-cd can stand on: the revision it came from, the stack's tree id. */
export type TreeRef = { revision: string; treeHash: string }

/** What a failed deploy put back: the last good tree, and the images an image update replaced (by id). */
export type RolledBackTo = TreeRef & { images?: RunningImage[] }

/** One sync run, as the history shows it. */
export type SyncRun = {
  trigger: SyncTrigger
  startedAt: string
  finishedAt: string
  durationMs: number
  /** The tree the host ran before (the last deployed), if known. */
  fromTree?: string
  toTree: string
  revision: string
  result: SyncResult
  /** The services Compose changed (from its plan before the run), and those whose read files changed. */
  servicesChanged: string[]
  /** The services whose read files changed, and what was done to them. */
  fileChanges?: FileChange[]
  /** The moved image tags the run took (image updates). */
  imageUpdates?: ImageUpdate[]
  /** Moved tags whose pull changed nothing (the registry names a digest its pull does not serve): recorded as failed digests. */
  imagesUnchanged?: ImageUpdate[]
  /** The image each service ran once the deploy passed its health gate. */
  images?: RunningImage[]
  /** The containers that failed the health gate, with their health checks' output (before the rollback replaced them). */
  evidence?: FailureEvidence[]
  /** What happened, in words. */
  reason: string
  error?: string
  rolledBackTo?: RolledBackTo
}

/** A deploy that started changing the host and has not finished (yet, or ever: docker-cd died). */
export type DeployInProgress = {
  toTree: string
  revision: string
  /** The last good tree when the deploy started: what a rollback returns to. */
  previous?: TreeRef
  /** The images the services ran before an image update (put back by id on a rollback). */
  previousImages?: RunningImage[]
  /**
   * The moved tags the deploy took: a recovery takes them again (after a
   * pull the host's tag names the new image, and Compose's plan says
   * "recreate", not "update"), so a failure is the digest's, not the tree's.
   */
  imageUpdates?: ImageUpdate[]
  startedAt: string
  trigger: SyncTrigger
  /** Set once the interrupted run is in the history (so a restart does not add it twice). */
  noted?: true
}

export type DeployRecord = {
  stack: string
  /** The Compose project docker-cd deployed the stack as. */
  project?: string
  deployedRevision?: string
  deployedTreeHash?: string
  deployedAt?: string
  /** The image each service ran after the last deploy (reference, id, repository digest). */
  deployedImages?: RunningImage[]
  lastResult?: SyncResult
  error?: string
  rolledBackTo?: RolledBackTo
  /** The tree whose deploy failed for a reason of its own: not retried until the tree changes. */
  failedTreeHash?: string
  /** Digests of moved tags whose deploy failed its health gate: not taken again until the tag moves or on a manual sync. */
  failedImages?: FailedImage[]
  /** Written before `up`, removed when the run finishes: present after a restart = interrupted. */
  inProgress?: DeployInProgress
  /** Newest first, at most HISTORY_SIZE. */
  history: SyncRun[]
}

/**
 * The record after a finished run. Every field about the last result
 * (lastResult, error, rolledBackTo, failedTreeHash) comes from this run
 * alone — none is left over from an earlier one — and the deployed tree
 * changes only when the run completed (it passed the health gate).
 */
export function withRun(
  record: DeployRecord,
  run: SyncRun,
  details: { project?: string; treeFailed?: boolean } = {},
): DeployRecord {
  const {
    error: _error,
    rolledBackTo: _rolledBackTo,
    failedTreeHash: _failedTreeHash,
    failedImages: _failedImages,
    inProgress: _inProgress,
    ...rest
  } = record
  // An image update that failed on the tree already deployed: the digests
  // failed, not the tree (a new commit of it is deployed as usual).
  const imagesOnly =
    (run.imageUpdates?.length ?? 0) > 0 && run.fromTree === run.toTree && run.result === 'failed'
  const failedImages = failedImagesAfter(record.failedImages, {
    trigger: run.trigger,
    result: run.result,
    treeFailed: details.treeFailed ?? false,
    updates: run.imageUpdates ?? [],
    unchanged: run.imagesUnchanged ?? [],
  })
  const base: DeployRecord = {
    ...rest,
    ...(details.project ? { project: details.project } : {}),
    ...(failedImages ? { failedImages } : {}),
    lastResult: run.result,
    history: [run, ...record.history],
  }
  if (run.result === 'completed')
    return {
      ...base,
      deployedTreeHash: run.toTree,
      deployedRevision: run.revision,
      deployedAt: run.finishedAt,
      ...(run.images ? { deployedImages: run.images } : {}),
    }
  return {
    ...base,
    ...(run.error ? { error: run.error } : {}),
    ...(run.rolledBackTo ? { rolledBackTo: run.rolledBackTo } : {}),
    ...(details.treeFailed && !imagesOnly ? { failedTreeHash: run.toTree } : {}),
  }
}

/**
 * A deploy found in progress after a restart (docker-cd was killed or
 * crashed during it) as a run of the history, with why. It stays in
 * progress (marked noted): the next run finishes it through the health
 * gate or rolls back to `previous`.
 */
export function withInterruptedRun(record: DeployRecord, at: Date): DeployRecord {
  const deploy = record.inProgress
  if (!deploy || deploy.noted) return record
  const short = (oid: string) => oid.slice(0, 7)
  const run: SyncRun = {
    trigger: deploy.trigger,
    startedAt: deploy.startedAt,
    finishedAt: at.toISOString(),
    durationMs: Math.max(0, at.getTime() - Date.parse(deploy.startedAt)),
    ...(deploy.previous ? { fromTree: deploy.previous.treeHash } : {}),
    toTree: deploy.toTree,
    revision: deploy.revision,
    result: 'interrupted',
    servicesChanged: [],
    reason: `docker-cd stopped (killed or crashed) during the deploy of tree ${short(deploy.toTree)}; found after the restart: the deploy is taken through the health gate again, and rolled back to ${deploy.previous ? `tree ${short(deploy.previous.treeHash)}` : 'nothing (there was no earlier tree)'} if it does not pass`,
  }
  const { error: _error, rolledBackTo: _rolledBackTo, ...rest } = withRun(record, run)
  return { ...rest, inProgress: { ...deploy, noted: true } }
}

/**
 * The tree the host is compared with: the snapshot's, except while the
 * snapshot's tree is one that failed and the last good tree was put back
 * (then the host runs that one on purpose, and drift is measured from it).
 */
export function comparedTree(record: DeployRecord | undefined, snapshotTree: string): string {
  return record?.failedTreeHash === snapshotTree && record.rolledBackTo
    ? record.rolledBackTo.treeHash
    : snapshotTree
}

/** The host already runs `tree` from docker-cd's work tree: the record says so, and nothing of an earlier run. */
export function withDeployedTree(
  record: DeployRecord,
  deployed: { tree: string; revision: string; at: Date; project?: string },
): DeployRecord {
  const { error: _e, rolledBackTo: _r, failedTreeHash: _f, ...rest } = record
  return {
    ...rest,
    ...(deployed.project ? { project: deployed.project } : {}),
    deployedTreeHash: deployed.tree,
    deployedRevision: deployed.revision,
    deployedAt: deployed.at.toISOString(),
    lastResult: 'completed',
  }
}

/** A stack docker-cd deployed that Git no longer has. */
export type RemovedStack = {
  stack: string
  project?: string
  status: 'deleting' | 'kept'
  reason: string
}

/** Stacks docker-cd deployed that Git no longer has (kept without SYNC_PRUNE, or being taken down). */
export function removedStacks(
  all: readonly DeployRecord[],
  inGit: ReadonlySet<string>,
  options: { pruning: boolean; takingDown: (stack: string) => boolean },
): RemovedStack[] {
  return all
    .filter((record) => !inGit.has(record.stack) && record.project)
    .map((record) => ({
      stack: record.stack,
      ...(record.project ? { project: record.project } : {}),
      status: options.takingDown(record.stack) ? ('deleting' as const) : ('kept' as const),
      reason: options.pruning
        ? record.error
          ? `removed from Git; ${record.error}`
          : 'removed from Git: being taken down'
        : 'removed from Git; still running (SYNC_PRUNE is off: take it down by hand or set SYNC_PRUNE=true)',
    }))
    .sort((a, b) => (a.stack < b.stack ? -1 : 1))
}

type RecordFile = { version: 1; record: DeployRecord }

export function createDeployRecords(dir: string, onError: (error: unknown) => void = () => {}) {
  // A hash of the name, not the name (see stackFileKey): any stack name fits.
  const fileOf = (stack: string) => join(dir, `${stackFileKey(stack)}.json`)
  let records = new Map<string, DeployRecord>()
  const writes = new Map<string, Promise<void>>()

  /** Reads every record (startup); unreadable ones are reported and count as absent. */
  async function load(): Promise<void> {
    const names = await readdir(dir).catch(() => [] as string[])
    const loaded = new Map<string, DeployRecord>()
    for (const name of names.filter((n) => /^[0-9a-f]+\.json$/.test(n))) {
      try {
        const saved = JSON.parse(await readFile(join(dir, name), 'utf8')) as RecordFile
        if (saved?.version !== 1 || typeof saved.record?.stack !== 'string')
          throw new Error('unknown format')
        const stack = saved.record.stack
        // Named the old way (the name in hex): renamed to its key, unless a
        // file under the key exists already (then that one is the newer).
        const file = join(dir, name)
        if (file !== fileOf(stack)) {
          if (names.includes(`${stackFileKey(stack)}.json`)) {
            await rm(file, { force: true })
            continue
          }
          await rename(file, fileOf(stack))
        }
        loaded.set(stack, {
          ...saved.record,
          history: Array.isArray(saved.record.history) ? saved.record.history : [],
        })
      } catch (error) {
        onError(new Error(`deploy record ${name} is unreadable: ${(error as Error).message}`))
      }
    }
    records = loaded
  }

  /** Writes in order; the answer rejects only when `durable` (the caller must not go on without it). */
  function save(stack: string, record: DeployRecord | undefined, durable = false): Promise<void> {
    const previous = writes.get(stack) ?? Promise.resolve()
    const next = previous.then(async () => {
      const file = fileOf(stack)
      if (!record) return rm(file, { force: true })
      await mkdir(dir, { recursive: true })
      const fresh = `${file}.${randomBytes(4).toString('hex')}`
      try {
        await writeFile(fresh, JSON.stringify({ version: 1, record } satisfies RecordFile))
        await rename(fresh, file)
      } finally {
        await rm(fresh, { force: true })
      }
    })
    const settled = next.catch(onError)
    writes.set(stack, settled)
    return durable ? next : settled
  }

  return {
    load,
    get: (stack: string): DeployRecord | undefined => records.get(stack),
    all: (): DeployRecord[] => [...records.values()],
    /**
     * Replaces a stack's record (in memory at once, on disk in order). With
     * `durable`, the answer rejects when the file could not be written: a
     * deploy must not start unless its in-progress mark is on disk.
     */
    set(
      stack: string,
      change: (record: DeployRecord) => DeployRecord,
      options: { durable?: boolean } = {},
    ): Promise<void> {
      const next = change(records.get(stack) ?? { stack, history: [] })
      const trimmed = { ...next, history: next.history.slice(0, HISTORY_SIZE) }
      records = new Map(records).set(stack, trimmed)
      return save(stack, trimmed, options.durable)
    },
    /** Forgets a stack (taken down, or never deployed by docker-cd). */
    delete(stack: string): Promise<void> {
      if (!records.has(stack)) return Promise.resolve()
      records = new Map(records)
      records.delete(stack)
      return save(stack, undefined)
    },
    /** Waits for every write in flight (shutdown, tests). */
    flush: async () => {
      await Promise.all(writes.values())
    },
  }
}

export type DeployRecords = ReturnType<typeof createDeployRecords>
