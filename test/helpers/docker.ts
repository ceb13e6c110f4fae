import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './temp-dir.js'

// The real Docker engine and Compose v2 for host tests (and the demo's
// images). Docker Hub is not reachable here, so the image is built locally:
// `docker import` of a root file system holding Debian's statically linked
// busybox and its applet links (2 MB, well under a second).

export const TEST_IMAGE = 'docker-cd-test/busybox:1'

const BUSYBOX = '/bin/busybox'

const run = (command: string, args: string[]) =>
  spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 })

/** Why host tests cannot run on this machine, or undefined when they can. */
export function hostUnavailable(): string | undefined {
  if (run('docker', ['info']).status !== 0) return 'no Docker engine answers here'
  return composeUnavailable() ?? busyboxUnavailable()
}

/** Why `docker compose` (v2) cannot be used here, or undefined when it can. */
export function composeUnavailable(): string | undefined {
  const version = run('docker', ['compose', 'version', '--short']).stdout?.trim() ?? ''
  if (!/^v?2\./.test(version)) return `Compose v2 is not installed (docker compose: ${version})`
  return undefined
}

/**
 * Why no busybox image can be imported here, or undefined when it can: the
 * binary must run alone in an empty root file system, so a dynamically
 * linked one (an ELF asking for a loader, PT_INTERP) will not do.
 */
export function busyboxUnavailable(busybox = BUSYBOX): string | undefined {
  const missing = "Debian's busybox-static is not installed (apt-get install busybox-static)"
  if (!existsSync(busybox)) return missing
  const elf = readFileSync(busybox)
  const wide = elf[4] === 2
  const read = (offset: number, size: 2 | 4 | 8) =>
    size === 8 ? Number(elf.readBigUInt64LE(offset)) : elf.readUIntLE(offset, size)
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[5] !== 1)
    return `${busybox} is not a little-endian ELF binary`
  const table = wide ? read(0x20, 8) : read(0x1c, 4)
  const entrySize = read(wide ? 0x36 : 0x2a, 2)
  const entries = read(wide ? 0x38 : 0x2c, 2)
  for (let index = 0; index < entries; index++)
    if (read(table + index * entrySize, 4) === 3 /* PT_INTERP */)
      return `${busybox} is dynamically linked; ${missing}`
  return undefined
}

/** Imports busybox and its applet links as the image `tag` (replacing what the tag named). */
export function importBusyboxImage(tag: string) {
  const root = tempDir('docker-cd-rootfs-')
  try {
    mkdirSync(join(root, 'bin'))
    execFileSync('cp', [BUSYBOX, join(root, 'bin', 'busybox')])
    for (const applet of execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n'))
      if (applet && applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet))
    execFileSync('sh', ['-c', `tar -C '${root}' -c . | docker import -c 'CMD ["sh"]' - '${tag}'`], {
      stdio: 'pipe',
    })
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/** Builds the test image once per machine (kept: the next run finds it). */
export function ensureTestImage(): string {
  if (run('docker', ['image', 'inspect', TEST_IMAGE]).status !== 0) importBusyboxImage(TEST_IMAGE)
  return TEST_IMAGE
}

/** `docker compose …` in a directory, as an operator would run it; returns stdout. */
export const compose = (dir: string, ...args: string[]) =>
  execFileSync('docker', ['compose', ...args], { cwd: dir, encoding: 'utf8', stdio: 'pipe' })

export const docker = (...args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: 'pipe' }).trim()

/** Removes every container and network of a project (test cleanup), whatever state they are in. */
export function removeProject(project: string) {
  const ids = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)
    .split('\n')
    .filter(Boolean)
  if (ids.length > 0) docker('rm', '-f', ...ids)
  // Its networks too (Compose labels them as well); one still in use by
  // another project's container is left to that project's removal.
  const networks = docker(
    'network',
    'ls',
    '-q',
    '--filter',
    `label=com.docker.compose.project=${project}`,
  )
  for (const network of networks.split('\n').filter(Boolean))
    run('docker', ['network', 'rm', network])
}

/** A Compose service (its lines, 4 spaces in) that sleeps in the test image, with more YAML under it. */
export const sleeperService = (image: string, extra = '') =>
  `    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n${extra}`

/** The lines of a service bind-mounting the stack's `web.conf` at `target`. */
export const mountsWebConf = (target = '/web.conf') =>
  `    volumes:\n      - ./web.conf:${target}:ro\n`
