import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { scrubEnvFileValues } from './env-scrub.js'
import { type ServiceReads, serviceReads } from './service-reads.js'
import { EXTENSION_KEY } from './stack-settings.js'

// The Compose v2 CLI (`docker compose`), the tool an operator uses, asked
// for what only Compose knows: the project name it picks for a directory,
// what `up` would change; and, to apply, the commands an operator would
// run (`config -q`, `pull`, `up -d --wait`, `down`). Its rules are never
// re-implemented here.
//
// Compose runs with a minimal environment (PATH, HOME, DOCKER_HOST): the
// service's own secrets (Git token, webhook secret, API token) never reach
// it, in argv or environment. Interpolation reads the stack's own `.env`,
// as it would for an operator in that directory.
//
// Compose ignores SIGTERM while it works (a `config` of a huge file ran
// minutes past its timeout; an `up` at shutdown kept going as an orphan).
// So each Compose runs in its own process group (what it starts goes with
// it), and when its timeout or the shutdown deadline passes the group gets
// SIGTERM — Compose may end cleanly — then SIGKILL after KILL_GRACE_MS.
// close() does the same to every Compose still running, so none outlives
// the service.

/** How long Compose may take to end after SIGTERM before it is SIGKILLed. */
export const KILL_GRACE_MS = 5000

export type ComposeAsk =
  | 'model'
  | 'plan'
  | 'version'
  | 'validate'
  | 'pull'
  | 'build'
  | 'up'
  | 'renew'
  | 'down'

export type PlanAction =
  | 'create'
  | 'recreate'
  | 'start'
  | 'remove'
  | 'restart'
  | 'rebuild'
  /** Its image's tag moved in the registry (image-watch.ts): a pull would change it. */
  | 'update'

/**
 * One container a deploy would change, and how: Compose's own plan (`up`'s
 * convergence), or a file the service reads that changed since it was
 * deployed (`files`, see file-changes.ts).
 */
export type PlanEntry = {
  service: string
  container: string
  action: PlanAction
  /** The changed files behind the entry, when it comes from them (`./nginx.conf`). */
  files?: string[]
  /** For `update`: the tag, the digest its containers run, and the one the registry names now. */
  image?: { reference: string; running: string; current: string }
}

/** Compose refused or failed: its own message, first lines only. */
export class ComposeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ComposeError'
  }
}

/** The docker CLI (or its Compose plugin) is not there: nothing could be asked. */
export class ComposeUnavailable extends ComposeError {
  constructor(message: string) {
    super(message)
    this.name = 'ComposeUnavailable'
  }
}

const MESSAGE_LINES = 5
/** What one Compose call may print before it is stopped. */
const MAX_OUTPUT = 16 * 1024 * 1024

/** The first lines of what Compose printed, without its progress noise. */
export function composeMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('DRY-RUN MODE'))
  return lines.slice(0, MESSAGE_LINES).join(' / ') || 'docker compose failed without a message'
}

/**
 * Compose's convergence decision, from `--dry-run up -d --remove-orphans`:
 * per container the verbs it would go through (`Running`: nothing to do;
 * `Recreate`; `Creating` for a missing one; `Created`/`Starting` for a
 * stopped one; `Removing` for an orphan). Temporary names of a recreate
 * (`<id>_<name>`) fold into their container.
 */
export function parseDryRun(output: string, serviceOf: (container: string) => string): PlanEntry[] {
  const verbs = new Map<string, Set<string>>()
  for (const line of output.split('\n')) {
    const match = /Container (\S+)\s+([A-Za-z]+)\s*$/.exec(line)
    if (!match?.[1] || !match[2]) continue
    const container = match[1].replace(/^[0-9a-f]{12}_/, '')
    const seen = verbs.get(container) ?? new Set<string>()
    seen.add(match[2])
    verbs.set(container, seen)
  }
  const plan: PlanEntry[] = []
  for (const [container, seen] of verbs) {
    const action: PlanAction | undefined =
      seen.has('Removing') || seen.has('Remove') || seen.has('Removed')
        ? 'remove'
        : seen.has('Recreate') || seen.has('Recreated')
          ? 'recreate'
          : seen.has('Creating')
            ? 'create'
            : seen.has('Starting') || seen.has('Started')
              ? 'start'
              : undefined
    if (action) plan.push({ service: serviceOf(container), container, action })
  }
  return plan.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
}

/** What docker-cd reads of a service in Compose's model (nothing interpolated from secrets). */
export type ComposeService = {
  container_name?: string
  image?: string
  pull_policy?: string
  /** The service has a `build:` section (its image can be built). */
  build?: true
  /** Services whose namespaces it joins (`network_mode`, `ipc`, `pid`: `service:<name>`). */
  joins?: string[]
  /** `deploy.replicas: 0` (or `scale: 0`): the tree asks for no container of it. */
  scaledToZero?: true
}

/**
 * Bumped whenever what docker-cd keeps of Compose's model changes: a model
 * remembered per tree in another format is asked of Compose again
 * (drift.ts modelOf). 2: `settings` and `reads`. 3: `reads` of a work
 * tree reached through a symlink (or of a service named `__proto__`) were
 * wrong, and builds read their additional contexts and secret files too.
 * 4: `joins` (namespaces shared with another service). 5: `scaledToZero`.
 */
export const MODEL_FORMAT = 5

export type ComposeModel = {
  format?: number
  name: string
  services: Record<string, ComposeService>
  /** The top-level `x-docker-cd` value (per-stack settings, stack-settings.ts); null when the file has none. */
  settings: unknown
  /** What each service reads from the stack directory (service-reads.ts). */
  reads?: ServiceReads
}

/** Compose's progress lines (`Container web-1  Started`), not a reason. */
const PROGRESS =
  /^(?:Container|Network|Volume|Image)\s+\S+\s+(?:Creating|Created|Starting|Started|Stopping|Stopped|Removing|Removed|Recreate|Recreated|Running|Waiting|Healthy|Pulling|Pulled|Skipped.*)\s*$|^\S+ (?:Pulling|Pulled|Skipped.*)$/

/** What `up`/`down` printed that explains a failure: the lines that are not progress, the last ones. */
export function failureMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !PROGRESS.test(line))
  return lines.slice(-MESSAGE_LINES).join(' / ') || 'docker compose failed without a message'
}

/** Where the docker CLI looks for its plugins (docker/cli's defaults, user's first). */
const PLUGIN_DIRS = [
  join(homedir(), '.docker', 'cli-plugins'),
  '/usr/local/lib/docker/cli-plugins',
  '/usr/local/libexec/docker/cli-plugins',
  '/usr/lib/docker/cli-plugins',
  '/usr/libexec/docker/cli-plugins',
]

/**
 * The Compose plugin binary itself when it is where the docker CLI would
 * find it (run directly it behaves as `docker compose`, and costs one Go
 * process start instead of two: 0.09 s instead of 0.22 s per call here);
 * else `docker compose`.
 */
function composeCommand(): [string, string[]] {
  for (const dir of PLUGIN_DIRS) {
    const plugin = join(dir, 'docker-compose')
    try {
      accessSync(plugin, constants.X_OK)
      return [plugin, []]
    } catch {
      // Not here: the next directory, then the docker CLI.
    }
  }
  return ['docker', ['compose']]
}

export function createCompose(options: {
  dockerHost?: string
  timeoutMs?: number
  /** Each Compose process started, by what it was asked (metrics). */
  onRun?: (asked: ComposeAsk) => void
  /** The Compose binary to run instead of the one found (tests record argv and environment with a wrapper). */
  command?: string
  /** Removes the service's own secrets from Compose's messages (defence in depth: they are never passed to it). */
  scrub?: (text: string) => string
  /** Between SIGTERM and SIGKILL (default KILL_GRACE_MS). */
  killGraceMs?: number
  /** The Docker CLI's config dir (DOCKER_CONFIG: registry credentials for pulls). */
  dockerConfig?: string
}) {
  const killGraceMs = options.killGraceMs ?? KILL_GRACE_MS
  /** Every Compose running now, with how to stop it (close()). */
  const live = new Map<ChildProcess, () => Promise<void>>()
  let closing = false
  const scrub = options.scrub ?? ((text: string) => text)
  const timeoutMs = options.timeoutMs ?? 60_000
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    ...(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : {}),
    // Registry credentials: the config the image checks read too (DOCKER_CONFIG).
    ...(options.dockerConfig ? { DOCKER_CONFIG: options.dockerConfig } : {}),
  }

  const [command, prefix] = options.command ? [options.command, []] : composeCommand()

  function compose(
    dir: string,
    args: string[],
    run: {
      timeoutMs?: number
      signal?: AbortSignal
      explain?: (stderr: string) => string
      /** Compose's progress as it prints it (it buffers nothing: one line per step). */
      onProgress?: (text: string) => void
      /** Another docker CLI command than Compose (`docker stack deploy`): the docker binary, same rules. */
      docker?: true
      /** Written to its stdin (`--compose-file -`); stdin is closed otherwise. */
      input?: string
    } = {},
  ): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      if (closing || run.signal?.aborted)
        return reject(new ComposeError('stopped: docker-cd is shutting down'))
      let stopped: 'timeout' | 'shutdown' | 'output' | undefined
      const child = spawn(
        run.docker ? 'docker' : command,
        run.docker ? args : [...prefix, ...args],
        {
          cwd: dir,
          env,
          stdio: [run.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          // Its own process group: stopping it stops what it started too.
          detached: true,
          // Typed as piped: stdout and stderr are; stdin only with `input` (used only then).
        },
      ) as ChildProcessWithoutNullStreams
      const out: Buffer[] = []
      const err: Buffer[] = []
      let size = 0
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_OUTPUT) void stop('output')
        else into.push(chunk)
      }
      if (run.input !== undefined) {
        child.stdin.on('error', () => {}) // it may exit before reading: its status says why
        child.stdin.end(run.input)
      }
      child.stdout.on('data', collect(out))
      child.stderr.on('data', collect(err))
      // A broken pipe must not be an uncaught exception: the exit status
      // (and 'close') say how Compose ended.
      child.stdout.on('error', () => {})
      child.stderr.on('error', () => {})
      const stop = (why: 'timeout' | 'shutdown' | 'output') => {
        stopped ??= why
        return terminate(child, killGraceMs)
      }
      live.set(child, () => stop('shutdown'))
      const timer = setTimeout(() => void stop('timeout'), run.timeoutMs ?? timeoutMs)
      const onAbort = () => void stop('shutdown')
      run.signal?.addEventListener('abort', onAbort, { once: true })
      if (run.onProgress)
        child.stderr.on('data', (chunk: Buffer) => run.onProgress?.(chunk.toString()))
      const done = () => {
        clearTimeout(timer)
        run.signal?.removeEventListener('abort', onAbort)
        live.delete(child)
      }
      child.once('error', (error: NodeJS.ErrnoException) => {
        done()
        reject(
          error.code === 'ENOENT'
            ? new ComposeUnavailable('the docker CLI is not installed (install docker-cli)')
            : new ComposeError(`cannot run docker compose: ${error.message}`),
        )
      })
      child.once('close', (code) => {
        done()
        const stdout = Buffer.concat(out).toString('utf8')
        const stderr = Buffer.concat(err).toString('utf8')
        if (code === 0 && !stopped) return resolve({ stdout, stderr })
        if (stopped === 'shutdown')
          return reject(new ComposeError('stopped: docker-cd is shutting down'))
        if (stopped === 'timeout')
          return reject(
            new ComposeError(
              `no answer within ${Math.round((run.timeoutMs ?? timeoutMs) / 1000)}s`,
            ),
          )
        if (stopped === 'output')
          return reject(new ComposeError(`printed more than ${MAX_OUTPUT} bytes: stopped`))
        if (/is not a docker command|unknown command: docker compose/.test(stderr))
          return reject(
            new ComposeUnavailable(
              'Compose v2 is not installed (install the docker-compose plugin)',
            ),
          )
        reject(
          new ComposeError(
            // Compose quotes env files it cannot read: their values are cut too.
            scrub(
              scrubEnvFileValues(
                dir,
                (run.explain ?? composeMessage)(stderr || `docker compose exited ${code}`),
              ),
            ),
          ),
        )
      })
    })
  }

  /** Compose's model of the directory: the project name it picks, the services. */
  async function model(dir: string): Promise<ComposeModel> {
    options.onRun?.('model')
    const { stdout } = await compose(dir, ['config', '--format', 'json'])
    // Only what is used: the rendered file holds interpolated values (.env).
    const full = JSON.parse(stdout) as {
      name: string
      services?: Record<string, ComposeService & Record<string, unknown>>
    } & Record<string, unknown>
    return {
      format: MODEL_FORMAT,
      name: full.name,
      settings: full[EXTENSION_KEY] ?? null,
      // Compose resolves relative paths against the directory's real path (getcwd).
      reads: serviceReads(
        full as Parameters<typeof serviceReads>[0],
        dir,
        await realpath(dir).catch(() => dir),
      ),
      services: Object.fromEntries(
        Object.entries(full.services ?? {}).map(([service, spec]) => [
          service,
          {
            ...(spec.container_name ? { container_name: spec.container_name } : {}),
            ...(spec.image ? { image: spec.image } : {}),
            ...(spec.pull_policy ? { pull_policy: spec.pull_policy } : {}),
            ...(spec.build ? { build: true as const } : {}),
            ...joinsOf(spec),
            ...(scaledToZero(spec) ? { scaledToZero: true as const } : {}),
          },
        ]),
      ),
    }
  }

  /** Whether the tree asks for no container of a service (`deploy.replicas: 0`, `scale: 0`). */
  function scaledToZero(spec: Record<string, unknown>): boolean {
    const deploy = spec.deploy as { replicas?: unknown } | undefined
    return deploy?.replicas === 0 || spec.scale === 0
  }

  /** The services whose network, IPC or PID namespace this one joins. */
  function joinsOf(spec: Record<string, unknown>): { joins?: string[] } {
    const joins = ['network_mode', 'ipc', 'pid']
      .map((key) => spec[key])
      .filter((value): value is string => typeof value === 'string' && value.startsWith('service:'))
      .map((value) => value.slice('service:'.length))
    return joins.length > 0 ? { joins: [...new Set(joins)] } : {}
  }

  /**
   * Compose's whole rendering of the directory (`config --format json`):
   * interpolated (the stack's `.env`), paths resolved. What a Swarm deploy
   * is given, so both targets read a stack the same way.
   */
  async function rendered(dir: string): Promise<Record<string, unknown>> {
    options.onRun?.('model')
    const { stdout } = await compose(dir, ['config', '--format', 'json'])
    return JSON.parse(stdout) as Record<string, unknown>
  }

  /**
   * Another command of the docker CLI (`stack deploy`, `stack rm`), under the
   * same rules as Compose: minimal environment, own process group, timeout,
   * stopped at shutdown, messages scrubbed. Rejects with ComposeError.
   */
  function docker(
    dir: string,
    args: string[],
    run: { timeoutMs?: number; signal?: AbortSignal; input?: string } = {},
  ) {
    return compose(dir, args, { ...run, docker: true, explain: failureMessage })
  }

  /** `config -q`: Compose accepts the stack (its message when not). */
  async function validate(dir: string): Promise<void> {
    options.onRun?.('validate')
    await compose(dir, ['config', '-q'])
  }

  /** Pulls these services' images (the caller picked them by `pull_policy`). */
  async function pull(dir: string, services: readonly string[], signal?: AbortSignal) {
    if (services.length === 0) return
    options.onRun?.('pull')
    await compose(dir, ['pull', '--quiet', '--', ...services], {
      timeoutMs: 30 * 60_000,
      signal,
      explain: failureMessage,
    })
  }

  /**
   * `up -d --remove-orphans --wait`: Compose's own convergence (only what
   * changed is recreated), then until every service runs and is healthy,
   * at most `waitSeconds`. Rejects with Compose's reason.
   */
  async function up(
    dir: string,
    waitSeconds: number,
    signal?: AbortSignal,
    /** Called once, when Compose starts waiting for the services to be running and healthy. */
    onWait?: () => void,
  ) {
    options.onRun?.('up')
    let waiting = false
    await compose(
      dir,
      ['up', '-d', '--remove-orphans', '--wait', '--wait-timeout', String(waitSeconds)],
      // Creating and pulling come before the wait: bounded, but not by it alone.
      {
        timeoutMs: (waitSeconds + 300) * 1000,
        signal,
        explain: failureMessage,
        onProgress(text) {
          if (waiting || !/\sWaiting\s*$/m.test(text)) return
          waiting = true
          onWait?.()
        },
      },
    )
  }

  /** `build` of these services (a file of their build context changed): the next `up` recreates them. */
  async function build(dir: string, services: readonly string[], signal?: AbortSignal) {
    if (services.length === 0) return
    options.onRun?.('build')
    await compose(dir, ['build', '--', ...services], {
      timeoutMs: 30 * 60_000,
      signal,
      explain: failureMessage,
    })
  }

  /**
   * Files these services read changed, which Compose's hash does not see:
   * `up --no-deps --force-recreate` replaces their containers (dependencies
   * untouched), or `restart --no-deps` restarts them in place and `up --no-deps`
   * (which changes nothing then) waits for them; at most `waitSeconds`.
   * A started container sets its bind mounts up again from the paths,
   * so either way it reads the new files.
   */
  async function renew(
    dir: string,
    services: readonly string[],
    how: 'recreate' | 'restart',
    waitSeconds: number,
    signal?: AbortSignal,
  ) {
    if (services.length === 0) return
    options.onRun?.('renew')
    const run = { timeoutMs: (waitSeconds + 300) * 1000, signal, explain: failureMessage }
    const wait = ['--wait', '--wait-timeout', String(waitSeconds)]
    if (how === 'restart') await compose(dir, ['restart', '--no-deps', '--', ...services], run)
    await compose(
      dir,
      [
        'up',
        '-d',
        '--no-deps',
        ...(how === 'recreate' ? ['--force-recreate'] : []),
        ...wait,
        '--',
        ...services,
      ],
      run,
    )
  }

  /** `down --remove-orphans` of a project by name (volumes kept); no Compose file needed. */
  async function down(dir: string, project: string, signal?: AbortSignal) {
    options.onRun?.('down')
    await compose(dir, ['--project-name', project, 'down', '--remove-orphans'], {
      timeoutMs: 5 * 60_000,
      signal,
      explain: failureMessage,
    })
  }

  /** What `up -d --remove-orphans` would change in the directory's project. */
  async function plan(dir: string, project: ComposeModel): Promise<PlanEntry[]> {
    const byName = new Map<string, string>()
    for (const [service, spec] of Object.entries(project.services ?? {}))
      if (spec.container_name) byName.set(spec.container_name, service)
    const serviceOf = (container: string) =>
      byName.get(container) ??
      (container.startsWith(`${project.name}-`)
        ? container.slice(project.name.length + 1).replace(/-\d+$/, '')
        : container)
    // Compose prints its progress, dry-run included, on stderr.
    options.onRun?.('plan')
    const { stdout, stderr } = await compose(dir, ['--dry-run', 'up', '-d', '--remove-orphans'])
    return parseDryRun(`${stdout}\n${stderr}`, serviceOf)
  }

  /** `docker compose version`: present, and v2. */
  async function version(): Promise<string> {
    options.onRun?.('version')
    const { stdout } = await compose(process.cwd(), ['version', '--short'])
    return stdout.trim()
  }

  /** Shutdown: no new Compose starts; each running one is stopped (SIGTERM, SIGKILL after the grace). */
  async function close(): Promise<void> {
    closing = true
    await Promise.all([...live.values()].map((stop) => stop()))
  }

  return { model, rendered, docker, plan, version, validate, pull, build, up, renew, down, close }
}

/**
 * Ends a child's process group: SIGTERM, then SIGKILL once `graceMs` has
 * passed without it ending. Resolves when the child has exited.
 */
export function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null
  if (exited()) return Promise.resolve()
  const signal = (name: NodeJS.Signals) => {
    try {
      // The whole group (negative pid); the child alone if it has none of its own.
      if (child.pid) process.kill(-child.pid, name)
    } catch {
      child.kill(name)
    }
  }
  const deadline = Date.now() + graceMs
  return new Promise<void>((resolve) => {
    const killer = setTimeout(() => signal('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(killer)
      // The leader is gone; what it started may not be yet (a signal to a
      // group is delivered to each member on its own). Resolved only once
      // the group is empty: the rest get SIGKILL when the grace is over.
      void groupGone(child.pid, deadline).then(resolve)
    })
    signal('SIGTERM')
  })
}

/** Waits until no process of the group `pgid` is left (SIGKILL past `deadline`, bounded after). */
async function groupGone(pgid: number | undefined, deadline: number): Promise<void> {
  if (!pgid) return
  const exists = () => {
    try {
      process.kill(-pgid, 0)
      return true
    } catch {
      return false
    }
  }
  let killed = false
  // A member that is a zombie until reaped still counts: the wait is bounded.
  for (let spin = 0; exists() && spin < 500; spin++) {
    if (!killed && Date.now() >= deadline) {
      killed = true
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {}
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export type Compose = ReturnType<typeof createCompose>
