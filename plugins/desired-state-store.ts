import fp from 'fastify-plugin'
import { createDesiredStateStore } from '../services/desired-state-store.js'
import { describeRevision } from '../services/git-reader.js'

declare module 'fastify' {
  interface FastifyInstance {
    desiredState: ReturnType<typeof createDesiredStateStore>
  }
}

export default fp(
  async (app) => {
    const described = describeRevision(app.config.gitRevision)
    // Until the first refresh, a name is assumed a branch; the refresh corrects it.
    app.decorate(
      'desiredState',
      createDesiredStateStore({
        ref: described.ref,
        refType: described.commit ? 'commit' : 'branch',
      }),
    )
  },
  { name: 'desired-state-store', dependencies: ['config'] },
)
