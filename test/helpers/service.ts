import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort } from './free-port.js'
import type { GitServer } from './git-server.js'
import { tempDir } from './temp-dir.js'

// The built server (dist/server.js, as `npm start` runs it) as a process.
// `npm test` builds first (pretest).

export const serverJs = join(import.meta.dirname, '..', '..', 'dist', 'server.js')

export const isReady = (base: string) =>
  fetch(`${base}/readyz`).then(
    (r) => r.ok,
    () => false,
  )

export type StartOptions = {
  /** A shell prefix run before node, e.g. `ulimit -n 256;`. */
  shellPrefix?: string
  /** Its own process group (killed whole with `process.kill(-pid, …)`, as a container kill would). */
  detached?: boolean
}

/** Starts the server with exactly `env` (plus PATH and HOME); killed with the test. */
export function startService(t: Test, env: Record<string, string>, options: StartOptions = {}) {
  const fullEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env }
  const detached = options.detached ?? false
  const child: ChildProcess = options.shellPrefix
    ? spawn('bash', ['-c', `${options.shellPrefix} exec "$0" "$1"`, process.execPath, serverJs], {
        env: fullEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached,
      })
    : spawn(process.execPath, [serverJs], {
        env: fullEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached,
      })
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    try {
      if (detached && child.pid) process.kill(-child.pid, 'SIGKILL')
      else child.kill('SIGKILL')
    } catch {
      // already gone
    }
  })
  return { child, output, exited }
}

/** The environment of a service reading `repoUrl` from the test Git server. */
export const serviceEnv = async (
  git: GitServer,
  repoUrl: string,
  env: Record<string, string> = {},
): Promise<Record<string, string>> => ({
  GIT_REPO_URL: repoUrl,
  GIT_REVISION: 'main',
  GIT_ACCESS_TOKEN: git.token ?? '',
  GIT_SSL_CAINFO: git.caFile,
  GIT_CACHE_DIR: tempDir('docker-cd-cache-'),
  REFRESH_POLL_INTERVAL: '0',
  // The host is read only by the tests about it (test/host).
  SYNC_MODE: 'off',
  PORT: String(await freePort()),
  HOST: '127.0.0.1',
  ...env,
})
