import type { Compose, ComposeModel } from './compose.js'
import type { Engine } from './docker-engine.js'
import { checkStack } from './drift.js'
import type { DeployedFrom, StackRuntime } from './runtime.js'

// The Compose v2 runtime: one engine, one Compose project per stack, run by
// the Compose CLI in the stack's work tree (services/host/compose.ts) and
// read through the Engine API (docker-engine.ts). Compose's own rules
// (project names, convergence, `--wait`) are never re-implemented here.

export function createComposeRuntime(options: {
  compose: Compose
  engine: Pick<
    Engine,
    | 'projectContainers'
    | 'inspectProject'
    | 'imagePresent'
    | 'ping'
    | 'tagImage'
    | 'removeUnnamedImage'
  >
}): StackRuntime {
  const { compose, engine } = options

  /** By each service's `pull_policy` (default: when missing); Compose builds what it can build. */
  async function imagesToPull(model: ComposeModel): Promise<string[]> {
    const pulls: string[] = []
    for (const [service, spec] of Object.entries(model.services)) {
      const policy = spec.pull_policy ?? 'missing'
      if (!spec.image || policy === 'never' || policy === 'build') continue
      if (policy === 'always' || !(await engine.imagePresent(spec.image))) {
        if (spec.build && policy !== 'always') continue // Compose builds it in `up`
        pulls.push(service)
      }
    }
    return pulls.sort()
  }

  return {
    name: 'compose',
    model: (dir) => compose.model(dir),
    check: (input) => checkStack({ ...input, compose, engine }),
    validate: (dir) => compose.validate(dir),
    imagesToPull,
    pull: (dir, services, signal) => compose.pull(dir, services, signal),
    build: (dir, services, signal) => compose.build(dir, services, signal),
    renew: (dir, services, how, { waitSeconds, signal }) =>
      compose.renew(dir, services, how, waitSeconds, signal),
    apply: (dir, { waitSeconds, signal, onWaiting }) =>
      compose.up(dir, waitSeconds, signal, onWaiting),
    async restoreImages(images) {
      for (const image of images) await engine.tagImage(image.imageId, image.reference)
    },
    async removeImages(ids) {
      for (const id of ids) await engine.removeUnnamedImage(id).catch(() => false)
    },
    inspect: (project) => engine.inspectProject(project),
    takeDown: (dir, project, signal) => compose.down(dir, project, signal),
    deployedFrom: composeDeployedFrom,
    ping: () => engine.ping(),
    version: () => compose.version(),
    close: () => compose.close(),
  }
}

/** Compose labels each container with the directory it ran in: that is where it was deployed from. */
export function composeDeployedFrom(
  check: { containers: readonly { workingDir?: string }[] },
  workTree: string,
): DeployedFrom {
  if (check.containers.length === 0) return { kind: 'nothing' }
  if (check.containers.some((container) => container.workingDir === workTree))
    return { kind: 'this-tree' }
  const elsewhere = check.containers.find((container) => container.workingDir)?.workingDir
  return { kind: 'elsewhere', workingDir: elsewhere ?? 'an unknown directory' }
}
