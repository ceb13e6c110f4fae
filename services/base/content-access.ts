// Who may read repository file contents (the dashboard's file view and
// Compose text, /api/stacks/{name}/archive, /api/stacks/{name}/compose)?
// A stack directory holds `.env` files, passwords in Compose files and
// configuration; a default installation (no API_TOKEN) must not hand them
// to whoever reaches the port. With API_TOKEN set, the token (or the
// dashboard's session) protects them like the rest of the API. Without it,
// only a client on this host gets them: an operator at the machine
// (`curl localhost:8080/...`, the demo) still sees files, the network does
// not. No secret is generated behind the operator's back, and nothing is
// printed to a log that outlives the terminal (docs/security.md).

export const CONTENT_REFUSED =
  'repository contents are served only with API_TOKEN configured, or to a client on this host (loopback)'

/**
 * Loopback: all of 127.0.0.0/8 and ::1, also written IPv4-mapped
 * (`::ffff:127.0.0.1`, how a dual-stack socket reports IPv4 peers). The
 * kernel accepts such a source address only from this host itself.
 */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || address === '::1'
}

export type ContentClient = {
  apiToken: string | undefined
  /** TRUST_PROXY is set: `clientAddress` is what the trusted proxies report. */
  trustProxy: boolean
  /** The TCP peer (the socket's remote address). */
  peerAddress: string | undefined
  /** The client as Fastify tells it apart (X-Forwarded-For through trusted proxies). */
  clientAddress: string | undefined
  /** The request carries X-Forwarded-For or Forwarded. */
  forwarded: boolean
}

/** May this request read repository file contents? */
export function mayReadContent(client: ContentClient): boolean {
  // The token (checked by api-auth and the dashboard's login) protects them.
  if (client.apiToken) return true
  if (client.trustProxy) return isLoopback(client.clientAddress)
  // A reverse proxy on this host connects from loopback on behalf of
  // clients anywhere: a forwarded request is not a local one. (Local
  // clients do not send these headers; one that does is refused, closed
  // rather than open.)
  return !client.forwarded && isLoopback(client.peerAddress)
}

/** What a service without API_TOKEN leaves open, and what not: the startup warning and the dashboard say it. */
export const WITHOUT_API_TOKEN =
  'API_TOKEN is not set: anyone who can reach the port can read the dashboard and /api/* (stack status, reasons, host state, the event feed) and start refreshes (POST /api/refresh); repository file contents (the file view, Compose text, /api/stacks/{name}/archive and /compose) are served only to clients on this host (loopback); manual sync is off'
