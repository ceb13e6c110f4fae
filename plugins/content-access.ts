import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { CONTENT_REFUSED, mayReadContent } from '../services/base/index.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route serves repository file contents (services/base/content-access.ts). */
    repositoryContent?: boolean
  }
  interface FastifyInstance {
    /** May this request read repository file contents? (Pages leave them out when not.) */
    mayReadContent(request: FastifyRequest): boolean
  }
}

// Without API_TOKEN, repository file contents go only to clients on this
// host (services/base/content-access.ts): routes that say
// `config.repositoryContent` answer anyone else 403 before they read git.
export default fp(
  async (app) => {
    const { apiToken, trustProxy } = app.config
    const mayRead = (request: FastifyRequest) =>
      mayReadContent({
        apiToken,
        trustProxy: trustProxy !== false && trustProxy !== 0,
        peerAddress: request.raw.socket?.remoteAddress,
        clientAddress: request.ip,
        forwarded:
          request.headers['x-forwarded-for'] !== undefined ||
          request.headers.forwarded !== undefined,
      })
    app.decorate('mayReadContent', mayRead)
    if (apiToken) return
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.repositoryContent !== true) return
      if (!mayRead(request)) throw app.httpErrors.forbidden(CONTENT_REFUSED)
    })
  },
  { name: 'content-access', dependencies: ['config', 'sensible'] },
)
