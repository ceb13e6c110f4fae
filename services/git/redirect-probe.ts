import { readFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

// When git reports that the server answered with a redirect (git is told
// not to follow them), ask the server once more, without any credential,
// where it points, so the error can name the final URL.

/** The `Location` a credential-free smart-HTTP discovery request is redirected to, if any. */
export async function findRedirect(
  repoUrl: string,
  options: { caFile?: string | undefined; timeoutMs: number },
): Promise<string | undefined> {
  const url = new URL(`${repoUrl.replace(/\/+$/, '')}/info/refs?service=git-upload-pack`)
  const ca = options.caFile ? await readFile(options.caFile).catch(() => undefined) : undefined
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: 'GET', timeout: options.timeoutMs, ...(ca ? { ca } : {}) },
      (res) => {
        res.resume()
        const location = res.headers.location
        const redirected =
          res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400
        resolve(redirected && location ? new URL(location, url).toString() : undefined)
      },
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
    req.end()
  })
}

/** The repository URL a discovery redirect implies (without `/info/refs…`). */
export function repositoryUrlOf(location: string): string {
  const url = new URL(location)
  url.search = ''
  url.pathname = url.pathname.replace(/\/info\/refs$/, '')
  return url.toString()
}
