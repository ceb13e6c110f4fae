import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorResponses } from '../schemas/api.js'
import { stackNameParamsSchema } from '../schemas/stack.js'
import {
  CONTENT_REFUSED,
  foreignOriginReason,
  secretsEqual,
  sessionCookie,
  sessionCookieMatches,
  sessionValue,
} from '../services/base/index.js'
import {
  blobPrefix,
  createCommitSubjects,
  noSuchStack,
  stackAt,
} from '../services/content/index.js'
import { plainEntries } from '../services/git/index.js'
import { isSopsDocument, sopsFormatOf } from '../services/secrets/index.js'
import {
  assetNamed,
  renderFilePage,
  renderLoginPage,
  renderStackList,
  renderStackPage,
} from '../services/ui/index.js'

// The dashboard: GET /ui (every stack), GET /ui/stacks/{name} (one stack:
// plan, containers, files, history, the Sync button) and its files, all
// server-rendered and kept live by a small script on /api/events; the
// content-hashed assets. With API_TOKEN set the pages ask for the token
// once (POST /ui/login) and keep a session cookie (services/base/session-cookie.ts),
// which the API accepts too; POST /ui/logout ends it.

const FILE_SHOWN_BYTES = 256 * 1024

const uiRoutes: FastifyPluginAsyncZod = async (app) => {
  const token = app.config.apiToken
  const subjects = createCommitSubjects(app.gitReader)
  // The login form posts `token=…` (no other body is read here).
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  )
  const html = (reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
  /** With API_TOKEN: the login form (401) unless this browser has a session. */
  const loggedOut = (request: FastifyRequest, reply: FastifyReply) => {
    if (!token || sessionCookieMatches(request.headers.cookie, token)) return false
    html(reply).code(401).send(renderLoginPage(app.config))
    return true
  }
  const loggedIn = (request: FastifyRequest) =>
    token !== undefined && sessionCookieMatches(request.headers.cookie, token)
  const secure = (request: FastifyRequest) => request.protocol === 'https'
  /**
   * Login and logout only from the dashboard's own page: a cross-site attempt
   * neither counts toward the lockout nor ends the operator's session.
   */
  const refuseForeignForm = (request: FastifyRequest) => {
    const reason = foreignOriginReason(request.headers, `${request.protocol}://${request.host}`)
    if (reason)
      throw app.httpErrors.forbidden(
        `${reason}; the dashboard's login and logout accept only its own forms`,
      )
  }
  const pageSchema = { produces: ['text/html'], response: { 200: z.string(), 401: z.string() } }

  app.get(
    '/ui',
    { schema: { summary: 'Dashboard: every stack, live', ...pageSchema } },
    async (request, reply) => {
      if (loggedOut(request, reply)) return reply
      const snapshot = app.desiredState.current()
      const deployedOf = (path: string) => {
        const record = app.sync?.record(path)
        return record?.deployedTreeHash
          ? { tree: record.deployedTreeHash, revision: record.deployedRevision }
          : undefined
      }
      subjects.remember(snapshot.stacks)
      await subjects.read(
        snapshot.stacks.flatMap((stack) => [
          stack.changedRevision,
          deployedOf(stack.path)?.revision,
        ]),
      )
      return html(reply).send(
        renderStackList(app.config, snapshot, {
          loggedIn: loggedIn(request),
          deployedOf,
          subjectOf: subjects.get,
          notifications: app.notify.status(),
          ...(app.host && app.host.runtime.name !== 'undecided'
            ? { target: app.host.runtime.name }
            : {}),
        }),
      )
    },
  )

  app.post(
    '/ui/login',
    {
      schema: {
        summary: 'Dashboard login: the API token, once, for a session cookie',
        produces: ['text/html'],
        body: z.object({ token: z.string().max(1024) }),
        response: {
          303: z.string(),
          401: z.string(),
          403: errorResponses[403].describe('Posted from another origin'),
          404: z.string(),
        },
      },
    },
    async (request, reply) => {
      refuseForeignForm(request)
      if (!token) return reply.redirect('/ui', 303)
      await app.rejections.check(request)
      if (!secretsEqual(request.body.token, token)) {
        await app.rejections.record(request)
        return html(reply).code(401).send(renderLoginPage(app.config, 'That is not the API token.'))
      }
      reply.header('set-cookie', sessionCookie(sessionValue(token), secure(request)))
      return reply.redirect('/ui', 303)
    },
  )

  app.post(
    '/ui/logout',
    {
      schema: {
        summary: 'Dashboard logout: the session cookie is cleared',
        response: {
          303: z.string(),
          403: errorResponses[403].describe('Posted from another origin'),
        },
      },
    },
    async (request, reply) => {
      refuseForeignForm(request)
      reply.header('set-cookie', sessionCookie('', secure(request)))
      return reply.redirect('/ui', 303)
    },
  )

  /** The stack of the URL at the current snapshot, or a 404. */
  const stackFor = (name: string) => {
    const found = stackAt(app.desiredState.current(), name)
    if (!found) throw app.httpErrors.notFound(noSuchStack(name))
    return found
  }

  app.get(
    '/ui/stacks/:name',
    {
      schema: {
        summary: 'Dashboard: one stack (plan, containers, files, history, Sync)',
        params: stackNameParamsSchema,
        ...pageSchema,
      },
    },
    async (request, reply) => {
      if (loggedOut(request, reply)) return reply
      const { stack } = stackFor(request.params.name)
      const record = app.sync?.record(stack.path)
      const { entries } = plainEntries(await app.gitReader.listTree(stack.treeOid))
      const contentShown = app.mayReadContent(request)
      const compose = contentShown
        ? await blobPrefix(app.gitReader, stack.blobOid, FILE_SHOWN_BYTES)
        : undefined
      subjects.remember(app.desiredState.current().stacks)
      await subjects.read([stack.changedRevision, record?.deployedRevision])
      return html(reply).send(
        renderStackPage(app.config, {
          stack,
          subjectOf: subjects.get,
          check: app.host?.state(stack.path),
          record,
          files: entries.map((entry) => ({
            path: entry.path,
            type: entry.type === 'tree' ? 'tree' : 'blob',
          })),
          composeText: compose?.content.toString('utf8'),
          contentHidden: contentShown ? undefined : CONTENT_REFUSED,
          syncUnavailable: !app.sync
            ? 'SYNC_MODE=off: docker-cd does not touch the host.'
            : !token
              ? 'Manual sync needs API_TOKEN configured (it changes the host).'
              : undefined,
          loggedIn: loggedIn(request),
        }),
      )
    },
  )

  app.get(
    '/ui/stacks/:name/files/*',
    {
      // Without API_TOKEN: for clients on this host only (plugins/content-access.ts).
      config: { repositoryContent: true },
      schema: {
        summary: 'Dashboard: one file of a stack',
        params: stackNameParamsSchema.extend({ '*': z.string().min(1) }),
        ...pageSchema,
      },
    },
    async (request, reply) => {
      if (loggedOut(request, reply)) return reply
      const { stack } = stackFor(request.params.name)
      const path = request.params['*']
      const { entries } = plainEntries(await app.gitReader.listTree(stack.treeOid))
      const entry = entries.find((e) => e.type === 'blob' && e.path === path)
      if (!entry) throw app.httpErrors.notFound(`no file "${path}" in stack ${stack.path}`)
      const { content, truncated } = await blobPrefix(app.gitReader, entry.oid, FILE_SHOWN_BYTES)
      return html(reply).send(
        renderFilePage(app.config, {
          stack: stack.path,
          path,
          content,
          truncated,
          loggedIn: loggedIn(request),
          // Read whole for the check only when the prefix is (a SOPS file of secrets is small).
          encrypted: !truncated && isSopsDocument(content, sopsFormatOf(path)),
        }),
      )
    },
  )

  app.get(
    '/ui/assets/:file',
    {
      schema: {
        hide: true,
        params: z.object({ file: z.string() }),
      },
    },
    async (request, reply) => {
      const asset = assetNamed(request.params.file)
      if (!asset) throw app.httpErrors.notFound(`no asset "${request.params.file}"`)
      // The name holds the content's hash: a new build is a new name.
      reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable')
      return asset.body
    },
  )
}

export default uiRoutes
