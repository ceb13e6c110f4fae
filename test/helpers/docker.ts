import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './temp-dir.js'

// The real Docker engine and Compose v2 for host tests. Docker Hub is not
// reachable here, so the test image is built locally: `docker import` of a
// root file system holding Debian's statically linked busybox and its
// applet links (2 MB, well under a second).

export const TEST_IMAGE = 'docker-cd-test/busybox:1'

const run = (command: string, args: string[]) =>
  spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 })

/** Why host tests cannot run on this machine, or undefined when they can. */
export function hostUnavailable(): string | undefined {
  if (run('docker', ['info']).status !== 0) return 'no Docker engine answers here'
  const version = run('docker', ['compose', 'version', '--short']).stdout.trim()
  if (!/^v?2\./.test(version)) return `Compose v2 is not installed (docker compose: ${version})`
  if (!existsSync('/bin/busybox')) return "Debian's busybox-static is not installed"
  return undefined
}

/** Builds the test image once per machine (kept: the next run finds it). */
export function ensureTestImage(): string {
  if (run('docker', ['image', 'inspect', TEST_IMAGE]).status === 0) return TEST_IMAGE
  const root = tempDir('docker-cd-rootfs-')
  mkdirSync(join(root, 'bin'))
  execFileSync('cp', ['/bin/busybox', join(root, 'bin', 'busybox')])
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n'))
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet))
  execFileSync('sh', [
    '-c',
    `tar -C '${root}' -c . | docker import -c 'CMD ["sh"]' - ${TEST_IMAGE}`,
  ])
  return TEST_IMAGE
}

/** `docker compose …` in a directory, as an operator would run it; returns stdout. */
export const compose = (dir: string, ...args: string[]) =>
  execFileSync('docker', ['compose', ...args], { cwd: dir, encoding: 'utf8', stdio: 'pipe' })

export const docker = (...args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: 'pipe' }).trim()

/** Removes every container of a project (test cleanup), whatever state it is in. */
export function removeProject(project: string) {
  const ids = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)
    .split('\n')
    .filter(Boolean)
  if (ids.length > 0) docker('rm', '-f', ...ids)
}

/** A Compose service (its lines, 4 spaces in) that sleeps in the test image, with more YAML under it. */
export const sleeperService = (image: string, extra = '') =>
  `    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n${extra}`

/** The lines of a service bind-mounting the stack's `web.conf` at `target`. */
export const mountsWebConf = (target = '/web.conf') =>
  `    volumes:\n      - ./web.conf:${target}:ro\n`
