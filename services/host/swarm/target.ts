import type { SYNC_TARGETS } from '../../../schemas/config.js'
import { EngineUnavailable } from '../docker-engine.js'
import type { StackRuntime } from '../runtime.js'
import type { SwarmApi, SwarmRole } from './swarm-api.js'

// SYNC_TARGET: which runtime deploys the stacks, decided per engine (one
// docker-cd, one engine, one target for every stack). `auto` asks the
// engine (`/info`): an active Swarm manager deploys stacks with `docker
// stack deploy`, any other engine with Compose. A Swarm worker cannot
// deploy anything (only managers take services): refused at startup with
// one line naming SYNC_TARGET. An engine that does not answer at startup
// is asked again whenever the runtime is needed, until it answers.

export type SyncTarget = (typeof SYNC_TARGETS)[number]

/** The engine cannot be the target SYNC_TARGET asks for: docker-cd does not start. */
export class TargetRefused extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TargetRefused'
  }
}

/** Which runtime an engine of this role gets under this setting; throws TargetRefused. */
export function targetFor(setting: SyncTarget, role: SwarmRole, engineWords: string) {
  if (setting === 'compose') return 'compose' as const
  if (role.kind === 'worker')
    throw new TargetRefused(
      `SYNC_TARGET=${setting}: ${engineWords} is a Swarm worker; only a manager deploys stacks (point DOCKER_HOST at a manager, or set SYNC_TARGET=compose to run Compose projects on this node alone)`,
    )
  if (role.kind === 'manager') return 'swarm' as const
  if (setting === 'swarm')
    throw new TargetRefused(
      `SYNC_TARGET=swarm: ${engineWords} is not an active Swarm manager (its swarm state is ${role.state}${role.error ? `: ${role.error}` : ''}); set SYNC_TARGET=compose or auto for a plain engine`,
    )
  return 'compose' as const
}

/**
 * The runtime for SYNC_TARGET, asking the engine at most until it answers.
 * Throws TargetRefused at once when the engine answers with a role the
 * setting refuses. An engine that does not answer yet gets a runtime that
 * decides on its first use that reaches the engine.
 */
export async function chooseRuntime(options: {
  setting: SyncTarget
  api: Pick<SwarmApi, 'role'>
  engineWords: string
  compose: StackRuntime
  swarm: () => StackRuntime
}): Promise<{ runtime: StackRuntime; decided?: 'compose' | 'swarm' }> {
  const { setting } = options
  if (setting === 'compose') return { runtime: options.compose, decided: 'compose' }
  const pick = (role: SwarmRole) =>
    targetFor(setting, role, options.engineWords) === 'swarm' ? options.swarm() : options.compose
  try {
    const runtime = pick(await options.api.role())
    return { runtime, decided: runtime === options.compose ? 'compose' : 'swarm' }
  } catch (error) {
    if (!(error instanceof EngineUnavailable)) throw error
  }
  let decided: StackRuntime | undefined
  const decide = async () => {
    decided ??= pick(await options.api.role())
    return decided
  }
  return { runtime: deferredRuntime(decide, () => decided) }
}

/** A runtime that is one of two, known once `decide` answers; each call waits for the decision. */
function deferredRuntime(
  decide: () => Promise<StackRuntime>,
  known: () => StackRuntime | undefined,
): StackRuntime {
  const later =
    <K extends keyof StackRuntime>(key: K) =>
    // biome-ignore lint/suspicious/noExplicitAny: forwards the method's own arguments
    async (...args: any[]) =>
      // biome-ignore lint/suspicious/noExplicitAny: the decided runtime's own method
      ((await decide())[key] as (...a: any[]) => unknown)(...args)
  return {
    get name() {
      return known()?.name ?? 'undecided'
    },
    get imageApplyRefused() {
      return known()?.imageApplyRefused
    },
    model: later('model'),
    async check(input) {
      try {
        return await (await decide()).check(input)
      } catch (error) {
        if (!(error instanceof EngineUnavailable || error instanceof TargetRefused)) throw error
        input.claim?.(undefined)
        return {
          status: 'unknown',
          reason:
            error instanceof TargetRefused ? error.message : `engine unreachable: ${error.message}`,
          plan: [],
          containers: [],
        }
      }
    },
    validate: later('validate'),
    imagesToPull: later('imagesToPull'),
    pull: later('pull'),
    build: later('build'),
    apply: later('apply'),
    renew: later('renew'),
    restoreImages: later('restoreImages'),
    removeImages: later('removeImages'),
    get contentNamed() {
      return known()?.contentNamed
    },
    async removeOldVersions(dir: string, signal: AbortSignal) {
      return (await (await decide()).removeOldVersions?.(dir, signal)) ?? []
    },
    inspect: later('inspect'),
    takeDown: later('takeDown'),
    deployedFrom: (check, workTree) =>
      known()?.deployedFrom(check, workTree) ??
      (check.containers.length === 0
        ? { kind: 'nothing' }
        : { kind: 'elsewhere', workingDir: 'an undecided target' }),
    ping: later('ping'),
    version: later('version'),
    close: async () => known()?.close(),
  } as StackRuntime
}
