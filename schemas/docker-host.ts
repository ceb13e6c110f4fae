// DOCKER_HOST as Docker's own clients read it, in the two forms this
// service can reach: a unix socket, or plain TCP (ssh:// needs an ssh
// client and TLS needs certificates this service does not manage; a
// socket proxy on a private network serves both cases).

export type DockerHost = {
  /** The URL origin requests go to (a placeholder host over a socket). */
  origin: string
  /** Set for a unix socket. */
  socketPath?: string
  /** Where the engine is, for messages: the socket path or host:port. */
  describe: string
  /** The DOCKER_HOST value as messages show it: `unix:///path` or `tcp://host:port`, never a userinfo. */
  shown: string
}

/** Which variable set the engine's address: messages name the one to change. */
export type DockerHostSource = 'DOCKER_HOST' | 'DOCKER_SOCKET' | 'default'

/** `unix:///run/docker.sock (DOCKER_HOST)`: the address and the variable that set it. */
export function engineAddressWords(host: DockerHost, source: DockerHostSource): string {
  return `${host.shown} (${source === 'default' ? 'the default; set DOCKER_HOST' : source})`
}

export const DOCKER_HOST_FORMS =
  'must be unix:///path/to/docker.sock or tcp://host:port (ssh:// and TLS are not supported: put a socket proxy in front)'

/** Throws Error(DOCKER_HOST_FORMS) for anything else. */
export function parseDockerHost(value: string): DockerHost {
  const unix = /^unix:\/\/(\/.*)$/.exec(value)
  if (unix?.[1])
    return {
      origin: 'http://docker',
      socketPath: unix[1],
      describe: unix[1],
      shown: `unix://${unix[1]}`,
    }
  const tcp = /^tcp:\/\/([^/:[\]]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?$/.exec(value)
  if (tcp?.[1] && tcp[2] && Number(tcp[2]) > 0 && Number(tcp[2]) < 65536) {
    // A `user@` before the host is not shown: it could be a credential.
    const where = `${tcp[1].replace(/^.*@/, '')}:${tcp[2]}`
    return { origin: `http://${tcp[1]}:${tcp[2]}`, describe: where, shown: `tcp://${where}` }
  }
  throw new Error(DOCKER_HOST_FORMS)
}
