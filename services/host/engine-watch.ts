import { setTimeout as sleep } from 'node:timers/promises'
import type { Engine, EngineEvent } from './docker-engine.js'

// Live: the engine's event stream, so a container stopped, removed or
// turned unhealthy by hand is seen within moments, not at the next refresh.
// Events are gathered per project for `debounceMs` (a `compose up` of five
// services is one re-check, not twenty). When the stream breaks, the engine
// is pinged: answering, it was a hiccup and the stream is reopened at once;
// silent, the engine is lost (`onLost`) and reconnection is retried with
// backoff; once it answers again, `onReconnected` (events may have been
// missed in between, so everything is worth a fresh look).

/** Actions that can change what a project runs; exec_*, attach, resize… cannot. */
const RELEVANT =
  /^(create|start|restart|die|stop|kill|destroy|pause|unpause|rename|oom|update|health_status)\b/

export function createEngineWatch(options: {
  engine: Pick<Engine, 'events' | 'ping'>
  onProjects: (projects: ReadonlySet<string>) => void
  /** A Swarm node changed (down, up, drained, joined, left): every stack may run otherwise now. */
  onNodes?: () => void
  onLost: (reason: string) => void
  onReconnected: () => void
  debounceMs?: number
  backoff?: { initialMs: number; maxMs: number }
}) {
  const debounceMs = options.debounceMs ?? 200
  const { initialMs, maxMs } = options.backoff ?? { initialMs: 500, maxMs: 10_000 }
  const stop = new AbortController()
  let pending = new Set<string>()
  let nodesChanged = false
  let timer: NodeJS.Timeout | undefined
  let lost = false
  let connected = false

  function onEvent(event: EngineEvent) {
    // Every node event counts (`remove` too: a node left, its tasks go elsewhere).
    if (event.node) nodesChanged = true
    else if (RELEVANT.test(event.action)) pending.add(event.project)
    else return
    timer ??= setTimeout(() => {
      timer = undefined
      const projects = pending
      pending = new Set()
      const nodes = nodesChanged
      nodesChanged = false
      if (nodes && options.onNodes) options.onNodes()
      else if (projects.size > 0) options.onProjects(projects)
    }, debounceMs)
  }

  async function run() {
    let delayMs = initialMs
    while (!stop.signal.aborted) {
      let opened = false
      try {
        await options.engine.events({
          signal: stop.signal,
          onEvent,
          onOpen() {
            opened = true
            delayMs = initialMs
            connected = true
            if (lost) {
              lost = false
              options.onReconnected()
            }
          },
        })
      } catch (error) {
        if (stop.signal.aborted) return
        connected = false
        const answering = await options.engine.ping().then(
          () => true,
          () => false,
        )
        if (!answering && !lost) {
          lost = true
          options.onLost((error as Error).message)
        }
        // Reopened at once only after a stream that worked: an engine that
        // answers pings but refuses the subscription is retried with backoff.
        if (answering && opened) continue
      }
      connected = false
      await sleep(delayMs, undefined, { signal: stop.signal }).catch(() => {})
      delayMs = Math.min(delayMs * 2, maxMs)
    }
  }

  const running = run()

  return {
    /** True while the event stream is open. */
    connected: () => connected,
    /** True from a lost engine until it answers again. */
    lost: () => lost,
    async close() {
      stop.abort()
      clearTimeout(timer)
      await running
    },
  }
}

export type EngineWatch = ReturnType<typeof createEngineWatch>
