import type { RefreshStatus, RefreshTrigger, RefType } from '../schemas/refresh.js'
import type { StackStatus } from '../schemas/stack.js'

// The in-memory desired state: one immutable snapshot, replaced as a whole,
// so a reader never sees half a refresh.

export type Stack = Readonly<{
  path: string
  composeFile: string
  composeHash: string
  status: StackStatus
  /** Git object ids, kept so the next refresh re-reads only what changed. */
  treeOid: string
  blobOid: string
}>

export type Snapshot = Readonly<{
  revision: string | null
  ref: string
  refType: RefType
  refreshedAt: string | null
  refreshStatus: RefreshStatus
  refreshError?: string
  trigger: RefreshTrigger
  deployTreeOid: string | null
  stacks: readonly Stack[]
}>

export type DesiredState = {
  revision: string
  refType: RefType
  deployTreeOid: string
  stacks: Omit<Stack, 'status'>[]
}

export function createDesiredStateStore(initial: { ref: string; refType: RefType }) {
  let snapshot: Snapshot = Object.freeze({
    revision: null,
    ref: initial.ref,
    refType: initial.refType,
    refreshedAt: null,
    refreshStatus: 'queued',
    trigger: 'startup',
    deployTreeOid: null,
    stacks: Object.freeze([]),
  })
  let ready = false
  const byPath = () => new Map(snapshot.stacks.map((stack) => [stack.path, stack]))

  function replace(next: Omit<Snapshot, 'refreshError'> & { refreshError?: string }) {
    const frozen = { ...next }
    if (frozen.refreshError === undefined) delete frozen.refreshError
    snapshot = Object.freeze(frozen)
  }

  return {
    current: (): Snapshot => snapshot,
    isReady: () => ready,

    /** A refresh started or is waiting; the last good state is untouched. */
    markPending(status: 'refreshing' | 'queued', trigger: RefreshTrigger) {
      replace({ ...snapshot, refreshStatus: status, trigger })
    },

    /** A refresh succeeded: new stacks start `missing`, surviving ones keep their status. */
    applyRefresh(state: DesiredState, trigger: RefreshTrigger, at = new Date()) {
      const previous = byPath()
      const stacks = state.stacks
        .map((stack) =>
          Object.freeze({ ...stack, status: previous.get(stack.path)?.status ?? 'missing' }),
        )
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      replace({
        revision: state.revision,
        ref: snapshot.ref,
        refType: state.refType,
        refreshedAt: at.toISOString(),
        refreshStatus: 'completed',
        trigger,
        deployTreeOid: state.deployTreeOid,
        stacks: Object.freeze(stacks),
      })
      ready = true
    },

    /** The remote commit is the cached one: only the refresh time moves. */
    confirmUnchanged(trigger: RefreshTrigger, at = new Date()) {
      replace({
        ...snapshot,
        refreshStatus: 'completed',
        refreshError: undefined,
        trigger,
        refreshedAt: at.toISOString(),
      })
    },

    /** A refresh failed: keep the last good stacks and revision, record why. */
    markFailed(error: string, trigger: RefreshTrigger) {
      replace({ ...snapshot, refreshStatus: 'failed', refreshError: error, trigger })
    },

    /** For the reconciler: move one stack through missing → syncing → synced / deleting. */
    setStackStatus(path: string, status: StackStatus): boolean {
      if (!byPath().has(path)) return false
      replace({
        ...snapshot,
        stacks: Object.freeze(
          snapshot.stacks.map((stack) =>
            stack.path === path ? Object.freeze({ ...stack, status }) : stack,
          ),
        ),
      })
      return true
    },
  }
}

export type DesiredStateStore = ReturnType<typeof createDesiredStateStore>
