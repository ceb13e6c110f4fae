import { join } from 'node:path'
import type { GitReader } from '../git/index.js'
import type { HostCheck, HostMonitor, ImagePolicy, StackRuntime } from '../host/index.js'
import type { Snapshot } from '../refresh/index.js'
import { decide, driftOf, ownerOf } from './decide.js'
import { imageUpdatesFor } from './image-updates.js'
import type { SyncDriftChecked } from './observers.js'
import { type DeployRecords, type SyncTrigger, withDeployedTree } from './records.js'
import type { SyncStatus } from './status.js'
import type { SyncTiming } from './timing.js'

// What the reconciler does about one stack after a new check of it (apply
// mode): the pure decision (decide.ts: only what Git changed, only what
// docker-cd owns), then its consequences — wait with the reason, record a
// tree the host already runs, hold self-heal back while it backs off, or
// queue a deploy. With SYNC_MODE=detect nothing is decided except finishing
// a deploy docker-cd itself left half-done.

export function createSyncDecisions(options: {
  mode: 'detect' | 'apply'
  selfHeal: boolean
  adopt: boolean
  /** IMAGE_UPDATES: the image policy of a service and stack that name none. */
  imagePolicy: ImagePolicy
  stacksDir: string
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'state'>
  runtime: Pick<StackRuntime, 'deployedFrom' | 'imageApplyRefused'>
  records: DeployRecords
  git: Pick<GitReader, 'keepTree'>
  status: SyncStatus
  timing: SyncTiming
  /** A stack that is running or already queued is not decided about again. */
  busy: (path: string) => boolean
  enqueue: (path: string, trigger: SyncTrigger) => void
  /** A stack docker-cd deployed, checked against that tree (drifted or in line), in any mode. */
  driftChecked?: (event: SyncDriftChecked) => void
  log: { info(details: object, message: string): void }
  now: () => Date
}) {
  const { status, timing, records, now } = options

  /** Decides about a stack after its host check (and after its run). */
  function consider(path: string) {
    if (options.busy(path)) return
    const stack = options.current().stacks.find((s) => s.path === path)
    const check = options.monitor.state(path)
    if (!stack || !check) return
    if (timing.waitsForRetry(path, stack.treeOid)) return
    const record = records.get(path)
    // Told in detect mode too: drift on a stack docker-cd deployed is worth knowing either way.
    const drift = driftOf({ tree: stack.treeOid, check, record })
    if (drift)
      options.driftChecked?.({
        stack: path,
        revision: stack.changedRevision,
        treeHash: stack.treeOid,
        ...drift,
      })
    // SYNC_MODE=detect decides nothing, except finishing a deploy docker-cd itself left half-done.
    if (options.mode !== 'apply' && record?.inProgress?.toTree !== stack.treeOid) return
    const workTree = join(options.stacksDir, path)
    const decision = decide({
      tree: stack.treeOid,
      check,
      record,
      owner: ownerOf(record, options.runtime.deployedFrom(check, workTree)),
      selfHeal: options.selfHeal,
      adopt: options.adopt,
      imageUpdates: imageUpdatesFor({
        check,
        failed: record?.failedImages,
        defaultPolicy: options.imagePolicy,
        trigger: 'image',
        refused: options.runtime.imageApplyRefused,
      }),
      imageApplyRefused: options.runtime.imageApplyRefused,
    })
    if (decision.action === 'wait') {
      if (options.mode === 'apply') status.wait(path, decision.why)
      return
    }
    if (options.mode !== 'apply' && decision.action === 'deploy' && decision.trigger !== 'recover')
      return
    status.clear(path)
    if (decision.action === 'record') {
      void noteDeployed(path, stack.treeOid, check)
      return
    }
    if (decision.trigger === 'self-heal' && healBacksOff(path, decision.why)) return
    options.log.info(
      { stack: path, trigger: decision.trigger, reason: decision.why },
      'sync queued',
    )
    options.enqueue(path, decision.trigger)
  }

  /** Self-heal is backing off for this stack: it waits, with until when, and looks again then. */
  function healBacksOff(path: string, why: string): boolean {
    const blocked = timing.healBlocked(path)
    if (!blocked) {
      timing.healed(path)
      return false
    }
    status.wait(
      path,
      `${why}; self-heal backs off until ${blocked.until.toISOString()} (${blocked.count} re-apply${blocked.count === 1 ? '' : 's'} in the last hour)`,
    )
    timing.later(path, blocked.until.getTime() - now().getTime() + 10, () => {
      status.clear(path)
      consider(path)
      status.publish(path)
    })
    return true
  }

  /** The host already runs this tree from docker-cd's work tree: the record says so now. */
  async function noteDeployed(path: string, tree: string, check: HostCheck) {
    // The commit this stack's tree came with, not the repository's head (another stack's commit).
    const revision = options.current().stacks.find((s) => s.path === path)?.changedRevision ?? ''
    const project = check.project ? { project: check.project } : {}
    await records.set(path, (record) =>
      withDeployedTree(record, { tree, revision, at: now(), ...project }),
    )
    await options.git.keepTree(path, tree).catch(() => {})
    status.publish(path) // a stack that waits for this one may go now
  }

  return { consider }
}
