import fp from 'fastify-plugin'

// Headers every response carries, pages and API alike, set before routing so
// that errors, 404s and the event stream get them too:
// - Content-Security-Policy: the dashboard loads only its own content-hashed
//   script and stylesheet (services/ui/assets.ts; no inline script or style
//   anywhere), talks only to its own origin, posts forms only to itself, and
//   may not be framed by any page (`frame-ancestors 'none'`): a page on
//   another port of the same host framed the logged-in dashboard with its
//   Sync button (clickjacking). An injected <script> would not run either.
// - X-Frame-Options: DENY, for browsers that predate frame-ancestors.
// - X-Content-Type-Options: nosniff: a Compose file or archive is never
//   guessed into HTML or script.
// - Referrer-Policy: stack and file names in URLs stay on this origin.
const policy = (styleSrc: string) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src ${styleSrc}`,
    // Swagger UI (/docs) draws a few icons as data: URLs.
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')

export const CONTENT_SECURITY_POLICY = policy("'self'")
/**
 * The API documentation's page (routes/docs.ts): Swagger UI applies inline
 * styles of its own. Styles cannot run script, and the page holds no state.
 */
export const DOCS_CONTENT_SECURITY_POLICY = policy("'self' 'unsafe-inline'")

export const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
} as const

export default fp(
  async (app) => {
    app.addHook('onRequest', async (_request, reply) => {
      // On the raw response: answers written straight to the socket (the
      // event stream) carry them as well as those Fastify sends.
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(name, value)
    })
  },
  { name: 'security-headers' },
)
