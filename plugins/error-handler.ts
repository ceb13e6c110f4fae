import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'

// One error handler for the whole API: every error body is JSON in Fastify's
// `{statusCode, error, message}` shape, and no route builds one by hand
// (they throw `app.httpErrors.*`). Unexpected 5xx details stay in the log;
// a 5xx thrown on purpose with `expose: true` (e.g. "not ready yet") keeps
// its message.
export default fp(
  async (app) => {
    app.setErrorHandler(
      (
        error: FastifyError & { expose?: boolean; headers?: Record<string, string> },
        request,
        reply,
      ) => {
        const statusCode =
          typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
            ? error.statusCode
            : 500
        if (statusCode >= 500 && error.expose !== true) {
          request.log.error({ err: error }, 'request failed')
          return reply.code(statusCode).send({
            statusCode,
            error: STATUS_CODES[statusCode] ?? 'Error',
            message: `${STATUS_CODES[statusCode] ?? 'Error'} (request id ${request.id})`,
          })
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
        return reply
          .code(statusCode)
          .send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message })
      },
    )

    app.setNotFoundHandler(async (request) => {
      throw app.httpErrors.notFound(
        `Route ${request.method}:${request.url.split('?')[0]} not found`,
      )
    })
  },
  { name: 'error-handler', dependencies: ['sensible'] },
)
