import { isAbsolute, join, relative, resolve, sep } from 'node:path'

// What each service reads from its stack's directory, from Compose's own
// model (`docker compose config --format json`, which has already resolved
// every relative path against the project directory): bind-mount sources
// (short and long syntax, files and directories), `configs:` and `secrets:`
// with a `file:`, and `build:` contexts, Dockerfiles, additional contexts
// and build secret files. Compose's
// configuration hash does not cover the content of these files (and a
// single-file bind mount keeps the inode it was created with), so a change
// of one in Git must be matched to the services that read it. `env_file`
// is not here: Compose folds it into the service's environment, which its
// hash covers. Paths outside the stack directory (an absolute host path,
// `../common`) are not docker-cd's to track; they are listed apart.

export type ReadKind = 'bind' | 'config' | 'secret' | 'build'

/** A path a service reads, relative to the stack directory (POSIX separators; '' is the directory itself). */
export type ServiceRead = Readonly<{ path: string; kind: ReadKind }>

export type OutsideRead = Readonly<{ service: string; source: string; kind: ReadKind }>

export type ServiceReads = Readonly<{
  /** Per service, what it reads inside the stack directory. */
  inside: Readonly<Record<string, readonly ServiceRead[]>>
  /** What services read outside it: not tracked, said once. */
  outside: readonly OutsideRead[]
}>

type RawService = {
  volumes?: { type?: string; source?: string }[]
  configs?: { source?: string }[]
  secrets?: { source?: string }[]
  build?: {
    context?: string
    dockerfile?: string
    /** Named contexts: a path, or `docker-image://`, `service:`, a URL. */
    additional_contexts?: Record<string, string>
    /** Top-level secrets the build mounts (`RUN --mount=type=secret`). */
    secrets?: { source?: string }[]
  }
}

type RawModel = {
  services?: Record<string, RawService>
  configs?: Record<string, { file?: string }>
  secrets?: Record<string, { file?: string }>
}

/**
 * The reads of every service of a rendered model whose project directory is
 * `projectDir`; `realDir` is its real path, when a symlink leads to it
 * (Compose, run there, resolves relative paths against the real path).
 */
export function serviceReads(
  model: RawModel,
  projectDir: string,
  realDir = projectDir,
): ServiceReads {
  const roots = [...new Set([resolve(projectDir), resolve(realDir)])]
  // No prototype: a service named `__proto__` is a key like any other.
  const inside: Record<string, ServiceRead[]> = Object.create(null)
  const outside: OutsideRead[] = []
  for (const [service, spec] of Object.entries(model.services ?? {})) {
    const reads: ServiceRead[] = []
    const add = (source: string | undefined, kind: ReadKind) => {
      if (!source) return
      const path = roots
        .map((root) => insidePath(root, source))
        .find((inside) => inside !== undefined)
      if (path === undefined) outside.push({ service, source, kind })
      else if (!reads.some((read) => read.path === path && read.kind === kind))
        reads.push({ path, kind })
    }
    for (const volume of spec.volumes ?? []) if (volume.type === 'bind') add(volume.source, 'bind')
    for (const config of spec.configs ?? [])
      add(model.configs?.[config.source ?? '']?.file, 'config')
    for (const secret of spec.secrets ?? [])
      add(model.secrets?.[secret.source ?? '']?.file, 'secret')
    if (spec.build?.context && !/^[a-z]+:\/\//i.test(spec.build.context)) {
      add(spec.build.context, 'build')
      // The Dockerfile is relative to the context, and may lie outside it.
      if (spec.build.dockerfile) add(resolve(spec.build.context, spec.build.dockerfile), 'build')
    }
    // What else the build reads: named contexts that are paths, build secret files.
    for (const context of Object.values(spec.build?.additional_contexts ?? {}))
      if (isAbsolute(context)) add(context, 'build')
    for (const secret of spec.build?.secrets ?? [])
      add(model.secrets?.[secret.source ?? '']?.file, 'build')
    inside[service] = reads.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }
  return { inside, outside }
}

/** `source` relative to the stack directory, or undefined when it lies outside it. */
function insidePath(root: string, source: string): string | undefined {
  if (!isAbsolute(source)) return insidePath(root, join(root, source))
  const path = relative(root, resolve(source))
  if (path === '..' || path.startsWith(`..${sep}`) || isAbsolute(path)) return undefined
  return path.split(sep).join('/')
}

/** Whether a read covers a changed file (both relative to the stack directory): the file itself, or one below it. */
export const readCovers = (read: ServiceRead, changedFile: string) =>
  read.path === '' || read.path === changedFile || changedFile.startsWith(`${read.path}/`)

/** The services whose reads a changed file (a path relative to the stack directory) touches. */
export function servicesReading(reads: ServiceReads, changedFile: string): string[] {
  return Object.entries(reads.inside)
    .filter(([, list]) => list.some((read) => readCovers(read, changedFile)))
    .map(([service]) => service)
    .sort()
}

/** The reads without those of `kinds` (a runtime that names them by content rolls their services itself). */
export function readsExcept(reads: ServiceReads, kinds: readonly ReadKind[]): ServiceReads {
  if (kinds.length === 0) return reads
  const inside: Record<string, readonly ServiceRead[]> = Object.create(null)
  for (const [service, list] of Object.entries(reads.inside))
    inside[service] = list.filter((read) => !kinds.includes(read.kind))
  return { inside, outside: reads.outside }
}
