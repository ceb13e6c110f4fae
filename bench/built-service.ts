import { spawn } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../test/helpers/free-port.js'
import type { GitServer } from '../test/helpers/git-server.js'
import { tempDir } from '../test/helpers/temp-dir.js'

// The built service (dist/server.js) as a process of its own, so its RSS is
// its own, started with the service's Node flags against the loopback Git
// server, and resolved once /readyz answers 200.

/** The Node flags the service runs with (package.json `start`, the Dockerfile's CMD). */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1']

export async function startBuiltService(options: {
  server: GitServer
  repoUrl: string
  token: string
  env?: Record<string, string>
  nodeFlags?: string[]
  /** Where the service's log (stdout) goes; dropped by default. */
  logFile?: string
  /** Another build's server.js (to compare with an older commit); this one's by default. */
  serverJs?: string
}) {
  const port = await freePort()
  const cacheDir = tempDir('docker-cd-bench-cache-')
  /** When the process was started (epoch ms): where a "from process start" measure begins. */
  const startedAt = Date.now()
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? SERVICE_NODE_FLAGS),
      options.serverJs ?? join(import.meta.dirname, '..', 'dist', 'server.js'),
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        GIT_REPO_URL: options.repoUrl,
        GIT_REVISION: 'main',
        GIT_ACCESS_TOKEN: options.token,
        GIT_SSL_CAINFO: options.server.caFile,
        GIT_CACHE_DIR: cacheDir,
        REFRESH_POLL_INTERVAL: '0',
        GIT_TIMEOUT: '600s',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ...options.env,
      },
      stdio: ['ignore', options.logFile ? openSync(options.logFile, 'a') : 'ignore', 'inherit'],
    },
  )
  const base = `http://127.0.0.1:${port}`
  const ready = () =>
    fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`the service exited ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    base,
    cacheDir,
    pid: child.pid as number,
    startedAt,
    /** When /readyz first answered 200 (epoch ms; polled every 50 ms). */
    readyAt: Date.now(),
    /** Stops the service and waits for it (its cache dir is removed at exit). */
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** A process's resident memory now, from /proc. */
export const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

/** After a second's settling, samples a process's RSS every 10 ms; `stop` gives before and peak. */
export async function watchRss(pid: number) {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = rssOf(pid)
  let peak = before
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pid))
  }, 10)
  return {
    stop() {
      clearInterval(sampler)
      return { before, peak, growth: peak - before }
    },
  }
}
