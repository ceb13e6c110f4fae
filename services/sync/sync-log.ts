import type { SyncObserver } from './observers.js'
import type { SyncLog } from './reconciler.js'

// Log lines for sync runs, as an observer like any other: start and finish
// at `info`, failures at `error`, take-downs of stacks removed from Git.
// Decisions (why a stack is queued) are logged by the reconciler itself.
export function createSyncLog(log: SyncLog): SyncObserver {
  return {
    runStarted({ stack, trigger, fromTree, treeHash, revision }) {
      log.info({ stack, trigger, fromTree, toTree: treeHash, revision }, 'sync started')
    },
    runFinished({ stack, trigger, treeHash, revision, result, run, message, failure }) {
      const details = { stack, trigger, toTree: treeHash, revision, result }
      if (result === 'completed')
        log.info({ ...details, durationMs: run.durationMs }, 'sync finished')
      else log.error({ ...details, reason: message, failure: failure?.kind }, 'sync failed')
    },
    phase({ stack, phase, message }) {
      if (phase === 'deleting') log.info({ stack, message }, 'taking down a stack removed from Git')
    },
    stackRemoved({ stack, project, result, message }) {
      if (result === 'deleted') log.info({ stack, project }, 'stack taken down')
      else log.error({ stack, project, reason: message }, 'taking down failed')
    },
  }
}
