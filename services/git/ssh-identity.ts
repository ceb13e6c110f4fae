import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The ssh side of git: a private copy of the deploy key and the one ssh
// command line git may use.
//
// A key mounted as a Docker/Compose secret is usually readable by others or
// owned by another uid, and ssh refuses such keys ("UNPROTECTED PRIVATE KEY
// FILE"), so its content is copied to a 0600 file in a 0700 directory this
// process owns — outside GIT_CACHE_DIR, removed on exit. Only the copy's
// path ever reaches a command line; the content never does.

export type SshIdentity = { keyFile: string; remove(): void }

export function createSshIdentity(sourceKeyFile: string): SshIdentity {
  const dir = mkdtempSync(join(tmpdir(), 'docker-cd-ssh-'))
  const keyFile = join(dir, 'deploy_key')
  let content = readFileSync(sourceKeyFile)
  // ssh wants the key's last line terminated.
  if (content.at(-1) !== 0x0a) content = Buffer.concat([content, Buffer.from('\n')])
  writeFileSync(keyFile, content, { mode: 0o600 })
  content.fill(0)
  let removed = false
  const remove = () => {
    if (removed) return
    removed = true
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', remove)
  return { keyFile, remove }
}

/** Quotes a word for the shell git runs GIT_SSH_COMMAND with. */
const shellWord = (word: string) => `'${word.replaceAll("'", "'\\''")}'`

/**
 * ssh as git must run it: this key only, no agent, no user or system config,
 * host keys checked strictly against the given file (no trust on first use,
 * never a prompt).
 */
export function sshCommand(options: {
  keyFile: string
  knownHostsFile: string
  connectTimeoutSeconds: number
}): string {
  const settings = [
    'BatchMode=yes',
    'IdentitiesOnly=yes',
    'IdentityAgent=none',
    `IdentityFile=${options.keyFile}`,
    'StrictHostKeyChecking=yes',
    `UserKnownHostsFile=${options.knownHostsFile}`,
    'GlobalKnownHostsFile=/dev/null',
    'UpdateHostKeys=no',
    'PasswordAuthentication=no',
    'KbdInteractiveAuthentication=no',
    `ConnectTimeout=${options.connectTimeoutSeconds}`,
    'ServerAliveInterval=15',
    'LogLevel=ERROR',
  ]
  return ['ssh', '-F', '/dev/null', ...settings.flatMap((s) => ['-o', s])]
    .map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : shellWord(word)))
    .join(' ')
}
