import type { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorResponses } from '../schemas/api.js'
import {
  type StackView,
  stackDetailSchema,
  stackListSchema,
  stackNameParamsSchema,
} from '../schemas/stack.js'
import {
  blobContent,
  etagOf,
  matchesIfNoneMatch,
  noSuchStack,
  stackArchive,
  stackAt,
} from '../services/content/index.js'
import { hostDetail } from '../services/host/index.js'
import type { Stack } from '../services/refresh/index.js'
import type { DeployRecord } from '../services/sync/index.js'

// The desired state for its consumers: the stack list, one stack, its
// Compose file and its directory as an archive — all from the snapshot the
// cache holds and the bare mirror, so nobody clones the repository again.

/** The revision a content answer comes from. */
const REVISION_HEADER = 'x-docker-cd-revision'

const view = (stack: Stack): StackView => ({
  path: stack.path,
  composeFile: stack.composeFile,
  composeHash: stack.composeHash,
  status: stack.status,
  treeHash: stack.treeOid,
  ...(stack.health ? { health: stack.health } : {}),
  ...(stack.reason ? { reason: stack.reason } : {}),
})

/** What a stack's detail shows of its deploy record. */
const deployView = (record: DeployRecord) => ({
  ...(record.deployedRevision ? { deployedRevision: record.deployedRevision } : {}),
  ...(record.deployedTreeHash ? { deployedTreeHash: record.deployedTreeHash } : {}),
  ...(record.deployedAt ? { deployedAt: record.deployedAt } : {}),
  ...(record.deployedImages ? { deployedImages: record.deployedImages } : {}),
  ...(record.failedImages ? { failedImages: record.failedImages } : {}),
  ...(record.lastResult ? { lastResult: record.lastResult } : {}),
  ...(record.error && record.lastResult !== 'completed' ? { error: record.error } : {}),
  ...(record.rolledBackTo ? { rolledBackTo: record.rolledBackTo } : {}),
})

const stackRoutes: FastifyPluginAsyncZod = async (app) => {
  // Snapshots are immutable, so each one's list is validated and serialised
  // once, not per request (this route is what dashboards and reconcilers poll).
  // A stack's status, health or reason changing swaps the snapshot whole, so
  // a cached body never outlives what it says.
  const serialised = new WeakMap<readonly Stack[], Buffer>()
  const bodyFor = (stacks: readonly Stack[]) => {
    let body = serialised.get(stacks)
    if (body === undefined) {
      body = Buffer.from(JSON.stringify(stackListSchema.parse(stacks.map(view))))
      serialised.set(stacks, body)
    }
    return body
  }

  /** The stack named in the URL, from the current snapshot, or a 404. */
  const stackFor = (name: string) => {
    const found = stackAt(app.desiredState.current(), name)
    if (!found) throw app.httpErrors.notFound(noSuchStack(name))
    return found
  }

  const contentResponses = {
    304: z.null().describe('Not modified: If-None-Match names the current ETag'),
    400: errorResponses[400],
    403: errorResponses[403].describe(
      'API_TOKEN is not configured and the client is not on this host: repository contents are not served',
    ),
    404: errorResponses[404],
    500: errorResponses[500],
  }
  const limitResponses = {
    429: errorResponses[429].describe('This client holds too many downloads; see Retry-After'),
    503: errorResponses[503].describe('The service serves too many downloads; see Retry-After'),
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

  app.get(
    '/api/stacks/:name',
    {
      schema: {
        tags: ['state'],
        summary: "One stack, with its tree hash, when it last changed, and the host's view of it",
        params: stackNameParamsSchema,
        response: {
          200: stackDetailSchema,
          400: errorResponses[400],
          404: errorResponses[404],
          500: errorResponses[500],
        },
      },
    },
    async (request) => {
      const { stack, revision } = stackFor(request.params.name)
      const host = app.host?.state(stack.path)
      const detail = host ? hostDetail(host) : undefined
      const record = app.sync?.record(stack.path)
      return {
        ...view(stack),
        revision,
        changedAt: stack.changedAt,
        changedRevision: stack.changedRevision,
        ...(stack.firstLook ? { firstLook: true as const } : {}),
        ...(stack.changedSubject ? { changedSubject: stack.changedSubject } : {}),
        ...(detail
          ? {
              ...detail,
              sync: {
                ...detail.sync,
                // Host paths from the Compose file: repository content, as the file itself.
                ...(app.mayReadContent(request) ? {} : { notes: undefined }),
                // The stack's reason as its status carries it (one view with the list and the feed).
                reason: stack.reason ?? '',
                ...(record ? deployView(record) : {}),
              },
            }
          : {}),
        ...(record ? { history: record.history } : {}),
      }
    },
  )

  /**
   * One content route: a stack's bytes, addressed by one of its hashes. The
   * ETag is that hash, so `If-None-Match` with it answers 304 without git.
   */
  const contentRoute = (spec: {
    path: string
    summary: string
    description: string
    type: string
    etagOf: (stack: Stack) => string
    headers?: (stack: Stack) => Record<string, string>
    body: (stack: Stack, log: FastifyBaseLogger) => Readable
    /** Long downloads: bounded per client and in total, ended when the client stops reading. */
    limited?: boolean
  }) =>
    app.get(
      spec.path,
      {
        // Without API_TOKEN: for clients on this host only (plugins/content-access.ts).
        config: { repositoryContent: true },
        schema: {
          tags: ['content'],
          summary: spec.summary,
          description: `${spec.description} \`If-None-Match\` with the ETag answers 304. \`X-Docker-CD-Revision\` names the revision. Without API_TOKEN, only clients on this host (loopback) get repository contents; others get 403.`,
          params: stackNameParamsSchema,
          produces: [spec.type],
          response: {
            200: z.string().describe(`The content (${spec.type})`),
            ...contentResponses,
            ...(spec.limited ? limitResponses : {}),
          },
        },
      },
      async (request, reply) => {
        const { stack, revision } = stackFor(request.params.name)
        const etag = etagOf(spec.etagOf(stack))
        reply.header('etag', etag).header(REVISION_HEADER, revision)
        if (matchesIfNoneMatch(request.headers['if-none-match'], etag))
          return reply.code(304).send(null)
        if (spec.limited) app.streamLimits.holdDownload(request, reply)
        // A stream is sent as is; the type provider only knows the schema's string.
        return reply
          .type(spec.type)
          .headers(spec.headers?.(stack) ?? {})
          .send(spec.body(stack, request.log) as unknown as string)
      },
    )

  contentRoute({
    path: '/api/stacks/:name/compose',
    summary: "The stack's Compose file, byte for byte",
    description:
      'The exact bytes at the snapshot revision (their SHA-256 is `composeHash`). `ETag` is the quoted `composeHash`.',
    type: 'application/yaml',
    etagOf: (stack) => stack.composeHash,
    body: (stack) => blobContent(app.gitReader, stack.blobOid),
  })

  contentRoute({
    path: '/api/stacks/:name/archive',
    summary: 'The stack directory as a gzipped tar, streamed',
    description:
      'Regular files and directories with their modes, named relative to the stack directory; symlinks, submodules and names that are not valid UTF-8 are left out. `ETag` is the quoted tree hash. At most 4 downloads per client and 32 in all at a time (beyond: 429 / 503 with `Retry-After`); a download whose client reads nothing for 60 s is ended.',
    type: 'application/gzip',
    limited: true,
    etagOf: (stack) => stack.treeOid,
    headers: (stack) => ({
      'content-disposition': `attachment; filename="${encodeURIComponent(stack.path)}.tar.gz"`,
    }),
    body: (stack, log) =>
      stackArchive(app.gitReader, stack.treeOid, (skipped) =>
        log.warn(
          { stack: stack.path, skipped },
          'archive: entries skipped, their names are not valid UTF-8',
        ),
      ),
  })
}

export default stackRoutes
