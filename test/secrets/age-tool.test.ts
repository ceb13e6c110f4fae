import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { decryptSops, parseAgeIdentities, SopsError } from '../../services/secrets/index.js'
import { encryptSops } from '../helpers/sops-encrypt.js'
import { tempDir } from '../helpers/temp-dir.js'

// The age layer against the reference tool (Debian's `age` package, the Go
// implementation sops itself uses): keys from `age-keygen`, a data key that
// `age -a -r` encrypted decrypts through decryptSops, and the age files the
// test encryptor writes (age-encryption's Encrypter) open with `age -d -i`.
// Key material goes through files and stdin, never argv.

const ageVersion = spawnSync('age', ['--version'], { encoding: 'utf8' })
const keygenVersion = spawnSync('age-keygen', ['--version'], { encoding: 'utf8' })

if (ageVersion.error !== undefined || keygenVersion.error !== undefined) {
  t.plan(0, 'the age tool is not installed (Debian package "age": age, age-keygen)')
} else {
  run()
}

interface Key {
  file: string
  recipient: string
}

function run() {
  t.comment(`age ${ageVersion.stdout.trim()}`)
  const dir = tempDir('docker-cd-age-')
  const keygen = (name: string): Key => {
    const file = join(dir, name)
    const made = spawnSync('age-keygen', ['-o', file], { encoding: 'utf8' })
    if (made.status !== 0) throw new Error(`age-keygen failed: ${made.stderr}`)
    const recipient = spawnSync('age-keygen', ['-y', file], { encoding: 'utf8' }).stdout.trim()
    return { file, recipient }
  }
  const alice = keygen('alice.txt')
  const bob = keygen('bob.txt')
  const identities = (key: Key) => parseAgeIdentities({ keyFile: readFileSync(key.file, 'utf8') })

  // `age -a -r …` with the data key on stdin: the armored file sops keeps in `enc`.
  const ageTool =
    (...extra: string[]) =>
    async (dataKey: Buffer, recipient: string): Promise<string> => {
      const args = ['-a', ...extra.flatMap((other) => ['-r', other]), '-r', recipient]
      const out = spawnSync('age', args, { input: dataKey, encoding: 'utf8' })
      if (out.status !== 0) throw new Error(`age -r failed: ${out.stderr}`)
      return out.stdout
    }

  const ageDecrypt = (identityFile: string, armored: string) => {
    const file = join(dir, `stanza-${randomBytes(4).toString('hex')}.age`)
    writeFileSync(file, armored, { mode: 0o600 })
    return spawnSync('age', ['-d', '-i', identityFile, file])
  }

  t.test('age-keygen writes identity files of mode 0600 that sops key files accept', async (t) => {
    for (const key of [alice, bob]) {
      t.equal(statSync(key.file).mode & 0o777, 0o600)
      t.match(key.recipient, /^age1[02-9ac-hj-np-z]{58}$/)
      const parsed = identities(key)
      t.equal(parsed.length, 1, 'the "# created" and "# public key" lines are skipped')
      t.match(parsed[0], /^AGE-SECRET-KEY-1/)
      // The same identity given as SOPS_AGE_KEY.
      t.same(parseAgeIdentities({ key: parsed[0] }), parsed)
    }
  })

  t.test('a data key encrypted by `age -a -r` decrypts through decryptSops', async (t) => {
    const dataKey = randomBytes(32)
    const samples = [
      ['dotenv', 'DB_PASSWORD=pw-9f2c\nAPI_TOKEN=tok-71aa\n'],
      ['yaml', 'db:\n    password: pw-9f2c\n    port: 5432\n'],
    ] as const
    for (const [format, sample] of samples) {
      const { text } = await encryptSops(sample, format, {
        recipients: [alice.recipient],
        dataKey,
        wrapDataKey: ageTool(),
      })
      const { plaintext, values } = await decryptSops(text, format, identities(alice))
      t.equal(plaintext.toString(), sample, `${format}: the plaintext`)
      t.ok(values.includes('pw-9f2c'))
      const error = await decryptSops(text, format, identities(bob)).catch((e: unknown) => e)
      t.type(error, SopsError)
      t.equal((error as SopsError).kind, 'wrong-key', 'a key that is not a recipient')
    }
  })

  t.test('an age file with several stanzas: the matching one is found', async (t) => {
    // One `enc` whose age header has a stanza for bob first, then alice.
    const { text } = await encryptSops('A=one-1\n', 'dotenv', {
      recipients: [alice.recipient],
      wrapDataKey: ageTool(bob.recipient),
    })
    for (const key of [alice, bob]) {
      const { plaintext } = await decryptSops(text, 'dotenv', identities(key))
      t.equal(plaintext.toString(), 'A=one-1\n')
    }
  })

  t.test('the age files the test encryptor writes decrypt with `age -d -i`', async (t) => {
    const { text, dataKey } = await encryptSops('a: one-1\n', 'yaml', {
      recipients: [alice.recipient, bob.recipient],
    })
    const entries = parseYaml(text).sops.age as Array<{ recipient: string; enc: string }>
    t.same(
      entries.map((entry) => entry.recipient),
      [alice.recipient, bob.recipient],
    )
    for (const [index, key] of [alice, bob].entries()) {
      const enc = (entries[index] as { enc: string }).enc
      t.match(
        enc,
        /^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+\n-----END AGE ENCRYPTED FILE-----\n$/,
      )
      const opened = ageDecrypt(key.file, enc)
      t.equal(opened.status, 0, `age -d with the recipient's identity: ${opened.stderr}`)
      t.ok(Buffer.from(opened.stdout).equals(dataKey), 'the data key, 32 bytes')
      const other = index === 0 ? bob : alice
      t.not(ageDecrypt(other.file, enc).status, 0, 'another identity cannot open it')
    }
    // And the dotenv form, where the armor's newlines are written \n.
    const env = await encryptSops('A=one-1\n', 'dotenv', { recipients: [bob.recipient] })
    const line = env.text.split('\n').find((l) => l.startsWith('sops_age__list_0__map_enc='))
    const enc = (line ?? '').slice('sops_age__list_0__map_enc='.length).replaceAll('\\n', '\n')
    const opened = ageDecrypt(bob.file, enc)
    t.equal(opened.status, 0)
    t.ok(Buffer.from(opened.stdout).equals(env.dataKey))
  })
}
