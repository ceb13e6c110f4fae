// The environment every git command of the service runs with. Credentials
// travel here only — never in argv, the URL or a config file on disk — and
// nothing of the user's own git or ssh setup leaks in.

export type GitEnvironmentOptions = {
  accessToken?: string | undefined
  username: string
  sslCaInfo?: string | undefined
  /** GIT_SSH_COMMAND for an ssh repository (services/git/ssh-identity.ts). */
  sshCommand?: string | undefined
}

/** Inherited so git works behind a proxy and finds its binaries; everything else is dropped. */
const PASSTHROUGH = [
  'PATH',
  'HOME',
  'TMPDIR',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]

/** `user:token` in base64, as sent in an `Authorization: Basic` header. */
function basicCredential(options: GitEnvironmentOptions): string | undefined {
  if (!options.accessToken) return undefined
  return Buffer.from(`${options.username}:${options.accessToken}`).toString('base64')
}

/** The secrets a git message could echo: they are scrubbed from everything git prints. */
export function gitSecrets(options: GitEnvironmentOptions): string[] {
  return [options.accessToken, basicCredential(options)].filter((value): value is string =>
    Boolean(value),
  )
}

export function gitEnvironment(
  options: GitEnvironmentOptions,
  inherited: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const env: Record<string, string> = {
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  }
  for (const name of PASSTHROUGH) {
    const value = inherited[name]
    if (value !== undefined) env[name] = value
  }
  if (options.sslCaInfo) env.GIT_SSL_CAINFO = options.sslCaInfo
  if (options.sshCommand) {
    env.GIT_SSH_COMMAND = options.sshCommand
    env.GIT_SSH_VARIANT = 'ssh'
  }
  // Command-line-strength config through GIT_CONFIG_COUNT: not visible in argv.
  const configEntries: [string, string][] = [
    ['protocol.version', '2'],
    ['credential.helper', ''],
    ['core.askPass', ''],
    ['gc.autoDetach', 'false'],
    // Never follow a redirect: git would send the token (an extra header)
    // to whatever host the redirect names, plain http included. A
    // redirecting server fails the refresh instead (the reader says where
    // it points, so the operator can set GIT_REPO_URL to the final URL).
    ['http.followRedirects', 'false'],
    // Git checks every object it fetches (malformed trees, bad modes, names
    // holding '/', broken links fail the fetch, and the last good snapshot
    // stays). Names like '.', '..' and '.git' are downgraded to warnings on
    // purpose: the reader refuses them per stack (services/git/objects.ts),
    // so one bad directory fails its own stack and the others go on.
    ['fetch.fsckObjects', 'true'],
    ['fetch.fsck.hasDot', 'warn'],
    ['fetch.fsck.hasDotdot', 'warn'],
    ['fetch.fsck.hasDotgit', 'warn'],
    ['fetch.fsck.emptyName', 'warn'],
  ]
  const credential = basicCredential(options)
  if (credential) configEntries.push(['http.extraHeader', `Authorization: Basic ${credential}`])
  env.GIT_CONFIG_COUNT = String(configEntries.length)
  configEntries.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key
    env[`GIT_CONFIG_VALUE_${index}`] = value
  })
  return env
}
