import { Agent, request as undiciRequest } from 'undici'
import { networkFailure } from '../base/index.js'
import type { HttpRequest } from './request.js'
import { retryAfterMs } from './retry-after.js'
import type { SendOutcome } from './transport.js'

// HTTP with undici (already the engine client's library): its own Agent, so
// closing notifications destroys sockets held open by a receiver that never
// answers, without touching any other connection in the process. Redirects
// are not followed: a webhook URL that redirects is misconfigured, and
// following would hand a signed body to another host.

export function createHttpSender() {
  const agent = new Agent({ keepAliveTimeout: 10_000 })

  async function send(request: HttpRequest, signal: AbortSignal): Promise<SendOutcome> {
    try {
      const response = await undiciRequest(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        dispatcher: agent,
        signal,
      })
      // The answer's body is not needed (and may quote the request); read it
      // off so the connection can be reused — in the background: the status
      // already decides the outcome, and a receiver that answers 200 but
      // never finishes its body must not turn a delivery into a timeout
      // (retried: the same message posted again and again). undici's body
      // timeout, dump's size limit and close() end such a body.
      void response.body.dump().catch(() => undefined)
      const status = response.statusCode
      if (status >= 200 && status < 300) return { ok: true }
      if (status === 429 || status >= 500) {
        const wait = retryAfterMs(response.headers['retry-after'])
        return {
          ok: false,
          reason: `HTTP ${status}`,
          retry: true,
          ...(wait === undefined ? {} : { retryAfterMs: wait }),
        }
      }
      if (status >= 300 && status < 400)
        return { ok: false, reason: `HTTP ${status} (redirect not followed)`, retry: false }
      return { ok: false, reason: `HTTP ${status}`, retry: false }
    } catch (error) {
      if (signal.aborted) return { ok: false, reason: 'aborted', retry: true }
      return { ok: false, ...networkFailure(error) }
    }
  }

  return {
    send,
    close: async () => {
      await agent.destroy().catch(() => undefined)
    },
  }
}
