import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import type { HostMonitor } from '../host/index.js'
import type { Snapshot } from '../refresh/index.js'
import { type Activity, statusOf } from './decide.js'
import type { DeployRecords } from './records.js'

// A stack's status, reason and health as the reconciler publishes them:
// computed in one place (decide.ts statusOf: the run in progress, a failed
// tree, the host check, and why nothing is done), written through the
// refresh controller (the only writer of the snapshot). What is published
// last is remembered per stack, so a change — of the reason alone too —
// wakes the stacks whose declared order waits on this one, and nothing
// else does (no publish → wake → publish loop).

export function createSyncStatus(options: {
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'state'>
  records: Pick<DeployRecords, 'get'>
  activity: (path: string) => Activity | undefined
  setStatus: (path: string, status: StackStatus, reason: string, health?: StackHealth) => void
  /** A stack's published status changed. */
  onChange: () => void
}) {
  /** Why nothing is done about a stack (a decision, a back-off, its declared order), shown with its status. */
  const waiting = new Map<string, string>()
  /** What was last published per stack. */
  const published = new Map<string, string>()

  function publish(path: string) {
    const stack = options.current().stacks.find((s) => s.path === path)
    if (!stack) return
    const status = statusOf({
      tree: stack.treeOid,
      check: options.monitor.state(path),
      record: options.records.get(path),
      activity: options.activity(path),
      ...(waiting.has(path) ? { waiting: waiting.get(path) } : {}),
    })
    if (!status) return
    options.setStatus(path, status.status, status.reason, status.health)
    const key = `${status.status}\0${status.health}\0${status.reason}`
    if (published.get(path) === key) return
    published.set(path, key)
    options.onChange()
  }

  return {
    /** Writes the stack's status as it stands now. */
    publish,
    /** Nothing is done about the stack, for this reason (shown with its status at the next publish). */
    wait(path: string, why: string) {
      waiting.set(path, why)
    },
    /** Held for this reason: published at once when it is a new one. */
    hold(path: string, why: string) {
      if (waiting.get(path) === why) return
      waiting.set(path, why)
      publish(path)
    },
    /** Why nothing is done about the stack, if anything. */
    waitingFor: (path: string): string | undefined => waiting.get(path),
    /** The stack is acted on again: no reason to wait. */
    clear(path: string) {
      waiting.delete(path)
    },
    /** The stack left Git. */
    forget(path: string) {
      waiting.delete(path)
      published.delete(path)
    },
  }
}

export type SyncStatus = ReturnType<typeof createSyncStatus>
