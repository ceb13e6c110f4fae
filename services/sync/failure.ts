import {
  ComposeError,
  ComposeUnavailable,
  EngineRefused,
  EngineUnavailable,
} from '../host/index.js'

// Whose fault a failed step is decides what happens next, so it is a typed
// kind, not a guess from Compose's prose:
// - `tree`: the stack's own failure (an image that cannot be pulled —
//   unknown host, unknown manifest, access denied —, an invalid image
//   reference, a rejected file, a service that never gets healthy). The
//   stack is `failed` with the reason; not retried until the tree changes
//   or someone asks.
// - `unreachable`: the engine does not answer. Retried with back-off,
//   because nothing is wrong with the tree.
// - `local`: docker-cd's own side (reading the tree out of Git, writing the
//   work tree, a missing docker CLI). Retried with back-off too.
// - `registry`: an image update's pull failed on the tree already deployed
//   (the registry went away after it named the new digest). Retried with
//   back-off: neither the tree nor the new image is at fault yet.
//
// Compose says "no such host" both for a registry that does not exist and
// (in other words) for an engine it cannot reach, so after a failure the
// engine itself is asked (`/_ping`): only when it does not answer is the
// failure the engine's.

export type FailureKind = 'tree' | 'unreachable' | 'local' | 'registry'

/**
 * What failed, as whoever is told about a run reads it (observers, the
 * event feed, later notifications): the step that failed when it is the
 * tree's failure — `validation` (Compose or docker-cd refuses the stack),
 * `pull`, `build` (a changed build context), `up`, `health` (the wait for healthy services, or the read-back)
 * —, `engine` when the engine did not answer, `local` for docker-cd's own
 * side, `interrupted` by a shutdown, `down` for a take-down (prune).
 */
export type SyncFailureKind =
  | 'validation'
  | 'pull'
  | 'build'
  | 'up'
  | 'health'
  | 'engine'
  | 'local'
  | 'interrupted'
  | 'down'

/** A step of a run that can fail for the tree's own reason. */
export type FailedStep = 'validation' | 'pull' | 'build' | 'up' | 'health'

export type SyncFailure = Readonly<{ kind: SyncFailureKind; message: string }>

/** The typed failure of a run: from whose failure it was and the step that failed. */
export function failureOf(outcome: {
  result: 'completed' | 'failed' | 'interrupted'
  failure?: FailureKind
  step?: FailedStep
  reason: string
  error?: string
}): SyncFailure | undefined {
  if (outcome.result === 'completed') return undefined
  const message = outcome.error ?? outcome.reason
  if (outcome.result === 'interrupted') return { kind: 'interrupted', message }
  if (outcome.failure === 'unreachable') return { kind: 'engine', message }
  if (outcome.failure === 'registry') return { kind: 'pull', message }
  if (outcome.failure === 'local' || !outcome.step) return { kind: 'local', message }
  return { kind: outcome.step, message }
}

/** The docker CLI's own words when it cannot reach the engine at all (not about a registry). */
const CLI_NO_ENGINE = /Cannot connect to the Docker daemon|Is the docker daemon running/i

export async function failureKind(error: unknown, ping: () => Promise<void>): Promise<FailureKind> {
  if (error instanceof ComposeUnavailable) return 'local'
  const engineSide =
    error instanceof ComposeError ||
    error instanceof EngineUnavailable ||
    error instanceof EngineRefused
  if (!engineSide) return 'local'
  if (error instanceof ComposeError && CLI_NO_ENGINE.test(error.message)) return 'unreachable'
  return ping().then(
    () => 'tree' as const,
    () => 'unreachable' as const,
  )
}
