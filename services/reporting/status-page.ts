import type { Config } from '../../schemas/config.js'
import { formatDuration } from '../../schemas/duration.js'
import type { ContainerCount, HostOverview } from '../host/index.js'
import type { Snapshot } from '../refresh/index.js'
import { asciiBanner } from './ascii-banner.js'

// The plain-text page at `/`: what an operator wants from `curl host:8080`.

/** The repository URL without userinfo (config refuses it anyway; belt and braces). */
export function displayUrl(url: string): string {
  const parsed = new URL(url)
  parsed.username = ''
  parsed.password = ''
  return parsed.toString()
}

/** How many stacks have each status present, by status name. */
export function countByStatus(stacks: readonly { status: string }[]): [string, number][] {
  const counts = new Map<string, number>()
  for (const stack of stacks) counts.set(stack.status, (counts.get(stack.status) ?? 0) + 1)
  return [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

/** `synced 2, out_of_sync 1`: the statuses present, most frequent first. */
function statusCounts(snapshot: Snapshot): string {
  return countByStatus(snapshot.stacks)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([status, count]) => `${status} ${count}`)
    .join(', ')
}

export type HostLines = {
  containers: ContainerCount
  /** With SYNC_MODE=detect: the engine's projects (and the stacks not in sync, with their reasons). */
  overview?: HostOverview
  /**
   * API_TOKEN is set: this page is public, reasons are not (Compose quotes
   * files in them); they are on /api/stacks/{name} and the dashboard.
   */
  reasonsHidden?: boolean
  /** Stacks docker-cd deployed that Git no longer has. */
  removed?: readonly { stack: string; project?: string; status: string; reason: string }[]
  /** Notification channels (kind and host only) with their latest delivery; where commit statuses go. */
  notifications?: {
    channels: readonly {
      channel: string
      last?: { outcome: string; event: string; at: string; reason?: string }
    }[]
    commitStatus: { provider: string; api: string } | null
  }
}

/** One line per channel: what it is, and how its latest message went. */
function notificationLines(notifications: NonNullable<HostLines['notifications']>): string[] {
  const lines: string[] = []
  const { channels, commitStatus } = notifications
  if (channels.length === 0) lines.push('notifications:    none (NOTIFY_URLS)')
  else {
    lines.push('notifications:')
    const width = Math.max(...channels.map((entry) => entry.channel.length))
    for (const { channel, last } of channels)
      lines.push(
        `  ${channel.padEnd(width)}  ${last ? `${last.outcome} ${last.event} at ${last.at}${last.reason ? `: ${last.reason}` : ''}` : 'nothing sent yet'}`,
      )
  }
  lines.push(
    `commit statuses:  ${commitStatus ? `${commitStatus.provider} (${commitStatus.api})` : 'off (COMMIT_STATUS)'}`,
  )
  return lines
}

/** SYNC_TARGET=swarm: one line per node of the swarm, as `docker node ls` has them. */
function nodeLines(nodes: NonNullable<HostOverview['nodes']>): string[] {
  const width = Math.max(0, ...nodes.map((node) => node.hostname.length))
  return [
    `swarm nodes:      ${nodes.length} (stacks deployed with docker stack deploy)`,
    ...nodes.map(
      (node) =>
        `  ${node.hostname.padEnd(width)}  ${`${node.role}${node.leader ? ' (leader)' : ''}`.padEnd(16)}  ${node.availability.padEnd(6)}  ${node.state.padEnd(7)}  ${node.address}`,
    ),
  ]
}

const HOST_MODE = {
  off: 'not read (SYNC_MODE=off)',
  detect: 'drift detected, changed only by a manual sync (SYNC_MODE=detect)',
  apply: 'what Git changes is deployed (SYNC_MODE=apply)',
} as const

export function renderStatusPage(
  config: Config,
  snapshot: Snapshot,
  host: HostLines,
  now = new Date(),
): string {
  const { containers } = host
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
    `stacks:           ${snapshot.stacks.length}${snapshot.stacks.length > 0 ? ` (${statusCounts(snapshot)})` : ''}`,
    `host:             ${HOST_MODE[config.syncMode]}`,
    `containers:       ${'running' in containers ? `${containers.running} running` : `unavailable: ${containers.unavailable}`}`,
  )
  if (host.notifications) lines.push(...notificationLines(host.notifications))
  if (host.overview?.nodes) lines.push('', ...nodeLines(host.overview.nodes))
  if (host.overview) {
    const notSynced = snapshot.stacks.filter((stack) => stack.status !== 'synced')
    if (notSynced.length > 0) {
      lines.push('', 'not in sync:')
      const width = Math.max(...notSynced.map((stack) => stack.path.length))
      for (const stack of notSynced) {
        const state = `${stack.status}${stack.health ? `/${stack.health}` : ''}`
        lines.push(
          host.reasonsHidden
            ? `  ${stack.path.padEnd(width)}  ${state}`
            : `  ${stack.path.padEnd(width)}  ${state.padEnd(20)}  ${stack.reason ?? 'not checked yet'}`,
        )
      }
      if (host.reasonsHidden)
        lines.push('  (reasons: /api/stacks/{name} or the dashboard, with API_TOKEN)')
    }
    const removed = host.removed ?? []
    if (removed.length > 0) {
      lines.push('', 'deployed by docker-cd, no longer in Git:')
      const width = Math.max(...removed.map((entry) => entry.stack.length))
      for (const entry of removed)
        lines.push(
          `  ${entry.stack.padEnd(width)}  ${entry.status.padEnd(8)}${host.reasonsHidden ? '' : `  ${entry.reason}`}`.trimEnd(),
        )
    }
    const ours = new Set(removed.map((entry) => entry.project))
    const foreign = host.overview.projects.filter(
      (project) => !project.stack && !ours.has(project.name),
    )
    if (foreign.length > 0) {
      lines.push('', 'other Compose projects (not stacks of this repository, left alone):')
      const width = Math.max(...foreign.map((project) => project.name.length))
      for (const project of foreign)
        lines.push(
          `  ${project.name.padEnd(width)}  ${project.running}/${project.containers} running${project.workingDir ? `  from ${project.workingDir}` : ''}`,
        )
    }
  }
  lines.push(
    '',
    'API:    /api/stacks  /api/stacks/{name}  /api/host  /api/refresh-status  /api/events',
    '        POST /api/refresh  POST /api/webhook  POST /api/stacks/{name}/sync',
    '        /api/notifications  POST /api/notifications/test',
    'probes: /healthz  /readyz  /metrics        docs: /docs  /openapi.json',
    '',
  )
  return lines.join('\n')
}
