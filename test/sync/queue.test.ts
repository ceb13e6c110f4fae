import t from 'tap'
import type { SyncAnswer } from '../../services/sync/outcome.js'
import { createSyncQueue, type SyncQueueOptions } from '../../services/sync/queue.js'
import type { SyncTrigger } from '../../services/sync/records.js'

// Unit tests of the sync queue with fake runs and take-downs whose end the
// test controls: every job is a promise the test settles, so how many run
// at once, in which order they start and what they answer is observed, not
// timed. `tick` lets the queue's microtasks (its pump) run.

const tick = () => new Promise((resolve) => setImmediate(resolve))

type Job = {
  kind: 'run' | 'down'
  stack: string
  trigger?: SyncTrigger
  done: boolean
  finish: (message?: string) => void
  fail: (error: Error) => void
}

const answerOf = (stack: string, message: string): SyncAnswer => ({
  status: 'completed',
  revision: 'rev',
  treeHash: `tree-${stack}`,
  message,
})

const shutdown: SyncAnswer = {
  status: 'failed',
  revision: '',
  treeHash: '',
  message: 'docker-cd is shutting down',
}

function harness(options: Partial<Omit<SyncQueueOptions, 'run' | 'takeDown' | 'onError'>> = {}) {
  const jobs: Job[] = []
  const errors: [unknown, string][] = []
  let concurrent = 0
  let most = 0
  let pictures = 0
  const job = (
    kind: Job['kind'],
    stack: string,
    trigger?: SyncTrigger,
    answer?: (answer: SyncAnswer) => void,
  ) =>
    new Promise<void>((resolve, reject) => {
      concurrent++
      most = Math.max(most, concurrent)
      const entry: Job = {
        kind,
        stack,
        ...(trigger ? { trigger } : {}),
        done: false,
        finish(message = `${kind} ${stack} #${jobs.indexOf(entry)}`) {
          entry.done = true
          concurrent--
          answer?.(answerOf(stack, message))
          resolve()
        },
        fail(error) {
          entry.done = true
          concurrent--
          reject(error)
        },
      }
      jobs.push(entry)
    })
  const queue = createSyncQueue({
    concurrency: options.concurrency ?? 1,
    firstPicture:
      options.firstPicture ??
      (() => {
        pictures++
        return Promise.resolve()
      }),
    blocked: options.blocked ?? (() => undefined),
    run: (stack, trigger, answer) => job('run', stack, trigger, answer),
    takeDown: (stack) => job('down', stack),
    onError: (error, stack) => errors.push([error, stack]),
  })
  /** The job of `stack` in progress. */
  const current = (stack: string) => {
    const found = jobs.find((j) => j.stack === stack && !j.done)
    if (!found) throw new Error(`no job of ${stack} in progress`)
    return found
  }
  return {
    queue,
    jobs,
    errors,
    most: () => most,
    pictures: () => pictures,
    /** What started, in order: `stack:trigger` for a run, `down:stack` for a take-down. */
    started: () =>
      jobs.map((j) => (j.kind === 'run' ? `${j.stack}:${j.trigger}` : `down:${j.stack}`)),
    running: () =>
      jobs
        .filter((j) => !j.done)
        .map((j) => j.stack)
        .sort(),
    /** Ends the job of `stack` in progress and lets the queue start what follows. */
    async finish(stack: string, message?: string) {
      current(stack).finish(message)
      await tick()
    },
    current,
  }
}

/** A promise the test resolves. */
function deferred() {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Whether a promise has settled (after the microtasks that are due ran). */
async function settled(promise: Promise<unknown>) {
  let done = false
  void promise.then(() => {
    done = true
  })
  await tick()
  return done
}

t.test('at most `concurrency` runs at once, startable stacks in name order', async (t) => {
  const h = harness({ concurrency: 2 })
  for (const stack of ['e', 'c', 'a', 'd', 'b']) h.queue.enqueue(stack, 'git')
  await tick()
  t.same(h.running(), ['a', 'b'], 'the first two by name, whatever order they came in')
  t.ok(h.queue.isRunning('a'))
  t.notOk(h.queue.isRunning('c'))
  t.ok(h.queue.isPending('c'))
  await h.finish('b')
  t.same(h.running(), ['a', 'c'], 'a free slot goes to the next by name')
  await h.finish('a')
  await h.finish('c')
  t.same(h.running(), ['d', 'e'])
  await h.finish('e')
  await h.finish('d')
  t.same(h.started(), ['a:git', 'b:git', 'c:git', 'd:git', 'e:git'], 'each stack ran once')
  t.equal(h.most(), 2, 'never more than two at once')
  t.ok(await settled(h.queue.idle()))
})

t.test('one at a time with concurrency 1; eight at once with 8', async (t) => {
  const one = harness({ concurrency: 1 })
  const stacks = Array.from({ length: 10 }, (_, i) => `s${i}`)
  for (const stack of [...stacks].reverse()) one.queue.enqueue(stack, 'git')
  await tick()
  for (const stack of stacks) await one.finish(stack)
  t.equal(one.most(), 1)
  t.same(
    one.started(),
    stacks.map((s) => `${s}:git`),
  )

  const eight = harness({ concurrency: 8 })
  for (const stack of stacks) eight.queue.enqueue(stack, 'git')
  await tick()
  t.equal(eight.running().length, 8, 'all free slots are used')
  for (const stack of stacks) await eight.finish(stack)
  t.equal(eight.most(), 8)
  t.equal(eight.started().length, 10)
})

t.test('a manual request is not replaced by a later trigger; other triggers are', async (t) => {
  const h = harness({ concurrency: 1 })
  h.queue.enqueue('a', 'git')
  await tick()
  h.queue.enqueue('b', 'manual')
  h.queue.enqueue('b', 'git')
  h.queue.enqueue('b', 'self-heal')
  h.queue.enqueue('c', 'git')
  h.queue.enqueue('c', 'manual')
  h.queue.enqueue('d', 'git')
  h.queue.enqueue('d', 'self-heal')
  await h.finish('a')
  await h.finish('b')
  await h.finish('c')
  await h.finish('d')
  t.same(h.started(), ['a:git', 'b:manual', 'c:manual', 'd:self-heal'])
})

t.test('the waiters of a run: the run that starts next answers them', async (t) => {
  const h = harness({ concurrency: 1 })
  const first = h.queue.nextRun('a')
  t.equal(h.queue.enqueue('a', 'manual'), 'syncing')
  await tick()
  // Asked while the first run is in progress: answered by the run after it.
  const second = h.queue.nextRun('a')
  const third = h.queue.nextRun('a')
  t.equal(h.queue.enqueue('a', 'manual'), 'queued')
  t.ok(h.queue.isRunning('a'))
  t.ok(h.queue.isPending('a'), 'the next run waits while this one runs')
  await tick()
  t.same(h.started(), ['a:manual'], 'never two runs of one stack at once')
  await h.finish('a', 'first run')
  t.match(await first, { status: 'completed', message: 'first run' })
  t.notOk(await settled(second), 'a request made during the run waits for the next one')
  t.same(h.started(), ['a:manual', 'a:manual'])
  await h.finish('a', 'second run')
  t.match(await second, { message: 'second run' })
  t.match(await third, { message: 'second run' }, 'every waiter of that run is answered')
})

t.test('take-downs start first; deploys wait until no take-down runs', async (t) => {
  const picture = deferred()
  const h = harness({ concurrency: 4, firstPicture: () => picture.promise })
  h.queue.enqueue('a', 'git')
  h.queue.enqueue('b', 'git')
  h.queue.takeDown('y')
  h.queue.takeDown('z')
  t.ok(h.queue.isTakingDown('z'), 'a take-down waiting counts as taking down')
  picture.resolve()
  await tick()
  t.same(h.started(), ['down:y', 'down:z'], 'the take-downs, and no deploy beside them')
  await h.finish('y')
  t.same(h.running(), ['z'], 'deploys still wait: a take-down runs')
  t.ok(h.queue.isTakingDown('z'))
  t.notOk(h.queue.isTakingDown('y'))
  await h.finish('z')
  t.same(h.running(), ['a', 'b'], 'the deploys start once the last take-down ended')
  t.equal(h.most(), 2)

  // A take-down asked for while deploys run starts beside them; the next deploy waits for it.
  h.queue.takeDown('x')
  h.queue.enqueue('c', 'git')
  await tick()
  t.same(h.running(), ['a', 'b', 'x'])
  await h.finish('a')
  t.same(h.running(), ['b', 'x'], 'c waits for the take-down, though a slot is free')
  await h.finish('x')
  t.same(h.running(), ['b', 'c'])
})

t.test('take-downs share the slots: one at a time with concurrency 1, by name', async (t) => {
  const h = harness({ concurrency: 1 })
  h.queue.enqueue('a', 'git')
  for (const stack of ['z', 'x', 'y']) h.queue.takeDown(stack)
  await tick()
  t.same(h.running(), ['x'])
  await h.finish('x')
  await h.finish('y')
  t.same(h.running(), ['z'])
  await h.finish('z')
  t.same(h.started(), ['down:x', 'down:y', 'down:z', 'a:git'])
  t.equal(h.most(), 1)
})

t.test('a take-down of a stack whose run is in progress waits for that run', async (t) => {
  const h = harness({ concurrency: 4 })
  h.queue.enqueue('a', 'git')
  await tick()
  h.queue.takeDown('a')
  h.queue.enqueue('b', 'git')
  await tick()
  t.same(h.started(), ['a:git'], 'neither the take-down nor the deploy beside it starts')
  await h.finish('a')
  t.same(h.started(), ['a:git', 'down:a'])
  await h.finish('a')
  t.same(h.running(), ['b'])
})

t.test('a blocked stack is skipped, the others start; wake() starts it once free', async (t) => {
  const blocked = new Map<string, string>([['app', 'waiting for db (deploying)']])
  const asked: string[] = []
  const h = harness({
    concurrency: 1,
    blocked: (stack, trigger) => {
      asked.push(`${stack}:${trigger}`)
      return blocked.get(stack)
    },
  })
  t.equal(h.queue.enqueue('app', 'git'), 'queued', 'its declared order holds it')
  t.equal(h.queue.enqueue('db', 'git'), 'syncing')
  await tick()
  t.same(h.started(), ['db:git'], 'the blocked stack does not take the only slot')
  t.ok(h.queue.isPending('app'))
  t.ok(asked.includes('app:git'), 'the predicate is asked with the waiting trigger')
  t.equal(
    h.queue.waitsFor('app'),
    'waiting for a free deploy slot (SYNC_CONCURRENCY=1: db running)',
  )
  await h.finish('db')
  t.same(h.started(), ['db:git'], 'still blocked: not started')
  t.equal(h.queue.waitsFor('app'), 'waiting for db (deploying)')
  t.ok(await settled(h.queue.idle()), 'only a blocked stack waits: idle')

  blocked.delete('app')
  await tick()
  t.same(h.started(), ['db:git'], 'the queue looks again only when woken')
  h.queue.wake()
  await tick()
  t.same(h.started(), ['db:git', 'app:git'], 'woken and unblocked: it starts')
  t.notOk(await settled(h.queue.idle()), 'not idle while it runs')
  await h.finish('app')
})

t.test('a blocked stack does not hold up the stacks after it in name order', async (t) => {
  const h = harness({
    concurrency: 2,
    blocked: (stack) => (stack === 'a' || stack === 'c' ? 'held: x failed' : undefined),
  })
  for (const stack of ['a', 'b', 'c', 'd', 'e']) h.queue.enqueue(stack, 'git')
  await tick()
  t.same(h.running(), ['b', 'd'])
  await h.finish('b')
  t.same(h.running(), ['d', 'e'])
})

t.test('idle() waits for runs and for startable stacks, not for blocked ones', async (t) => {
  let blockB = true
  const h = harness({
    concurrency: 1,
    blocked: (stack) => (stack === 'b' && blockB ? 'waiting for a' : undefined),
  })
  t.ok(await settled(h.queue.idle()), 'an empty queue is idle')
  h.queue.enqueue('a', 'git')
  h.queue.enqueue('b', 'git')
  h.queue.enqueue('c', 'git')
  const idle = h.queue.idle()
  t.notOk(await settled(idle), 'a runs')
  await h.finish('a')
  t.notOk(await settled(idle), 'c runs (b is blocked)')
  t.same(h.started(), ['a:git', 'c:git'])
  await h.finish('c')
  t.ok(await settled(idle), 'only the blocked b waits')
  blockB = false
  h.queue.enqueue('b', 'git') // asking again looks again
  t.notOk(await settled(h.queue.idle()), 'b runs now')
  await h.finish('b')
  t.ok(await settled(h.queue.idle()))
})

t.test('nothing starts before the first picture of the host', async (t) => {
  const picture = deferred()
  let asked = 0
  const h = harness({
    concurrency: 4,
    firstPicture: () => {
      asked++
      return picture.promise
    },
  })
  h.queue.enqueue('a', 'git')
  h.queue.takeDown('z')
  await tick()
  h.queue.enqueue('b', 'manual')
  await tick()
  await tick()
  t.same(h.started(), [], 'neither a deploy nor a take-down')
  t.notOk(await settled(h.queue.idle()), 'not idle: the waiting stacks could start')
  t.equal(asked, 1, 'the first picture is asked for once')
  picture.resolve()
  await tick()
  t.same(h.started(), ['down:z'])
  await h.finish('z')
  t.same(h.started(), ['down:z', 'a:git', 'b:manual'])
  await h.finish('a')
  h.queue.enqueue('c', 'git')
  await tick()
  t.equal(asked, 1, 'asked once, ever')
  t.same(h.running(), ['b', 'c'])
})

t.test('drop answers the waiters of a stack that left Git; its run is not started', async (t) => {
  const picture = deferred()
  const h = harness({ concurrency: 1, firstPicture: () => picture.promise })
  const waiter = h.queue.nextRun('gone')
  h.queue.enqueue('gone', 'manual')
  h.queue.enqueue('kept', 'git')
  const gone: SyncAnswer = { ...shutdown, message: 'stack gone is no longer in Git' }
  h.queue.drop('gone', gone)
  t.same(await waiter, gone)
  t.notOk(h.queue.isPending('gone'))
  picture.resolve()
  await tick()
  t.same(h.started(), ['kept:git'])
  await h.finish('kept')
  t.same(h.started(), ['kept:git'], 'the dropped stack never ran')
})

t.test('drop during a run answers who waits for the next run; the running one ends', async (t) => {
  const h = harness({ concurrency: 1 })
  const first = h.queue.nextRun('a')
  h.queue.enqueue('a', 'git')
  await tick()
  const next = h.queue.nextRun('a')
  h.queue.enqueue('a', 'manual')
  const gone: SyncAnswer = { ...shutdown, message: 'stack a is no longer in Git' }
  h.queue.drop('a', gone)
  t.same(await next, gone)
  t.notOk(await settled(first), 'the run in progress answers its own waiters')
  await h.finish('a', 'ran')
  t.match(await first, { message: 'ran' })
  t.same(h.started(), ['a:git'], 'the dropped next run never started')
})

t.test('close answers the waiting, lets the running finish, starts nothing more', async (t) => {
  const h = harness({ concurrency: 1 })
  const running = h.queue.nextRun('a')
  h.queue.enqueue('a', 'git')
  h.queue.enqueue('b', 'git')
  await tick()
  const afterA = h.queue.nextRun('a')
  h.queue.enqueue('a', 'manual')
  const waitingB = h.queue.nextRun('b')
  const idle = h.queue.idle()
  let closed = false
  const closing = h.queue.close(shutdown).then(() => {
    closed = true
  })
  t.same(await waitingB, shutdown, 'a waiting run is answered at once')
  t.same(await afterA, shutdown, 'the next run of a running stack too')
  t.notOk(h.queue.isPending('b'))
  await tick()
  t.notOk(closed, 'close waits for the running job')
  t.notOk(await settled(running), 'the running job still answers for itself')
  await h.finish('a', 'finished during the shutdown')
  await closing
  t.ok(closed)
  t.ok(await settled(idle), 'idle waiters are released')
  t.match(await running, { message: 'finished during the shutdown' })
  t.same(h.started(), ['a:git'], 'nothing started after close')
})

t.test('after close nothing starts, and a new waiter is answered at once', async (t) => {
  const h = harness({ concurrency: 2 })
  await h.queue.close(shutdown)
  const waiter = h.queue.nextRun('a')
  t.equal(h.queue.enqueue('a', 'manual'), 'queued', 'it will not start: not syncing')
  h.queue.takeDown('z')
  h.queue.wake()
  await tick()
  t.same(h.started(), [])
  t.same(
    await Promise.race([waiter, tick().then(() => 'still waiting')]),
    shutdown,
    'a waiter never hangs on a closed queue',
  )
})

t.test('a job that throws is reported with its stack, and the queue goes on', async (t) => {
  const h = harness({ concurrency: 1 })
  h.queue.enqueue('a', 'git')
  h.queue.enqueue('b', 'git')
  h.queue.takeDown('z')
  await tick()
  h.current('z').fail(new Error('down broke'))
  await tick()
  t.same(h.errors.length, 1)
  t.match(h.errors[0], [{ message: 'down broke' }, 'z'])
  t.notOk(h.queue.isTakingDown('z'))
  h.current('a').fail(new Error('bug in run'))
  await tick()
  t.match(h.errors[1], [{ message: 'bug in run' }, 'a'])
  t.notOk(h.queue.isRunning('a'))
  t.same(h.running(), ['b'], 'the next stack started')
  await h.finish('b')
  h.queue.enqueue('a', 'git')
  await tick()
  t.same(h.running(), ['a'], 'the stack that broke can run again')
  await h.finish('a')
  t.ok(await settled(h.queue.idle()))
})

t.test('a run that throws synchronously is reported too', async (t) => {
  const errors: [unknown, string][] = []
  const queue = createSyncQueue({
    concurrency: 1,
    firstPicture: () => Promise.resolve(),
    blocked: () => undefined,
    run: () => {
      throw new Error('sync throw')
    },
    takeDown: () => Promise.resolve(),
    onError: (error, stack) => errors.push([error, stack]),
  })
  queue.enqueue('a', 'git')
  await queue.idle()
  t.match(errors, [[{ message: 'sync throw' }, 'a']])
  t.notOk(queue.isRunning('a'))
})

t.test(
  "enqueue answers 'syncing' only when the run starts now; waitsFor says why not",
  async (t) => {
    const h = harness({
      concurrency: 2,
      blocked: (stack, trigger) =>
        stack === 'held' && trigger !== 'manual' ? 'held: db failed' : undefined,
    })
    t.equal(h.queue.enqueue('a', 'git'), 'syncing', 'a free queue')
    await tick()
    t.equal(h.queue.enqueue('a', 'git'), 'queued', 'its own run is in progress')
    t.equal(h.queue.waitsFor('a'), 'waiting for the running sync of a to finish')
    t.equal(h.queue.enqueue('held', 'git'), 'queued', 'its declared order holds it')
    t.equal(h.queue.waitsFor('held'), 'held: db failed')
    t.equal(h.queue.enqueue('b', 'git'), 'syncing', 'a slot is free')
    t.equal(h.queue.waitsFor('b'), 'starting')
    await tick()
    t.equal(h.queue.enqueue('c', 'manual'), 'queued', 'both slots are taken')
    t.equal(
      h.queue.waitsFor('c'),
      'waiting for a free deploy slot (SYNC_CONCURRENCY=2: a, b running)',
    )
    await h.finish('b')
    await h.finish('a')
    await h.finish('c')
    await h.finish('a')
    t.same(h.started(), ['a:git', 'b:git', 'c:manual', 'a:git'])
    t.ok(h.queue.isPending('held'))
  },
)

t.test("a deploy asked for while a take-down runs is 'queued', and says why", async (t) => {
  const h = harness({ concurrency: 4 })
  h.queue.takeDown('old')
  await tick()
  t.same(h.started(), ['down:old'])
  t.equal(h.queue.enqueue('a', 'manual'), 'queued', 'it waits for the take-down')
  t.match(h.queue.waitsFor('a'), /take-down of old/)
  await tick()
  t.same(h.running(), ['old'])
  await h.finish('old')
  t.same(h.running(), ['a'])
  t.equal(h.queue.enqueue('b', 'manual'), 'syncing')
})
