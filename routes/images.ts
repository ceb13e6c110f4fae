import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { imageCheckSchema } from '../schemas/images.js'

// POST /api/images/check: asks the registries about every watched tag now
// (image updates, detect), whatever answers are kept, and answers when the
// round is done with what it found. It makes the service call out to
// registries, so, like a manual sync, it exists only behind the API token.
const imageRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/api/images/check',
    {
      bodyLimit: 64,
      schema: {
        tags: ['host'],
        summary: 'Ask the registries about the image tags in use now',
        description:
          "Image updates (IMAGE_UPDATES / `x-docker-cd.image_updates: detect|apply`): one manifest HEAD per watched repository and tag, answered when every stack's findings are known. A stack with a moved tag reads `out_of_sync` with an `update` plan entry; with `apply` (and SYNC_MODE=apply) it is then deployed as a sync run with trigger `image` (pull, up, health gate; the previous image put back by id if it fails); on Swarm, `apply` acts as `detect` (docs/swarm.md). Refused with 403 unless API_TOKEN is configured (it makes the service call out), 409 with SYNC_MODE=off.",
        response: {
          200: imageCheckSchema,
          400: errorResponses[400],
          403: errorResponses[400].describe('API_TOKEN is not configured: the check is off'),
          409: errorResponses[400].describe('SYNC_MODE=off: docker-cd does not read the host'),
          413: errorResponses[413],
          503: errorResponses[503],
        },
      },
    },
    async () => {
      if (!app.config.apiToken)
        throw app.httpErrors.forbidden(
          'an image check makes docker-cd call out to registries: it needs API_TOKEN configured (and sent as a Bearer token)',
        )
      const host = app.host
      if (!host) throw app.httpErrors.conflict('SYNC_MODE=off: docker-cd does not read the host')
      await host.checkImages()
      return {
        stacks: app.desiredState
          .current()
          .stacks.map((stack) => ({ path: stack.path, found: host.imageFindings(stack.path) }))
          .filter((entry) => entry.found !== undefined)
          .map(({ path, found }) => ({
            path,
            moved: found?.moved ?? [],
            problems: found?.problems ?? [],
          })),
      }
    },
  )
}

export default imageRoutes
