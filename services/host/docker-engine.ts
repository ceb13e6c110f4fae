import { request } from 'node:http'

// Minimal Docker Engine API client over the unix socket: the status page
// only needs the running-container count, so no SDK dependency.

export type ContainerCount = { running: number } | { unavailable: string }

export function countRunningContainers(
  socketPath: string,
  timeoutMs = 1000,
): Promise<ContainerCount> {
  return new Promise((resolve) => {
    const req = request(
      {
        socketPath,
        path: '/containers/json',
        method: 'GET',
        headers: { host: 'docker' },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          if (res.statusCode !== 200) {
            resolve({ unavailable: `engine answered HTTP ${res.statusCode}` })
            return
          }
          try {
            const containers = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]
            resolve({ running: containers.length })
          } catch {
            resolve({ unavailable: 'engine sent an unreadable answer' })
          }
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)))
    req.on('error', (error: NodeJS.ErrnoException) => {
      resolve({ unavailable: error.code ? `${error.code} ${socketPath}` : error.message })
    })
    req.end()
  })
}
