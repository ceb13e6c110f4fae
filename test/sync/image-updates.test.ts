import t from 'tap'
import type { HostCheck } from '../../services/host/index.js'
import {
  type DeployRecord,
  decide,
  driftOf,
  failedImagesAfter,
  failureReason,
  imageUpdatesFor,
  movedImagesOf,
  runningImagesOf,
  type SyncRun,
  statusOf,
  withRun,
} from '../../services/sync/index.js'

// Image updates, apply, as pure functions: which moved tags a run takes
// (policy, failed digests, a manual sync), what the reconciler decides for a
// stack whose only difference is a moved tag, what the record keeps after a
// failed image update (the digest failed, not the tree), and the words.

const TREE = 'a'.repeat(40)
const REF = '127.0.0.1:5000/app:stable'
const OLD = `sha256:${'1'.repeat(64)}`
const NEW = `sha256:${'2'.repeat(64)}`
const NEWER = `sha256:${'3'.repeat(64)}`

const moved = (service: string, current = NEW, reference = REF) => ({
  service,
  container: `web-${service}-1`,
  action: 'update' as const,
  image: { reference, running: OLD, current },
})

const checkWith = (
  plan: HostCheck['plan'],
  settings: Partial<NonNullable<HostCheck['settings']>> = {},
): HostCheck => ({
  status: plan.length > 0 ? 'out_of_sync' : 'synced',
  health: 'healthy',
  reason: plan.length > 0 ? `image of service ${plan[0]?.service} moved` : 'in sync',
  project: 'web',
  plan,
  containers: [],
  settings: {
    dependsOn: [],
    onFileChange: {},
    serviceImageUpdates: {},
    problems: [],
    warnings: [],
    ...settings,
  } as NonNullable<HostCheck['settings']>,
  checkedAt: '2026-12-03T00:00:00.000Z',
})

const deployed: DeployRecord = {
  stack: 'web',
  deployedTreeHash: TREE,
  deployedRevision: 'c'.repeat(40),
  lastResult: 'completed',
  history: [],
}

const decideFor = (check: HostCheck, record: DeployRecord, defaultPolicy = 'apply' as const) =>
  decide({
    tree: TREE,
    check,
    record,
    owner: { kind: 'docker-cd' },
    selfHeal: false,
    adopt: false,
    imageUpdates: imageUpdatesFor({
      check,
      failed: record.failedImages,
      defaultPolicy,
      trigger: 'image',
    }),
  })

t.test('which moved tags a run takes', async (t) => {
  const check = checkWith([moved('app'), moved('app'), moved('db', NEW, 'db:16')], {
    serviceImageUpdates: { db: 'detect' },
  })
  t.same(
    movedImagesOf(check).map((u) => u.service),
    ['app', 'db'],
    'one per service (a scaled service has an entry per container)',
  )
  const auto = (failed?: DeployRecord['failedImages'], trigger = 'image' as const) =>
    imageUpdatesFor({ check, failed, defaultPolicy: 'apply', trigger }).map((u) => u.service)
  t.same(auto(), ['app'], 'the detect service waits')
  t.same(
    imageUpdatesFor({ check, failed: undefined, defaultPolicy: 'detect', trigger: 'git' }),
    [],
    'IMAGE_UPDATES=detect and nothing set: none is taken by a Git deploy',
  )
  t.same(
    auto([{ service: 'app', reference: REF, digest: NEW }]),
    [],
    'a digest that failed is not taken again',
  )
  t.same(
    auto([{ service: 'app', reference: REF, digest: OLD }]),
    ['app'],
    'the tag moved on since: taken',
  )
  t.same(
    imageUpdatesFor({
      check,
      failed: [{ service: 'app', reference: REF, digest: NEW }],
      defaultPolicy: 'off',
      trigger: 'manual',
    }).map((u) => u.service),
    ['app', 'db'],
    'a manual sync takes every moved tag, a failed digest included',
  )
  // Two services on one tag: the host has one image per tag, so both go.
  const shared = checkWith([moved('app'), moved('worker')], {
    serviceImageUpdates: { worker: 'detect' },
  })
  t.same(
    imageUpdatesFor({ check: shared, failed: undefined, defaultPolicy: 'apply', trigger: 'git' })
      .map((u) => u.service)
      .sort(),
    ['app', 'worker'],
  )
})

t.test('a stack whose only difference is a moved tag', async (t) => {
  const check = checkWith([moved('app')])
  t.match(decideFor(check, deployed), {
    action: 'deploy',
    trigger: 'image',
    why: `image tag moved in the registry (image_updates: apply): app: ${REF} sha256:111111111111 → sha256:222222222222`,
  })
  t.same(
    decideFor(check, deployed, 'detect' as 'apply'),
    {
      action: 'wait',
      why: 'image updates are reported, not applied (image_updates: detect; a manual sync pulls and deploys them): image of service app moved',
    },
    'detect: reported only',
  )
  const failed = { ...deployed, failedImages: [{ service: 'app', reference: REF, digest: NEW }] }
  t.same(decideFor(check, failed), {
    action: 'wait',
    why: 'image of service app at sha256:222222222222 failed to deploy: tried again when the tag moves or on a manual sync',
  })
  t.match(
    decideFor(checkWith([moved('app', NEWER)]), failed),
    { action: 'deploy', trigger: 'image' },
    'the tag moved again: taken',
  )
  t.notOk(
    driftOf({ tree: TREE, check, record: deployed }),
    'a moved tag is the registry’s change, not drift',
  )
})

t.test('a failed image update: the digest failed, not the tree', async (t) => {
  const run: SyncRun = {
    trigger: 'image',
    startedAt: '2026-12-03T00:00:00.000Z',
    finishedAt: '2026-12-03T00:00:09.000Z',
    durationMs: 9000,
    fromTree: TREE,
    toTree: TREE,
    revision: 'c'.repeat(40),
    result: 'failed',
    servicesChanged: ['app'],
    imageUpdates: [{ service: 'app', reference: REF, running: OLD, current: NEW }],
    reason: 'read-back failed',
    error: 'app is unhealthy',
    rolledBackTo: {
      revision: 'c'.repeat(40),
      treeHash: TREE,
      images: [{ service: 'app', reference: REF, imageId: 'sha256:aaa', digest: OLD }],
    },
  }
  const after = withRun(deployed, run, { treeFailed: true })
  t.notOk(after.failedTreeHash, 'the tree is not marked failed')
  t.same(after.failedImages, [{ service: 'app', reference: REF, digest: NEW }])
  t.equal(after.deployedTreeHash, TREE, 'the deployed tree stays')
  t.equal(
    failureReason(after),
    'image update of service app to sha256:222222222222 failed: app is unhealthy; rolled back: app back on sha256:111111111111',
  )
  const check = checkWith([moved('app')])
  t.match(
    statusOf({ tree: TREE, check, record: after, activity: undefined }),
    {
      status: 'failed',
      reason: `${failureReason(after)}; tried again when the tag moves or on a manual sync`,
    },
    'failed while the registry still offers that digest',
  )
  t.match(
    statusOf({ tree: TREE, check: checkWith([]), record: after, activity: undefined }),
    { status: 'synced' },
    'the tag moved back to what runs: the check says',
  )
  const { rolledBackTo: _back, ...notRolledBack } = after
  t.match(
    statusOf({ tree: TREE, check: checkWith([]), record: notRolledBack, activity: undefined }),
    { status: 'failed' },
    'the rollback failed too: the host may run the failed image, and the stack says failed',
  )
  const runningFailed = {
    ...checkWith([]),
    containers: [
      {
        name: 'web-app-1',
        service: 'app',
        state: 'running',
        status: 'Up',
        image: REF,
        digest: NEW,
      },
    ],
  }
  t.match(
    statusOf({
      tree: TREE,
      check: runningFailed,
      record: {
        ...after,
        rolledBackTo: undefined,
        error: 'app is unhealthy; the rollback failed too',
      },
      activity: undefined,
    }),
    { status: 'failed', reason: /^image update of service app to sha256:222222222222 failed: / },
    'failed while the host runs the failed digest (the rollback did not happen)',
  )
  // The same failure with a new tree: the tree failed too (rolled back together).
  const withTree = withRun(deployed, { ...run, toTree: 'd'.repeat(40) }, { treeFailed: true })
  t.equal(withTree.failedTreeHash, 'd'.repeat(40))
  t.same(withTree.failedImages, [{ service: 'app', reference: REF, digest: NEW }])
  // A moved tag whose pull changed nothing: its digest is not taken again, whatever the result.
  t.same(
    withRun(
      deployed,
      {
        ...run,
        result: 'completed',
        imageUpdates: undefined,
        rolledBackTo: undefined,
        imagesUnchanged: run.imageUpdates,
      },
      {},
    ).failedImages,
    [{ service: 'app', reference: REF, digest: NEW }],
  )
  // A completed run that deployed the service drops its failed digest; a manual sync starts afresh.
  t.same(
    failedImagesAfter(after.failedImages, {
      trigger: 'image',
      result: 'completed',
      treeFailed: false,
      updates: [{ service: 'app', reference: REF, running: OLD, current: NEWER }],
    }),
    undefined,
  )
  t.same(
    failedImagesAfter(after.failedImages, {
      trigger: 'git',
      result: 'completed',
      treeFailed: false,
      updates: [],
    }),
    after.failedImages,
    'a Git deploy that did not take it keeps it',
  )
  t.same(
    failedImagesAfter(after.failedImages, {
      trigger: 'manual',
      result: 'completed',
      treeFailed: false,
      updates: [],
    }),
    undefined,
  )
  const completed = withRun(after, {
    ...run,
    trigger: 'manual',
    result: 'completed',
    images: [{ service: 'app', reference: REF, imageId: 'sha256:bbb', digest: NEW }],
  })
  t.same(completed.deployedImages, [
    { service: 'app', reference: REF, imageId: 'sha256:bbb', digest: NEW },
  ])
  t.notOk(completed.failedImages)
})

t.test('the image each service runs', async (t) => {
  const containers = [
    { service: 'app', image: REF, imageId: 'sha256:aaa', digest: OLD },
    { service: 'app', image: REF, imageId: 'sha256:aaa', digest: OLD },
    { service: 'built', image: 'web-built', imageId: 'sha256:ccc' },
    { service: 'gone' },
  ]
  t.same(
    runningImagesOf(containers, ['app', 'built', 'gone', 'none'], (s) =>
      s === 'app' ? REF : undefined,
    ),
    [
      { service: 'app', reference: REF, imageId: 'sha256:aaa', digest: OLD },
      { service: 'built', reference: 'web-built', imageId: 'sha256:ccc' },
    ],
  )
})
