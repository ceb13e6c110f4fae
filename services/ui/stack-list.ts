import type { Config } from '../../schemas/config.js'
import type { Snapshot } from '../refresh/index.js'
import { countByStatus, displayUrl } from '../reporting/index.js'
import { badge, escapeHtml, layout } from './layout.js'

// GET /ui: every stack at a glance, rendered on the server (readable
// without JavaScript); the script in assets.ts keeps it live.

export function renderStackList(
  config: Config,
  snapshot: Snapshot,
  options: {
    loggedIn?: boolean
    /** What docker-cd last deployed of a stack (its deploy record), if anything. */
    deployedOf?: (path: string) => { revision?: string; tree?: string } | undefined
    /** First line of a commit's message, where the mirror has the commit. */
    subjectOf?: (revision: string) => string | undefined
    /** The notification channels (kind and host only) and where commit statuses go. */
    notifications?: NotificationsView
    /** What deploys the stacks (`compose`, `swarm`); absent with SYNC_MODE=off or while undecided. */
    target?: string
  } = {},
): string {
  const subject = (revision: string) => {
    const line = options.subjectOf?.(revision)
    return line ? ` <span class="meta">${escapeHtml(line)}</span>` : ''
  }
  const deployedCell = (stack: Snapshot['stacks'][number]) => {
    const deployed = options.deployedOf?.(stack.path)
    if (!deployed?.tree) return '<span class="meta">–</span>'
    if (deployed.tree === stack.treeOid) return '<span class="meta">= Git</span>'
    return `<code title="tree ${escapeHtml(deployed.tree)}">${escapeHtml((deployed.revision ?? '').slice(0, 7))}</code>${subject(deployed.revision ?? '')}`
  }
  const rows = snapshot.stacks
    .map((stack) => {
      // As the live script patches it: the stack's reason, none while synced.
      const reason = stack.status === 'synced' ? '' : (stack.reason ?? '')
      return `<tr data-path="${escapeHtml(stack.path)}" data-status="${escapeHtml(stack.status)}">
<td><a href="/ui/stacks/${encodeURIComponent(stack.path)}">${escapeHtml(stack.path)}</a></td>
<td class="status">${badge(stack.status)}</td><td class="health">${badge(stack.health)}</td>
<td class="wide"><code title="tree ${stack.treeOid}">${stack.changedRevision.slice(0, 7)}</code>${subject(stack.changedRevision)}${stack.firstLook ? ' <span class="meta" title="the tree was already so at docker-cd’s first look, and no commit among the last 50 changed it: the commit that did is older">(first look)</span>' : ''}</td>
<td class="wide deployed">${deployedCell(stack)}</td>
<td class="wide"><time datetime="${stack.changedAt}">${stack.changedAt.replace('T', ' ').slice(0, 19)}</time></td>
<td class="reason">${escapeHtml(reason)}</td></tr>`
    })
    .join('\n')
  const refreshed = snapshot.refreshedAt
    ? `${snapshot.refreshStatus} (${snapshot.trigger}) at ${snapshot.refreshedAt.replace('T', ' ').slice(0, 19)}`
    : 'not yet'
  return layout(config, {
    kind: 'list',
    title: `${config.projectName} · docker-cd`,
    ...(options.loggedIn ? { loggedIn: true } : {}),
    header: `<span class="meta">${escapeHtml(displayUrl(config.gitRepoUrl))}</span>
<span class="meta" id="revision">${escapeHtml(config.gitRevision)} @ <code>${snapshot.revision ? snapshot.revision.slice(0, 7) : 'unresolved'}</code></span>
<span class="meta" id="refresh">refresh: ${escapeHtml(refreshed)}</span>${options.target ? `\n<span class="meta" id="target" title="SYNC_TARGET">target: ${escapeHtml(options.target)}</span>` : ''}`,
    body: `<ul class="counts" id="counts">${countByStatus(snapshot.stacks)
      .map(
        ([status, n]) => `<li class="badge ${escapeHtml(status)}">${escapeHtml(status)} ${n}</li>`,
      )
      .join('')}</ul>
<table><thead><tr><th>stack (<span id="total">${snapshot.stacks.length}</span>)</th><th>status</th><th>health</th><th class="wide">changed in</th><th class="wide">deployed</th><th class="wide">changed at</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${options.notifications ? notificationsSection(options.notifications) : ''}`,
  })
}

type NotificationsView = {
  channels: readonly {
    channel: string
    last?: { outcome: string; event: string; at: string; reason?: string }
  }[]
  commitStatus: { provider: string; api: string } | null
}

/** Who is told (channels by kind and host: their URLs carry tokens) and how the latest message went. */
function notificationsSection(view: NotificationsView): string {
  const rows = view.channels
    .map(({ channel, last }) => {
      const result = last
        ? `${badge(last.outcome === 'delivered' ? 'delivered' : 'dropped')} <span class="meta">${escapeHtml(last.event)} at <time datetime="${escapeHtml(last.at)}">${escapeHtml(last.at.replace('T', ' ').slice(0, 19))}</time></span>`
        : '<span class="meta">nothing sent yet</span>'
      return `<tr><td>${escapeHtml(channel)}</td><td>${result}</td><td class="reason">${escapeHtml(last?.reason ?? '')}</td></tr>`
    })
    .join('\n')
  const statuses = view.commitStatus
    ? `commit statuses: ${escapeHtml(view.commitStatus.provider)} (${escapeHtml(view.commitStatus.api)})`
    : 'commit statuses: off (COMMIT_STATUS)'
  return `<section id="notifications"><h2>notifications</h2>
${
  view.channels.length > 0
    ? `<table><thead><tr><th>channel</th><th>latest message</th><th>reason</th></tr></thead><tbody>
${rows}
</tbody></table>`
    : '<p class="meta">no channel configured (NOTIFY_URLS)</p>'
}
<p class="meta">${statuses}</p></section>`
}
