import { createHmac } from 'node:crypto'
import { secretsEqual } from './constant-time.js'

// The dashboard's login: the API token, asked once by a form, becomes an
// HttpOnly, SameSite=Strict cookie (Secure over HTTPS) that the API accepts
// instead of the Bearer header. The cookie holds an HMAC of the token, not
// the token: what a browser stores is good for this service only, and
// changing API_TOKEN ends every session. State-changing requests that
// authenticate by the cookie must also carry CSRF_HEADER: a page of another
// origin cannot set a custom header without a CORS preflight, which this
// service never grants.

export const SESSION_COOKIE = 'docker_cd_session'
export const CSRF_HEADER = 'x-docker-cd-request'

export const sessionValue = (apiToken: string) =>
  createHmac('sha256', apiToken).update('docker-cd dashboard session v1').digest('base64url')

/** Does the request's Cookie header carry a session for this API token? */
export function sessionCookieMatches(cookieHeader: string | undefined, apiToken: string): boolean {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === SESSION_COOKIE && secretsEqual(value.join('='), sessionValue(apiToken)))
      return true
  }
  return false
}

/** The Set-Cookie value that starts a session (or ends it, with `value` empty). */
export function sessionCookie(value: string, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
    ...(value === '' ? ['Max-Age=0'] : []),
  ].join('; ')
}
