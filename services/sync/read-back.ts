import type { InspectedContainer } from '../host/index.js'

// The health gate after `up`: what the engine runs, read back container by
// container. `up --wait` alone is not enough: Compose returns 0 for a
// service with `restart: always` whose command exits at once (it catches
// the container in one of its short running moments). A deploy is
// complete only when every service of the tree has its containers running
// (and healthy where they have a health check), none restarted by the
// engine during the deploy; otherwise it is a failed deploy, rolled back.

/** Restart counts of the project's containers before `up`, by container id. */
export type RestartsBefore = ReadonlyMap<string, number>

export const restartsOf = (containers: readonly InspectedContainer[]): RestartsBefore =>
  new Map(containers.map((container) => [container.id, container.restartCount]))

/** Why the read-back does not pass, one phrase per container (empty: it passes). */
export function readBackProblems(
  services: readonly string[],
  containers: readonly InspectedContainer[],
  before: RestartsBefore,
): string[] {
  const problems: string[] = []
  for (const service of services) {
    const own = containers.filter((container) => container.service === service)
    if (own.length === 0) problems.push(`service ${service} has no container`)
    for (const container of own) {
      const problem = problemOf(container, before.get(container.id) ?? 0)
      if (problem) problems.push(`${container.name} ${problem}`)
    }
  }
  return problems
}

function problemOf(container: InspectedContainer, restartsBefore: number): string | undefined {
  const restarts = container.restartCount - restartsBefore
  // Restarted by its restart policy while the deploy ran: it exits and comes back.
  if (restarts > 0 && container.state !== 'exited')
    return `exits and is restarted (${restarts} restart${restarts === 1 ? '' : 's'} during the deploy, last exit code ${container.exitCode})`
  if (container.state === 'running') {
    if (container.health === undefined || container.health === 'healthy') return undefined
    return container.health === 'starting' ? 'is not healthy yet' : `is ${container.health}`
  }
  // A one-shot job (no restart policy) that finished successfully is what its tree asked for.
  if (
    container.state === 'exited' &&
    container.exitCode === 0 &&
    restarts === 0 &&
    (container.restartPolicy === 'no' || container.restartPolicy === 'on-failure')
  )
    return undefined
  return `is ${container.state}${container.state === 'exited' || container.state === 'restarting' ? ` (exit code ${container.exitCode})` : ''}`
}

/** A container that did not pass, with what its health check last printed: what the failure looked like before a rollback replaced it. */
export type FailureEvidence = {
  container: string
  service: string
  problem: string
  healthOutput?: string
}

/** The containers that do not pass the read-back, each with its problem and health output. */
export function failureEvidence(
  services: readonly string[],
  containers: readonly InspectedContainer[],
  before: RestartsBefore,
): FailureEvidence[] {
  return containers
    .filter((container) => services.includes(container.service))
    .flatMap((container) => {
      const problem = problemOf(container, before.get(container.id) ?? 0)
      return problem
        ? [
            {
              container: container.name,
              service: container.service,
              problem,
              ...(container.healthOutput ? { healthOutput: container.healthOutput } : {}),
            },
          ]
        : []
    })
}
