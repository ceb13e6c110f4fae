import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'
import { tempDir } from './temp-dir.js'

// A real OpenSSH server on a loopback port for the ssh tests: its own host
// key, one authorized user key, its own config (nothing of the machine's
// sshd setup), serving the bare repositories of the test Git server by
// path (`git-upload-pack` runs as the current user). Also a "silent" port
// that accepts TCP and never speaks, for hangs. Needs /usr/sbin/sshd
// (scripts/ensure-sshd.sh installs it) and root or passwordless sudo for
// sshd's privilege-separation directory.

const SSHD = '/usr/sbin/sshd'

const keygen = (file: string, comment: string) => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
  return { privateFile: file, publicKey: readFileSync(`${file}.pub`, 'utf8').trim() }
}

export type SshServer = Awaited<ReturnType<typeof startSshServer>>

export async function startSshServer() {
  const dir = tempDir('docker-cd-sshd-')
  const port = await freePort()
  const user = userInfo().username
  const hostKey = keygen(join(dir, 'host_key'), 'test host')
  const userKey = keygen(join(dir, 'user_key'), 'deploy key')
  const strangerKey = keygen(join(dir, 'stranger_key'), 'not authorized')
  const otherHostKey = keygen(join(dir, 'other_host_key'), 'another host')
  writeFileSync(join(dir, 'authorized_keys'), `${userKey.publicKey}\n`, { mode: 0o600 })

  const knownHostsLine = (key: string) =>
    `[127.0.0.1]:${port} ${key.split(' ').slice(0, 2).join(' ')}\n`
  const knownHostsFile = join(dir, 'known_hosts')
  writeFileSync(knownHostsFile, knownHostsLine(hostKey.publicKey))
  const wrongKnownHostsFile = join(dir, 'known_hosts_wrong')
  writeFileSync(wrongKnownHostsFile, knownHostsLine(otherHostKey.publicKey))
  const emptyKnownHostsFile = join(dir, 'known_hosts_empty')
  writeFileSync(emptyKnownHostsFile, '')

  const config = join(dir, 'sshd_config')
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.privateFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `AllowUsers ${user}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      // The test dirs live under the world-writable TMPDIR.
      'StrictModes no',
      'UsePAM no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  )
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  else execFileSync('sudo', ['-n', 'mkdir', '-p', '/run/sshd'])

  const log: string[] = []
  const sshd: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  sshd.stderr?.on('data', (chunk) => log.push(String(chunk)))
  const exited = new Promise((resolve) => sshd.once('exit', resolve))
  await waitForPort(port, () => log.join(''))

  // Accepts connections and never sends a byte: ssh waits for a banner.
  const silent: Server = createServer(() => {})
  const silentPort = await freePort()
  await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve))

  return {
    port,
    user,
    dir,
    keyFile: userKey.privateFile,
    strangerKeyFile: strangerKey.privateFile,
    knownHostsFile,
    wrongKnownHostsFile,
    emptyKnownHostsFile,
    /** known_hosts for the silent port. */
    silentKnownHostsFile: (() => {
      const file = join(dir, 'known_hosts_silent')
      writeFileSync(
        file,
        `[127.0.0.1]:${silentPort} ${hostKey.publicKey.split(' ').slice(0, 2).join(' ')}\n`,
      )
      return file
    })(),
    /** `ssh://` URL of a bare repository on this machine. */
    url: (bareDir: string) => `ssh://${user}@127.0.0.1:${port}${bareDir}`,
    silentUrl: (bareDir: string) => `ssh://${user}@127.0.0.1:${silentPort}${bareDir}`,
    log: () => log.join(''),
    async close() {
      silent.close()
      sshd.kill('SIGTERM')
      await exited
    },
  }
}

async function waitForPort(port: number, log: () => string) {
  const deadline = Date.now() + 10_000
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}: ${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
