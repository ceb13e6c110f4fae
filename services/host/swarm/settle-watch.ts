import type { StackHostState } from '../drift.js'

// Swarm's tasks have no events on the manager: a task the scheduler places,
// starts, or restarts after a failure (a node came back, a container died on
// a worker) changes a stack's health with nothing on the event stream —
// service events come from spec changes, node events from nodes. So a
// stack whose health is not `healthy` (progressing, degraded) is looked at
// again by itself, soon at first and then less and less often (doubling up
// to `maxMs`), until it is healthy: work only while something is wrong,
// bounded while it stays wrong, none for a healthy swarm. Any check of the
// stack (an event's, a refresh's) starts the wait again from its own result.

export function createSettleWatch(options: {
  recheck: (path: string) => void
  initialMs?: number
  maxMs?: number
}) {
  const initialMs = options.initialMs ?? 1000
  const maxMs = options.maxMs ?? 60_000
  /** The stacks not healthy at their last check: the wait before the next look. */
  const delays = new Map<string, number>()
  const timers = new Map<string, NodeJS.Timeout>()
  let closed = false

  function forget(path: string) {
    clearTimeout(timers.get(path))
    timers.delete(path)
    delays.delete(path)
  }

  return {
    /** A new check of a stack: not healthy, it is looked at again later. */
    checked(path: string, state: Pick<StackHostState, 'health'>) {
      clearTimeout(timers.get(path))
      timers.delete(path)
      const unsettled = state.health === 'progressing' || state.health === 'degraded'
      if (closed || !unsettled) return void delays.delete(path)
      const previous = delays.get(path)
      const delayMs = previous === undefined ? initialMs : Math.min(previous * 2, maxMs)
      delays.set(path, delayMs)
      const timer = setTimeout(() => {
        timers.delete(path)
        options.recheck(path)
      }, delayMs)
      timer.unref()
      timers.set(path, timer)
    },
    /** A node changed: the swarm is moving, the next waits start short again. */
    reset: () => delays.clear(),
    /** The stack left Git. */
    forget,
    close() {
      closed = true
      for (const path of [...timers.keys()]) forget(path)
    },
  }
}

export type SettleWatch = ReturnType<typeof createSettleWatch>
