import Fastify, { type FastifyBaseLogger, type FastifyServerOptions } from 'fastify'
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import apiAuthPlugin from './plugins/api-auth.js'
import configPlugin from './plugins/config.js'
import contentAccessPlugin from './plugins/content-access.js'
import desiredStatePlugin from './plugins/desired-state.js'
import dockerEnginePlugin from './plugins/docker-engine.js'
import errorHandlerPlugin, { sendError } from './plugins/error-handler.js'
import eventFeedPlugin from './plugins/event-feed.js'
import gitReaderPlugin from './plugins/git-reader.js'
import healthPlugin from './plugins/health.js'
import hostPlugin, { type HostPluginOptions } from './plugins/host.js'
import metricsPlugin from './plugins/metrics.js'
import notifyPlugin, { type NotifyPluginOptions } from './plugins/notify.js'
import openapiPlugin from './plugins/openapi.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import { RequestLogController } from './plugins/request-log.js'
import routeTablePlugin from './plugins/route-table.js'
import securityHeadersPlugin from './plugins/security-headers.js'
import sensiblePlugin from './plugins/sensible.js'
import streamLimitsPlugin, { type StreamLimitOptions } from './plugins/stream-limits.js'
import syncPlugin from './plugins/sync.js'
import docsRoutes from './routes/docs.js'
import eventsRoutes from './routes/events.js'
import hostRoutes from './routes/host.js'
import imageRoutes from './routes/images.js'
import notificationRoutes from './routes/notifications.js'
import operationsRoutes from './routes/operations.js'
import refreshRoutes from './routes/refresh.js'
import stackRoutes from './routes/stacks.js'
import statusPageRoutes from './routes/status-page.js'
import syncRoutes from './routes/sync.js'
import uiRoutes from './routes/ui.js'
import webhookRoutes from './routes/webhook.js'
import type { Config } from './schemas/config.js'
import type { RefreshOutcome } from './services/refresh/index.js'
import {
  createDesiredState,
  type DesiredStateOptions,
  type DesiredStateServices,
} from './services/refresh/index.js'

export type AppOptions = {
  config: Config
  logger?: FastifyServerOptions['logger']
  /** A ready pino instance (main.ts); takes precedence over `logger`. */
  loggerInstance?: FastifyBaseLogger
  /**
   * The desired-state services, when the caller built them first (main.ts
   * starts the startup refresh before Fastify has loaded; it then also logs
   * refreshes itself). Built here otherwise.
   */
  desiredState?: DesiredStateServices
  /** Heartbeat comment interval of GET /api/events (15 s; tests shorten it). */
  eventsHeartbeatMs?: number
  /** Event-loop delay past which every route answers 503 (1 s; tests lower it). */
  maxEventLoopDelayMs?: number
  /** Time a client has to send a whole request, body included (30 s; tests lower it). */
  requestTimeoutMs?: number
  /** Rejected requests per client and minute before 429 (10; tests raise it). */
  rejectionsPerMinute?: number
  /** Bounds on archive downloads and event subscriptions (defaults in plugins/stream-limits.ts). */
  streamLimits?: StreamLimitOptions
  /** Back-offs of self-heal and engine retries (defaults in services/sync/reconciler.ts; tests shorten them). */
  sync?: Omit<HostPluginOptions, 'composeCommand'>
  /** The Compose binary (tests: a wrapper that records argv and environment). */
  composeCommand?: string
  /** Delivery timeouts and retries of notifications and commit statuses (tests shorten them). */
  notify?: NotifyPluginOptions
} & Pick<DesiredStateOptions, 'backoffInitialMs'>

const hopsTrusted = (hops: number) => (_address: string, hop: number) => hop < hops

// Builds the Fastify instance: plugins first (each decorates one thing), then
// routes. main.ts listens; tests use `inject`.
export async function buildApp(options: AppOptions) {
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? false }),
    bodyLimit: 1024 * 1024,
    // TRUST_PROXY: behind a reverse proxy, clients are told apart by
    // X-Forwarded-For (rejection limiter, stream limits, logs). Off by
    // default: trusted blindly, any client could claim any address.
    // A hop count trusts that many proxies in front (as proxy-addr reads a number).
    trustProxy:
      typeof options.config.trustProxy === 'number'
        ? hopsTrusted(options.config.trustProxy)
        : options.config.trustProxy,
    return503OnClosing: true,
    // A client must send its whole request (headers in 10 s, everything in
    // 30 s) or get a 408 and lose the connection: slow bodies cannot hold
    // connections forever. Node checks these every second here (30 s by
    // default). Responses are not limited: `?wait=true` and the event
    // stream legitimately stay open for long, so no idle-connection timeout
    // (`connectionTimeout`) either; idle keep-alive connections end after
    // Fastify's 72 s.
    requestTimeout,
    http: {
      requestTimeout,
      headersTimeout: Math.min(10_000, requestTimeout),
      connectionsCheckingInterval: Math.min(1_000, requestTimeout / 2),
    },
    logController: new RequestLogController(),
    // Stack names may be 255 bytes (percent-encoded, more): longer ones get
    // the schema's 400 instead of the router's 414; past this, 414.
    routerOptions: { maxParamLength: 1024 },
    // Errors raised before routing (a parameter past that limit, a bad URL)
    // get the same body shape as every other error.
    frameworkErrors: sendError,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)

  await app.register(configPlugin, { config: options.config })
  await app.register(sensiblePlugin)
  await app.register(securityHeadersPlugin)
  await app.register(errorHandlerPlugin)
  await app.register(openapiPlugin)
  // Before any route is registered, so that every route gets its protection
  // decided (api-auth) and is listed (route-table).
  await app.register(rateLimitPlugin, { rejectionsPerMinute: options.rejectionsPerMinute })
  await app.register(apiAuthPlugin)
  await app.register(contentAccessPlugin)
  await app.register(routeTablePlugin)
  await app.register(healthPlugin, { maxEventLoopDelayMs: options.maxEventLoopDelayMs })
  await app.register(metricsPlugin)
  await app.register(streamLimitsPlugin, options.streamLimits ?? {})
  const services =
    options.desiredState ??
    createDesiredState(options.config, {
      warn: (error) => app.log.warn({ err: error }, 'stack history'),
      backoffInitialMs: options.backoffInitialMs,
      onObserverError: (error) => app.log.error({ err: error }, 'refresh observer failed'),
    })
  await app.register(gitReaderPlugin, { services })
  await app.register(desiredStatePlugin, { services, logRefreshes: !options.desiredState })
  await app.register(eventFeedPlugin)
  await app.register(dockerEnginePlugin)
  await app.register(notifyPlugin, options.notify ?? {})
  await app.register(hostPlugin, {
    ...(options.composeCommand ? { composeCommand: options.composeCommand } : {}),
    ...options.sync,
  })
  await app.register(syncPlugin)

  await app.register(statusPageRoutes)
  await app.register(webhookRoutes)
  await app.register(refreshRoutes)
  await app.register(stackRoutes)
  await app.register(syncRoutes)
  await app.register(hostRoutes)
  await app.register(imageRoutes)
  await app.register(notificationRoutes)
  await app.register(uiRoutes)
  await app.register(eventsRoutes, { heartbeatMs: options.eventsHeartbeatMs })
  await app.register(operationsRoutes)
  await app.register(docsRoutes)
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>

/** The startup refresh failed: the message names the category (`auth_failed`, `timeout`, …). */
export class StartupError extends Error {
  constructor(readonly outcome: RefreshOutcome) {
    super(`startup refresh failed: ${outcome.message}`)
    this.name = 'StartupError'
  }
}

/**
 * Readies the app and runs the startup refresh, which validates repository,
 * revision and deploy directory. It runs outside Fastify's hooks, so it is
 * bounded by GIT_TIMEOUT per git command and not by the plugin timeout: a
 * first fetch of minutes still starts the service.
 */
export async function startApp(app: App): Promise<RefreshOutcome> {
  await app.ready()
  const outcome = await app.desiredState.start()
  if (outcome.status === 'failed') throw new StartupError(outcome)
  return outcome
}
