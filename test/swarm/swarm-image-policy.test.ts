import t from 'tap'
import {
  type HostCheck,
  SWARM_IMAGE_APPLY_REFUSED,
  type SwarmService,
  type SwarmTask,
  specDigest,
  swarmStackState,
  withSwarmImages,
} from '../../services/host/index.js'
import { type DeployRecord, decide, imageUpdatesFor } from '../../services/sync/index.js'

// Image updates on a Swarm target, as pure functions (docs/swarm.md):
// a moved tag is detected from the digest each service's spec pins and
// said as on Compose, never taken by a run (`apply` acts as `detect`, a
// manual sync included: the runtime refuses), the reason and a note say
// why, and SWARM_RESOLVE_IMAGE=never (no digest to compare) is a note.

const REF = '127.0.0.1:5000/web:stable'
const OLD = `sha256:${'1'.repeat(64)}`
const NEW = `sha256:${'2'.repeat(64)}`
const TREE = 'a'.repeat(40)

const service = (image = `${REF}@${OLD}`): SwarmService => ({
  id: 's1',
  fullName: 'shop_web',
  name: 'web',
  image,
  replicas: 2,
  env: [],
  labels: {},
  specKey: 'k',
})
const task = (slot: number): SwarmTask => ({
  id: `t${slot}`,
  serviceId: 's1',
  slot,
  nodeId: `node${slot}`,
  desired: 'running',
  state: 'running',
  message: 'started',
  timestamp: '2026-01-01T00:00:01Z',
  specKey: 'k',
})
const tree = { services: { web: { image: REF, deploy: { replicas: 2 } } } }
const settings = (imageUpdates?: 'off' | 'detect' | 'apply') =>
  ({
    dependsOn: [],
    onFileChange: {},
    serviceImageUpdates: {},
    problems: [],
    warnings: [],
    ...(imageUpdates ? { imageUpdates } : {}),
  }) as NonNullable<HostCheck['settings']>
const stateOf = (image?: string) =>
  swarmStackState({
    stack: 'shop',
    tree,
    services: [service(image)],
    tasks: [task(1), task(2)],
    nodeName: (id) => id,
  })
const moved = {
  moved: [{ service: 'web', reference: REF, running: OLD, current: NEW }],
  problems: [],
}

t.test('the digest a service pins', async (t) => {
  t.equal(specDigest(`${REF}@${OLD}`), OLD)
  t.equal(specDigest(REF), undefined, 'deployed without --resolve-image: none')
  t.equal(specDigest(undefined), undefined)
})

t.test('detect: a moved tag on a synced Swarm stack, in words', async (t) => {
  const synced = stateOf()
  t.equal(synced.status, 'synced')
  const seen = withSwarmImages(
    { ...synced, settings: settings('detect') },
    { tree, findings: undefined, defaultPolicy: 'off', resolveImage: 'always' },
  )
  t.same(seen.images, [{ service: 'web', reference: REF }], 'the tree’s tag is watched')
  t.same(
    seen.containers.map((c) => c.digest),
    [OLD, OLD],
    'each task runs the digest its service pins',
  )
  t.notOk(seen.notes, 'detect: nothing to note')
  const found = withSwarmImages(
    { ...synced, settings: settings('detect') },
    { tree, findings: moved, defaultPolicy: 'off', resolveImage: 'always' },
  )
  t.equal(found.status, 'out_of_sync')
  t.same(
    found.plan.map((entry) => [entry.container, entry.action, entry.image?.current]),
    [
      ['shop_web.1', 'update', NEW],
      ['shop_web.2', 'update', NEW],
    ],
  )
  t.equal(
    found.reason,
    `image of service web: ${REF} moved to sha256:222222222222 in the registry (it runs sha256:111111111111)`,
    'the Swarm’s “runs what Git says” is not kept beside it',
  )
  // Already drifted (scaled by hand): the next deploy resolves its tag
  // anyway, so no `update` entry is added (as on Compose); a failed ask is said.
  const scaled = swarmStackState({
    stack: 'shop',
    tree: { services: { web: { image: REF, deploy: { replicas: 3 } } } },
    services: [service()],
    tasks: [task(1), task(2)],
    nodeName: (id) => id,
  })
  const both = withSwarmImages(scaled, {
    tree,
    findings: { ...moved, problems: ['image check failed for service x: gone'] },
    defaultPolicy: 'detect',
    resolveImage: 'always',
  })
  t.same(
    both.plan.map((entry) => entry.action),
    ['recreate'],
  )
  t.equal(
    both.reason,
    'service web has 2 replicas, Git says 3; image check failed for service x: gone',
  )
  const missing = swarmStackState({
    stack: 'shop',
    tree,
    services: [],
    tasks: [],
    nodeName: (id) => id,
  })
  t.equal(
    withSwarmImages(missing, {
      tree,
      findings: moved,
      defaultPolicy: 'detect',
      resolveImage: 'always',
    }).status,
    'missing',
    'nothing deployed: nothing moved',
  )
})

t.test('apply acts as detect on Swarm, said in a note and in the reason', async (t) => {
  const noted = withSwarmImages(stateOf(), {
    tree,
    findings: moved,
    defaultPolicy: 'apply',
    resolveImage: 'always',
  })
  t.same(noted.notes, [`image updates: ${SWARM_IMAGE_APPLY_REFUSED}`])
  t.same(
    withSwarmImages(
      { ...stateOf(), settings: settings('off') },
      { tree, findings: undefined, defaultPolicy: 'apply', resolveImage: 'always' },
    ).notes,
    undefined,
    'the stack turns image updates off: no note',
  )
  t.same(
    withSwarmImages(stateOf(REF), {
      tree,
      findings: undefined,
      defaultPolicy: 'detect',
      resolveImage: 'never',
    }).notes,
    [
      'image updates are not watched: with SWARM_RESOLVE_IMAGE=never the services name no digest (each node pulls the tag by itself)',
    ],
  )
  const check: HostCheck = { ...noted, checkedAt: '2026-12-04T00:00:00.000Z' }
  for (const trigger of ['image', 'manual', 'git'] as const)
    t.same(
      imageUpdatesFor({
        check,
        failed: undefined,
        defaultPolicy: 'apply',
        trigger,
        refused: SWARM_IMAGE_APPLY_REFUSED,
      }),
      [],
      `no moved tag is taken (${trigger})`,
    )
  t.equal(
    imageUpdatesFor({ check, failed: undefined, defaultPolicy: 'apply', trigger: 'image' }).length,
    1,
    'the same check on Compose: taken',
  )
  const record: DeployRecord = {
    stack: 'shop',
    deployedTreeHash: TREE,
    deployedRevision: 'c'.repeat(40),
    lastResult: 'completed',
    history: [],
  }
  const decision = decide({
    tree: TREE,
    check,
    record,
    owner: { kind: 'docker-cd' },
    selfHeal: true,
    adopt: false,
    imageUpdates: [],
    imageApplyRefused: SWARM_IMAGE_APPLY_REFUSED,
  })
  t.same(decision, {
    action: 'wait',
    why: `image updates are reported, not applied (${SWARM_IMAGE_APPLY_REFUSED}): ${noted.reason}`,
  })
})
