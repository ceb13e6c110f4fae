import t from 'tap'
import type { RefreshTrigger } from '../../schemas/refresh.js'
import { createRefreshPacer } from '../../services/refresh/pacer.js'
import { createRefreshQueue } from '../../services/refresh/queue.js'

// Unit tests with a fake refresh whose completion the test controls.
type Outcome =
  | { status: 'completed'; trigger: RefreshTrigger; result: string }
  | { status: 'failed'; trigger: RefreshTrigger; error: unknown }
const failed = (trigger: RefreshTrigger, error: unknown): Outcome => ({
  status: 'failed',
  trigger,
  error,
})

function controlledRun() {
  const started: {
    trigger: RefreshTrigger
    finish: (value?: unknown) => void
    fail: (e: Error) => void
  }[] = []
  let concurrent = 0
  let maxConcurrent = 0
  const run = (trigger: RefreshTrigger) =>
    new Promise<Outcome>((resolve, reject) => {
      concurrent++
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      started.push({
        trigger,
        finish: () => {
          concurrent--
          resolve({ status: 'completed', trigger, result: `result-${started.length}` })
        },
        fail: (error) => {
          concurrent--
          reject(error)
        },
      })
    })
  return { run, started, maxConcurrent: () => maxConcurrent }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

t.test('an idle queue starts at once; a busy one queues into one slot', async (t) => {
  const fake = controlledRun()
  const queue = createRefreshQueue({ run: fake.run, failed })
  const first = queue.enqueue('startup')
  t.equal(first.status, 'refreshing')
  await tick()
  t.equal(fake.started.length, 1)
  const second = queue.enqueue('webhook')
  const third = queue.enqueue('manual')
  t.equal(second.status, 'queued')
  t.equal(third.status, 'queued')
  t.ok(queue.hasWaiting())
  t.equal(
    second.done,
    third.done,
    'the newer request replaced the waiting one and shares its result',
  )
  fake.started[0]?.finish()
  t.match(await first.done, { status: 'completed', trigger: 'startup', result: 'result-1' })
  await tick()
  t.equal(fake.started.length, 2)
  t.equal(fake.started[1]?.trigger, 'manual', 'the waiting slot carries the newest trigger')
  fake.started[1]?.finish()
  t.match(await third.done, { status: 'completed', trigger: 'manual' })
  t.notOk(queue.isRunning())
  t.notOk(queue.hasWaiting())
})

t.test('a failure settles the covering promise as failed and the queue goes on', async (t) => {
  const fake = controlledRun()
  const queue = createRefreshQueue({ run: fake.run, failed })
  const first = queue.enqueue('periodic')
  await tick()
  const second = queue.enqueue('manual')
  fake.started[0]?.fail(new Error('unreachable'))
  const outcome = await first.done
  t.equal(outcome.status, 'failed')
  t.match(outcome.status === 'failed' && outcome.error, { message: 'unreachable' })
  await tick()
  fake.started[1]?.finish()
  t.equal((await second.done).status, 'completed')
})

t.test('a run that throws synchronously still answers its waiters', async (t) => {
  const queue = createRefreshQueue<Outcome>({
    run: () => {
      throw new Error('bug in run')
    },
    failed,
  })
  const first = queue.enqueue('manual')
  t.match(await first.done, { status: 'failed', error: { message: 'bug in run' } })
  await queue.idle()
  t.equal(queue.enqueue('manual').status, 'refreshing', 'the queue is free again')
})

t.test('1,000 concurrent enqueues: one running, one waiting, every request covered', async (t) => {
  const fake = controlledRun()
  const queue = createRefreshQueue({ run: fake.run, failed })
  const answers = Array.from({ length: 1000 }, (_, i) =>
    queue.enqueue(i % 2 ? 'webhook' : 'manual'),
  )
  t.equal(answers.filter((a) => a.status === 'refreshing').length, 1)
  t.equal(answers.filter((a) => a.status === 'queued').length, 999)
  await tick()
  t.equal(fake.started.length, 1)
  fake.started[0]?.finish()
  await tick()
  t.equal(fake.started.length, 2, 'the 999 waiting requests collapse into one refresh')
  fake.started[1]?.finish()
  const outcomes = await Promise.all(answers.map((a) => a.done))
  t.ok(outcomes.every((o) => o.status === 'completed'))
  t.equal(fake.maxConcurrent(), 1)
  t.equal(fake.started.length, 2)
})

t.test('close aborts the running refresh and fails the waiting one', async (t) => {
  let seenSignal: AbortSignal | undefined
  const queue = createRefreshQueue<Outcome>({
    failed,
    run: (_trigger, signal) =>
      new Promise((_resolve, reject) => {
        seenSignal = signal
        signal.addEventListener('abort', () => reject(new Error('aborted')))
      }),
  })
  const running = queue.enqueue('startup')
  await tick()
  const waiting = queue.enqueue('manual')
  await queue.close()
  t.equal(seenSignal?.aborted, true)
  t.equal((await running.done).status, 'failed')
  t.match(await waiting.done, { status: 'failed' })
  t.match(
    await queue.enqueue('manual').done,
    { status: 'failed' },
    'a closed queue refuses new work',
  )
})

t.test('idle() waits for running and waiting refreshes', async (t) => {
  const fake = controlledRun()
  const queue = createRefreshQueue({ run: fake.run, failed })
  queue.enqueue('manual')
  await tick()
  queue.enqueue('manual')
  let idle = false
  const idlePromise = queue.idle().then(() => {
    idle = true
  })
  fake.started[0]?.finish()
  await tick()
  t.notOk(idle)
  fake.started[1]?.finish()
  await idlePromise
  t.ok(idle)
})

t.test('pacer: a burst, then the sustained rate; startup and periodic never wait', async (t) => {
  let now = 0
  const pacer = createRefreshPacer({ burst: 3, periodMs: 3_000 }, () => now)
  t.same(
    [1, 2, 3].map(() => pacer.delayFor('webhook')),
    [0, 0, 0],
    'the burst starts at once',
  )
  t.equal(pacer.delayFor('manual'), 1_000, 'then one start per second')
  t.equal(pacer.delayFor('periodic'), 0, 'the own schedule is not paced')
  t.equal(pacer.delayFor('startup'), 0)
  now += 1_000
  t.equal(pacer.delayFor('manual'), 0, 'a token a second later')
  t.equal(pacer.delayFor('manual'), 1_000)
  now += 60_000
  t.same(
    [1, 2, 3, 4].map(() => pacer.delayFor('webhook') === 0),
    [true, true, true, false],
    'refilled to the burst, never past it',
  )
  t.equal(createRefreshPacer(null).delayFor('webhook'), 0, 'no rate: no pacing')
})

t.test('a paced request waits in the slot, answered queued; newer ones join it', async (t) => {
  const fake = controlledRun()
  const pacer = createRefreshPacer({ burst: 1, periodMs: 200 })
  const queue = createRefreshQueue({ run: fake.run, failed, pacer })
  const first = queue.enqueue('webhook')
  t.equal(first.status, 'refreshing', 'the burst')
  await tick()
  fake.started[0]?.finish()
  await first.done
  const second = queue.enqueue('webhook')
  const third = queue.enqueue('manual')
  t.equal(second.status, 'queued', 'no token: it waits, it is not refused')
  t.equal(third.status, 'queued')
  t.equal(second.done, third.done, 'one refresh covers both')
  t.equal(fake.started.length, 1, 'nothing started yet')
  await waitForCondition(() => fake.started.length === 2)
  t.equal(fake.started[1]?.trigger, 'manual')
  fake.started[1]?.finish()
  t.match(await third.done, { status: 'completed' })

  const paced = queue.enqueue('manual')
  t.equal(paced.status, 'queued')
  const periodic = queue.enqueue('periodic')
  t.equal(periodic.status, 'refreshing', 'an unpaced trigger starts the waiting slot at once')
  t.equal(periodic.done, paced.done)
  await tick()
  t.equal(fake.started.length, 3)
  fake.started[2]?.finish()
  await periodic.done
  await queue.close()
})

t.test('closing fails a request that waits for the pacer', async (t) => {
  const fake = controlledRun()
  const pacer = createRefreshPacer({ burst: 1, periodMs: 60_000 })
  const queue = createRefreshQueue({ run: fake.run, failed, pacer })
  const first = queue.enqueue('manual')
  await tick()
  fake.started[0]?.finish()
  await first.done
  const waiting = queue.enqueue('manual')
  await queue.close()
  t.match(await waiting.done, { status: 'failed' })
  t.equal(fake.started.length, 1, 'it never ran')
})

async function waitForCondition(condition: () => boolean) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}
