import t from 'tap'
import {
  ComposeError,
  type ComposeModel,
  type InspectedContainer,
  type StackRuntime,
} from '../../services/host/index.js'
import type { ImageUpdate, RunningImage } from '../../services/sync/index.js'
import type { TreeRef } from '../../services/sync/records.js'
import { createSyncSteps } from '../../services/sync/steps.js'

// Unit tests of an image update's steps (steps.ts), over a scripted runtime
// that records its calls in order: the deploy is written down with the
// images to put back before the pull moves the tag; a pull that fails on
// the deployed tree puts the tags back and is the registry's failure
// (retried), not the tree's; a health gate that fails puts the previous
// images back under their tags before the rollback's `up` (the same tree);
// a success removes the image it replaced. The real engine and registry
// run it in test/host/image-apply.test.ts.

const TREE = 'f00d1234abcd5678'
const GOOD: TreeRef = { revision: 'a1b2c3d4e5f6a7b8', treeHash: TREE }
const REF = 'registry.test/app:stable'
const OLD = `sha256:${'1'.repeat(64)}`
const NEW = `sha256:${'2'.repeat(64)}`
const UPDATE: ImageUpdate = { service: 'app', reference: REF, running: OLD, current: NEW }

const model: ComposeModel = {
  format: 2,
  name: 'web',
  services: { app: { image: REF }, side: { image: 'side:1' } },
  settings: {},
}

type Runtime = Parameters<typeof createSyncSteps>[0]['runtime']

function harness(options: {
  pull?: () => Promise<void>
  /** The nth `up` (0: the deploy's, 1: the rollback's); may throw. */
  apply?: (nth: number) => Promise<void>
  /** Before the tags are put back; may throw. */
  restore?: () => Promise<void>
  /** The tree deployed (default: the good one, an image update alone). */
  tree?: string
  /** The pull brings the image the service runs already (the registry's HEAD and pull disagree). */
  pullBringsNothing?: boolean
}) {
  const calls: string[] = []
  let image = 'sha256:old-id'
  let applies = 0
  const container = (service: string): InspectedContainer => ({
    id: `${service}-${service === 'app' ? image : 'same'}`,
    name: `web-${service}-1`,
    service,
    state: 'running',
    restartCount: 0,
    exitCode: 0,
    restartPolicy: 'no',
    startedAt: 't',
    image: service === 'app' ? REF : 'side:1',
    imageId: service === 'app' ? image : 'sha256:side-id',
    ...(service === 'app' ? { digest: image === 'sha256:old-id' ? OLD : NEW } : {}),
  })
  const runtime: Runtime = {
    validate: async () => {},
    model: async () => model,
    imagesToPull: async () => [],
    async pull(_dir, services) {
      calls.push(`pull ${services.join(',')}`)
      await options.pull?.()
    },
    build: async () => {},
    async apply() {
      calls.push('apply')
      const nth = applies++
      if (nth === 0 && !options.pullBringsNothing) image = 'sha256:new-id'
      await options.apply?.(nth)
    },
    renew: async () => {},
    inspect: async () => [container('app'), container('side')],
    ping: async () => {},
    takeDown: async () => {},
    async restoreImages(images) {
      await options.restore?.()
      calls.push(`restore ${images.map((i) => `${i.reference}=${i.imageId}`).join(',')}`)
      image = images[0]?.imageId ?? image
    },
    async removeImages(ids) {
      calls.push(`remove ${ids.join(',')}`)
    },
  } satisfies Pick<StackRuntime, keyof Runtime>
  const steps = createSyncSteps({
    workTrees: {
      ensure: async (_stack, tree) => {
        calls.push(`ensure ${tree}`)
        return { dir: '/stacks/web', written: false, skipped: [] }
      },
      treeRecord: () => ({ get: async () => undefined, set: async () => {} }),
    },
    runtime,
    changedFiles: async () => [],
    stacksDir: '/stacks',
    waitSeconds: 5,
    signal: new AbortController().signal,
  })
  const written: RunningImage[][] = []
  const writtenUpdates: ImageUpdate[][] = []
  const run = () =>
    steps.run({
      path: 'web',
      tree: options.tree ?? TREE,
      rollbackTo: GOOD,
      checkBefore: undefined,
      imageUpdates: [UPDATE],
      phase: () => {},
      beforeUp: async (previous, updates) => {
        calls.push('record in progress')
        written.push([...previous])
        writtenUpdates.push([...updates])
      },
    })
  return {
    run,
    calls: () => calls.filter((call) => !call.startsWith('ensure')),
    all: calls,
    written,
    writtenUpdates,
  }
}

const PREVIOUS = { service: 'app', reference: REF, imageId: 'sha256:old-id', digest: OLD }

t.test('a moved tag: written down, pulled, deployed, the replaced image removed', async (t) => {
  const h = harness({})
  const outcome = await h.run()
  t.same(h.calls(), ['record in progress', 'pull app', 'apply', 'remove sha256:old-id'])
  t.same(h.written, [[PREVIOUS]], 'the image to put back is on record before the pull')
  t.same(h.writtenUpdates, [[UPDATE]], 'and the moved tag it takes (a recovery takes it again)')
  t.match(outcome, {
    result: 'completed',
    servicesChanged: ['app'],
    imageUpdates: [UPDATE],
    images: [
      { service: 'app', reference: REF, imageId: 'sha256:new-id', digest: NEW },
      { service: 'side', reference: 'side:1', imageId: 'sha256:side-id' },
    ],
  })
})

t.test('a failing health gate: the previous image under its tag, then up again', async (t) => {
  const h = harness({
    apply: async (nth) => {
      if (nth === 0) throw new ComposeError('container web-app-1 is unhealthy')
    },
  })
  const outcome = await h.run()
  t.same(h.calls(), [
    'record in progress',
    'pull app',
    'apply',
    `restore ${REF}=sha256:old-id`,
    'apply',
  ])
  t.match(outcome, {
    result: 'failed',
    failure: 'tree',
    rolledBackTo: { ...GOOD, images: [PREVIOUS] },
  })
})

t.test(
  'a pull that fails on the deployed tree: tags put back, the registry’s failure',
  async (t) => {
    const h = harness({
      pull: async () => {
        throw new ComposeError('registry.test: connection refused')
      },
    })
    const outcome = await h.run()
    t.same(h.calls(), ['record in progress', 'pull app', `restore ${REF}=sha256:old-id`])
    t.match(outcome, {
      result: 'failed',
      failure: 'registry',
      step: 'pull',
      hostUnchanged: true,
    })
  },
)

t.test('a rollback that cannot put the previous image back says so', async (t) => {
  const h = harness({
    apply: async (nth) => {
      if (nth === 0) throw new ComposeError('container web-app-1 is unhealthy')
    },
    restore: async () => {
      throw new Error('image sha256:old-id is no longer on the host')
    },
  })
  const outcome = await h.run()
  t.notOk(outcome.rolledBackTo, 'not rolled back')
  t.match(
    outcome.error,
    /container web-app-1 is unhealthy; the rollback to tree f00d123 \(app back on sha256:111111111111\) failed too: image sha256:old-id is no longer on the host/,
  )
  t.equal(h.calls().filter((c) => c === 'apply').length, 1, 'no second up')
})

t.test('a Git change and an image change together: rolled back together', async (t) => {
  const h = harness({
    tree: 'beef5678cafe9012',
    apply: async (nth) => {
      if (nth === 0) throw new ComposeError('container web-app-1 is unhealthy')
    },
  })
  const outcome = await h.run()
  t.same(h.all, [
    'ensure beef5678cafe9012',
    'record in progress',
    'pull app',
    'apply',
    `restore ${REF}=sha256:old-id`,
    `ensure ${TREE}`,
    'apply',
  ])
  t.match(outcome, {
    result: 'failed',
    failure: 'tree',
    rolledBackTo: { ...GOOD, images: [PREVIOUS] },
  })
})

t.test(
  'a pull that brings the image the service runs: not taken, said, not recreated',
  async (t) => {
    const h = harness({ pullBringsNothing: true })
    const outcome = await h.run()
    t.same(h.calls(), ['record in progress', 'pull app', 'apply'], 'nothing removed')
    t.match(outcome, { result: 'completed', servicesChanged: [], imagesUnchanged: [UPDATE] })
    t.notOk(outcome.imageUpdates, 'no moved tag taken')
    t.match(
      outcome.reason,
      'app still runs sha256:111111111111 after the pull (the registry names sha256:222222222222 for registry.test/app:stable, its pull does not bring it)',
    )
  },
)
