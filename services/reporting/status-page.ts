import type { Config } from '../../schemas/config.js'
import { formatDuration } from '../../schemas/duration.js'
import type { ContainerCount } from '../host/index.js'
import type { Snapshot } from '../refresh/index.js'
import { asciiBanner } from './ascii-banner.js'

// The plain-text page at `/`: what an operator wants from `curl host:8080`.

/** The repository URL without userinfo (config refuses it anyway; belt and braces). */
function displayUrl(url: string): string {
  const parsed = new URL(url)
  parsed.username = ''
  parsed.password = ''
  return parsed.toString()
}

export function renderStatusPage(
  config: Config,
  snapshot: Snapshot,
  containers: ContainerCount,
  now = new Date(),
): string {
  const refreshedAt = snapshot.refreshedAt
    ? `${snapshot.refreshedAt} (${formatDuration(now.getTime() - Date.parse(snapshot.refreshedAt))} ago)`
    : 'never'
  const lines = [
    asciiBanner(config.projectName),
    '',
    `repository:       ${displayUrl(config.gitRepoUrl)}`,
    `revision:         ${config.gitRevision} (${snapshot.refType}) @ ${snapshot.revision ? snapshot.revision.slice(0, 7) : 'not resolved yet'}`,
    `deploy directory: ${config.gitDeployDir === '' ? '/ (repository root)' : config.gitDeployDir}`,
    `refresh:          ${snapshot.refreshStatus} (trigger: ${snapshot.trigger})`,
    `last refreshed:   ${refreshedAt}`,
  ]
  if (snapshot.refreshError) lines.push(`last error:       ${snapshot.refreshError}`)
  lines.push(
    `stacks:           ${snapshot.stacks.length}`,
    `containers:       ${'running' in containers ? `${containers.running} running` : `unavailable: ${containers.unavailable}`}`,
    '',
    'API:    /api/stacks  /api/stacks/{name}  /api/refresh-status  /api/events',
    '        POST /api/refresh  POST /api/webhook',
    'probes: /healthz  /readyz  /metrics        docs: /docs  /openapi.json',
    '',
  )
  return lines.join('\n')
}
