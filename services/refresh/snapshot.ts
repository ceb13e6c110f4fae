import type { RefreshStatus, RefreshTrigger, RefType } from '../../schemas/refresh.js'
import type { StackHealth, StackStatus } from '../../schemas/stack.js'

// The desired state as one immutable snapshot, and the pure transitions
// between snapshots. Only the refresh controller applies them, and it swaps
// the whole snapshot at once, so a reader never sees half a refresh.

export type Stack = Readonly<{
  path: string
  composeFile: string
  composeHash: string
  status: StackStatus
  /** Of its containers, from the last host check; absent before one (or when missing). */
  health?: StackHealth
  /**
   * Why the stack has its status, in words, as its writer (the host check,
   * the reconciler) gave it; absent before the first one. Part of the
   * stack's state: a change of it alone is a status change.
   */
  reason?: string
  /** Git object ids: the stack directory's tree (`treeHash` in the API) and its Compose blob. */
  treeOid: string
  blobOid: string
  /** When this service last saw the stack's tree change (first seen counts), and at which revision. */
  changedAt: string
  changedRevision: string
  /**
   * The tree was already so at this service's first look (its mirror is
   * shallow: the commit that last changed it may be older than
   * `changedRevision`, which is then only a commit that has it).
   */
  firstLook?: true
  /** The first line of `changedRevision`'s message, kept with the stamp (the shallow mirror forgets old commits). */
  changedSubject?: string
  /**
   * The lookup of the commit that changed the tree failed (`firstLook` is
   * then set too): the next refresh of a new revision looks again.
   */
  lookupPending?: true
}>

/** When a stack's tree last changed, as remembered across restarts. */
export type StackStamp = Readonly<{
  treeOid: string
  changedAt: string
  changedRevision: string
  firstLook?: true
  changedSubject?: string
  lookupPending?: true
}>

/** A stack as Git describes it; status, health, reason and change stamps are the cache's own. */
export type DesiredStack = Omit<
  Stack,
  | 'status'
  | 'health'
  | 'reason'
  | 'changedAt'
  | 'changedRevision'
  | 'firstLook'
  | 'changedSubject'
  | 'lookupPending'
> & {
  /** For a tree new to this service: the commit that last changed it (refresh steps), when found. */
  changedBy?: Readonly<{ revision: string; subject?: string }>
  /** The refresh steps looked for that commit and failed (a warning). */
  lookupFailed?: true
}

/** Stack paths that appeared, whose directory tree changed, or that left Git. */
export type StackChanges = Readonly<{ added: string[]; changed: string[]; removed: string[] }>

export type Snapshot = Readonly<{
  revision: string | null
  ref: string
  refType: RefType
  refreshedAt: string | null
  refreshStatus: RefreshStatus
  /** Present only while `refreshStatus` is `failed`. */
  refreshError?: string
  trigger: RefreshTrigger
  deployTreeOid: string | null
  stacks: readonly Stack[]
}>

/** What a successful read of Git produced. */
export type DesiredState = {
  revision: string
  refType: RefType
  deployTreeOid: string
  stacks: DesiredStack[]
}

export const NO_CHANGES: StackChanges = Object.freeze({ added: [], changed: [], removed: [] })

/** Before the first refresh: no revision, no stacks, a startup refresh waiting. */
export function initialSnapshot(ref: string, refType: RefType): Snapshot {
  return Object.freeze({
    revision: null,
    ref,
    refType,
    refreshedAt: null,
    refreshStatus: 'queued',
    trigger: 'startup',
    deployTreeOid: null,
    stacks: Object.freeze([]),
  })
}

function freeze(next: Snapshot): Snapshot {
  const copy = { ...next }
  // The contract: refreshError exists exactly when the status is failed.
  if (copy.refreshStatus !== 'failed') delete copy.refreshError
  return Object.freeze(copy)
}

/** A refresh started: the last good state is untouched, a previous error is history. */
export function refreshStarted(snapshot: Snapshot, trigger: RefreshTrigger): Snapshot {
  return freeze({ ...snapshot, refreshStatus: 'refreshing', trigger })
}

/**
 * A refresh read a new revision: new stacks start `missing` (no health, no
 * reason until their first host check), surviving ones keep their status,
 * health and reason until the host says otherwise. A stack whose tree id is the one it had before (in the
 * previous snapshot, or in `remembered` stamps from before a restart) keeps
 * its change stamp; any other is stamped with this refresh.
 */
export function refreshApplied(
  snapshot: Snapshot,
  state: DesiredState,
  trigger: RefreshTrigger,
  at: Date,
  remembered: ReadonlyMap<string, StackStamp> = new Map(),
): Snapshot {
  const previous = new Map(snapshot.stacks.map((stack) => [stack.path, stack]))
  const stamp = (stack: DesiredStack) => {
    const known = previous.get(stack.path) ?? remembered.get(stack.path)
    const changedBy = stack.changedBy
    if (known && known.treeOid === stack.treeOid) {
      // A stamp whose lookup failed: this refresh's lookup, when it found the commit, names it.
      if (known.lookupPending && changedBy)
        return {
          changedAt: known.changedAt,
          changedRevision: changedBy.revision,
          ...(changedBy.subject ? { changedSubject: changedBy.subject } : {}),
        }
      return {
        changedAt: known.changedAt,
        changedRevision: known.changedRevision,
        ...(known.firstLook ? { firstLook: true as const } : {}),
        ...(known.changedSubject ? { changedSubject: known.changedSubject } : {}),
        ...(known.lookupPending && stack.lookupFailed ? { lookupPending: true as const } : {}),
      }
    }
    // The commit that last changed the tree, when the steps found it; else
    // the fetched one — and never seen before by this cache dir, the tree was
    // already there at the first look (that commit may be older), or the
    // lookup failed (the commit may be older too; looked up again later).
    const firstLook = (snapshot.revision === null && !known && !changedBy) || stack.lookupFailed
    return {
      changedAt: at.toISOString(),
      changedRevision: changedBy?.revision ?? state.revision,
      ...(firstLook ? { firstLook: true as const } : {}),
      ...(changedBy?.subject ? { changedSubject: changedBy.subject } : {}),
      ...(stack.lookupFailed ? { lookupPending: true as const } : {}),
    }
  }
  const stacks = state.stacks
    .map((desired) => {
      const { changedBy: _stamped, lookupFailed: _failed, ...stack } = desired
      return Object.freeze({
        ...stack,
        ...hostStateOf(previous.get(stack.path)),
        ...stamp(desired),
      })
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return freeze({
    revision: state.revision,
    ref: snapshot.ref,
    refType: state.refType,
    refreshedAt: at.toISOString(),
    refreshStatus: 'completed',
    trigger,
    deployTreeOid: state.deployTreeOid,
    stacks: Object.freeze(stacks),
  })
}

/** The remote commit is the cached one: only the refresh time moves. */
export function refreshConfirmed(snapshot: Snapshot, trigger: RefreshTrigger, at: Date): Snapshot {
  return freeze({ ...snapshot, refreshStatus: 'completed', trigger, refreshedAt: at.toISOString() })
}

/** A refresh failed: the last good stacks and revision stay, with the reason. */
export function refreshFailed(
  snapshot: Snapshot,
  trigger: RefreshTrigger,
  error: string,
): Snapshot {
  return freeze({ ...snapshot, refreshStatus: 'failed', refreshError: error, trigger })
}

/** What the host said of a stack (status, health, reason); a stack new to the cache is `missing`. */
function hostStateOf(stack: Stack | undefined): Pick<Stack, 'status' | 'health' | 'reason'> {
  if (!stack) return { status: 'missing' }
  return {
    status: stack.status,
    ...(stack.health ? { health: stack.health } : {}),
    ...(stack.reason ? { reason: stack.reason } : {}),
  }
}

/**
 * One stack's status, health and reason, written together (missing →
 * syncing → synced / deleting, with why); undefined if the stack is unknown.
 */
export function stackStatusSet(
  snapshot: Snapshot,
  path: string,
  status: StackStatus,
  reason?: string,
  health?: StackHealth,
): Snapshot | undefined {
  if (!snapshot.stacks.some((stack) => stack.path === path)) return undefined
  return freeze({
    ...snapshot,
    stacks: Object.freeze(
      snapshot.stacks.map((stack) => {
        if (stack.path !== path) return stack
        const { health: _h, reason: _r, ...rest } = stack
        return Object.freeze({
          ...rest,
          status,
          ...(health ? { health } : {}),
          ...(reason ? { reason } : {}),
        })
      }),
    ),
  })
}

/** Which stacks a new snapshot added, changed (tree id) or removed. */
export function diffStacks(before: readonly Stack[], after: readonly Stack[]): StackChanges {
  const old = new Map(before.map((stack) => [stack.path, stack.treeOid]))
  const now = new Set(after.map((stack) => stack.path))
  return Object.freeze({
    added: after.filter((stack) => !old.has(stack.path)).map((stack) => stack.path),
    changed: after
      .filter((stack) => old.has(stack.path) && old.get(stack.path) !== stack.treeOid)
      .map((stack) => stack.path),
    removed: before.filter((stack) => !now.has(stack.path)).map((stack) => stack.path),
  })
}
