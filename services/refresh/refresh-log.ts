import { INTERNAL_DIR } from '../base/index.js'
import type { RefreshObserver } from './controller.js'

type Log = {
  info: (object: object, message: string) => void
  warn: (object: object, message: string) => void
  error: (object: object, message: string) => void
}

// Log lines for the refresh lifecycle: start and finish at `info`, skipped
// directories and warnings at `warn`, failures at `error`. A failure before any good
// state (startup) says so instead of claiming a last good state that does
// not exist.
export function createRefreshLog(log: Log): RefreshObserver {
  return {
    refreshStarted({ trigger }) {
      log.info({ trigger }, 'refresh started')
    },
    refreshFinished(outcome) {
      const fields = {
        trigger: outcome.trigger,
        revision: outcome.revision,
        durationMs: Math.round(outcome.durationMs),
      }
      if (outcome.skipped.length > 0) {
        log.warn(
          { ...fields, skipped: outcome.skipped },
          `directories skipped: names that are not valid UTF-8, or that no file system may see ('.', '..', '.git', empty, holding '/'), or ${JSON.stringify(INTERNAL_DIR)} (docker-cd's own files); rename them to deploy them`,
        )
      }
      for (const warning of outcome.warnings) log.warn(fields, warning)
      if (outcome.status === 'completed') {
        log.info(
          {
            ...fields,
            stacks: outcome.stackCount,
            changes: outcome.changes,
            hashed: outcome.hashed,
            steps: outcome.steps,
          },
          'refresh finished',
        )
        return
      }
      // Stopped because the service is shutting down (a busy port at
      // startup, SIGTERM): nothing went wrong with Git, nothing to report.
      if (outcome.error?.reason === 'aborted') {
        log.info({ ...fields, reason: 'aborted' }, 'refresh stopped: shutting down')
        return
      }
      log.error(
        { ...fields, reason: outcome.error?.reason, error: outcome.message },
        outcome.previousRevision === null
          ? 'refresh failed; no good state yet'
          : 'refresh failed; keeping the last good state',
      )
    },
    stackStatusChanged({ path, from, to, reason }) {
      log.info({ stack: path, from, to, reason }, 'stack status changed')
    },
  }
}
