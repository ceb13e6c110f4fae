import t from 'tap'
import { composeDeployedFrom, type HostCheck } from '../../services/host/index.js'
import {
  type DeployRecord,
  decide,
  driftOf,
  failureReason,
  ownerOf,
  statusOf,
} from '../../services/sync/index.js'

// The reconciler's decisions and statuses as pure functions: what is applied
// (only what Git changed, only what docker-cd owns), what waits and why.

const TREE = 'a'.repeat(40)
const OLD = 'b'.repeat(40)
const WORK_TREE = '/var/lib/docker-cd/stacks/web'

const container = (workingDir?: string) => ({
  name: 'web-app-1',
  service: 'app',
  state: 'running',
  status: 'Up 1 minute',
  image: 'img',
  ...(workingDir ? { workingDir } : {}),
})

const check = (status: HostCheck['status'], workingDir?: string, reason = 'r'): HostCheck => ({
  status,
  reason,
  project: 'web',
  plan: [],
  containers: status === 'missing' ? [] : [container(workingDir)],
  checkedAt: '2026-12-02T00:00:00.000Z',
})

const record = (fields: Partial<DeployRecord> = {}): DeployRecord => ({
  stack: 'web',
  history: [],
  ...fields,
})

const decideFor = (
  c: HostCheck,
  r: DeployRecord | undefined,
  flags: { selfHeal?: boolean; adopt?: boolean; tree?: string } = {},
) =>
  decide({
    tree: flags.tree ?? TREE,
    check: c,
    record: r,
    owner: ownerOf(r, composeDeployedFrom(c, WORK_TREE)),
    selfHeal: flags.selfHeal ?? false,
    adopt: flags.adopt ?? false,
  })

t.test('who owns a project', async (t) => {
  t.same(ownerOf(undefined, composeDeployedFrom(check('missing'), WORK_TREE)), { kind: 'nobody' })
  t.same(ownerOf(undefined, composeDeployedFrom(check('synced', '/srv/web'), WORK_TREE)), {
    kind: 'foreign',
    workingDir: '/srv/web',
  })
  t.same(ownerOf(undefined, composeDeployedFrom(check('synced', WORK_TREE), WORK_TREE)), {
    kind: 'docker-cd',
  })
  t.same(
    ownerOf(
      record({ deployedTreeHash: OLD }),
      composeDeployedFrom(check('synced', '/srv/web'), WORK_TREE),
    ),
    {
      kind: 'docker-cd',
    },
  )
  t.same(
    ownerOf(record(), composeDeployedFrom(check('synced', '/srv/web'), WORK_TREE)).kind,
    'foreign',
    'an empty record claims nothing',
  )
})

t.test('what is applied', async (t) => {
  t.match(decideFor(check('missing'), undefined), {
    action: 'deploy',
    trigger: 'git',
    why: /^new in Git/,
  })
  t.match(decideFor(check('out_of_sync', WORK_TREE), record({ deployedTreeHash: OLD })), {
    action: 'deploy',
    trigger: 'git',
    why: 'tree changed in Git: bbbbbbb → aaaaaaa',
  })
  t.match(decideFor(check('missing'), record({ deployedTreeHash: OLD })), {
    action: 'deploy',
    trigger: 'git',
  })
  t.match(
    decideFor(check('out_of_sync', WORK_TREE), undefined),
    {
      action: 'deploy',
      why: /not deployed by docker-cd yet/,
    },
    'records lost: Compose decides what changes',
  )
})

t.test('what waits, and why', async (t) => {
  t.match(decideFor(check('unknown', WORK_TREE, 'engine unreachable: x'), record()), {
    action: 'wait',
    why: 'engine unreachable: x',
  })
  t.match(
    decideFor(
      check('out_of_sync', WORK_TREE),
      record({ deployedTreeHash: OLD, failedTreeHash: TREE }),
    ),
    {
      action: 'wait',
      why: /failed to deploy; retried when the tree changes or on a manual sync/,
    },
  )
  t.match(decideFor(check('out_of_sync', '/srv/web'), undefined), {
    action: 'wait',
    why: 'not managed by docker-cd: deployed by hand from /srv/web',
  })
  t.match(
    decideFor(check('synced', '/srv/web'), undefined),
    { action: 'wait' },
    'in sync and foreign: nothing',
  )
  t.match(
    decideFor(
      check('out_of_sync', WORK_TREE, 'service app would be started'),
      record({ deployedTreeHash: TREE }),
    ),
    {
      action: 'wait',
      why: /^drift from the deployed tree \(SYNC_SELF_HEAL is off.*\): service app would be started$/,
    },
  )
  t.same(decideFor(check('synced', WORK_TREE), record({ deployedTreeHash: TREE })), {
    action: 'wait',
    why: 'r',
  })
})

t.test('hand-overs: adoption, self-heal, bookkeeping', async (t) => {
  t.match(decideFor(check('out_of_sync', '/srv/web'), undefined, { adopt: true }), {
    action: 'deploy',
    trigger: 'adopt',
    why: /SYNC_ADOPT=true: taking over project web \(deployed by hand from \/srv\/web\)/,
  })
  t.match(
    decideFor(check('out_of_sync', WORK_TREE), record({ deployedTreeHash: TREE }), {
      selfHeal: true,
    }),
    {
      action: 'deploy',
      trigger: 'self-heal',
    },
  )
  const healthy: HostCheck = { ...check('synced', WORK_TREE), health: 'healthy' }
  t.match(
    decideFor(healthy, undefined),
    { action: 'record' },
    'in sync from our work tree: recorded',
  )
  t.match(decideFor(healthy, record({ deployedTreeHash: OLD })), {
    action: 'record',
  })
  t.match(
    decideFor({ ...healthy, health: 'progressing' }, record({ deployedTreeHash: OLD })),
    { action: 'wait' },
    'a tree still in its health checks is not recorded as deployed',
  )
})

t.test('a deploy interrupted by a stop of docker-cd', async (t) => {
  const interrupted = record({
    deployedTreeHash: OLD,
    deployedRevision: 'c'.repeat(40),
    lastResult: 'interrupted',
    inProgress: {
      toTree: TREE,
      revision: 'd'.repeat(40),
      previous: { treeHash: OLD, revision: 'c'.repeat(40) },
      startedAt: '2026-12-02T00:00:00.000Z',
      trigger: 'git',
      noted: true,
    },
  })
  const healthy: HostCheck = { ...check('synced', WORK_TREE), health: 'healthy' }
  t.match(
    decideFor(healthy, interrupted),
    { action: 'deploy', trigger: 'recover', why: /interrupted.*rolling back to tree bbbbbbb/ },
    'Compose says Running: taken through the health gate again, not accepted',
  )
  t.match(
    decideFor(healthy, { ...interrupted, failedTreeHash: TREE }),
    { action: 'deploy', trigger: 'recover' },
    'also when the interrupted run was a manual sync of a failed tree',
  )
  t.match(
    decideFor(check('unknown', WORK_TREE), interrupted),
    { action: 'wait' },
    'not while the engine cannot be asked',
  )
  t.match(
    decideFor(check('out_of_sync', WORK_TREE), interrupted, { tree: 'e'.repeat(40) }),
    { action: 'deploy', trigger: 'git' },
    'a newer tree in Git: deployed (the interrupted tree is history)',
  )
  t.match(
    ownerOf(
      record({ inProgress: interrupted.inProgress }),
      composeDeployedFrom(check('missing'), WORK_TREE),
    ),
    { kind: 'docker-cd' },
    'an interrupted first deploy is docker-cd’s',
  )
})

t.test('the status shown', async (t) => {
  const activity = { phase: 'pull', tree: TREE, revision: OLD, trigger: 'manual' as const }
  t.same(statusOf({ tree: TREE, check: check('out_of_sync'), record: undefined, activity }), {
    status: 'syncing',
    reason: 'manual sync tree aaaaaaa (revision bbbbbbb): pull',
  })
  const failed = record({
    deployedTreeHash: OLD,
    failedTreeHash: TREE,
    lastResult: 'failed',
    error: 'container web-app-1 is unhealthy',
    rolledBackTo: { revision: 'c'.repeat(40), treeHash: OLD },
  })
  t.equal(
    failureReason(failed),
    'deploy of tree aaaaaaa failed: container web-app-1 is unhealthy; rolled back to revision ccccccc (tree bbbbbbb)',
  )
  t.match(statusOf({ tree: TREE, check: check('synced'), record: failed, activity: undefined }), {
    status: 'failed',
    reason: /rolled back to revision ccccccc.*; retried when the tree changes or on a manual sync$/,
  })
  t.match(
    statusOf({
      tree: 'd'.repeat(40),
      check: check('out_of_sync'),
      record: failed,
      activity: undefined,
    }),
    {
      status: 'out_of_sync',
    },
    'a new tree is no longer the failed one',
  )
  t.same(
    statusOf({
      tree: TREE,
      check: check('synced', undefined, 'the host runs what Git says'),
      record: undefined,
      activity: undefined,
      waiting: 'not managed by docker-cd: deployed by hand from /srv',
    }),
    {
      status: 'synced',
      reason: 'the host runs what Git says; not managed by docker-cd: deployed by hand from /srv',
    },
  )
  t.equal(
    statusOf({ tree: TREE, check: undefined, record: undefined, activity: undefined }),
    undefined,
    'nothing to say before a check',
  )
})

t.test('driftOf: whether the host left the tree docker-cd deployed', async (t) => {
  const deployed = record({ deployedTreeHash: TREE, deployedRevision: 'c'.repeat(40) })
  const drift = (c: HostCheck | undefined, r: DeployRecord | undefined, tree = TREE) =>
    driftOf({ tree, check: c, record: r })

  t.equal(
    drift(check('out_of_sync', WORK_TREE), record({ deployedTreeHash: OLD })),
    undefined,
    'the current tree is not the deployed one: Git changed, not the host',
  )
  t.equal(drift(check('missing'), undefined), undefined, 'no record: nothing deployed')
  t.equal(drift(check('missing'), record()), undefined, 'a record without a deployed tree')
  t.equal(
    drift(check('synced', WORK_TREE), deployed, OLD),
    undefined,
    'in line, but with another tree current: says nothing',
  )
  const inProgress = record({
    deployedTreeHash: TREE,
    inProgress: {
      toTree: 'e'.repeat(40),
      revision: 'd'.repeat(40),
      previous: { treeHash: TREE, revision: 'c'.repeat(40) },
      startedAt: '2026-12-02T00:00:00.000Z',
      trigger: 'git',
    },
  })
  t.equal(
    drift(check('out_of_sync', WORK_TREE), inProgress),
    undefined,
    'a deploy in progress: the host is between trees',
  )
  t.equal(
    drift(check('synced', WORK_TREE), inProgress),
    undefined,
    'a deploy in progress: not in line either',
  )
  t.equal(
    drift(check('unknown', WORK_TREE, 'engine unreachable'), deployed),
    undefined,
    'the engine could not be asked',
  )
  t.equal(
    drift(check('failed', WORK_TREE, 'project name clash'), deployed),
    undefined,
    'a check that failed on the host side',
  )
  t.equal(drift(undefined, deployed), undefined, 'not checked yet')

  t.same(
    drift(check('synced', WORK_TREE, 'the host runs what Git says'), deployed),
    { drifted: false, reason: 'the host runs what Git says' },
    'synced: in line',
  )
  t.same(
    drift({ ...check('synced', WORK_TREE, 'in line'), health: 'progressing' }, deployed),
    { drifted: false, reason: 'in line', health: 'progressing' },
    'synced while its containers start: in line, with the health (a recovery waits for healthy)',
  )
  t.same(
    drift(check('out_of_sync', WORK_TREE, 'service app would be started'), deployed),
    { drifted: true, reason: 'service app would be started' },
    "out_of_sync: drifted, with the check's reason",
  )
  t.same(
    drift(check('missing', undefined, 'no container of project web exists'), deployed),
    { drifted: true, reason: 'no container of project web exists' },
    'missing: drifted (taken down by hand)',
  )
  t.same(
    drift(
      {
        ...check(
          'out_of_sync',
          WORK_TREE,
          'service app would be started: container web-app-1 is exited (137)',
        ),
        health: 'degraded',
      },
      deployed,
    ),
    {
      drifted: true,
      reason: 'service app would be started: container web-app-1 is exited (137)',
      health: 'degraded',
    },
    "degraded (a container exited): drifted, with the check's reason and health",
  )
  t.same(
    drift(check('out_of_sync', WORK_TREE), { ...deployed, failedTreeHash: 'e'.repeat(40) }),
    { drifted: true, reason: 'r' },
    'a later tree that failed (rolled back to this one) does not hide drift',
  )

  // The same test decide() applies before it self-heals.
  for (const status of ['out_of_sync', 'missing'] as const) {
    const c = check(status, status === 'missing' ? undefined : WORK_TREE)
    t.equal(drift(c, deployed)?.drifted, true, status)
    t.match(decideFor(c, deployed, { selfHeal: true }), { action: 'deploy', trigger: 'self-heal' })
  }
})
