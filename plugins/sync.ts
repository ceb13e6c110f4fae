import fp from 'fastify-plugin'
import type { SyncReconciler } from '../services/sync/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Applying (services/sync/): automatic with SYNC_MODE=apply, manual syncs in detect too; null with SYNC_MODE=off. */
    sync: SyncReconciler | null
  }
}

// The reconciler, for the routes (manual sync, a stack's record, removed
// stacks). It is built with the host monitor (services/sync/host-sync.ts,
// plugins/host.ts), since each feeds the other; this only names it.
export default fp(
  async (app) => {
    app.decorate('sync', app.host?.reconciler ?? null)
  },
  { name: 'sync', dependencies: ['host'] },
)
