import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { withoutUnusedSchemas } from '../services/base/index.js'

// The OpenAPI document is generated from the routes' zod schemas. It must be
// registered (and awaited) before the routes it describes.
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'docker-cd',
          description:
            'Desired-state cache of a GitOps agent for Docker Compose hosts: stacks discovered in Git, their Compose hashes and sync status, and how to refresh them.',
          version: '0.1.0',
        },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description: 'API_TOKEN; required on /api/* except the webhook when it is set',
            },
          },
        },
        tags: [
          { name: 'refresh', description: 'Refresh the cache from Git' },
          { name: 'state', description: 'Read the cached desired state' },
          { name: 'host', description: 'What the Docker engine runs' },
          { name: 'sync', description: 'Apply stacks to the Docker host' },
          {
            name: 'notifications',
            description:
              'Messages to chat, push and e-mail channels; commit statuses on the Git host',
          },
        ],
      },
      transform: jsonSchemaTransform,
      transformObject: (input) => withoutUnusedSchemas(jsonSchemaTransformObject(input)),
    })
  },
  { name: 'openapi' },
)
