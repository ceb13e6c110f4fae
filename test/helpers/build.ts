import type { Test } from 'tap'
import { type AppOptions, buildApp } from '../../app.js'

export { startApp } from '../../app.js'

import { startApp } from '../../app.js'

import type { Config } from '../../schemas/config.js'
import { loadConfig } from '../../services/base/config.js'
import { loggerOptions } from '../../services/base/logger.js'
import type { GitServer } from './git-server.js'
import { tempDir } from './temp-dir.js'

// Test helpers in the fastify/demo style: `configFor` makes a valid config
// pointed at the test Git server, `build(t)` an app closed with the test.

export type LogLine = Record<string, unknown> & { level: number; msg: string }

export function configFor(
  server: GitServer,
  repoUrl: string,
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    GIT_REPO_URL: repoUrl,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN: server.token,
    GIT_SSL_CAINFO: server.caFile,
    GIT_CACHE_DIR: tempDir('docker-cd-cache-'),
    GIT_TIMEOUT: '10s',
    REFRESH_POLL_INTERVAL: '0',
    // The host is read only by the tests about it (test/host).
    SYNC_MODE: 'off',
    LOG_LEVEL: 'debug',
    ...env,
  })
}

/** Builds and readies the app; every log line is kept in `logs` (and checked for secrets by tests). */
export async function build(t: Test, config: Config, options: Partial<AppOptions> = {}) {
  const logs: LogLine[] = []
  const stream = {
    write(line: string) {
      logs.push(JSON.parse(line) as LogLine)
    },
  }
  const app = await buildApp({
    config,
    logger: { ...loggerOptions(config.logLevel), transport: undefined, stream },
    ...options,
  })
  t.teardown(() => app.close())
  return Object.assign(app, { logs })
}

/** Waits on a condition, never on a fixed sleep; fails the test if it never holds. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await condition()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * The stack's run of its current tree has finished and its status is
 * published (the detail of GET /api/stacks/{name}, as `read` gets it).
 */
export function finishedRun<
  D extends { status: string; treeHash: string; history?: { toTree: string }[] },
>(read: () => Promise<D>, what: string, timeoutMs = 120_000): Promise<D> {
  return waitFor(
    async () => {
      const d = await read()
      const latest = d.history?.[0]
      return latest && latest.toTree === d.treeHash && d.status !== 'syncing' ? d : undefined
    },
    `a finished run of ${what}`,
    timeoutMs,
  )
}

/**
 * docker-cd in apply mode on the test repository, started, with the first
 * deploy of `stack` finished: the app, a reader of the stack's detail (with
 * the API token when `env` sets one), and that first detail.
 */
export async function deployedApp(
  t: Test,
  server: GitServer,
  repoUrl: string,
  stack: string,
  env: Record<string, string> = {},
  options: Partial<AppOptions> = {},
) {
  const app = await build(
    t,
    configFor(server, repoUrl, {
      SYNC_MODE: 'apply',
      STACKS_DIR: tempDir('docker-cd-stacks-'),
      ...env,
    }),
    { maxEventLoopDelayMs: 60_000, ...options },
  )
  await startApp(app)
  const headers: Record<string, string> = env.API_TOKEN
    ? { authorization: `Bearer ${env.API_TOKEN}` }
    : {}
  const detail = async () => (await app.inject({ url: `/api/stacks/${stack}`, headers })).json()
  const deployed = await finishedRun(detail, `the first deploy of ${stack}`)
  return { app, headers, detail, deployed }
}
