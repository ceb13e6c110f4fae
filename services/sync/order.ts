import { EXTENSION_KEY, type HostCheck, type HostMonitor } from '../host/index.js'
import type { Snapshot } from '../refresh/index.js'
import { short } from './decide.js'
import type { DeployRecord, DeployRecords, SyncTrigger } from './records.js'

// The order stacks declare between them: `x-docker-cd: { depends_on: [db] }`
// in a stack's Compose file means it deploys only once each stack named
// there (by its directory name) is synced and healthy — the database before
// the app that needs it. Pure functions of what the reconciler knows, so
// every answer is unit-tested and says why in words:
// - a name that is no stack in Git, or a cycle (a → b → a), is an error on
//   the stacks involved, never a hang: they are not deployed, with the reason;
// - a stack whose dependency is being deployed, or is not synced and healthy
//   yet, waits (`waiting for db: …`);
// - a stack whose dependency failed is held (`held: db failed …`) until that
//   one is fixed.
// A manual sync is the operator's explicit request: it is not held.

/** How a dependency stands, as the reconciler sees it. */
export type DependencyState =
  | { kind: 'ready' }
  | { kind: 'waiting'; why: string }
  | { kind: 'failed'; why: string }

export type OrderView = {
  /** Every stack in Git. */
  stacks: ReadonlySet<string>
  /** The stacks a stack declares it needs (empty when unknown: not checked yet). */
  dependsOn: (stack: string) => readonly string[]
  /** How a stack stands as a dependency. */
  state: (stack: string) => DependencyState
}

/** Why `stack` may not deploy yet, or undefined when its declared order allows it now. */
export function orderBlock(stack: string, view: OrderView): string | undefined {
  const needs = view.dependsOn(stack)
  if (needs.length === 0) return undefined
  const unknown = needs.filter((name) => !view.stacks.has(name))
  if (unknown.length > 0)
    return `${EXTENSION_KEY}.depends_on names ${unknown.map((name) => JSON.stringify(name)).join(', ')}, which ${unknown.length === 1 ? 'is' : 'are'} no stack in Git: not deployed until the name is fixed`
  const cycle = cycleThrough(stack, view)
  if (cycle)
    return `${EXTENSION_KEY}.depends_on forms a cycle (${cycle.join(' → ')}): none of these stacks is deployed until it is broken`
  const failed: string[] = []
  const waiting: string[] = []
  for (const name of needs) {
    const state = view.state(name)
    if (state.kind === 'failed') failed.push(`${name} ${state.why}`)
    else if (state.kind === 'waiting') waiting.push(`${name} (${state.why})`)
  }
  if (failed.length > 0)
    return `held: ${failed.join('; ')}; deploys once ${needs.length === 1 ? 'it is' : 'they are'} synced and healthy (${EXTENSION_KEY}.depends_on)`
  if (waiting.length > 0) return `waiting for ${waiting.join(', ')}`
  return undefined
}

/** A cycle of declared dependencies that passes through `stack`, as a path back to it. */
export function cycleThrough(
  stack: string,
  view: Pick<OrderView, 'dependsOn'>,
): string[] | undefined {
  const seen = new Set<string>()
  const path: string[] = [stack]
  const walk = (from: string): boolean => {
    for (const next of view.dependsOn(from)) {
      if (next === stack) {
        path.push(stack)
        return true
      }
      if (seen.has(next)) continue
      seen.add(next)
      path.push(next)
      if (walk(next)) return true
      path.pop()
    }
    return false
  }
  return walk(stack) ? path : undefined
}

/** How a stack stands for the stacks that declare they need it. */
export function dependencyState(input: {
  /** Its tree in Git; undefined when it is no stack in Git. */
  tree: string | undefined
  check: HostCheck | undefined
  record: DeployRecord | undefined
  deploying: boolean
  queued: boolean
  /** Why it is itself held while queued (its own declared order), if it is. */
  held?: string | undefined
}): DependencyState {
  const { tree, check, record } = input
  if (tree === undefined) return { kind: 'waiting', why: 'not in Git' }
  if (record?.failedTreeHash === tree && record.lastResult === 'failed')
    return { kind: 'failed', why: `failed to deploy tree ${short(tree)}` }
  if (check?.status === 'failed') return { kind: 'failed', why: `is failed: ${check.reason}` }
  if (input.deploying) return { kind: 'waiting', why: 'deploying' }
  if (input.queued)
    return { kind: 'waiting', why: input.held ? `queued, held: ${input.held}` : 'queued to deploy' }
  if (!check) return { kind: 'waiting', why: 'not checked yet' }
  if (record?.deployedTreeHash !== tree)
    return {
      kind: 'waiting',
      why: `its tree ${short(tree)} is not deployed by docker-cd yet: ${check.reason}`,
    }
  if (check.status !== 'synced') return { kind: 'waiting', why: `${check.status}: ${check.reason}` }
  if (check.health !== 'healthy')
    return { kind: 'waiting', why: `synced, ${check.health ?? 'health unknown'}` }
  return { kind: 'ready' }
}

/**
 * The queue's gate (queue.ts `blocked`): why a queued stack may not start
 * yet — a setting of the wrong shape, or its declared order — read from
 * the stacks' last checks, records and runs. A manual sync is not held.
 */
export function createOrderGate(options: {
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'state'>
  records: Pick<DeployRecords, 'get'>
  deploying: (stack: string) => boolean
  queued: (stack: string) => boolean
  /** Why a queued stack waits, as its status says (a dependency held itself says so). */
  waitingFor: (stack: string) => string | undefined
}) {
  const { monitor } = options
  return function blocked(stack: string, trigger: SyncTrigger): string | undefined {
    if (trigger === 'manual') return undefined
    const settings = monitor.state(stack)?.settings
    if (settings?.problems.length) return `not deployed: ${settings.problems.join('; ')}`
    const stacks = options.current().stacks
    return orderBlock(stack, {
      stacks: new Set(stacks.map((s) => s.path)),
      dependsOn: (name) => monitor.state(name)?.settings?.dependsOn ?? [],
      state: (name) =>
        dependencyState({
          tree: stacks.find((s) => s.path === name)?.treeOid,
          check: monitor.state(name),
          record: options.records.get(name),
          deploying: options.deploying(name),
          queued: options.queued(name),
          held: options.queued(name) ? options.waitingFor(name) : undefined,
        }),
    })
  }
}
