import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { hostOverviewSchema } from '../schemas/host.js'
import { hostOverview } from '../services/host/index.js'

// GET /api/host: the engine and every Compose project on it (on a swarm:
// every stack, and its nodes), stacks and the operator's own projects alike
// (the latter listed, never touched).
const hostRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/host',
    {
      schema: {
        tags: ['host'],
        summary: 'The Docker engine and its Compose projects',
        description:
          'Read live from the engine at each request. A project with `stack` is one of this repository’s stacks; one with `removedStack` is a stack docker-cd deployed that Git no longer has; one without either is the operator’s own, left alone. With SYNC_MODE=off no project is matched to a stack. With SYNC_TARGET=swarm the projects are the swarm’s stacks (their tasks counted as containers) and `nodes` lists the swarm’s nodes. An unreachable engine is `reachable: false` with the reason (still 200).',
        response: { 200: hostOverviewSchema, 500: errorResponses[500] },
      },
    },
    async () => {
      const removedStacks = app.sync?.removed() ?? []
      const overview = await hostOverview({
        engine: app.dockerEngine,
        stackOf: (project) => app.host?.stackOfProject(project),
        ...(app.host
          ? {
              eventsConnected: app.host.eventsConnected(),
              projects: app.host.projects,
              swarmNodes: app.host.swarmNodes,
            }
          : {}),
      })
      // None while the engine has not answered yet (the runtime is `undecided`).
      const target = (['compose', 'swarm'] as const).find((t) => t === app.host?.runtime.name)
      return {
        syncMode: app.config.syncMode,
        ...(target ? { target } : {}),
        ...overview,
        projects: overview.projects.map((project) => {
          const removed = project.stack
            ? undefined
            : removedStacks.find((r) => r.project === project.name)
          return removed ? { ...project, removedStack: removed.stack } : project
        }),
        removedStacks,
      }
    },
  )
}

export default hostRoutes
