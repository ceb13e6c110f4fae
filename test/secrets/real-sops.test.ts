import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import {
  decryptSops,
  isSopsDocument,
  parseAgeIdentities,
  type SopsFormat,
  sopsFormatOf,
} from '../../services/secrets/index.js'

// Files the real sops binary wrote (provenance in test/fixtures/sops/README.md).
// Decrypting them proves the value cipher, the path additional data and the
// MAC against sops itself: the MAC covers every value, so one value decrypted
// wrongly, or one walked out of sops's order, fails the whole file.
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'sops')
const read = (name: string) => readFileSync(join(fixtures, name))
const keys = (name: string) => parseAgeIdentities({ keyFile: read(name).toString('utf8') })
const getsops = keys('getsops-age-keys.txt')
const decrypt = (name: string, identities: string[], format: SopsFormat = sopsFormatOf(name)) =>
  decryptSops(read(name), format, identities)

t.test(
  'getsops example.yaml (sops 3.7.1): values, types, encrypted comments, unencrypted suffix',
  async (t) => {
    t.ok(isSopsDocument(read('getsops-example.yaml'), 'yaml'))
    const { plaintext, values } = await decrypt('getsops-example.yaml', getsops)
    const text = plaintext.toString()
    const data = parseYaml(text)
    t.equal(data.myapp1, 't00m4nys3cr3tzupdated')
    t.same(data.app2.db, { user: 'eve', password: 'c4r1b0u' })
    t.match(data.app2.key, /^-----BEGIN RSA PRIVATE KEY-----\n/)
    t.equal(data.number, 1234568000)
    t.same(data.somebooleans, [true, false])
    t.equal(data.this.is.a.nested.value, 'with something secret in it')
    t.same(data.somelist_unencrypted[0], 'all elements of this list')
    t.notOk('sops' in data, 'the metadata is gone')
    t.match(text, '# private key for secret operations in app2', 'an encrypted comment, decrypted')
    t.match(text, '# sops supports unencrypted fields')
    t.ok(values.includes('c4r1b0u'))
    t.ok(values.includes(' private key for secret operations in app2'))
    t.same(Object.keys(data), [
      'myapp1',
      'app2',
      'number',
      'an_array',
      'somebooleans',
      'this',
      'somelist_unencrypted',
      'nested_unencrypted',
    ])
  },
)

t.test('getsops example.yaml with the second key alone', async (t) => {
  const [, second] = getsops
  const { plaintext } = await decrypt('getsops-example.yaml', [second as string])
  t.equal(parseYaml(plaintext.toString()).app2.db.user, 'eve')
})

t.test('getsops example.json: order, a float, an empty value, tab indentation', async (t) => {
  const { plaintext } = await decrypt('getsops-example.json', getsops)
  const text = plaintext.toString()
  t.equal(JSON.parse(text).firstName, 'John')
  t.equal(JSON.parse(text).age, 25.4)
  t.equal(JSON.parse(text).anEmptyValue, '')
  t.equal(JSON.parse(text).phoneNumbers[1].number, '646 555-4567')
  t.match(text, /^\{\n\t"firstName": "John",\n\t"lastName": "Smith",\n/)
  t.ok(text.endsWith('}\n'))
})

t.test('getsops example.ini: sections, an encrypted comment, aligned keys', async (t) => {
  const { plaintext } = await decrypt('getsops-example.ini', getsops)
  t.equal(
    plaintext.toString(),
    [
      '; An example file for use with sops!',
      '[name]',
      'firstName = John',
      'lastName  = Smith',
      'age       = 25.4',
      '',
      '[address]',
      'city          = New York',
      'postalCode    = 10021-3100',
      'state         = NY',
      'streetAddress = 21 2nd Street',
      '',
      '[phoneNumbers]',
      'home   = 212 555-1234',
      'office = 646 555-4567',
      '',
      '[not private]',
      'notsecret_unencrypted = hi there!',
      '',
    ].join('\n'),
  )
})

t.test('getsops example.txt: a binary file is its raw bytes', async (t) => {
  t.equal(sopsFormatOf('example.txt'), 'binary')
  t.ok(isSopsDocument(read('getsops-example.txt'), 'binary'))
  const { plaintext } = await decrypt('getsops-example.txt', getsops)
  t.match(plaintext.toString(), /^Welcome to SOPS!\n\nSOPS is a manager of encrypted files/)
})

t.test('pb-stack (sops 3.10.1, no empty key lists)', async (t) => {
  const { plaintext } = await decrypt('pb-stack-sops.test.enc.yml', getsops)
  t.same(Object.keys(parseYaml(plaintext.toString())), ['version'])
})

t.test('doco-cd (sops 3.9.0): dotenv, YAML with a dotted key, JSON', async (t) => {
  const identities = keys('doco-cd-age-key.txt')
  const env = await decrypt('doco-cd-encrypted.env', identities)
  t.equal(env.plaintext.toString(), `${read('doco-cd-unencrypted.env').toString().trim()}\n`)
  const yaml = await decrypt('doco-cd-encrypted.yaml', identities)
  t.equal(yaml.plaintext.toString(), 'this.is.encrypted: yes\n')
  const json = await decrypt('doco-cd-encrypted.json', identities)
  t.ok(JSON.parse(json.plaintext.toString()))
})

t.test(
  'sops-age (sops 3.8.1, three recipients): dotenv, JSON and YAML with int, float, bool',
  async (t) => {
    const identities = keys('sops-age-key.txt')
    const expected = JSON.parse(read('sops-age-secret.json').toString())
    const json = await decrypt('sops-age-secret.enc.json', identities)
    t.same(JSON.parse(json.plaintext.toString()), expected)
    const yaml = await decrypt('sops-age-secret.enc.yaml', identities)
    // Their YAML was encrypted from the same data without the "0word" key.
    const { '0word': _absent, ...withoutWord } = expected
    t.same(parseYaml(yaml.plaintext.toString()), withoutWord)
    const env = await decrypt('sops-age-secret.enc.env', identities)
    t.match(env.plaintext.toString(), /^secret=.+\nanother_secret=.*\n$/)
  },
)
