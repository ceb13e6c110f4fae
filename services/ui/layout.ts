import type { Config } from '../../schemas/config.js'
import { WITHOUT_API_TOKEN } from '../base/index.js'
import { UI_ASSETS } from './assets.js'

// What every dashboard page shares: escaping, badges, the document around a
// page's content (head with the two content-hashed assets, header with the
// project name and the connection badge).

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)

export const badge = (value: string | undefined) =>
  value ? `<span class="badge ${escapeHtml(value)}">${escapeHtml(value)}</span>` : ''

/** An ISO time as the page shows it (UTC, to the second). */
export const shownTime = (iso: string) =>
  `<time datetime="${escapeHtml(iso)}">${escapeHtml(iso.replace('T', ' ').slice(0, 19))}</time>`

export function layout(
  config: Config,
  page: {
    /** `list`, `stack`, `file`, `login`: what the script does on it. */
    kind: string
    title: string
    /** Extra header items (already HTML). */
    header?: string
    body: string
    /** Shown when a session exists: the logout button. */
    loggedIn?: boolean
    data?: Record<string, string>
  },
): string {
  const [css, js] = UI_ASSETS
  const data = Object.entries(page.data ?? {})
    .map(([name, value]) => ` data-${name}="${escapeHtml(value)}"`)
    .join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<link rel="stylesheet" href="/ui/assets/${css.file}">
<script src="/ui/assets/${js.file}" defer></script>
</head><body data-page="${escapeHtml(page.kind)}"${data}>
<header><h1><a href="/ui">${escapeHtml(config.projectName)}</a></h1>
${modeOf(config)}
${page.header ?? ''}
<span id="conn" class="badge static">static</span>${page.loggedIn ? '<form method="post" action="/ui/logout" class="logout"><button>log out</button></form>' : ''}</header>
<main>
${config.apiToken ? '' : `<p class="meta open-notice" id="open-notice">${escapeHtml(WITHOUT_API_TOKEN)}.</p>`}
${page.body}
</main></body></html>
`
}

/** What docker-cd does by itself, said in the header of every page. */
function modeOf(config: Pick<Config, 'syncMode' | 'syncSelfHeal'>): string {
  const words =
    config.syncMode === 'apply'
      ? `apply: deploys what Git changes${config.syncSelfHeal ? ', repairs drift' : ''}`
      : config.syncMode === 'detect'
        ? 'detect: reports only; docker-cd will not deploy by itself (a manual sync does)'
        : 'off: Git only; the host is not looked at'
  return `<span class="meta" id="mode" title="SYNC_MODE">mode ${escapeHtml(words)}</span>`
}

/** A duration as the engine words it: `5 seconds`, `3 minutes`, `2 hours`, `4 days`. */
export function durationWords(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  const [n, unit] =
    seconds < 60
      ? [seconds, 'second']
      : seconds < 3600
        ? [Math.floor(seconds / 60), 'minute']
        : seconds < 86_400
          ? [Math.floor(seconds / 3600), 'hour']
          : [Math.floor(seconds / 86_400), 'day']
  return `${n} ${unit}${n === 1 ? '' : 's'}`
}

/**
 * A container's status, current: derived from since when it is in its
 * state (the engine's "Up 5 seconds" is frozen at the check), and kept
 * current in the browser by the script (data-since); the engine's words
 * when that time is not known.
 */
export function containerStatus(
  container: { state: string; status: string; since?: string },
  now: Date,
): string {
  if (!container.since) return escapeHtml(container.status)
  const code = /\((\d+)\)/.exec(container.status)?.[1]
  const [before, after] =
    container.state === 'running'
      ? ['Up ', '']
      : container.state === 'exited'
        ? [`Exited${code ? ` (${code})` : ''} `, ' ago']
        : container.state === 'created'
          ? ['Created ', ' ago']
          : [undefined, undefined]
  if (before === undefined) return escapeHtml(container.status)
  const words = durationWords(now.getTime() - Date.parse(container.since))
  return `<span class="since" data-since="${escapeHtml(container.since)}" data-before="${escapeHtml(before)}" data-after="${escapeHtml(after ?? '')}">${escapeHtml(`${before}${words}${after}`)}</span>`
}
