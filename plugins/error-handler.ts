import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { SECURITY_HEADERS } from './security-headers.js'

// One error handler for the whole API: every error body is JSON in Fastify's
// `{statusCode, error, message}` shape, and no route builds one by hand
// (they throw `app.httpErrors.*`). Unexpected 5xx details stay in the log;
// a 5xx thrown on purpose with `expose: true` (e.g. "not ready yet") keeps
// its message.

type HandledError = FastifyError & { expose?: boolean; headers?: Record<string, string> }

/** Shapes and sends any error; also used for errors raised before routing (app.ts). */
export function sendError(error: HandledError, request: FastifyRequest, reply: FastifyReply) {
  // Errors raised before routing (frameworkErrors) skip the onRequest hook
  // that sets these on every other response.
  if (!reply.raw.hasHeader('content-security-policy')) reply.headers(SECURITY_HEADERS)
  const statusCode =
    typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
      ? error.statusCode
      : 500
  const name = STATUS_CODES[statusCode] ?? 'Error'
  if (statusCode >= 500 && error.expose !== true) {
    request.log.error({ err: error }, 'request failed')
    return reply
      .code(statusCode)
      .send({ statusCode, error: name, message: `${name} (request id ${request.id})` })
  }
  const message = hasZodFastifySchemaValidationErrors(error)
    ? error.validation
        .map(
          (issue) =>
            `${error.validationContext ?? 'request'}${issue.instancePath || ''} ${issue.message}`,
        )
        .join('; ')
    : error.message
  request.log.info({ statusCode, message }, 'request rejected')
  if (error.headers) reply.headers(error.headers)
  return reply.code(statusCode).send({ statusCode, error: name, message })
}

export default fp(
  async (app) => {
    app.setErrorHandler(sendError)
    app.setNotFoundHandler(async (request) => {
      throw app.httpErrors.notFound(
        `Route ${request.method}:${request.url.split('?')[0]} not found`,
      )
    })
  },
  { name: 'error-handler', dependencies: ['sensible'] },
)
