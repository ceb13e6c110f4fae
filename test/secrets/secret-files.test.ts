import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { stackFileKey } from '../../services/base/index.js'
import { createSecretFiles, SecretsDirError } from '../../services/secrets/index.js'
import { tempDir } from '../helpers/temp-dir.js'

// secret-files.ts on its own: SECRETS_DIR refused unless memory-backed
// (/tmp is not here), modes 0700/0600, place() keeps the inode of an
// unchanged file and renames a changed one in, whatever stands in its way
// (an engine's empty directory, an older tree's file or folder) goes, prune
// and scrub.

const shm = existsSync('/dev/shm') ? undefined : 'no /dev/shm'
const mode = (path: string) => statSync(path).mode & 0o777

t.test('refused on persistent disk: nothing is written there', async (t) => {
  const dir = join(tempDir('docker-cd-not-tmpfs-'), 'secrets')
  const files = createSecretFiles({ secretsDir: dir })
  await t.rejects(files.place('app', 'db.env', Buffer.from('PW=hunter22\n')), SecretsDirError)
  await t.rejects(files.ready(), /not memory-backed .*tmpfs expected/)
  t.notOk(existsSync(join(dir, stackFileKey('app'), 'db.env')), 'no plaintext on disk')
})

t.test('in memory', { skip: shm ?? false }, async (t) => {
  const root = mkdtempSync('/dev/shm/docker-cd-unit-')
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const secretsDir = join(root, 'secrets')
  const files = createSecretFiles({ secretsDir })
  const stackDir = join(secretsDir, stackFileKey('app'))

  t.test('modes, and the inode kept or replaced', async (t) => {
    const target = await files.place('app', 'conf/db.env', Buffer.from('PW=one-1234\n'))
    t.equal(target, join(stackDir, 'conf/db.env'))
    t.equal(mode(secretsDir), 0o700, 'SECRETS_DIR 0700')
    t.equal(mode(stackDir), 0o700, "the stack's directory 0700")
    t.equal(mode(join(stackDir, 'conf')), 0o700, 'a folder 0700')
    t.equal(mode(target), 0o600, 'the file 0600')
    const inode = statSync(target).ino
    await files.place('app', 'conf/db.env', Buffer.from('PW=one-1234\n'))
    t.equal(
      statSync(target).ino,
      inode,
      'the same content keeps the inode (a bind mount keeps reading it)',
    )
    await files.place('app', 'conf/db.env', Buffer.from('PW=two-5678\n'))
    t.not(statSync(target).ino, inode, 'a new content is renamed in')
    t.equal(await readFile(target, 'utf8'), 'PW=two-5678\n')
    t.equal(mode(target), 0o600)
    t.ok(await files.present('app', 'conf/db.env'))
  })

  t.test('what stands in the way goes', async (t) => {
    // An empty directory where the file goes (an engine made it at a missing bind source).
    mkdirSync(join(stackDir, 'app.yaml'), { recursive: true })
    t.notOk(await files.present('app', 'app.yaml'), 'a directory is not the plaintext')
    await files.place('app', 'app.yaml', Buffer.from('token: abcd\n'))
    t.equal(await readFile(join(stackDir, 'app.yaml'), 'utf8'), 'token: abcd\n')
    // An older tree's file where a folder goes now.
    writeFileSync(join(stackDir, 'old'), 'x')
    await files.place('app', 'old/new.env', Buffer.from('A=bcde\n'))
    t.equal(await readFile(join(stackDir, 'old/new.env'), 'utf8'), 'A=bcde\n')
  })

  t.test('the path stays inside the stack', async (t) => {
    t.throws(() => files.targetOf('app', '../other/db.env'), SecretsDirError)
  })

  t.test('prune and remove', async (t) => {
    await files.place('app', 'keep.env', Buffer.from('K=1\n'))
    await files.place('app', 'deep/er/gone.env', Buffer.from('G=1\n'))
    await files.prune('app', new Set(['keep.env']))
    t.ok(existsSync(join(stackDir, 'keep.env')), 'kept')
    t.notOk(existsSync(join(stackDir, 'deep')), 'the others and their emptied folders go')
    t.notOk(existsSync(join(stackDir, 'conf')))
    await files.place('other', 'db.env', Buffer.from('O=1\n'))
    await files.remove('app')
    t.notOk(existsSync(stackDir), "the stack's plaintext is gone")
    t.ok(existsSync(join(secretsDir, stackFileKey('other'), 'db.env')), "another stack's stays")
  })

  t.test('scrub', async (t) => {
    const scrubbing = createSecretFiles({ secretsDir })
    t.equal(scrubbing.scrub('nothing remembered'), 'nothing remembered')
    scrubbing.remember('app', 'a.env', ['pass', 'password-long', 'abc', '1', 'true'])
    scrubbing.remember('b', 'b.env', ['other-secret'])
    t.equal(
      scrubbing.scrub('password-long pass abc 1 true other-secret'),
      '[REDACTED] [REDACTED] abc 1 [REDACTED] [REDACTED]',
      'longest first (one holding another goes whole); values under 4 characters stay (`true` does not)',
    )
    // As Compose echoes them: a dotenv value unquoted, and Go's %q escaping in its errors.
    scrubbing.remember('q', '.env', ['"pw\\"quo\\\\te-1234"', "'single-5678'", 'plain-9abc # note'])
    t.equal(
      scrubbing.scrub('Invalid containerPort: pw"quo\\te-1234'),
      'Invalid containerPort: [REDACTED]',
      'a double-quoted dotenv value, unquoted',
    )
    t.equal(
      scrubbing.scrub('strconv.ParseFloat: parsing "pw\\"quo\\\\te-1234": invalid syntax'),
      'strconv.ParseFloat: parsing [REDACTED]: invalid syntax',
      "Go's %q form (here the same as the committed one, quotes included)",
    )
    scrubbing.remember('q', 'x.yaml', ['tab\there"x-1234'])
    t.equal(
      scrubbing.scrub('parsing "tab\\there\\"x-1234"'),
      'parsing "[REDACTED]"',
      "Go's %q form of a YAML value",
    )
    t.equal(scrubbing.scrub('x single-5678 y'), 'x [REDACTED] y', 'a single-quoted dotenv value')
    t.equal(scrubbing.scrub('port: plain-9abc'), 'port: [REDACTED]', 'an inline comment cut')
    await scrubbing.remove('q')
    await scrubbing.prune('app', new Set())
    t.equal(scrubbing.scrub('pass other-secret'), 'pass [REDACTED]', 'pruned files are forgotten')
    await scrubbing.remove('b')
    t.equal(scrubbing.scrub('other-secret'), 'other-secret', 'removed stacks are forgotten')
  })
})
