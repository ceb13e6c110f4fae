import { request } from 'node:http'

// Minimal Docker Engine API client over the unix socket (Node's http speaks
// to a socket path; it is what docker-modem, under dockerode, does too).
// Two reads: the running-container count of the status page, and a
// Compose project's containers for drift detection.

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
  image: string
  /** The directory Compose ran in (`com.docker.compose.project.working_dir`). */
  workingDir?: string
}

/** The engine could not be asked: its reason, in words. */
export class EngineUnavailable extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'EngineUnavailable'
  }
}

function engineGet<T>(socketPath: string, path: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'GET', headers: { host: 'docker' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          if (res.statusCode !== 200)
            return reject(new EngineUnavailable(`engine answered HTTP ${res.statusCode}`))
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T)
          } catch {
            reject(new EngineUnavailable('engine sent an unreadable answer'))
          }
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)))
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error instanceof EngineUnavailable
          ? error
          : new EngineUnavailable(error.code ? `${error.code} ${socketPath}` : error.message),
      ),
    )
    req.end()
  })
}

export async function countRunningContainers(
  socketPath: string,
  timeoutMs = 1000,
): Promise<ContainerCount> {
  try {
    return {
      running: (await engineGet<unknown[]>(socketPath, '/containers/json', timeoutMs)).length,
    }
  } catch (error) {
    return { unavailable: (error as Error).message }
  }
}

type RawContainer = {
  Names?: string[]
  State?: string
  Status?: string
  Image?: string
  Labels?: Record<string, string>
}

/** Every container (running or not) of one Compose project; throws EngineUnavailable. */
export async function projectContainers(
  socketPath: string,
  project: string,
  timeoutMs = 5000,
): Promise<EngineContainer[]> {
  const filters = encodeURIComponent(
    JSON.stringify({ label: [`com.docker.compose.project=${project}`] }),
  )
  const raw = await engineGet<RawContainer[]>(
    socketPath,
    `/containers/json?all=1&filters=${filters}`,
    timeoutMs,
  )
  return raw
    .map((container) => {
      const labels = container.Labels ?? {}
      const health = /\((healthy|unhealthy|health: starting)\)/.exec(container.Status ?? '')?.[1]
      return {
        name: (container.Names?.[0] ?? '').replace(/^\//, ''),
        service: labels['com.docker.compose.service'] ?? '',
        state: container.State ?? 'unknown',
        ...(health ? { health: health === 'health: starting' ? 'starting' : health } : {}),
        status: container.Status ?? '',
        image: container.Image ?? '',
        ...(labels['com.docker.compose.project.working_dir']
          ? { workingDir: labels['com.docker.compose.project.working_dir'] }
          : {}),
      }
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
