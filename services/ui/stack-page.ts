import type { Config } from '../../schemas/config.js'
import { type HostCheck, reasonOf } from '../host/index.js'
import type { Stack } from '../refresh/index.js'
import { type DeployRecord, restoredWords } from '../sync/index.js'
import { badge, containerStatus, escapeHtml, layout, shownTime } from './layout.js'
import { swarmServicesSection } from './swarm-services.js'

// GET /ui/stacks/{name}: one stack — status and why, desired vs deployed
// revision, what a deploy would change (the plan, a sentence per container:
// Compose's, and the services whose mounted files changed), what is not
// tracked (mounts from outside the stack directory),
// the containers, the stack's files (the Compose file shown), the sync
// history, and the Sync button when a manual sync is possible. Rendered on
// the server; the script follows the stack's events and drives the button.

export type StackPageInput = {
  stack: Stack
  /** First line of a commit's message, when the mirror has the commit. */
  subjectOf: (revision: string) => string | undefined
  check: HostCheck | undefined
  record: DeployRecord | undefined
  files: readonly { path: string; type: 'blob' | 'tree' }[]
  composeText: string | undefined
  /** Why file contents are not shown to this client (no links, no Compose text). */
  contentHidden?: string | undefined
  /** Why the Sync button is absent, or undefined when it is shown. */
  syncUnavailable: string | undefined
  loggedIn: boolean
  /** The time the page is rendered at (tests). */
  now?: Date
}

const short = (oid: string | undefined) => (oid ? oid.slice(0, 7) : '')

export function renderStackPage(config: Config, input: StackPageInput): string {
  const { stack, check, record } = input
  const now = input.now ?? new Date()
  const name = escapeHtml(stack.path)
  const link = (file: string) =>
    `/ui/stacks/${encodeURIComponent(stack.path)}/files/${file.split('/').map(encodeURIComponent).join('/')}`
  const revisionCell = (revision: string | undefined, tree: string | undefined) => {
    if (!revision) return '<td>not deployed by docker-cd</td>'
    const subject = input.subjectOf(revision)
    return `<td><code title="${escapeHtml(revision)}">${short(revision)}</code>${subject ? ` ${escapeHtml(subject)}` : ''}${tree ? ` <span class="meta">tree <code>${short(tree)}</code></span>` : ''}</td>`
  }
  // A failed deploy that was rolled back: the host runs the good tree on purpose.
  const lastRun = record?.history[0]
  const rolledBack =
    record?.lastResult === 'failed' && record.rolledBackTo ? record.rolledBackTo : undefined
  const plan = check?.plan.length
    ? `<ul class="plan">${check.plan.map((entry) => `<li>${escapeHtml(reasonOf([entry], check.containers))}</li>`).join('')}</ul>`
    : `<p class="meta">${
        !check
          ? 'Not checked yet.'
          : check.status === 'synced'
            ? rolledBack && rolledBack.treeHash !== stack.treeOid
              ? `Compose would change nothing against the rolled-back tree ${short(rolledBack.treeHash)}, which runs now; the tree in Git (${short(stack.treeOid)}) failed to deploy.`
              : 'Compose would change nothing.'
            : escapeHtml(check.reason)
      }</p>`
  const failure =
    record?.lastResult === 'failed' && lastRun?.result === 'failed'
      ? `<section id="last-failure"><h3>Last failure</h3><p class="reason">${escapeHtml(lastRun.error ?? lastRun.reason)}</p>${
          lastRun.evidence?.length
            ? `<table><thead><tr><th>container</th><th>what was wrong</th><th class="wide">its health check printed</th></tr></thead><tbody>${lastRun.evidence
                .map(
                  (found) =>
                    `<tr><td>${escapeHtml(found.container)}</td><td>${escapeHtml(found.problem)}</td><td class="wide">${found.healthOutput ? `<pre class="health-output">${escapeHtml(found.healthOutput)}</pre>` : '<span class="meta">–</span>'}</td></tr>`,
                )
                .join(
                  '',
                )}</tbody></table><p class="meta">Read from the engine before the rollback replaced these containers.</p>`
            : ''
        }</section>`
      : ''
  // Mounts from outside the stack directory: said once, not guessed at (host
  // paths from the Compose file: shown only to who may read it).
  const notes =
    check?.notes?.length && !input.contentHidden
      ? `<ul class="notes" id="untracked">${check.notes.map((note) => `<li class="meta">${escapeHtml(note)}</li>`).join('')}</ul>`
      : ''
  const containers = check?.containers.length
    ? `<table><thead><tr><th>service</th><th>container</th><th>state</th><th>health</th><th class="wide">image</th><th class="wide">status</th></tr></thead><tbody>${check.containers
        .map(
          (c) =>
            `<tr><td>${escapeHtml(c.service)}</td><td>${escapeHtml(c.name)}</td><td>${badge(c.state === 'running' ? 'running' : c.state)}</td><td>${badge(c.health)}</td><td class="wide"><code>${escapeHtml(c.image)}</code>${c.digest ? ` <code class="meta" title="${escapeHtml(c.digest)}">${escapeHtml(c.digest.replace(/^sha256:/, '').slice(0, 12))}</code>` : ''}</td><td class="wide">${containerStatus(c, now)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="meta">No container of its project exists.</p>'
  const files = `<ul class="files">${input.files
    .map((file) =>
      file.type === 'tree'
        ? `<li class="dir">${escapeHtml(file.path)}/</li>`
        : `<li${file.path === stack.composeFile ? ' class="compose"' : ''}>${input.contentHidden ? escapeHtml(file.path) : `<a href="${escapeHtml(link(file.path))}">${escapeHtml(file.path)}</a>`}${file.path === stack.composeFile ? ' <span class="badge info">Compose file</span>' : ''}</li>`,
    )
    .join('')}</ul>`
  const history = record?.history.length
    ? `<table><thead><tr><th>finished</th><th>trigger</th><th>result</th><th class="wide">trees</th><th class="wide">took</th><th>services</th><th>what happened</th></tr></thead><tbody>${record.history
        .map(
          (run) =>
            `<tr><td>${shownTime(run.finishedAt)}</td><td>${escapeHtml(run.trigger)}</td><td><span class="badge ${run.result === 'completed' ? 'synced' : 'failed'}">${escapeHtml(run.result)}</span></td><td class="wide"><code>${short(run.fromTree) || '–'} → ${short(run.toTree)}</code></td><td class="wide">${(run.durationMs / 1000).toFixed(1)} s</td><td>${escapeHtml(run.servicesChanged.join(', '))}</td><td class="reason">${escapeHtml(run.reason)}${run.rolledBackTo ? ` (rolled back to <code>${short(run.rolledBackTo.revision)}</code>${run.rolledBackTo.images?.length ? `: ${escapeHtml(restoredWords(run.rolledBackTo.images))}` : ''})` : ''}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="meta">No sync has run for this stack.</p>'
  const sync = input.syncUnavailable
    ? `<p class="meta">${escapeHtml(input.syncUnavailable)}</p>`
    : '<button id="sync" type="button">Sync</button> <span class="meta">applies this stack now (validate, pull, up, wait; rollback on failure)</span><ol id="progress" class="progress"></ol>'
  return layout(config, {
    kind: 'stack',
    title: `${stack.path} · ${config.projectName} · docker-cd`,
    loggedIn: input.loggedIn,
    data: { stack: stack.path },
    body: `<p><a href="/ui">← all stacks</a></p>
<h2>${name} <span id="status">${badge(stack.status)}</span> <span id="health">${badge(stack.health)}</span></h2>
<p class="reason" id="reason">${escapeHtml(stack.reason ?? '')}</p>
<table class="facts"><tbody>
<tr><th>desired (Git)</th>${revisionCell(stack.changedRevision, stack.treeOid)}</tr>
<tr><th>deployed</th>${revisionCell(record?.deployedRevision, record?.deployedTreeHash)}</tr>
${rolledBack ? `<tr id="running-now"><th>running now</th><td>the rolled-back tree <code>${short(rolledBack.treeHash)}</code> (revision <code>${short(rolledBack.revision)}</code>${rolledBack.images?.length ? `; ${escapeHtml(restoredWords(rolledBack.images))}` : ''}): the deploy of <code>${short(record?.failedTreeHash ?? stack.treeOid)}</code> failed and was rolled back</td></tr>` : ''}
<tr><th>change seen</th><td>${shownTime(stack.changedAt)}: <code>${short(stack.changedRevision)}</code>${stack.firstLook ? ' <span class="meta">(already so at docker-cd’s first look, and no commit among the last 50 changed it: the commit that did is older)</span>' : ''}</td></tr>
${check?.project ? `<tr><th>project</th><td><code>${escapeHtml(check.project)}</code></td></tr>` : ''}
</tbody></table>
<section><h3>Sync</h3>${sync}</section>
${failure}
<section><h3>What differs from the host</h3>${plan}${notes}</section>
${check?.swarmServices ? swarmServicesSection(check.swarmServices) : ''}
<section><h3>${check?.swarmServices ? 'Tasks' : 'Containers'}</h3>${containers}</section>
<section><h3>Files</h3>${input.contentHidden ? `<p class="meta" id="content-hidden">Not shown: ${escapeHtml(input.contentHidden)}.</p>` : ''}${files}
${input.composeText !== undefined ? `<h4>${escapeHtml(stack.composeFile)}</h4><pre class="compose">${escapeHtml(input.composeText)}</pre>` : ''}</section>
<section><h3>Sync history</h3>${history}</section>`,
  })
}

/** One file of a stack, shown as text (or said to be binary or cut). */
export function renderFilePage(
  config: Config,
  input: {
    stack: string
    path: string
    content: Buffer
    truncated: boolean
    loggedIn: boolean
    /** A SOPS document: shown as committed (ciphertext), and said so. */
    encrypted?: boolean
  },
): string {
  const binary = input.content.includes(0)
  return layout(config, {
    kind: 'file',
    title: `${input.path} · ${input.stack} · docker-cd`,
    loggedIn: input.loggedIn,
    body: `<p><a href="/ui/stacks/${encodeURIComponent(input.stack)}">← ${escapeHtml(input.stack)}</a></p>
<h2><code>${escapeHtml(input.path)}</code></h2>
${input.encrypted ? '<p class="meta" id="encrypted">SOPS-encrypted: shown as committed (ciphertext). docker-cd decrypts it for Compose into SECRETS_DIR only; its plaintext is never shown.</p>' : ''}
${binary ? '<p class="meta">A binary file: download the stack archive to see it.</p>' : `<pre>${escapeHtml(input.content.toString('utf8'))}</pre>`}
${input.truncated ? '<p class="meta">Only the first 256 KiB are shown.</p>' : ''}`,
  })
}

/** The login form (API_TOKEN is set and this browser has no session). */
export function renderLoginPage(config: Config, message?: string): string {
  return layout(config, {
    kind: 'login',
    title: `log in · ${config.projectName} · docker-cd`,
    body: `<form method="post" action="/ui/login" class="login">
<p>This dashboard shows what API_TOKEN protects. Enter the token once; this browser keeps a session cookie (HttpOnly) until you log out.</p>
${message ? `<p class="failed">${escapeHtml(message)}</p>` : ''}
<label>API token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button>log in</button></form>`,
  })
}
