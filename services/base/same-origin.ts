// Is a form post from the dashboard's own page? The login and logout forms
// are plain HTML posts, which any web page can send too (a `fetch` with
// `mode: 'no-cors'` or an auto-submitted form): eleven wrong tokens from a
// page the operator happens to open locked the operator's address out, and
// a foreign form logged the operator out. Browsers say where a request comes
// from: `Sec-Fetch-Site` (same-origin, same-site, cross-site, none) and
// `Origin` on every POST. A page on another port of the same host is
// `same-site` (a site ignores ports), so only `same-origin` passes, and an
// Origin must equal this server's own. A request with neither header comes
// from a client that is not a browser (curl): no web page can send it.

export type OriginHeaders = {
  origin?: string | string[] | undefined
  'sec-fetch-site'?: string | string[] | undefined
}

const single = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value.join(',') : value

/**
 * Why a form post is refused as coming from another page, or undefined when
 * it may proceed. `ownOrigin` is `scheme://host[:port]` as the client
 * addressed this server (its Host header).
 */
export function foreignOriginReason(headers: OriginHeaders, ownOrigin: string): string | undefined {
  const site = single(headers['sec-fetch-site'])?.toLowerCase()
  // `none`: the user's own action (typed address, bookmark).
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `the request comes from another site or origin (Sec-Fetch-Site: ${site})`
  const origin = single(headers.origin)
  if (origin !== undefined && origin.toLowerCase() !== ownOrigin.toLowerCase())
    return `the request comes from ${origin === 'null' ? 'an opaque origin' : origin}, not ${ownOrigin}`
  return undefined
}
