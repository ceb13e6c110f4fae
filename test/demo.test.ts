import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { waitFor } from './helpers/build.js'
import { docker, hostUnavailable, removeProject } from './helpers/docker.js'
import { freePort } from './helpers/free-port.js'
import { tempDir } from './helpers/temp-dir.js'

// `npm run demo` as a newcomer runs it, in its own process group (as a
// terminal's foreground job): with the engine it deploys its own stacks,
// recreates the one service a commit changed, rolls back a failing health
// check and recovers on the revert, all read back from its API; Ctrl-C
// (SIGINT to the group) leaves no container, network, image or temp file.
// Without an engine it says so in one line and serves examples/ detect-only.

const root = join(import.meta.dirname, '..')

type History = { result: string; servicesChanged: string[]; rolledBackTo?: unknown }[]
type Detail = { status: string; history?: History; sync?: { reason?: string } }

function startDemo(t: Test, env: Record<string, string>) {
  // Everything it writes goes to a temp dir of its own, checked at the end.
  const tmp = tempDir('docker-cd-demo-test-')
  const child: ChildProcess = spawn('npm', ['run', '--silent', 'demo'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: tmp,
      DEMO_PACE: '0',
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const output = { text: '' }
  child.stdout?.on('data', (chunk) => {
    output.text += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output.text += chunk
  })
  const group = child.pid ?? 0
  const alive = () => {
    try {
      return process.kill(-group, 0) // true: a process of the group is left
    } catch {
      return false
    }
  }
  t.teardown(() => {
    if (alive()) process.kill(-group, 'SIGKILL')
  })
  /** Ctrl-C at a terminal: SIGINT to the whole group; resolves when every process of it is gone. */
  const interrupt = async () => {
    process.kill(-group, 'SIGINT')
    await waitFor(() => !alive(), 'the demo to exit', 60_000)
  }
  /** What is left in its temp dir; npm itself keeps its compile cache there (`npm install` made one in the real one). */
  const leftInTmp = () => readdirSync(tmp).filter((name) => name !== 'node-compile-cache')
  return { output, interrupt, leftInTmp }
}

const json = async <T>(url: string): Promise<T | undefined> => {
  try {
    const res = await fetch(url)
    return res.ok ? ((await res.json()) as T) : undefined
  } catch {
    return undefined // not listening yet
  }
}

const unavailable = hostUnavailable()

/** The demo named `name` on the engine, on a free port; its projects and image removed after the test whatever happens. */
async function startEngineDemo(t: Test, name: string) {
  const projects = [`${name}-web`, `${name}-worker`]
  const image = `${name}/busybox:1`
  t.teardown(() => {
    for (const project of projects) removeProject(project)
    spawnSync('docker', ['image', 'rm', image], { stdio: 'ignore' })
  })
  const port = await freePort()
  const demo = startDemo(t, { PORT: String(port), DEMO_NAME: name })
  /** Ctrl-C, then: no container, network, image or temp file of the demo is left. */
  const interruptAndCheck = async (t: Test) => {
    await demo.interrupt()
    t.match(demo.output.text, /demo: stopped; nothing it deployed or wrote is left/)
    for (const project of projects) {
      const label = `label=com.docker.compose.project=${project}`
      t.equal(docker('ps', '-aq', '--filter', label), '', `no container of ${project}`)
      t.equal(docker('network', 'ls', '-q', '--filter', label), '', `no network of ${project}`)
    }
    t.not(
      spawnSync('docker', ['image', 'inspect', image], { stdio: 'ignore' }).status,
      0,
      'the demo image is gone',
    )
    t.same(demo.leftInTmp(), [], 'no temp dir left (tsx wrote no cache either)')
  }
  return { ...demo, base: `http://127.0.0.1:${port}`, projects, interruptAndCheck }
}

t.test(
  'with an engine: deploy, targeted recreate, rollback, revert; Ctrl-C removes it all',
  { skip: unavailable ?? false },
  async (t) => {
    const demo = await startEngineDemo(t, `demotest${process.pid}`)
    const detail = (stack: string) => json<Detail>(`${demo.base}/api/stacks/${stack}`)

    // The steps end with `all steps done`, or with a line saying why they stopped.
    await waitFor(
      () => /all steps done|unexpected:|the steps stopped/.test(demo.output.text),
      'the four steps',
      300_000,
    )
    t.match(demo.output.text, 'all steps done', 'every step showed what it should')
    const web = await detail('web')
    t.match(web, { status: 'synced' })
    t.match(
      web?.history,
      [
        { result: 'completed', servicesChanged: ['api'] },
        { result: 'completed', servicesChanged: ['api', 'frontend'] },
      ],
      'a first deploy of both services, then a recreate of api alone',
    )
    const worker = await detail('worker')
    t.match(worker, { status: 'synced' }, 'the revert brought worker back to synced')
    t.ok(
      worker?.history?.some((run) => run.result === 'failed' && run.rolledBackTo),
      'the failing health check was rolled back',
    )
    t.match(demo.output.text, /\[2\/4\] web is synced, healthy; Compose recreated api only/)
    t.match(
      demo.output.text,
      /\[3\/4\] worker failed and was rolled back: .*unhealthy.*rolled back to revision/,
    )
    t.match(demo.output.text, /\[4\/4\] worker is synced/)
    const webContainers = docker(
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${demo.projects[0]}`,
    )
    t.equal(webContainers.split('\n').filter(Boolean).length, 2, "web's two containers run")

    await demo.interruptAndCheck(t)
  },
)

t.test(
  'Ctrl-C in the middle of a step: the deploy is stopped and removed all the same',
  { skip: unavailable ?? false },
  async (t) => {
    const demo = await startEngineDemo(t, `demomid${process.pid}`)
    // Its request for step 2 (POST /api/refresh?wait=sync) is on its way or in flight.
    await waitFor(() => demo.output.text.includes('[2/4] pushed'), 'step 2', 300_000)
    await demo.interruptAndCheck(t)
  },
)

t.test('without an engine: one line why, detect-only on examples/', async (t) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const socket = join(tempDir('docker-cd-no-engine-'), 'docker.sock')
  const demo = startDemo(t, { PORT: String(port), DOCKER_HOST: `unix://${socket}` })
  const stacks = await waitFor(
    async () => {
      // It listens before its first refresh: an empty list until then.
      const list = await json<{ path: string }[]>(`${base}/api/stacks`)
      return list?.length ? list : undefined
    },
    'the demo to serve its stacks',
    120_000,
  )
  t.same(
    stacks.map((stack) => stack.path),
    ['cache', 'monitoring', 'web'],
    'the bundled examples',
  )
  await waitFor(() => demo.output.text.includes('Ctrl-C stops the demo'), 'its instructions')
  const socketPattern = socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  t.match(
    demo.output.text,
    new RegExp(
      `demo: no deploys here: no Docker engine answers at unix://${socketPattern} .*; SYNC_MODE=detect on the bundled examples/ instead\\.\\n`,
    ),
  )
  await demo.interrupt()
  t.same(demo.leftInTmp(), [], 'no temp dir left')
})
