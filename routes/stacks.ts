import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { type StackView, stackListSchema } from '../schemas/stack.js'
import type { Stack } from '../services/snapshot.js'

// GET /api/stacks: the cached stacks, sorted by path. Snapshots are
// immutable, so each one is validated and serialised once, not per request
// (this route is what dashboards and the reconciler poll).
const stackRoutes: FastifyPluginAsyncZod = async (app) => {
  const serialised = new WeakMap<readonly Stack[], Buffer>()
  const bodyFor = (stacks: readonly Stack[]) => {
    let body = serialised.get(stacks)
    if (body === undefined) {
      const view = stackListSchema.parse(
        stacks.map(({ path, composeFile, composeHash, status }) => ({
          path,
          composeFile,
          composeHash,
          status,
        })),
      )
      body = Buffer.from(JSON.stringify(view))
      serialised.set(stacks, body)
    }
    return body
  }

  app.get(
    '/api/stacks',
    {
      schema: {
        tags: ['state'],
        summary: 'Stacks of the desired state',
        response: { 200: stackListSchema, 500: errorResponses[500] },
      },
    },
    async (_request, reply) => {
      // A Buffer is sent as is: it was validated and serialised above.
      // (The type provider only knows the schema's shape, hence the cast.)
      const body = bodyFor(app.desiredState.current().stacks) as unknown as StackView[]
      return reply.type('application/json; charset=utf-8').send(body)
    },
  )
}

export default stackRoutes
