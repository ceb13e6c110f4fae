import { createHash } from 'node:crypto'

// The dashboard's only assets: one stylesheet, one script, both small and
// hand-written (no framework: the page is rendered on the server, the
// script only follows /api/events and patches the rows it names). Served
// under content-hashed names with a year's immutable caching.

const CSS = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8d96a0;
  --line: #30363d; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --info: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header, main { padding: 12px 16px; }
header { border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 6px 24px; align-items: baseline; }
h1 { font-size: 18px; margin: 0; }
.meta { color: var(--muted); }
.counts { display: flex; gap: 8px; flex-wrap: wrap; margin: 0 0 12px; padding: 0; list-style: none; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
code { font: 12px ui-monospace, monospace; }
a { color: var(--info); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; border: 1px solid currentColor; font-size: 12px; white-space: nowrap; }
.synced, .healthy, .live, .delivered { color: var(--ok); }
.out_of_sync, .progressing, .syncing, .missing, .reconnecting { color: var(--warn); }
.failed, .degraded, .deleting, .offline, .dropped { color: var(--bad); }
.unknown, .static { color: var(--muted); }
.reason { color: var(--muted); max-width: 48ch; }
h1 a { color: inherit; text-decoration: none; }
h2 { font-size: 17px; } h3 { font-size: 15px; margin: 20px 0 6px; } h4 { margin: 12px 0 4px; }
pre { background: color-mix(in srgb, var(--fg) 6%, transparent); padding: 8px; overflow: auto; font: 12px/1.4 ui-monospace, monospace; }
.facts th { width: 10em; }
.files { list-style: none; padding: 0; columns: 2 16em; } .files .compose a { font-weight: 700; }
.info { color: var(--info); }
.progress li { color: var(--muted); } .progress li.failed { color: var(--bad); } .progress li.completed { color: var(--ok); }
button { font: inherit; padding: 3px 12px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
.logout { margin-left: auto; } .login { max-width: 32em; display: grid; gap: 10px; }
input { font: inherit; padding: 4px 8px; width: 100%; }
@media (max-width: 640px) { .wide { display: none; } td, th { padding: 6px 4px; } }
`

const JS = `
(() => {
  const kind = document.body.dataset.page
  if (kind !== 'list' && kind !== 'stack') return
  const conn = document.getElementById('conn')
  const say = (text) => { conn.textContent = text; conn.className = 'badge ' + text }
  const rowOf = (path) => document.querySelector('tr[data-path="' + CSS.escape(path) + '"]')
  const recount = () => {
    const counts = {}
    for (const row of document.querySelectorAll('tbody tr[data-path]')) {
      const status = row.dataset.status
      counts[status] = (counts[status] || 0) + 1
    }
    const list = document.getElementById('counts')
    list.replaceChildren(...Object.keys(counts).sort().map((status) => {
      const item = document.createElement('li')
      item.className = 'badge ' + status
      item.textContent = status + ' ' + counts[status]
      return item
    }))
    document.getElementById('total').textContent = String(document.querySelectorAll('tbody tr[data-path]').length)
  }
  const badge = (cell, value) => { cell.replaceChildren(); if (!value) return
    const span = document.createElement('span'); span.className = 'badge ' + value; span.textContent = value; cell.append(span) }
  // Re-reads the page from the server and swaps in only the rows named (all when none).
  const reread = async (paths) => {
    const html = await (await fetch(location.pathname, { headers: { accept: 'text/html' } })).text()
    const fresh = new DOMParser().parseFromString(html, 'text/html')
    for (const id of ['revision', 'refresh']) document.getElementById(id).replaceWith(fresh.getElementById(id))
    const body = document.querySelector('tbody')
    const want = paths ?? [...new Set([...body.querySelectorAll('tr[data-path]'), ...fresh.querySelectorAll('tbody tr[data-path]')].map((r) => r.dataset.path))]
    for (const path of want) {
      const next = fresh.querySelector('tr[data-path="' + CSS.escape(path) + '"]')
      const now = rowOf(path)
      if (next && now) now.replaceWith(next)
      else if (now) now.remove()
      else if (next) {
        const after = [...body.querySelectorAll('tr[data-path]')].find((r) => r.dataset.path > path)
        body.insertBefore(next, after ?? null)
      }
    }
    recount()
  }
  const events = new EventSource('/api/events')
  events.onopen = () => say('live')
  events.onerror = () => say(events.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting')
  if (kind === 'stack') return stackPage(events, badge)
  events.addEventListener('stack-status', (event) => {
    const data = JSON.parse(event.data)
    const row = rowOf(data.path)
    if (!row) return reread([data.path])
    row.dataset.status = data.to
    badge(row.querySelector('.status'), data.to)
    badge(row.querySelector('.health'), data.health)
    row.querySelector('.reason').textContent = data.to === 'synced' ? '' : (data.reason || '')
    recount()
  })
  events.addEventListener('refresh', (event) => {
    const { changes } = JSON.parse(event.data)
    const paths = changes ? [...changes.added, ...changes.changed, ...changes.removed] : []
    reread(paths)
  })
  events.addEventListener('reset', () => reread())
  // A finished sync changes what is deployed: that row is re-read.
  events.addEventListener('sync', (event) => {
    const data = JSON.parse(event.data)
    if (data.phase === 'completed' || data.phase === 'failed') reread([data.stack])
  })
})()

// One stack's page: its badges follow stack-status, the Sync button asks
// the API (with the same-origin header the session cookie needs), and the
// run's sync events list its phases; when it ends the page's sections are
// re-read from the server (no reload).
function stackPage(events, badge) {
  const stack = document.body.dataset.stack
  // Container statuses stay current (the server said them at render time).
  const words = (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000))
    const [n, unit] = s < 60 ? [s, 'second'] : s < 3600 ? [Math.floor(s / 60), 'minute'] : s < 86400 ? [Math.floor(s / 3600), 'hour'] : [Math.floor(s / 86400), 'day']
    return n + ' ' + unit + (n === 1 ? '' : 's')
  }
  setInterval(() => {
    for (const span of document.querySelectorAll('span.since'))
      span.textContent = span.dataset.before + words(Date.now() - Date.parse(span.dataset.since)) + span.dataset.after
  }, 5000)
  const progress = () => document.getElementById('progress')
  const note = (text, className, first) => {
    const list = progress(); if (!list) return
    const item = document.createElement('li'); item.textContent = text
    if (className) item.className = className
    if (first) list.prepend(item); else list.append(item)
  }
  const reread = async () => {
    const html = await (await fetch(location.pathname, { headers: { accept: 'text/html' } })).text()
    const fresh = new DOMParser().parseFromString(html, 'text/html').querySelector('main')
    const old = progress()
    document.querySelector('main').replaceWith(fresh)
    if (old && progress()) progress().replaceWith(old)
    bind()
  }
  const bind = () => {
    const button = document.getElementById('sync')
    if (!button) return
    button.onclick = async () => {
      button.disabled = true
      progress().replaceChildren()
      const response = await fetch('/api/stacks/' + encodeURIComponent(stack) + '/sync', {
        method: 'POST', headers: { 'x-docker-cd-request': '1' } })
      const body = await response.json().catch(() => ({}))
      if (!response.ok) { note(body.message || ('HTTP ' + response.status), 'failed'); button.disabled = false }
      else note(body.status + ': ' + body.message, '', true) // its events may have come first
    }
  }
  bind()
  events.addEventListener('stack-status', (event) => {
    const data = JSON.parse(event.data)
    if (data.path !== stack) return
    badge(document.getElementById('status'), data.to)
    badge(document.getElementById('health'), data.health)
    document.getElementById('reason').textContent = data.reason || ''
    // A Swarm stack's replicas and tasks changed with it: its sections are re-read.
    if (document.getElementById('swarm-services')) reread()
  })
  events.addEventListener('sync', (event) => {
    const data = JSON.parse(event.data)
    if (data.stack !== stack) return
    const done = data.phase === 'completed' || data.phase === 'failed'
    note(data.phase + ': ' + data.message, done ? data.phase : '')
    if (done) reread()
  })
  events.addEventListener('refresh', (event) => {
    const { changes } = JSON.parse(event.data)
    if (changes && [...changes.added, ...changes.changed].includes(stack)) reread()
  })
}
`

function asset(name: string, ext: string, type: string, body: string) {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12)
  return { file: `${name}.${hash}.${ext}`, type, body: Buffer.from(body) }
}

export const UI_ASSETS = [
  asset('app', 'css', 'text/css; charset=utf-8', CSS),
  asset('app', 'js', 'text/javascript; charset=utf-8', JS),
] as const

export const assetNamed = (file: string) => UI_ASSETS.find((a) => a.file === file)
