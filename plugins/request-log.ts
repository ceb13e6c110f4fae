import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

// Per-request log lines ("incoming request", "request completed") at
// `debug`: at `info` they were most of the log under load (85 MB a minute
// at 3,000 requests/s) and buried the refresh lines, which stay at `info`.
// A request that fails is still logged, at `error`, by Fastify and by the
// error handler. A server option (Fastify's `logController`), not a plugin.
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest) {
    if (this.isLogDisabled(request)) return
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ) {
    if (error) return super.requestCompleted(error, request, reply, metadata)
    if (this.isLogDisabled(request)) return
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
