import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { stackNameParamsSchema } from '../schemas/stack.js'
import {
  secretsEqual,
  sessionCookie,
  sessionCookieMatches,
  sessionValue,
} from '../services/base/index.js'
import { findStack } from '../services/content/index.js'
import { plainEntries } from '../services/git/index.js'
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
      await readSubjects(
        snapshot.stacks.flatMap((stack) => [
          stack.changedRevision,
          deployedOf(stack.path)?.revision,
        ]),
      )
      return html(reply).send(
        renderStackList(
          app.config,
          snapshot,
          (path) => app.sync?.reasonOf(path) ?? app.host?.state(path)?.reason,
          { loggedIn: loggedIn(request), deployedOf, subjectOf: (rev) => subjects.get(rev) },
        ),
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
        response: { 303: z.string(), 401: z.string(), 404: z.string() },
      },
    },
    async (request, reply) => {
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
        response: { 303: z.string() },
      },
    },
    async (request, reply) => {
      reply.header('set-cookie', sessionCookie('', secure(request)))
      return reply.redirect('/ui', 303)
    },
  )

  /** The stack of the URL at the current snapshot, or a 404. */
  const stackFor = (name: string) => {
    const snapshot = app.desiredState.current()
    const stack = findStack(snapshot, name)
    if (!stack || snapshot.revision === null)
      throw app.httpErrors.notFound(`no stack "${name}" at the cached revision`)
    return { stack, revision: snapshot.revision }
  }

  /** Up to `max` bytes of a blob, and whether there was more. */
  async function blobPrefix(oid: string, max: number) {
    const stream = app.gitReader.streamObjects([oid])
    const pieces: Buffer[] = []
    let size = 0
    let truncated = false
    try {
      for await (const object of stream.objects) {
        if (object.missing) throw new Error(`object ${oid} is missing from the mirror`)
        for await (const piece of object.content) {
          pieces.push(piece as Buffer)
          size += (piece as Buffer).length
          if (size > max) {
            truncated = true
            break
          }
        }
        if (truncated) break
      }
    } finally {
      stream.stop()
    }
    return { content: Buffer.concat(pieces).subarray(0, max), truncated }
  }

  /** First lines of commit messages, by revision (the mirror keeps the commits it fetched). */
  const subjects = new Map<string, string | undefined>()
  async function readSubjects(revisions: readonly (string | undefined)[]) {
    const wanted = [...new Set(revisions)].filter(
      (rev): rev is string => rev !== undefined && /^[0-9a-f]{40}$/.test(rev) && !subjects.has(rev),
    )
    if (wanted.length === 0) return
    if (subjects.size + wanted.length > 2000) subjects.clear()
    // One batch read; a commit the shallow mirror lacks reads as unknown.
    const objects = await app.gitReader.readByOid(wanted).catch(() => new Map<string, Buffer>())
    for (const rev of wanted) {
      const body = objects.get(rev)?.toString('utf8').split('\n\n').slice(1).join('\n\n')
      subjects.set(rev, body?.split('\n')[0]?.trim() || undefined)
    }
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
      const { stack, revision } = stackFor(request.params.name)
      const record = app.sync?.record(stack.path)
      const { entries } = plainEntries(await app.gitReader.listTree(stack.treeOid))
      const compose = await blobPrefix(stack.blobOid, FILE_SHOWN_BYTES)
      await readSubjects([revision, record?.deployedRevision])
      return html(reply).send(
        renderStackPage(app.config, {
          stack,
          revision,
          subjectOf: (rev) => subjects.get(rev),
          check: app.host?.state(stack.path),
          reason: app.sync?.reasonOf(stack.path) ?? app.host?.state(stack.path)?.reason,
          record,
          files: entries.map((entry) => ({
            path: entry.path,
            type: entry.type === 'tree' ? 'tree' : 'blob',
          })),
          composeText: compose.content.toString('utf8'),
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
      const { content, truncated } = await blobPrefix(entry.oid, FILE_SHOWN_BYTES)
      return html(reply).send(
        renderFilePage(app.config, {
          stack: stack.path,
          path,
          content,
          truncated,
          loggedIn: loggedIn(request),
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
