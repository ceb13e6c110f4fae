import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runGit } from '../../services/git/command.js'
import { createCompose } from '../../services/host/index.js'
import { waitFor } from '../helpers/build.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 24, item 5: Compose ignores SIGTERM while it works, so a child that
// ignores it must still end when its timeout or the shutdown deadline
// passes (SIGKILL after the grace period), and what it started with it.
// The child here is a stand-in that ignores SIGTERM and starts a
// grandchild that ignores it too (pure process handling: no engine needed).

/** A program that ignores SIGTERM, as does the `sleep` it starts; it writes both pids. */
function stubborn(): { program: string; pids: () => number[] } {
  const dir = tempDir('docker-cd-stubborn-')
  const pidFile = join(dir, 'pids')
  const program = join(dir, 'stubborn')
  writeFileSync(
    program,
    `#!/bin/sh\ntrap '' TERM\nsleep 1000 &\necho "$$ $!" > '${pidFile}.tmp'\nmv '${pidFile}.tmp' '${pidFile}'\nwait\n`,
  )
  chmodSync(program, 0o755)
  return {
    program,
    pids: () =>
      existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) : [],
  }
}

/** Whether a process still runs (a zombie waiting to be reaped has ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

const started = async (pids: () => number[]) => {
  const both = await waitFor(() => (pids().length === 2 ? pids() : undefined), 'it started')
  for (const pid of both) if (!alive(pid)) throw new Error(`${pid} is not running`)
  return both
}
const gone = (pids: number[], what: string) =>
  waitFor(() => pids.every((pid) => !alive(pid)), what, 30_000)

t.test('Compose past its timeout is killed, with what it started', async (t) => {
  const child = stubborn()
  const compose = createCompose({ command: child.program, timeoutMs: 200, killGraceMs: 300 })
  const result = compose.validate(tempDir('docker-cd-stack-')).then(
    () => 'resolved',
    (error: Error) => error.message,
  )
  const pids = await started(child.pids)
  await gone(pids, 'Compose and its child gone after the timeout')
  t.match(await result, /no answer within/)
})

t.test('Compose at the shutdown deadline (abort) is killed', async (t) => {
  const child = stubborn()
  const compose = createCompose({ command: child.program, killGraceMs: 300 })
  const stop = new AbortController()
  const result = compose.up(tempDir('docker-cd-stack-'), 60, stop.signal).then(
    () => 'resolved',
    (error: Error) => error.message,
  )
  const pids = await started(child.pids)
  stop.abort()
  await gone(pids, 'Compose and its child gone after the abort')
  t.match(await result, /shutting down/)
})

t.test('close() stops every Compose still running', async (t) => {
  const child = stubborn()
  const compose = createCompose({ command: child.program, killGraceMs: 300 })
  const result = compose
    .plan(tempDir('docker-cd-stack-'), { name: 'x', services: {}, settings: null })
    .then(
      () => 'resolved',
      (error: Error) => error.message,
    )
  const pids = await started(child.pids)
  await compose.close()
  t.ok(
    pids.every((pid) => !alive(pid)),
    'none outlives close()',
  )
  t.match(await result, /shutting down/)
  t.rejects(compose.validate(tempDir('docker-cd-stack-')), /shutting down/, 'none starts after it')
})

t.test('git past its timeout is killed, with what it started', async (t) => {
  const child = stubborn()
  const result = runGit(['-c', `alias.stubborn=!${child.program}`, 'stubborn'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tempDir('docker-cd-home-') },
    cwd: tempDir('docker-cd-git-'),
    timeoutMs: 200,
    scrub: (text) => text,
  }).then(
    () => 'resolved',
    (error: Error) => error.message,
  )
  const pids = await started(child.pids)
  await gone(pids, 'git and its children gone after the timeout')
  t.match(await result, /timeout/)
})
