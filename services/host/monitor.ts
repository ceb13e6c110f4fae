import type { RefreshObserver, Snapshot } from '../refresh/index.js'
import { type ImageFindings, modelOf, type StackHostState, sharedProjectReason } from './drift.js'
import type { StackRuntime } from './runtime.js'
import { WorkTreeError, type WorkTrees } from './work-trees.js'

// Keeps each stack's host state current, proportional to change: after the
// first refresh every stack is checked, after every later one only the
// stacks whose tree changed (added or changed); a removed stack's work tree
// goes. At most one check per stack at a time (a request during a check
// runs once more after it) and `concurrency` Compose checks overall. The
// status goes to the refresh controller (the only writer of the snapshot);
// the detail (plan, containers, reason) is kept here, replaced whole.
// Live changes come from the engine's event stream (engine-watch.ts) as
// project names, mapped back to stacks through the project each stack's
// last check found.

export type HostCheck = StackHostState & { checkedAt: string }

/** A check as GET /api/stacks/{name} shows it (the working dir stays inside). */
export function hostDetail(check: HostCheck) {
  return {
    ...(check.project ? { project: check.project } : {}),
    containers: check.containers.map(({ workingDir: _, ...container }) => container),
    ...(check.swarmServices ? { swarmServices: check.swarmServices } : {}),
    sync: {
      reason: check.reason,
      plan: check.plan,
      ...(check.notes ? { notes: check.notes } : {}),
      checkedAt: check.checkedAt,
    },
  }
}

export function createHostMonitor(options: {
  workTrees: WorkTrees
  /** What runs the stacks (runtime.ts): its model and its check of a stack. */
  runtime: Pick<StackRuntime, 'model' | 'check'>
  current: () => Snapshot
  /** Each new check of a stack (already kept here): the status owner turns it into the stack's status. */
  onState: (path: string, check: HostCheck) => void
  /**
   * The tree to check a stack against: the snapshot's by default; the tree
   * a failed deploy rolled back to while the snapshot's tree is the one that
   * failed (the host is compared with what it runs on purpose; see
   * services/sync/records.ts comparedTree).
   */
  treeFor?: (path: string, snapshotTree: string) => string
  /**
   * The files that differ between the tree the stack's workloads were
   * created from (its last deploy) and `tree`; undefined when they are the
   * same or it is not known. A changed file a service mounts makes the
   * stack out of sync although Compose would change nothing.
   */
  changedSinceDeploy?: (path: string, tree: string) => Promise<readonly string[] | undefined>
  /** What the image checks last found for a stack (image-watch.ts). */
  imageFindings?: (path: string) => ImageFindings | undefined
  /** Every finished check (metrics). */
  onChecked?: (state: StackHostState) => void
  onError?: (error: unknown, stack: string) => void
  concurrency?: number
  now?: () => Date
  /** First wait before a check that failed on the host's side is tried again (doubles up to 5 min). */
  retryBaseMs?: number
}) {
  const concurrency = options.concurrency ?? 2
  const retryBaseMs = options.retryBaseMs ?? 10_000
  /** Stacks whose work tree could not be written for a host reason: the next try, and the wait. */
  const retries = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>()
  const now = options.now ?? (() => new Date())
  let checks: ReadonlyMap<string, HostCheck> = new Map()
  const queued: string[] = []
  const running = new Set<string>()
  const again = new Set<string>()
  const idleWaiters: (() => void)[] = []
  /** The project name Compose picked for each stack at its last check. */
  const projectOf = new Map<string, string>()
  let seenFirst = false
  /** Name passes in progress (see nameAll): the monitor is not idle meanwhile. */
  let naming = 0
  /** Work-tree removals waiting for their stack or running. */
  let removals = 0
  /** Stacks whose first check may reuse the record of the last run. */
  const startupPass = new Set<string>()
  let closed = false

  /** Stacks held by exclusive(): their checks wait until it ends. */
  const held = new Map<string, Promise<void>>()
  /** Who waits for a stack's running check to finish. */
  const checkWaiters = new Map<string, (() => void)[]>()

  function request(stacks: readonly string[]) {
    if (closed) return // nothing new after close(): its wait for idle must end
    for (const stack of stacks) {
      if (running.has(stack) || held.has(stack)) again.add(stack)
      else if (!queued.includes(stack)) queued.push(stack)
    }
    pump()
  }

  function pump() {
    while (!closed && running.size < concurrency && queued.length > 0) {
      const stack = queued.shift() as string
      running.add(stack)
      void check(stack).finally(() => done(stack))
    }
  }

  /** A check (or a name pass) of a stack ended: whoever waits goes on, a request meanwhile runs. */
  function done(stack: string) {
    running.delete(stack)
    for (const resolve of checkWaiters.get(stack)?.splice(0) ?? []) resolve()
    if (again.delete(stack) && !closed && !queued.includes(stack)) queued.push(stack)
    pump()
    settleIdle()
  }

  const isIdle = () => running.size === 0 && queued.length === 0 && naming === 0 && removals === 0

  function settleIdle() {
    if (isIdle()) for (const resolve of idleWaiters.splice(0)) resolve()
  }

  /**
   * Before the stacks of a refresh are checked, each one's project name is
   * learnt (its work tree and Compose's model, both kept for the check that
   * follows). Two stacks that pick one name (`dup` and `DUP`, new in one
   * commit) are then both known before either is checked, so both fail
   * with the reason and neither is ever reported deployable — checked one
   * by one, the first could be queued for a deploy before the second
   * claimed the name.
   */
  async function nameAll(stacks: readonly string[]) {
    naming++
    try {
      const todo = [...stacks]
      const worker = async () => {
        for (let path = todo.shift(); path !== undefined && !closed; path = todo.shift()) {
          const stack = options.current().stacks.find((s) => s.path === path)
          // A stack being checked or deployed learns its name there.
          if (!stack || running.has(path) || held.has(path)) continue
          const treeOid = options.treeFor?.(path, stack.treeOid) ?? stack.treeOid
          // Counted as running: its work tree is never written twice at once.
          running.add(path)
          try {
            const tree = await options.workTrees.ensure(path, treeOid)
            const model = await modelOf({
              dir: tree.dir,
              compose: options.runtime,
              modelCache: options.workTrees.treeRecord(path, treeOid, 'model'),
            })
            claim(path, model.name)
          } catch {
            // The check that follows meets the same failure and reports it.
          } finally {
            done(path)
          }
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker))
    } finally {
      naming--
    }
  }

  /**
   * The stack left Git: its work tree goes once no check, name pass or
   * deploy of it runs (one writer per work tree at a time; removed beside a
   * running write, the write would put the files back, or find them gone).
   */
  async function removeWorkTree(stack: string) {
    removals++
    while (held.has(stack) || running.has(stack)) {
      await held.get(stack)
      if (running.has(stack))
        await new Promise<void>((resolve) =>
          checkWaiters.set(stack, [...(checkWaiters.get(stack) ?? []), resolve]),
        )
    }
    running.add(stack)
    try {
      await options.workTrees.remove(stack)
    } catch (error) {
      options.onError?.(error, stack)
    } finally {
      removals--
      done(stack)
    }
  }

  function record(path: string, state: StackHostState) {
    const next = new Map(checks)
    const kept = { ...state, checkedAt: now().toISOString() }
    next.set(path, kept)
    checks = next
    options.onState(path, kept)
  }

  /** Registers a stack's project; the other stacks that picked the same name. */
  function claim(path: string, project: string | undefined): string[] {
    const previous = projectOf.get(path)
    if (project === undefined) projectOf.delete(path)
    else projectOf.set(path, project)
    // A stack that shared the old name may be alone with it now: look again.
    if (previous !== undefined && previous !== project) request(stacksOf(previous))
    return project === undefined ? [] : stacksOf(project).filter((other) => other !== path)
  }

  function stacksOf(project: string): string[] {
    return [...projectOf].filter(([, name]) => name === project).map(([stack]) => stack)
  }

  function imageFindingsOf(path: string): { imageFindings?: ImageFindings } {
    const found = options.imageFindings?.(path)
    return found ? { imageFindings: found } : {}
  }

  async function check(path: string) {
    const stack = options.current().stacks.find((s) => s.path === path)
    if (!stack) return
    const treeOid = options.treeFor?.(path, stack.treeOid) ?? stack.treeOid
    try {
      const tree = await options.workTrees.ensure(path, treeOid).catch((error) => {
        if (error instanceof WorkTreeError) workTreeFailed(path, error)
        throw error
      })
      let changedSinceDeploy: readonly string[] | undefined
      try {
        changedSinceDeploy = await options.changedSinceDeploy?.(path, treeOid)
      } catch (error) {
        // Unknown, not "synced": a synced check would have the tree recorded as deployed.
        return unknownForNow(
          path,
          `cannot compare with the deployed tree: ${(error as Error).message}`,
        )
      }
      clearRetry(path)
      const state = await options.runtime.check({
        dir: tree.dir,
        claim: (project) => claim(path, project),
        modelCache: options.workTrees.treeRecord(path, treeOid, 'model'),
        lastCheck: options.workTrees.treeRecord(path, treeOid, 'check'),
        // Only the startup pass trusts a record from before: afterwards every
        // check follows an event or a change, and asks Compose.
        reuseLast: startupPass.has(path),
        ...(changedSinceDeploy ? { changedSinceDeploy } : {}),
        ...(tree.encrypted?.length ? { encrypted: tree.encrypted } : {}),
        ...imageFindingsOf(path),
      })
      startupPass.delete(path)
      if (closed) return
      options.onChecked?.(state)
      record(path, state)
      // The stacks it shares its name with are not evaluated either.
      if (state.project)
        for (const other of stacksOf(state.project)) {
          if (other === path) continue
          const reason = sharedProjectReason(
            state.project,
            stacksOf(state.project).filter((s) => s !== other),
          )
          if (checks.get(other)?.reason !== reason)
            record(other, {
              status: 'failed',
              reason,
              project: state.project,
              plan: [],
              containers: [],
            })
        }
    } catch (error) {
      options.onError?.(error, path)
    }
  }

  /**
   * The stack's files could not be written: that is its state, with the
   * reason. A refused tree is `failed` until Git changes it; a failure of
   * the host's file system (a full disk) is `unknown` and tried again with
   * back-off, so the stack recovers by itself once the volume does.
   */
  function workTreeFailed(path: string, error: WorkTreeError) {
    if (error.kind === 'host') return unknownForNow(path, error.message)
    const previous = checks.get(path)
    record(path, {
      // No key: nothing to judge the stack by until one is configured (not retried).
      status: error.kind === 'key' ? 'unknown' : 'failed',
      reason: error.message,
      ...(previous?.project ? { project: previous.project } : {}),
      plan: [],
      containers: previous?.containers ?? [],
    })
  }

  /** A check that failed on the host's side: unknown, with the reason, tried again with back-off. */
  function unknownForNow(path: string, reason: string) {
    const previous = checks.get(path)
    record(path, {
      status: 'unknown',
      reason,
      ...(previous?.project ? { project: previous.project } : {}),
      plan: [],
      containers: previous?.containers ?? [],
    })
    if (closed) return
    const delayMs = Math.min((retries.get(path)?.delayMs ?? retryBaseMs / 2) * 2, 300_000)
    clearRetry(path)
    const timer = setTimeout(() => request([path]), delayMs)
    timer.unref()
    retries.set(path, { timer, delayMs })
  }

  function clearRetry(path: string) {
    const retry = retries.get(path)
    if (retry) clearTimeout(retry.timer)
    retries.delete(path)
  }

  const observer: RefreshObserver = {
    refreshFinished(outcome, snapshot) {
      if (outcome.status !== 'completed') return
      const { added, changed, removed } = outcome.changes
      if (removed.length > 0) {
        const next = new Map(checks)
        for (const stack of removed) {
          next.delete(stack)
          claim(stack, undefined)
          clearRetry(stack)
          void removeWorkTree(stack)
        }
        checks = next
      }
      const batch = seenFirst ? [...added, ...changed] : snapshot.stacks.map((stack) => stack.path)
      if (!seenFirst) for (const stack of batch) startupPass.add(stack)
      seenFirst = true
      void nameAll(batch).then(() => {
        request(batch)
        settleIdle()
      })
    },
  }

  return {
    observer,
    /** Live: re-check the stacks of these Compose projects (engine events). */
    projectsChanged(projects: ReadonlySet<string>) {
      request([...projects].flatMap(stacksOf))
    },
    /** Re-check one stack (its image findings changed). */
    recheck(path: string) {
      if (seenFirst) request([path])
    },
    /** Re-check every stack (the engine is back; events may have been missed). */
    recheckAll() {
      if (seenFirst) request(options.current().stacks.map((stack) => stack.path))
    },
    /** The engine stopped answering: every checked stack is unknown, with the reason. */
    engineLost(reason: string) {
      for (const [path, check] of checks)
        record(path, {
          status: 'unknown',
          reason: `engine unreachable: ${reason}`,
          ...(check.project ? { project: check.project } : {}),
          plan: [],
          containers: [],
        })
    },
    /** The stack whose project this is, if exactly one stack has it. */
    stackOfProject(project: string): string | undefined {
      const stacks = stacksOf(project)
      return stacks.length === 1 ? stacks[0] : undefined
    },
    /**
     * Runs `work` with the stack to itself: it starts once the stack's
     * running check has finished, no check of it starts meanwhile (events
     * during a deploy wait), and afterwards the stack is checked once and
     * this resolves with that check (a deploy's result, read back).
     */
    async exclusive<T>(
      path: string,
      work: () => Promise<T>,
    ): Promise<{ result: T; check: HostCheck | undefined }> {
      while (held.has(path)) await held.get(path)
      let release = () => {}
      held.set(
        path,
        new Promise<void>((resolve) => {
          release = resolve
        }),
      )
      try {
        while (running.has(path))
          await new Promise<void>((resolve) =>
            checkWaiters.set(path, [...(checkWaiters.get(path) ?? []), resolve]),
          )
        const index = queued.indexOf(path)
        if (index >= 0) queued.splice(index, 1)
        again.delete(path)
        const result = await work()
        // The check below sees everything that happened during `work` (the
        // deploy's own container events included): only events during the
        // check itself call for another one.
        again.delete(path)
        if (!closed) await check(path)
        return { result, check: checks.get(path) }
      } finally {
        held.delete(path)
        release()
        if (again.delete(path)) request([path])
      }
    },
    /** The last check of a stack, if any. */
    state: (path: string): HostCheck | undefined => checks.get(path),
    /** Resolves when no check runs or waits. */
    idle: () =>
      isIdle() ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    /** Stops taking work and waits for the running checks. */
    async close() {
      closed = true
      queued.length = 0
      for (const path of [...retries.keys()]) clearRetry(path)
      if (!isIdle()) await new Promise<void>((resolve) => idleWaiters.push(resolve))
    },
  }
}

export type HostMonitor = ReturnType<typeof createHostMonitor>
