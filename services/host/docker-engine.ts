import { createHash } from 'node:crypto'
import { Agent, type Dispatcher, request } from 'undici'
import {
  type DockerHostSource,
  engineAddressWords,
  parseDockerHost,
} from '../../schemas/docker-host.js'
import { networkFailure } from '../base/index.js'
import { parseImageRef } from './registry/image-ref.js'

// The Docker Engine API, as Docker's own clients reach it: DOCKER_HOST
// (`unix:///var/run/docker.sock` or `tcp://host:port`). The HTTP client is
// undici (no dependencies, unix sockets and streamed bodies built in);
// dockerode was measured beside it (about 1 ms per `/containers/json` for
// both here) and brings 50-odd packages (ssh2, gRPC, tar) for calls this
// service never makes. Reads only: the running-container count, the
// containers of Compose projects, whether an image is present, and the
// event stream (and, for Swarm, its services, tasks and nodes). Every
// change to the host goes through the docker CLI (Compose, `docker stack`).

export type ContainerCount = { running: number } | { unavailable: string }

/** A container as drift detection reads it from `/containers/json?all=1`. */
export type EngineContainer = {
  name: string
  service: string
  state: string
  /** `healthy`, `unhealthy`, `starting`, or none (no health check). */
  health?: string
  /** `Exited (137) 2 minutes ago`, as the engine words it. */
  status: string
  /** The image reference it was created from (the engine shows the image id once that reference names another image). */
  image: string
  /** The image it runs (`sha256:…`). */
  imageId?: string
  /** That image's digest in its repository (`sha256:…`, what a pull by tag recorded), when it came from a registry. */
  digest?: string
  /** Every digest of that image in that repository, when it has several (a tag and a manifest list over it). */
  digests?: string[]
  /** The directory Compose ran in (`com.docker.compose.project.working_dir`). */
  workingDir?: string
  /** Since when it is in its state (started, exited, created): `status` is the engine's words at the check, this stays true. */
  since?: string
}

/** A Compose project on the engine: its containers, by the project label. */
export type EngineProject = { name: string; containers: EngineContainer[] }

/**
 * A container event of a Compose project, from `/events`; for Swarm, a
 * service event (`project`: a candidate stack name) or a node event
 * (`node: true`, no project: a node going down or up concerns every stack).
 */
export type EngineEvent = { project: string; action: string; container: string; node?: true }

/** The engine could not be asked: its reason, in words. */
export class EngineUnavailable extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'EngineUnavailable'
  }
}

/**
 * The engine answered and refused the request (an image reference it
 * cannot parse: HTTP 400). Not an outage: the engine is there, the
 * request — the tree's — is wrong.
 */
export class EngineRefused extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'EngineRefused'
  }
}

/** A container as the read-back after a deploy sees it (`/containers/{id}/json`). */
export type InspectedContainer = {
  id: string
  name: string
  service: string
  /** `running`, `restarting`, `exited`, `created`, … */
  state: string
  /** How often the engine restarted it (its restart policy) since it was created. */
  restartCount: number
  exitCode: number
  /** `healthy`, `unhealthy`, `starting`; absent without a health check. */
  health?: string
  /** `no`, `always`, `unless-stopped`, `on-failure`. */
  restartPolicy: string
  /** When it last started (a restart moves it; the id stays). */
  startedAt: string
  /** The image reference it was created from (`Config.Image`). */
  image?: string
  /** The image it runs (`sha256:…`). */
  imageId?: string
  /** That image's digest in the repository its reference names, when it came from a registry. */
  digest?: string
  /** What its health check printed last time it failed (the engine keeps its last runs), cut short. */
  healthOutput?: string
}

type RawContainer = {
  Id?: string
  ImageID?: string
  Names?: string[]
  State?: string
  Status?: string
  Image?: string
  Labels?: Record<string, string>
}

const PROJECT_LABEL = 'com.docker.compose.project'

/**
 * The digests of an image in the repository its reference names, from the
 * image's RepoDigests (`repo@sha256:…`, one per manifest it was pulled or
 * pushed as: a tag and a manifest list over it are two in one repository);
 * the only one when the reference is an image id. Names compared as the
 * Docker CLI normalises them (`index.docker.io/library/nginx` is `nginx`).
 */
export function repoDigestsIn(reference: string, repoDigests: readonly string[]): string[] {
  if (/^sha256:/.test(reference))
    return repoDigests.length === 1 ? [repoDigests[0]?.split('@')[1] as string] : []
  const repositoryOf = (name: string) => {
    const ref = parseImageRef(name)
    return 'problem' in ref ? undefined : `${ref.registry.toLowerCase()}/${ref.repository}`
  }
  const wanted = repositoryOf(reference.replace(/@.*$/, ''))
  if (!wanted) return []
  return repoDigests
    .filter((entry) => repositoryOf(entry.split('@')[0] as string) === wanted)
    .map((entry) => entry.split('@')[1] as string)
}

/** The first of them (`digest` in the API). */
export function repoDigestOf(
  reference: string,
  repoDigests: readonly string[],
): string | undefined {
  return repoDigestsIn(reference, repoDigests)[0]
}

function containerOf(
  raw: RawContainer,
  repoDigests?: readonly string[],
  since?: string,
): EngineContainer {
  const labels = raw.Labels ?? {}
  const digests = repoDigests ? repoDigestsIn(raw.Image ?? '', repoDigests) : []
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(raw.Status ?? '')?.[1]
  return {
    name: (raw.Names?.[0] ?? '').replace(/^\//, ''),
    service: labels['com.docker.compose.service'] ?? '',
    state: raw.State ?? 'unknown',
    ...(health ? { health: health === 'health: starting' ? 'starting' : health } : {}),
    status: raw.Status ?? '',
    image: raw.Image ?? '',
    ...(raw.ImageID ? { imageId: raw.ImageID } : {}),
    ...(digests[0] ? { digest: digests[0] } : {}),
    ...(digests.length > 1 ? { digests } : {}),
    ...(labels['com.docker.compose.project.working_dir']
      ? { workingDir: labels['com.docker.compose.project.working_dir'] }
      : {}),
    ...(since ? { since } : {}),
  }
}

/** The engine's "Up 5 seconds" / "Exited (0) 3 seconds ago" as seconds, when it is that precise (else undefined). */
function secondsIn(status: string): number | undefined {
  if (/Less than a second/i.test(status)) return 0
  const found = /(\d+) seconds?/i.exec(status)
  return found ? Number(found[1]) : undefined
}

/** The output of the last failed health check run, at most 1 KiB of it (the engine keeps the last five runs). */
function healthOutputOf(log: { ExitCode?: number; Output?: string }[] | undefined) {
  const failed = (log ?? []).filter((run) => run.ExitCode !== 0).at(-1)
  if (!failed) return {}
  const output = (failed.Output ?? '').trim()
  const cut = output.length > 1024 ? `${output.slice(0, 1024)}…` : output
  return { healthOutput: `${cut || '(no output)'} (exit code ${failed.ExitCode ?? '?'})` }
}

/** The image fields of an inspected container: its reference, the image id, its repository digest. */
function imageOf(
  reference: string | undefined,
  imageId: string | undefined,
  repoDigests?: readonly string[],
) {
  const digest = reference && repoDigests ? repoDigestOf(reference, repoDigests) : undefined
  return {
    ...(reference ? { image: reference } : {}),
    ...(imageId ? { imageId } : {}),
    ...(digest ? { digest } : {}),
  }
}

/** `registry:5000/app:stable` → repository `registry:5000/app`, tag `stable` (`latest` when none). */
export function splitTag(reference: string): { repository: string; tag: string } {
  const name = reference.replace(/@.*$/, '')
  const colon = name.lastIndexOf(':')
  return colon > name.lastIndexOf('/')
    ? { repository: name.slice(0, colon), tag: name.slice(colon + 1) }
    : { repository: name, tag: 'latest' }
}

const byName = (a: { name: string }, b: { name: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

const filtersParam = (filters: Record<string, string[]>) =>
  encodeURIComponent(JSON.stringify(filters))

/** What a unix socket's connect errors mean (a TCP address's are networkFailure's). */
const SOCKET_WORDS: Record<string, string> = {
  ENOENT: 'no such socket',
  EACCES: "permission denied (this user may not use the socket: add it to the socket's group)",
  ECONNREFUSED: 'nothing listens on the socket',
}

export function createEngine(options: {
  dockerHost: string
  /** Which variable set `dockerHost`: messages name it (DOCKER_HOST unless told). */
  source?: DockerHostSource
  timeoutMs?: number
}) {
  const target = parseDockerHost(options.dockerHost)
  const timeoutMs = options.timeoutMs ?? 5000
  const connect = target.socketPath ? { connect: { socketPath: target.socketPath } } : {}
  const agent = new Agent(connect)
  // Every failure names the engine's address and the variable that set it,
  // so the operator knows what to change: `the Docker engine at
  // unix:///run/docker.sock (DOCKER_HOST) …`.
  const engineAt = `the Docker engine at ${engineAddressWords(target, options.source ?? 'DOCKER_HOST')}`
  const engineFailure = (words: string) => new EngineUnavailable(`${engineAt} ${words}`)

  function unavailable(error: unknown): EngineUnavailable {
    if (error instanceof EngineUnavailable) return error
    const { code } = error as NodeJS.ErrnoException
    const socketWords = target.socketPath && code ? SOCKET_WORDS[code] : undefined
    const why =
      code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
        ? `no answer within ${timeoutMs}ms`
        : (socketWords ?? networkFailure(error).reason)
    return new EngineUnavailable(`cannot reach ${engineAt}: ${why}`)
  }

  async function open(
    path: string,
    streaming: boolean,
    signal?: AbortSignal,
    dispatcher: Dispatcher = agent,
  ) {
    let response: Dispatcher.ResponseData
    try {
      response = await request(`${target.origin}${path}`, {
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: streaming ? 0 : timeoutMs,
        ...(signal ? { signal } : {}),
      })
    } catch (error) {
      throw unavailable(error)
    }
    if (response.statusCode !== 200) {
      await response.body.dump().catch(() => {})
      throw engineFailure(`answered HTTP ${response.statusCode}`)
    }
    return response.body
  }

  /** A request whose answer is its status alone (the body is read and dropped); throws EngineUnavailable. */
  async function send(method: 'POST' | 'DELETE', path: string): Promise<number> {
    try {
      const response = await request(`${target.origin}${path}`, {
        method,
        dispatcher: agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      await response.body.dump().catch(() => {})
      return response.statusCode
    } catch (error) {
      throw unavailable(error)
    }
  }

  async function get<T>(path: string): Promise<T> {
    const body = await open(path, false)
    try {
      return (await body.json()) as T
    } catch (error) {
      throw error instanceof SyntaxError
        ? engineFailure('sent an unreadable answer')
        : unavailable(error)
    }
  }
  /**
   * RepoDigests of images by id, asked once per image: an image id names
   * its content for ever, and a digest it was pulled with stays. An image
   * with none (built here) is remembered as such too: checks would
   * otherwise ask about it every time (one that is pushed later shows its
   * digest after a restart).
   */
  const knownDigests = new Map<string, readonly string[]>()
  async function repoDigestsOf(ids: readonly string[]) {
    const wanted = [...new Set(ids)].filter((id) => id !== '' && !knownDigests.has(id))
    await Promise.all(
      wanted.map((id) =>
        get<{ RepoDigests?: string[] }>(`/images/${encodeURIComponent(id)}/json`).then(
          (image) => {
            if (knownDigests.size >= 1024) knownDigests.clear()
            knownDigests.set(id, image.RepoDigests ?? [])
          },
          () => {}, // gone meanwhile: no digest to show
        ),
      ),
    )
    return knownDigests
  }

  /**
   * Since when each container is in its state, asked of the engine
   * (`/containers/{id}/json`) only when its state or exit code is new to
   * this process — or when the engine's words say it started later than
   * remembered (restarted in place) —: the list's "Up 5 seconds" is frozen
   * at the check, this is not.
   */
  const sinces = new Map<string, { key: string; since: string }>()
  async function sinceOf(raw: readonly RawContainer[]) {
    const now = Date.now()
    await Promise.all(
      raw.map(async (c) => {
        const id = c.Id ?? ''
        const key = `${c.State} ${/\((\d+)\)/.exec(c.Status ?? '')?.[1] ?? ''}`
        const known = sinces.get(id)
        const seconds = secondsIn(c.Status ?? '')
        const stale =
          !known ||
          known.key !== key ||
          (seconds !== undefined && now - Date.parse(known.since) > (seconds + 5) * 1000)
        if (!stale) return
        const inspected = await get<{
          Created?: string
          State?: { StartedAt?: string; FinishedAt?: string }
        }>(`/containers/${encodeURIComponent(id)}/json`).catch(() => undefined)
        if (!inspected) return
        const since =
          c.State === 'exited' || c.State === 'dead'
            ? inspected.State?.FinishedAt
            : c.State === 'created'
              ? inspected.Created
              : inspected.State?.StartedAt
        if (!since || since.startsWith('0001-')) return
        if (sinces.size >= 4096) sinces.clear()
        sinces.set(id, { key, since })
      }),
    )
  }

  return {
    /** Where the engine is, for messages: the socket path or host:port. */
    describe: target.describe,

    /** Resolves when the engine answers `/_ping`; throws EngineUnavailable. */
    async ping(): Promise<void> {
      // On a connection of its own: an engine that is shutting down takes no
      // new connection but still answers on a kept-alive one, and a deploy
      // whose containers it killed on the way down must read as its failure.
      const once = new Agent(connect)
      try {
        await (await open('/_ping', false, undefined, once)).dump()
      } finally {
        void once.destroy().catch(() => {})
      }
    },

    async countRunning(): Promise<ContainerCount> {
      try {
        return { running: (await get<unknown[]>('/containers/json')).length }
      } catch (error) {
        return { unavailable: (error as Error).message }
      }
    },

    /**
     * Every container (running or not) of one Compose project, and a
     * fingerprint of everything about them Compose's plan depends on: ids,
     * states, health, configuration-hash labels, the image each runs and the
     * image its reference names now. Throws EngineUnavailable.
     */
    async projectContainers(
      project: string,
    ): Promise<{ containers: EngineContainer[]; fingerprint: string }> {
      const filters = filtersParam({ label: [`${PROJECT_LABEL}=${project}`] })
      const raw = await get<RawContainer[]>(`/containers/json?all=1&filters=${filters}`)
      const references = [...new Set(raw.map((c) => c.Image ?? ''))].filter(Boolean).sort()
      const imageIds = await Promise.all(
        references.map((reference) =>
          get<{ Id?: string }>(`/images/${encodeURI(reference)}/json`).then(
            (image) => `${reference}=${image.Id ?? ''}`,
            () => `${reference}=absent`,
          ),
        ),
      )
      const hash = createHash('sha256')
      for (const c of [...raw].sort((a, b) => ((a.Id ?? '') < (b.Id ?? '') ? -1 : 1)))
        hash.update(
          `${c.Id} ${c.State} ${/\(([^)]*)\)/.exec(c.Status ?? '')?.[1] ?? ''} ${c.ImageID} ${c.Labels?.['com.docker.compose.config-hash'] ?? ''}\n`,
        )
      hash.update(imageIds.join('\n'))
      const digests = await repoDigestsOf(raw.map((c) => c.ImageID ?? ''))
      await sinceOf(raw)
      return {
        containers: raw
          .map((c) => containerOf(c, digests.get(c.ImageID ?? ''), sinces.get(c.Id ?? '')?.since))
          .sort(byName),
        fingerprint: hash.digest('hex'),
      }
    },

    /**
     * Every container of a Compose project, inspected one by one: state,
     * restarts, exit code, health. Throws EngineUnavailable.
     */
    async inspectProject(project: string): Promise<InspectedContainer[]> {
      const filters = filtersParam({ label: [`${PROJECT_LABEL}=${project}`] })
      const raw = await get<RawContainer[]>(`/containers/json?all=1&filters=${filters}`)
      const inspected = await Promise.all(
        raw.map((container) =>
          get<{
            Id?: string
            Name?: string
            RestartCount?: number
            State?: {
              Status?: string
              ExitCode?: number
              StartedAt?: string
              Health?: { Status?: string; Log?: { ExitCode?: number; Output?: string }[] }
            }
            HostConfig?: { RestartPolicy?: { Name?: string } }
            Config?: { Labels?: Record<string, string>; Image?: string }
            Image?: string
          }>(`/containers/${encodeURIComponent(container.Id ?? '')}/json`),
        ),
      )
      const digests = await repoDigestsOf(inspected.map((c) => c.Image ?? ''))
      return inspected
        .map((c) => ({
          ...imageOf(c.Config?.Image, c.Image, digests.get(c.Image ?? '')),
          id: c.Id ?? '',
          name: (c.Name ?? '').replace(/^\//, ''),
          service: c.Config?.Labels?.['com.docker.compose.service'] ?? '',
          state: c.State?.Status ?? 'unknown',
          restartCount: c.RestartCount ?? 0,
          exitCode: c.State?.ExitCode ?? 0,
          ...(c.State?.Health?.Status ? { health: c.State.Health.Status } : {}),
          restartPolicy: c.HostConfig?.RestartPolicy?.Name || 'no',
          startedAt: c.State?.StartedAt ?? '',
          ...healthOutputOf(c.State?.Health?.Log),
        }))
        .sort(byName)
    },

    /**
     * Puts `reference` (a tag) on an image the engine holds, by id: a rollback
     * of an image update names the previous image again. Throws
     * EngineUnavailable; EngineRefused when the engine refuses (the image is gone).
     */
    async tagImage(imageId: string, reference: string): Promise<void> {
      const { repository, tag } = splitTag(reference)
      const query = new URLSearchParams({ repo: repository, tag })
      const status = await send('POST', `/images/${encodeURIComponent(imageId)}/tag?${query}`)
      if (status === 404)
        throw new EngineRefused(`image ${imageId.slice(0, 19)} is no longer on the host`)
      if (status !== 201 && status !== 200)
        throw new EngineRefused(
          `the engine refused to tag ${imageId.slice(0, 19)} as ${reference} (HTTP ${status})`,
        )
    },

    /**
     * Removes an image no tag names any more (an image update replaced it);
     * one still named, or used by a container, is left (false). Throws
     * EngineUnavailable.
     */
    async removeUnnamedImage(imageId: string): Promise<boolean> {
      const image = await get<{ RepoTags?: string[] }>(
        `/images/${encodeURIComponent(imageId)}/json`,
      ).catch(() => undefined)
      if (!image || (image.RepoTags ?? []).length > 0) return false
      // No `force`: the engine refuses (409) while any container uses it.
      return (await send('DELETE', `/images/${encodeURIComponent(imageId)}`)) === 200
    },

    /** Whether the engine holds an image by this reference (`pull_policy: missing`); throws EngineUnavailable. */
    async imagePresent(reference: string): Promise<boolean> {
      let response: Dispatcher.ResponseData
      try {
        response = await request(`${target.origin}/images/${encodeURI(reference)}/json`, {
          dispatcher: agent,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        })
      } catch (error) {
        throw unavailable(error)
      }
      if (response.statusCode === 400) {
        const answer = (await response.body.json().catch(() => ({}))) as { message?: string }
        throw new EngineRefused(
          `invalid image reference "${reference}": ${answer.message ?? 'the engine refuses it (HTTP 400)'}`,
        )
      }
      await response.body.dump().catch(() => {})
      if (response.statusCode === 200) return true
      if (response.statusCode === 404) return false
      throw engineFailure(`answered HTTP ${response.statusCode}`)
    },

    /** Every Compose project on the engine, by its containers' label; throws EngineUnavailable. */
    async projects(): Promise<EngineProject[]> {
      const raw = await get<RawContainer[]>(
        `/containers/json?all=1&filters=${filtersParam({ label: [PROJECT_LABEL] })}`,
      )
      const projects = new Map<string, EngineContainer[]>()
      for (const container of raw) {
        const name = container.Labels?.[PROJECT_LABEL]
        if (!name) continue
        projects.set(name, [...(projects.get(name) ?? []), containerOf(container)])
      }
      return [...projects]
        .map(([name, containers]) => ({ name, containers: containers.sort(byName) }))
        .sort(byName)
    },

    /**
     * Container events of Compose projects until the stream ends or `signal`
     * aborts; `onOpen` once the engine accepted the subscription. Rejects with
     * EngineUnavailable when it cannot connect or the stream breaks.
     */
    async events(handlers: {
      onOpen: () => void
      onEvent: (event: EngineEvent) => void
      signal: AbortSignal
      /** Swarm services' and nodes' events instead (a stack's `docker service update`/`scale`, rollouts; a node down or up). */
      swarm?: boolean
    }): Promise<void> {
      const filters = handlers.swarm
        ? filtersParam({ type: ['service', 'node'] })
        : filtersParam({ type: ['container'], label: [PROJECT_LABEL] })
      const body = await open(`/events?filters=${filters}`, true, handlers.signal)
      handlers.onOpen()
      let pending = ''
      try {
        for await (const chunk of body) {
          pending += (chunk as Buffer).toString('utf8')
          let newline = pending.indexOf('\n')
          while (newline >= 0) {
            const line = pending.slice(0, newline)
            pending = pending.slice(newline + 1)
            newline = pending.indexOf('\n')
            for (const event of handlers.swarm ? parseServiceEvent(line) : [parseEvent(line)])
              if (event) handlers.onEvent(event)
          }
        }
      } catch (error) {
        if (handlers.signal.aborted) return
        throw unavailable(error)
      }
      if (!handlers.signal.aborted) throw engineFailure('closed its event stream')
    },

    /** Any other read of the Engine API (Swarm: `/info`, `/services`, `/tasks`, `/nodes`); throws EngineUnavailable. */
    read: <T>(path: string): Promise<T> => get<T>(path),

    close: () => agent.close(),
  }
}

function parseEvent(line: string): EngineEvent | undefined {
  try {
    const raw = JSON.parse(line) as {
      Action?: string
      Actor?: { Attributes?: Record<string, string> }
    }
    const project = raw.Actor?.Attributes?.[PROJECT_LABEL]
    if (!project || !raw.Action) return undefined
    return { project, action: raw.Action, container: raw.Actor?.Attributes?.name ?? '' }
  } catch {
    return undefined
  }
}

/**
 * A service event as the events of each stack it may belong to: a service
 * is named `<stack>_<service>` and a stack name may hold `_` itself, so
 * every prefix is a candidate (the monitor ignores names no stack has).
 */
function parseServiceEvent(line: string): EngineEvent[] {
  try {
    const raw = JSON.parse(line) as {
      Type?: string
      Action?: string
      Actor?: { Attributes?: { name?: string } }
    }
    const name = raw.Actor?.Attributes?.name ?? ''
    if (raw.Type === 'node')
      return [{ project: '', action: raw.Action ?? '', container: name, node: true }]
    const parts = name.split('_')
    return parts.slice(1).map((_, at) => ({
      project: parts.slice(0, at + 1).join('_'),
      action: raw.Action ?? '',
      container: name,
    }))
  } catch {
    return []
  }
}

export type Engine = ReturnType<typeof createEngine>
