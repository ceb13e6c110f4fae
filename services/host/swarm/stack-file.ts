import { createHash } from 'node:crypto'
import type { ServiceReads } from '../service-reads.js'
import { WorkTreeError } from '../work-tree-safety.js'
import { WORK_TREE_LABEL } from './swarm-api.js'

// The stack as Swarm is given it: Compose's own rendering of the work tree
// (`docker compose config`: the stack's `.env` interpolated, paths
// resolved), so a stack reads the same under both targets — `docker stack
// deploy` alone would interpolate from docker-cd's environment and ignore
// `.env`. Before anything is touched, what Swarm cannot run is refused with
// its reason: the docker CLI would drop those keys with a warning nobody
// reads and run something else than Git says.

/** A service of Compose's rendering (the keys read here). */
export type RenderedService = Record<string, unknown> & {
  image?: string
  environment?: Record<string, string | null>
  deploy?: { mode?: string; replicas?: number; labels?: Record<string, string> | string[] }
}

export type RenderedStack = Record<string, unknown> & {
  name?: string
  services?: Record<string, RenderedService>
}

/** Keys of a Compose service Swarm does not run, and why (what to write instead). */
const UNSUPPORTED: Record<string, string> = {
  build: 'Swarm builds nothing: every node pulls the image (build and push it, name it in image:)',
  container_name: 'Swarm names the containers of a service itself',
  network_mode:
    'Swarm services join networks (the host network: networks: [host] with host declared external, name: host)',
  links: 'Swarm has no links: services on one network reach each other by name',
  external_links: 'Swarm has no links',
  privileged: 'Swarm services cannot be privileged',
  devices: 'Swarm services cannot be given devices',
  ipc: 'Swarm services cannot share an IPC namespace',
  pid: 'Swarm services cannot share a PID namespace',
  cgroup_parent: 'Swarm does not take cgroup_parent',
  userns_mode: 'Swarm does not take userns_mode',
  security_opt: 'Swarm does not take security_opt',
}

/** Why Swarm cannot run this stack, one phrase per service and key (empty: it can). */
export function swarmProblems(stack: RenderedStack): string[] {
  const problems: string[] = []
  for (const [name, service] of Object.entries(stack.services ?? {})) {
    for (const [key, why] of Object.entries(UNSUPPORTED))
      if (service[key] !== undefined && service[key] !== null)
        problems.push(`service ${name} has ${key}: (${why})`)
    if (!service.image && service.build === undefined)
      problems.push(`service ${name} has no image: (Swarm runs images only)`)
  }
  return problems
}

/** Refuses (WorkTreeError, the tree's failure) a stack Swarm cannot run; touches nothing. */
export function refuseUnsupported(stack: RenderedStack): void {
  const problems = swarmProblems(stack)
  if (problems.length > 0)
    throw new WorkTreeError('tree', `Swarm cannot run this stack: ${problems.join('; ')}`)
}

/**
 * Bind mounts from the stack's work tree, one note each: a bind mount is
 * set up on the node a task runs on, and only the manager docker-cd talks
 * to has the work tree — on another node the path is missing (or is that
 * node's own). Swarm runs them all the same, so this is a warning, not a
 * refusal (a stack pinned to the manager by a placement constraint works).
 */
export function nodeLocalMounts(reads: ServiceReads | undefined): string[] {
  return Object.entries(reads?.inside ?? {}).flatMap(([service, list]) =>
    list
      .filter((read) => read.kind === 'bind')
      .map(
        (read) =>
          `service ${service} bind-mounts ./${read.path} from the stack's work tree: in Swarm a bind mount is node-local (a task on another node finds no such path, or that node's own); use configs: or secrets: for files, a volume for data`,
      ),
  )
}

/**
 * The label docker-cd puts on each service it deploys: a hash of the
 * service as the tree renders it (content names included). Drift compares
 * a few fields one by one (swarm-drift.ts); this label says that anything
 * else of the service changed in Git (a health check, a command, ports,
 * update_config), so such a tree is deployed, never taken as running.
 */
export const SPEC_LABEL = 'io.docker-cd.spec-hash'

/** The hash of a rendered service (unset keys left out), as SPEC_LABEL holds it. */
export function serviceSpecHash(service: RenderedService): string {
  const set = Object.fromEntries(Object.entries(service).filter(([, value]) => value !== null))
  return createHash('sha256').update(JSON.stringify(set)).digest('hex').slice(0, 16)
}

/**
 * The file `docker stack deploy` reads (on stdin): Compose's rendering
 * without the top-level `name:` (the stack name is the deploy's argument,
 * and the stack loader refuses the key), each service labelled with the
 * work tree it comes from (ownership: docker-cd's own deploys say where
 * they were deployed from, as Compose's working-dir label does).
 */
export function stackFile(stack: RenderedStack, workTree: string): string {
  const { name: _name, ...rest } = stack
  // Compose's JSON writes unset service keys as null (`entrypoint: null`) and
  // unset network options as {} (`ipam: {}`): the stack loader refuses both
  // (an external network with any option is a conflict to it).
  for (const kind of ['networks', 'volumes', 'configs', 'secrets'] as const) {
    const section = rest[kind]
    if (!section || typeof section !== 'object') continue
    rest[kind] = Object.fromEntries(
      Object.entries(section as Record<string, unknown>).map(([name, value]) => [
        name,
        value && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value).filter(
                ([, option]) =>
                  !(option && typeof option === 'object' && Object.keys(option).length === 0),
              ),
            )
          : value,
      ]),
    )
  }
  const services = Object.fromEntries(
    Object.entries(stack.services ?? {}).map(([name, full]) => {
      const service = Object.fromEntries(
        Object.entries(full).filter(([, value]) => value !== null),
      ) as RenderedService
      const asMap = labelMap(service.deploy?.labels)
      return [
        name,
        {
          ...service,
          deploy: {
            ...service.deploy,
            labels: { ...asMap, [WORK_TREE_LABEL]: workTree, [SPEC_LABEL]: serviceSpecHash(full) },
          },
        },
      ]
    }),
  )
  return JSON.stringify({ ...rest, services })
}

/** Labels as a map: Compose writes a map, a list (`a=b`) is read as one too. */
export function labelMap(labels: Record<string, string> | string[] | undefined) {
  if (!Array.isArray(labels)) return labels ?? {}
  return Object.fromEntries(
    labels.map((label) => {
      const at = label.indexOf('=')
      return at < 0 ? [label, ''] : [label.slice(0, at), label.slice(at + 1)]
    }),
  )
}
