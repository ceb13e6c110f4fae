import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import {
  AgeKeyError,
  decryptSops,
  isSopsDocument,
  parseAgeIdentities,
  SopsError,
  type SopsErrorKind,
  type SopsFormat,
} from '../../services/secrets/index.js'

// Each way a file can fail is its own kind, and no message carries a value
// of the file or any key material (callers show them to operators as is).
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'sops')
const read = (name: string) => readFileSync(join(fixtures, name), 'utf8')
const keyFile = read('getsops-age-keys.txt')
const getsops = parseAgeIdentities({ keyFile })
const otherKey = parseAgeIdentities({ keyFile: read('doco-cd-age-key.txt') })
const yaml = read('getsops-example.yaml')
const ini = read('getsops-example.ini')
const env = read('doco-cd-encrypted.env')
const plaintexts = [
  't00m4nys3cr3tzupdated',
  'c4r1b0u',
  'eve',
  'with something secret',
  'John',
  'yes',
]

async function failure(
  t: Test,
  content: string,
  format: SopsFormat,
  identities: string[],
  kind: SopsErrorKind,
  pattern: RegExp,
) {
  const error = await decryptSops(content, format, identities).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  t.type(error, SopsError)
  const sopsError = error as SopsError
  t.equal(sopsError.kind, kind, sopsError.message)
  t.match(sopsError.message, pattern)
  for (const secret of [...plaintexts, ...getsops, ...otherKey]) {
    t.notMatch(sopsError.message, secret, 'no plaintext or key in the message')
  }
}

t.test('no key configured', (t) =>
  failure(t, yaml, 'yaml', [], 'no-key', /age1yt3tfqlf.*no age key is configured/),
)

t.test('a key that is not a recipient', (t) =>
  failure(t, yaml, 'yaml', otherKey, 'wrong-key', /none of the configured age keys/),
)

t.test('a flipped ciphertext byte fails that value, naming its path', (t) => {
  const flipped = yaml.replace('data:DywXZc/D+Q==', 'data:DxwXZc/D+Q==')
  return failure(t, flipped, 'yaml', getsops, 'mac', /app2\.db\.password.*authentication tag/)
})

t.test('a changed unencrypted value is a MAC mismatch', (t) => {
  const changed = yaml.replace('remain in clear text', 'remain in clear text!')
  return failure(t, changed, 'yaml', getsops, 'mac', /MAC mismatch/)
})

t.test('a removed value is a MAC mismatch', (t) => {
  const removed = ini.replace(/^home .*\n/m, '')
  return failure(t, removed, 'ini', getsops, 'mac', /MAC mismatch/)
})

t.test('a changed lastmodified makes the MAC undecryptable', (t) => {
  const changed = yaml.replace('2022-03-15T22:11:15Z', '2022-03-15T22:11:16Z')
  return failure(t, changed, 'yaml', getsops, 'mac', /MAC cannot be decrypted/)
})

t.test('a truncated file', async (t) => {
  await failure(t, yaml.slice(0, 2000), 'yaml', getsops, 'malformed', /sops metadata|YAML/)
  await failure(t, env.slice(0, env.indexOf('sops_mac')), 'dotenv', otherKey, 'mac', /MAC/)
})

t.test('a value that should be encrypted but is not in ENC format', (t) => {
  const broken = env.replace(
    /^THIS_IS_ENCRYPTED=ENC\[[^\n]*/m,
    'THIS_IS_ENCRYPTED=ENC[AES256_GCM,data:x',
  )
  return failure(t, broken, 'dotenv', otherKey, 'malformed', /THIS_IS_ENCRYPTED.*ENC\[AES256_GCM/)
})

t.test('several key groups (Shamir) are refused', (t) => {
  const groups = JSON.stringify({
    data: 'ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]',
    sops: {
      key_groups: [
        { age: [{ recipient: 'age1a', enc: 'x' }] },
        { age: [{ recipient: 'age1b', enc: 'y' }] },
      ],
      shamir_threshold: 2,
      lastmodified: '2024-01-01T00:00:00Z',
      mac: 'ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]',
      version: '3.8.1',
    },
  })
  return failure(t, groups, 'json', getsops, 'unsupported', /2 key groups.*threshold 2/)
})

t.test('a file encrypted only for pgp is refused, naming what is there', (t) => {
  const pgpOnly = JSON.stringify({
    data: 'x',
    sops: {
      pgp: [
        {
          fp: 'FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4',
          enc: 'x',
          created_at: '2024-01-01T00:00:00Z',
        },
      ],
      kms: [{ arn: 'arn:aws:kms:x', enc: 'y', created_at: '2024-01-01T00:00:00Z' }],
      lastmodified: '2024-01-01T00:00:00Z',
      mac: 'x',
    },
  })
  return failure(
    t,
    pgpOnly,
    'json',
    getsops,
    'unsupported',
    /only for kms \(1\), pgp \(1\).*age keys only/,
  )
})

t.test('isSopsDocument: by metadata, not by name', async (t) => {
  t.notOk(isSopsDocument('A=1\nB=2\n', 'dotenv'))
  t.notOk(isSopsDocument('services:\n  web:\n    image: x\n', 'yaml'))
  t.notOk(isSopsDocument('{"sops": {"mac": "x"}}', 'json'), 'no lastmodified, no key source')
  t.notOk(isSopsDocument(Buffer.from([0, 1, 2, 255]), 'binary'))
  t.ok(isSopsDocument(env, 'dotenv'))
  t.ok(isSopsDocument(ini, 'ini'))
})

t.test('age identities: comments, blank lines, several per SOPS_AGE_KEY line', async (t) => {
  const [first, second] = getsops as [string, string]
  t.same(parseAgeIdentities({ key: `${first} ${second}`, keyFile }), [first, second, first, second])
  t.same(parseAgeIdentities({ keyFile: `# c\n\n${first}\r\n` }), [first])
  t.same(parseAgeIdentities({}), [])
  const truncated = `# comment\n${first.slice(0, -3)}\n`
  t.throws(() => parseAgeIdentities({ keyFile: truncated }), AgeKeyError)
  try {
    parseAgeIdentities({ keyFile: truncated })
  } catch (error) {
    t.match((error as Error).message, /SOPS_AGE_KEY_FILE line 2: malformed age identity/)
    t.notMatch((error as Error).message, first.slice(0, 20))
  }
  t.throws(
    () => parseAgeIdentities({ key: 'age1notakey' }),
    /SOPS_AGE_KEY line 1: not an age identity/,
  )
  t.throws(() => parseAgeIdentities({ key: 'AGE-PLUGIN-YUBIKEY-1XYZ' }), /plugin/)
})
