import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'

// One error handler for the whole API: every error is JSON in Fastify's
// `{statusCode, error, message}` shape; 5xx details stay in the log.
export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const statusCode =
        typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
          ? error.statusCode
          : 500
      if (statusCode >= 500) {
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
      return reply
        .code(statusCode)
        .send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message })
    })

    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send({
        statusCode: 404,
        error: 'Not Found',
        message: `Route ${request.method}:${request.url.split('?')[0]} not found`,
      })
    })
  },
  { name: 'error-handler' },
)
