import { createReadStream } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DOCS_CONTENT_SECURITY_POLICY } from '../plugins/security-headers.js'

// GET /docs: Swagger UI over /openapi.json. The UI's files come from the
// swagger-ui-dist package and are read only when a browser asks for them:
// @fastify/swagger-ui registered a static file server (and walked its
// folder) at every start, the largest single cost of startup after module
// loading, for a page few operators open.

const ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
} as const
type Asset = keyof typeof ASSETS

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>docker-cd API</title>
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`

// A file of its own, not an inline script: the Content-Security-Policy
// (plugins/security-headers.ts) runs only scripts served by this origin.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
})
`

let assetDir: string | undefined
const assetPath = (file: Asset) => {
  assetDir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  return join(assetDir, file)
}

const docsRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const url of ['/docs', '/docs/']) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', DOCS_CONTENT_SECURITY_POLICY)
        .send(PAGE),
    )
  }
  app.get('/docs/init.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(INIT_SCRIPT),
  )
  app.get(
    '/docs/static/:file',
    {
      schema: {
        hide: true,
        params: z.object({ file: z.enum(Object.keys(ASSETS) as [Asset, ...Asset[]]) }),
      },
    },
    async (request, reply) => {
      const { file } = request.params
      return reply
        .type(ASSETS[file])
        .header('cache-control', 'public, max-age=86400')
        .send(createReadStream(assetPath(file)))
    },
  )
}

export default docsRoutes
