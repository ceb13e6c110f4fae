// An image reference as Compose files write it (`nginx`, `nginx:1.27`,
// `ghcr.io/org/app:stable`, `127.0.0.1:5000/app@sha256:…`), read the way
// the Docker CLI reads it (distribution's reference grammar, normalised as
// `docker.io/library/nginx:latest`), so the registry asked is the one the
// engine pulls from:
// - the first path component is a registry host only when it has a `.` or
//   a `:` or is `localhost`; otherwise the image is on Docker Hub, and a
//   single-component name is in `library/`;
// - `docker.io` is served by `registry-1.docker.io`, and `index.docker.io`
//   is the same registry;
// - no tag and no digest means `latest`; a digest pins the image (never
//   checked for updates).

export type ImageRef = {
  /** The registry as the Docker CLI names it: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  registry: string
  /** Where its API is: `registry-1.docker.io` for Docker Hub, else the registry itself. */
  apiHost: string
  /** The repository path on that registry: `library/nginx`, `org/app`. */
  repository: string
  tag?: string
  digest?: string
  /** The normalised reference: `docker.io/library/nginx:1.27`. */
  canonical: string
}

const DOCKER_HUB = 'docker.io'
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/

/** Reads an image reference; a string that is not one is a problem in words. */
export function parseImageRef(text: string): ImageRef | { problem: string } {
  const input = text.trim()
  if (input === '') return { problem: 'the image reference is empty' }
  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) return { problem: `"${input}": "${digest}" is not a digest` }
  }
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) return { problem: `"${input}": "${tag}" is not a tag` }
  }
  const parts = rest.split('/')
  let registry = DOCKER_HUB
  const first = parts[0] ?? ''
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!HOST.test(first)) return { problem: `"${input}": "${first}" is not a registry host` }
    registry = first
    parts.shift()
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library')
  if (parts.length === 0 || parts.some((part) => !COMPONENT.test(part)))
    return { problem: `"${input}": "${parts.join('/')}" is not a repository name` }
  const repository = parts.join('/')
  if (!tag && !digest) tag = 'latest'
  return {
    registry,
    apiHost: registry === DOCKER_HUB ? 'registry-1.docker.io' : registry,
    repository,
    ...(tag ? { tag } : {}),
    ...(digest ? { digest } : {}),
    canonical: `${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`,
  }
}
