import type { Config } from '../../schemas/config.js'
import type { Snapshot } from '../refresh/index.js'
import { countByStatus, displayUrl } from '../reporting/index.js'
import { UI_ASSETS } from './assets.js'

// GET /ui: every stack at a glance, rendered on the server (readable
// without JavaScript); the script in assets.ts keeps it live.

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)

const badge = (value: string | undefined) =>
  value ? `<span class="badge ${escapeHtml(value)}">${escapeHtml(value)}</span>` : ''

export function renderStackList(
  config: Config,
  snapshot: Snapshot,
  reasonOf: (path: string) => string | undefined,
): string {
  const rows = snapshot.stacks
    .map((stack) => {
      const reason = stack.status === 'synced' ? '' : (reasonOf(stack.path) ?? '')
      return `<tr data-path="${escapeHtml(stack.path)}" data-status="${escapeHtml(stack.status)}">
<td><a href="/api/stacks/${encodeURIComponent(stack.path)}">${escapeHtml(stack.path)}</a></td>
<td class="status">${badge(stack.status)}</td><td class="health">${badge(stack.health)}</td>
<td class="wide"><code title="tree ${stack.treeOid}">${stack.changedRevision.slice(0, 7)}</code></td>
<td class="wide"><time datetime="${stack.changedAt}">${stack.changedAt.replace('T', ' ').slice(0, 19)}</time></td>
<td class="reason">${escapeHtml(reason)}</td></tr>`
    })
    .join('\n')
  const [css, js] = UI_ASSETS
  const refreshed = snapshot.refreshedAt
    ? `${snapshot.refreshStatus} (${snapshot.trigger}) at ${snapshot.refreshedAt.replace('T', ' ').slice(0, 19)}`
    : 'not yet'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(config.projectName)} · docker-cd</title>
<link rel="stylesheet" href="/ui/assets/${css.file}">
<script src="/ui/assets/${js.file}" defer></script>
</head><body>
<header><h1>${escapeHtml(config.projectName)}</h1>
<span class="meta">${escapeHtml(displayUrl(config.gitRepoUrl))}</span>
<span class="meta" id="revision">${escapeHtml(config.gitRevision)} @ <code>${snapshot.revision ? snapshot.revision.slice(0, 7) : 'unresolved'}</code></span>
<span class="meta" id="refresh">refresh: ${escapeHtml(refreshed)}</span>
<span id="conn" class="badge static">static</span></header>
<main>
<ul class="counts" id="counts">${countByStatus(snapshot.stacks)
    .map(([status, n]) => `<li class="badge ${escapeHtml(status)}">${escapeHtml(status)} ${n}</li>`)
    .join('')}</ul>
<table><thead><tr><th>stack (<span id="total">${snapshot.stacks.length}</span>)</th><th>status</th><th>health</th><th class="wide">changed in</th><th class="wide">changed at</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</main></body></html>
`
}
