import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { formatDuration, parseDuration } from '../../schemas/duration.js'
import { ConfigError, loadConfig } from '../../services/base/config.js'
import { tempDir } from '../helpers/temp-dir.js'

const base = { GIT_REPO_URL: 'https://git.example.com/org/deploy.git', GIT_REVISION: 'main' }
const problemsOf = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}
const dir = tempDir('docker-cd-config-')

t.test('defaults', async (t) => {
  const config = loadConfig(base)
  t.equal(config.gitRepoUrl, 'https://git.example.com/org/deploy.git')
  t.equal(config.gitRevision, 'main')
  t.equal(config.gitAccessToken, undefined)
  t.equal(config.gitUsername, 'x-access-token')
  t.equal(config.gitDeployDir, '')
  t.equal(config.webhookSecret, undefined)
  t.equal(config.refreshPollIntervalMs, 300_000)
  t.equal(config.gitTimeoutMs, 60_000)
  t.equal(config.gitMemoryLimitBytes, 2 ** 30)
  t.match(config.gitCacheDir, /docker-cd-cache$/)
  t.equal(config.gitSslCaInfo, undefined)
  t.equal(config.port, 8080)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.projectName, 'Docker-CD')
  t.equal(config.dockerHost, 'unix:///var/run/docker.sock')
  t.equal(config.dockerHostSource, 'default', 'messages ask for DOCKER_HOST to be set')
  t.equal(config.logLevel, 'info')
  t.equal(config.syncTarget, 'auto', 'Swarm on an active manager, Compose otherwise')
  t.equal(config.swarmResolveImage, 'always', 'as docker stack deploy does')
})

t.test('every variable set to a good value', async (t) => {
  const ca = join(dir, 'ca.pem')
  writeFileSync(ca, 'pem')
  const config = loadConfig({
    ...base,
    GIT_REVISION: 'refs/tags/v1.2.3',
    GIT_ACCESS_TOKEN: 'ghp_secret',
    GIT_USERNAME: 'oauth2',
    GIT_DEPLOY_DIR: './hosts//prod/',
    WEBHOOK_SECRET: 'hook',
    REFRESH_POLL_INTERVAL: '1h30m',
    REFRESH_RATE_LIMIT: '10/30s',
    TRUST_PROXY: '10.0.0.0/8',
    GIT_TIMEOUT: '90s',
    GIT_MEMORY_LIMIT: '512MiB',
    GIT_CACHE_DIR: '/var/cache/docker-cd',
    GIT_SSL_CAINFO: ca,
    PORT: '9090',
    HOST: '127.0.0.1',
    PROJECT_NAME: 'Edge',
    DOCKER_SOCKET: '/run/docker.sock',
    SYNC_MODE: 'apply',
    SYNC_TIMEOUT: '90s',
    SYNC_CONCURRENCY: '2',
    SYNC_PRUNE: 'true',
    SYNC_SELF_HEAL: 'yes',
    SYNC_ADOPT: '1',
    SYNC_TARGET: 'swarm',
    SWARM_RESOLVE_IMAGE: 'never',
    INSTANCE_NAME: 'edge-1',
    PUBLIC_URL: 'https://deploy.example.com/',
    NOTIFY_URLS: 'ntfy+https://ntfy.sh/deploys',
    NOTIFY_ON: 'default,deployed',
    NOTIFY_ENGINE_DOWN_AFTER: '30s',
    NOTIFY_GIT_FAILING_AFTER: '1h',
    COMMIT_STATUS: 'true',
    COMMIT_STATUS_TOKEN: 'glpat_status',
    COMMIT_STATUS_PROVIDER: 'gitlab',
    COMMIT_STATUS_API_URL: 'https://git.example.com/api/v4',
    IMAGE_UPDATES: 'detect',
    IMAGE_POLL_INTERVAL: '6h',
    DOCKER_CONFIG: '/etc/docker-cd/docker',
    LOG_LEVEL: 'debug',
  })
  t.same(config, {
    gitRepoUrl: base.GIT_REPO_URL,
    gitRevision: 'refs/tags/v1.2.3',
    gitAccessToken: 'ghp_secret',
    gitUsername: 'oauth2',
    gitDeployDir: 'hosts/prod',
    webhookSecret: 'hook',
    refreshPollIntervalMs: 5_400_000,
    refreshRateLimit: { burst: 10, periodMs: 30_000 },
    trustProxy: ['10.0.0.0/8'],
    gitTimeoutMs: 90_000,
    gitMemoryLimitBytes: 512 * 2 ** 20,
    gitCacheDir: '/var/cache/docker-cd',
    gitSslCaInfo: ca,
    port: 9090,
    host: '127.0.0.1',
    projectName: 'Edge',
    dockerHost: 'unix:///run/docker.sock',
    dockerHostSource: 'DOCKER_SOCKET',
    syncMode: 'apply',
    stacksDir: '/var/cache/docker-cd/stacks',
    syncTimeoutMs: 90_000,
    syncConcurrency: 2,
    syncPrune: true,
    syncSelfHeal: true,
    syncAdopt: true,
    syncTarget: 'swarm',
    swarmResolveImage: 'never',
    secretsDir: '/run/docker-cd/secrets',
    instanceName: 'edge-1',
    publicUrl: 'https://deploy.example.com/',
    notifyUrls: 'ntfy+https://ntfy.sh/deploys',
    notifyOn: 'default,deployed',
    notifyEngineDownAfterMs: 30_000,
    notifyGitFailingAfterMs: 3_600_000,
    commitStatus: true,
    commitStatusToken: 'glpat_status',
    commitStatusProvider: 'gitlab',
    commitStatusApiUrl: 'https://git.example.com/api/v4',
    imageUpdates: 'detect',
    imagePollIntervalMs: 6 * 3_600_000,
    dockerConfig: '/etc/docker-cd/docker',
    logLevel: 'debug',
  })
  t.equal(loadConfig(base).instanceName, hostname(), 'named after the host by default')
  t.equal(loadConfig(base).imageUpdates, 'off', 'image updates are off by default')
  t.equal(loadConfig(base).imagePollIntervalMs, 0, 'and asked only on request')
  t.equal(loadConfig({ ...base, IMAGE_UPDATES: 'apply' }).imageUpdates, 'apply')
  t.match(problemsOf({ ...base, IMAGE_UPDATES: 'always' }), [
    /^IMAGE_UPDATES: must be off, detect or apply/,
  ])
  t.match(problemsOf({ ...base, PUBLIC_URL: 'https://user:pw@deploy.example.com' }), [
    /^PUBLIC_URL: must be an http\(s\) URL without credentials/,
  ])
  t.match(problemsOf({ ...base, COMMIT_STATUS_PROVIDER: 'gogs' }), [
    /^COMMIT_STATUS_PROVIDER: must be one of github, gitlab, gitea, bitbucket/,
  ])
  t.match(problemsOf({ ...base, INSTANCE_NAME: 'two words' }), [/^INSTANCE_NAME: must be 1 to 64/])
  // URLs carry tokens: the Docker-secret form reads them from a file.
  const urls = join(dir, 'notify-urls')
  writeFileSync(urls, 'slack+https://hooks.slack.com/services/T/B/x\n')
  t.equal(
    loadConfig({ ...base, NOTIFY_URLS_FILE: urls }).notifyUrls,
    'slack+https://hooks.slack.com/services/T/B/x',
  )
  t.match(problemsOf({ ...base, SOPS_AGE_KEY_FILE: '/nonexistent/age.key' }), [
    'SOPS_AGE_KEY_FILE: cannot read /nonexistent/age.key (ENOENT)',
  ])
  t.equal(loadConfig({ ...base, SECRETS_DIR: '/dev/shm/x' }).secretsDir, '/dev/shm/x')
  t.equal(loadConfig(base).sopsAgeKey, undefined, 'no key: encrypted files cannot be read')
  t.equal(loadConfig({ ...base, GIT_REVISION: 'A'.repeat(40) }).gitRevision, 'A'.repeat(40))
  t.equal(loadConfig({ ...base, REFRESH_POLL_INTERVAL: '0' }).refreshPollIntervalMs, 0)
  t.equal(loadConfig({ ...base, GIT_DEPLOY_DIR: '.' }).gitDeployDir, '')
  t.equal(loadConfig({ ...base, GIT_MEMORY_LIMIT: '0' }).gitMemoryLimitBytes, 0)
  t.equal(loadConfig({ ...base, GIT_MEMORY_LIMIT: '2gib' }).gitMemoryLimitBytes, 2 ** 31)
  t.equal(loadConfig(base).syncConcurrency, 4, 'four deploys at once by default')
  t.match(problemsOf({ ...base, SYNC_CONCURRENCY: 'many' }), [
    /^SYNC_CONCURRENCY: must be a number of stacks deployed at once between 1 and 64/,
  ])
})

t.test('every error is reported at once, one line per variable', async (t) => {
  const problems = problemsOf({
    GIT_REPO_URL: 'git://github.com/org/repo.git',
    GIT_REVISION: 'bad..ref',
    GIT_DEPLOY_DIR: '../etc',
    REFRESH_POLL_INTERVAL: '5 minutes',
    GIT_TIMEOUT: '0',
    GIT_MEMORY_LIMIT: '1TB',
    PORT: '70000',
    LOG_LEVEL: 'loud',
    GIT_SSL_CAINFO: '/nonexistent/ca.pem',
    SYNC_TIMEOUT: '500ms',
    SYNC_CONCURRENCY: '0',
    SYNC_PRUNE: 'maybe',
    SYNC_TARGET: 'kubernetes',
    SWARM_RESOLVE_IMAGE: 'sometimes',
  })
  const variables = problems.map((line) => line.split(':')[0])
  t.same(variables.sort(), [
    'GIT_DEPLOY_DIR',
    'GIT_MEMORY_LIMIT',
    'GIT_REPO_URL',
    'GIT_REVISION',
    'GIT_SSL_CAINFO',
    'GIT_TIMEOUT',
    'LOG_LEVEL',
    'PORT',
    'REFRESH_POLL_INTERVAL',
    'SWARM_RESOLVE_IMAGE',
    'SYNC_CONCURRENCY',
    'SYNC_PRUNE',
    'SYNC_TARGET',
    'SYNC_TIMEOUT',
  ])
  for (const line of problems) t.notMatch(line, /\n/)
})

t.test('GIT_MEMORY_LIMIT: sizes with units, a floor, 0 for none', async (t) => {
  t.match(problemsOf({ ...base, GIT_MEMORY_LIMIT: '16MiB' }), [
    /^GIT_MEMORY_LIMIT: must be at least 64MiB/,
  ])
  t.match(problemsOf({ ...base, GIT_MEMORY_LIMIT: 'lots' }), [/^GIT_MEMORY_LIMIT: must be a size/])
  t.equal(loadConfig({ ...base, GIT_MEMORY_LIMIT: '1073741824' }).gitMemoryLimitBytes, 2 ** 30)
})

t.test('required variables', async (t) => {
  t.same(problemsOf({}).sort(), ['GIT_REPO_URL: is required', 'GIT_REVISION: is required'])
  t.same(problemsOf({ ...base, GIT_REVISION: '' }), ['GIT_REVISION: is required'])
})

t.test('GIT_REPO_URL accepts https and ssh only, and no credentials', async (t) => {
  for (const url of [
    'http://git.example.com/r.git',
    'ssh://git:hunter2@example.com/r.git',
    'git:ghp_token@example.com:org/r.git',
    'git://example.com/r.git',
    'file:///srv/r.git',
    'not a url',
    'https://user:ghp_token@github.com/o/r.git',
    'https://github.com/o/r.git?x=1',
  ]) {
    const problems = problemsOf({ ...base, GIT_REPO_URL: url })
    t.equal(problems.length, 1, url)
    t.match(problems[0], /^GIT_REPO_URL: /)
    t.notMatch(problems[0], /ghp_token|hunter2/, 'the offending credential is not echoed')
  }
})

t.test('a refused GIT_REPO_URL is answered with the forms it accepts', async (t) => {
  const forms =
    'use https://host/owner/repo.git, ssh://git@host[:port]/owner/repo.git or git@host:owner/repo.git'
  const local = `GIT_REPO_URL: is a path on this machine; docker-cd reads the repository from a Git server: ${forms} (a repository on this machine: ssh://user@localhost/path/repo.git)`
  for (const url of [
    '/srv/deploy.git',
    './deploy',
    '../deploy',
    '~/deploy',
    '.',
    'file:///srv/r.git',
  ])
    t.same(problemsOf({ ...base, GIT_REPO_URL: url }), [local], url)
  t.same(problemsOf({ ...base, GIT_REPO_URL: 'not a url' }), [
    `GIT_REPO_URL: is not a valid URL: ${forms}`,
  ])
  t.same(problemsOf({ ...base, GIT_REPO_URL: 'http://git.example.com/r.git' }), [
    `GIT_REPO_URL: must use https:// or ssh:// (got http://): ${forms}`,
  ])
})

t.test(
  'ssh: URLs and scp-like addresses, a key and known hosts required, no https settings',
  async (t) => {
    const key = join(dir, 'deploy_key')
    const knownHosts = join(dir, 'known_hosts')
    writeFileSync(key, 'key')
    writeFileSync(knownHosts, 'hosts')
    const ssh = { GIT_SSH_KEY_FILE: key, GIT_SSH_KNOWN_HOSTS_FILE: knownHosts }
    for (const url of [
      'ssh://git@git.example.com:2222/org/deploy.git',
      'ssh://git.example.com/org/deploy.git',
      'git@github.com:org/deploy.git',
      'gitea.example.com:org/deploy.git',
    ]) {
      const config = loadConfig({ ...base, GIT_REPO_URL: url, ...ssh })
      t.equal(config.gitRepoUrl, url)
      t.equal(config.gitSshKeyFile, key)
      t.equal(config.gitSshKnownHostsFile, knownHosts)
    }
    const sshUrl = 'git@github.com:org/deploy.git'
    t.same(problemsOf({ ...base, GIT_REPO_URL: sshUrl }).sort(), [
      'GIT_SSH_KEY_FILE: required with an ssh GIT_REPO_URL (a read-only deploy key)',
      'GIT_SSH_KNOWN_HOSTS_FILE: required with an ssh GIT_REPO_URL (host keys are always checked; see ssh-keyscan)',
    ])
    t.match(problemsOf({ ...base, GIT_REPO_URL: sshUrl, ...ssh, GIT_ACCESS_TOKEN: 'ghp_x' }), [
      /^GIT_ACCESS_TOKEN: not used with an ssh GIT_REPO_URL/,
    ])
    t.same(problemsOf({ ...base, ...ssh }).sort(), [
      'GIT_SSH_KEY_FILE: only used with an ssh GIT_REPO_URL',
      'GIT_SSH_KNOWN_HOSTS_FILE: only used with an ssh GIT_REPO_URL',
    ])
    t.match(
      problemsOf({ ...base, GIT_REPO_URL: sshUrl, ...ssh, GIT_SSH_KEY_FILE: '/nonexistent' }),
      [/^GIT_SSH_KEY_FILE: cannot read \/nonexistent \(ENOENT\)/],
    )
  },
)

t.test('GIT_REVISION rejects names git would reject', async (t) => {
  for (const revision of [
    'a b',
    'a..b',
    'x~1',
    'x^',
    'a:b',
    '-rf',
    'a/.hidden',
    'a.lock',
    'a@{1}',
    'x/',
  ]) {
    t.same(
      problemsOf({ ...base, GIT_REVISION: revision }),
      ['GIT_REVISION: is not a valid branch, tag or commit name'],
      revision,
    )
  }
  for (const revision of [
    'main',
    'release/1.x',
    'v1.2.3',
    'refs/heads/main',
    'refs/tags/v1',
    'feature_x-2',
  ]) {
    t.same(problemsOf({ ...base, GIT_REVISION: revision }), [], revision)
  }
})

t.test('GIT_DEPLOY_DIR refuses absolute paths and escapes', async (t) => {
  t.match(problemsOf({ ...base, GIT_DEPLOY_DIR: '/etc' })[0], /GIT_DEPLOY_DIR: must be relative/)
  t.match(
    problemsOf({ ...base, GIT_DEPLOY_DIR: 'a/../../b' })[0],
    /GIT_DEPLOY_DIR: must not contain "\.\."/,
  )
  t.match(
    problemsOf({ ...base, GIT_DEPLOY_DIR: 'C:\\stacks' })[0],
    /GIT_DEPLOY_DIR: must be relative/,
  )
  t.equal(loadConfig({ ...base, GIT_DEPLOY_DIR: 'stacks/' }).gitDeployDir, 'stacks')
})

t.test('secrets from files', async (t) => {
  const tokenFile = join(dir, 'token')
  const secretFile = join(dir, 'secret')
  writeFileSync(tokenFile, 'file-token\n')
  writeFileSync(secretFile, 'file-secret')
  const config = loadConfig({
    ...base,
    GIT_ACCESS_TOKEN_FILE: tokenFile,
    WEBHOOK_SECRET_FILE: secretFile,
  })
  t.equal(config.gitAccessToken, 'file-token')
  t.equal(config.webhookSecret, 'file-secret')

  const both = problemsOf({
    ...base,
    GIT_ACCESS_TOKEN: 'x',
    GIT_ACCESS_TOKEN_FILE: tokenFile,
    WEBHOOK_SECRET: 'y',
    WEBHOOK_SECRET_FILE: secretFile,
  })
  t.same(both, [
    'GIT_ACCESS_TOKEN_FILE: cannot be set together with GIT_ACCESS_TOKEN; choose one',
    'WEBHOOK_SECRET_FILE: cannot be set together with WEBHOOK_SECRET; choose one',
  ])
  t.same(problemsOf({ ...base, GIT_ACCESS_TOKEN_FILE: join(dir, 'absent') }), [
    `GIT_ACCESS_TOKEN_FILE: cannot read ${join(dir, 'absent')} (ENOENT)`,
  ])
  const empty = join(dir, 'empty')
  writeFileSync(empty, '\n')
  t.same(problemsOf({ ...base, WEBHOOK_SECRET_FILE: empty }), [
    `WEBHOOK_SECRET_FILE: ${empty} is empty`,
  ])
})

t.test('Go-style durations', async (t) => {
  t.equal(parseDuration('0'), 0)
  t.equal(parseDuration('90s'), 90_000)
  t.equal(parseDuration('5m'), 300_000)
  t.equal(parseDuration('1h30m'), 5_400_000)
  t.equal(parseDuration('1.5h'), 5_400_000)
  t.equal(parseDuration('250ms'), 250)
  t.equal(parseDuration('2m30s'), 150_000)
  for (const bad of ['', '5', '5 m', '-5m', '5d', 'm', '1h 30m', '5mm']) {
    t.throws(() => parseDuration(bad), bad)
  }
  t.equal(formatDuration(5_400_000), '1h30m')
  t.equal(formatDuration(450), '450ms')
  t.equal(formatDuration(61_000), '1m1s')
})
