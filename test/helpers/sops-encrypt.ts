// A SOPS encryptor for tests only, written from sops's own definitions
// (getsops/sops: sops.go Tree.Encrypt, shouldBeEncrypted and ToBytes;
// aes/cipher.go Encrypt; cmd/sops/common (the MAC and lastmodified);
// stores/metadata.go, stores/flatten.go and the yaml, json, dotenv and ini
// stores for the file layout). It shares no code with services/secrets, so
// a round trip through decryptSops checks one reading of the specification
// against another. The cryptography is Node's AES-256-GCM and the age
// project's TypeScript implementation (age-encryption) for the data key.
//
// What it does, as `sops -e` does:
//   - a fresh random 32-byte data key, encrypted to every age recipient as an
//     armored age file (one `age` entry each, in the order given);
//   - every value the rules select encrypted with AES-256-GCM under the data
//     key, a random 32-byte IV and the value's path (each key followed by
//     ':') as additional data; the plaintext of an int is its decimal text,
//     of a float Go's shortest 'f' form, of a bool "True"/"False"; empty
//     strings stay empty; comments are encrypted as type comment;
//   - the MAC: SHA-512 over every non-comment value in tree order (only over
//     the encrypted ones with mac_only_encrypted, after sha256("sops")),
//     upper-case hex, encrypted as a str with lastmodified in Go's RFC 3339
//     form as additional data;
//   - metadata keys in sops's order (sorted by name), `sops` mapping in YAML
//     (every document) and JSON, `[sops]` section flattened below it in INI
//     (newlines written `\n`), `sops_`-prefixed fully flattened keys in dotenv.
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { armor, Encrypter } from 'age-encryption'
import {
  Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  Scalar,
  YAMLMap,
  YAMLSeq,
} from 'yaml'

export type SopsTestFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary'

export interface SopsEncryptOptions {
  /** age recipients (`age1…`), each gets its own entry holding the data key. */
  recipients: readonly string[]
  /** At most one rule, as sops allows; none means unencrypted_suffix "_unencrypted". */
  unencryptedSuffix?: string
  encryptedSuffix?: string
  unencryptedRegex?: string
  encryptedRegex?: string
  unencryptedCommentRegex?: string
  encryptedCommentRegex?: string
  macOnlyEncrypted?: boolean
  /** Defaults to now; written to the second, UTC, as sops does. */
  lastModified?: Date
  version?: string
  /** A data key to use instead of a random one (to compare files in tests). */
  dataKey?: Buffer
  /**
   * Writes a recipient's armored age file holding the data key; by default
   * age-encryption's Encrypter (a test can hand this to the `age` tool).
   */
  wrapDataKey?: (dataKey: Buffer, recipient: string) => Promise<string>
}

export interface SopsEncrypted {
  text: string
  dataKey: Buffer
  /** The MAC before encryption (upper-case hex SHA-512). */
  mac: string
}

// --- sops's tree ------------------------------------------------------------

interface Leaf {
  kind: 'leaf'
  value: string | number | boolean | null
  /** A number that is a float in the source (1.0, 2.5), not an int. */
  float?: boolean
  /** Raw bytes of a str value (binary files need not be UTF-8). */
  bytes?: Buffer
  encrypted?: string
}
interface Comment {
  kind: 'comment'
  text: string
  inline: boolean
  encrypted?: string
}
interface MapNode {
  kind: 'map'
  items: Array<{ key: string; value: Node } | Comment>
}
interface ListNode {
  kind: 'list'
  items: Array<Node | Comment>
}
type Node = Leaf | MapNode | ListNode

const leaf = (value: Leaf['value'], float = false): Leaf => ({ kind: 'leaf', value, float })
const comment = (text: string, inline = false): Comment => ({ kind: 'comment', text, inline })
const isCommentItem = (item: unknown): item is Comment =>
  (item as { kind?: string }).kind === 'comment'

// --- the encryption walk (sops.go) ----------------------------------------

interface Rules {
  unencryptedSuffix?: string
  encryptedSuffix?: string
  unencryptedRegex?: RegExp
  encryptedRegex?: RegExp
  unencryptedCommentRegex?: RegExp
  encryptedCommentRegex?: RegExp
}

function shouldBeEncrypted(
  rules: Rules,
  path: string[],
  stack: string[][],
  isComment: boolean,
): boolean {
  let encrypted = true
  if (rules.unencryptedSuffix !== undefined) {
    for (const key of path) if (key.endsWith(rules.unencryptedSuffix)) encrypted = false
  }
  if (rules.encryptedSuffix !== undefined) {
    encrypted = false
    for (const key of path) if (key.endsWith(rules.encryptedSuffix)) encrypted = true
  }
  if (rules.unencryptedRegex !== undefined) {
    for (const key of path) if (rules.unencryptedRegex.test(key)) encrypted = false
  }
  if (rules.encryptedRegex !== undefined) {
    encrypted = false
    for (const key of path) if (rules.encryptedRegex.test(key)) encrypted = true
  }
  if (rules.unencryptedCommentRegex !== undefined) {
    for (const level of stack) {
      for (const text of level) if (rules.unencryptedCommentRegex.test(text)) encrypted = false
    }
  }
  if (rules.encryptedCommentRegex !== undefined) {
    encrypted = false
    const last = stack.length - 1
    const lastLength = stack[last]?.length ?? 0
    stack.forEach((level, i) => {
      level.forEach((text, j) => {
        // The marker comment itself stays clear; only later lines are encrypted.
        if (isComment && i === last && j === lastLength - 1) return
        if (rules.encryptedCommentRegex?.test(text)) encrypted = true
      })
    })
  }
  return encrypted
}

const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest()

function goFloat(value: number): string {
  // strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never exponent form.
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf'
  const text = String(value)
  if (!/e/.test(text)) return text
  const [mantissa = '', exponentText = '0'] = text.split('e')
  const negative = mantissa.startsWith('-')
  const digits = mantissa.replace('-', '').replace('.', '')
  const point = (mantissa.replace('-', '').indexOf('.') + 1 || digits.length + 1) - 1
  const position = point + Number(exponentText)
  const body =
    position <= 0
      ? `0.${'0'.repeat(-position)}${digits}`
      : position >= digits.length
        ? digits.padEnd(position, '0')
        : `${digits.slice(0, position)}.${digits.slice(position)}`
  return `${negative ? '-' : ''}${body}`
}

/** sops's ToBytes, and the plaintext and type aes/cipher.go encrypts. */
function plaintextOf(node: Leaf | Comment): { bytes: Buffer; type: string } {
  if (node.kind === 'comment') return { bytes: Buffer.from(node.text), type: 'comment' }
  const value = node.value
  if (typeof value === 'string') return { bytes: node.bytes ?? Buffer.from(value), type: 'str' }
  if (typeof value === 'boolean')
    return { bytes: Buffer.from(value ? 'True' : 'False'), type: 'bool' }
  if (typeof value === 'number') {
    return node.float
      ? { bytes: Buffer.from(goFloat(value)), type: 'float' }
      : { bytes: Buffer.from(String(value)), type: 'int' }
  }
  throw new Error('null values are never encrypted')
}

function encryptValue(
  bytes: Buffer,
  type: string,
  dataKey: Buffer,
  additionalData: string,
): string {
  if (bytes.length === 0) return ''
  const iv = randomBytes(32)
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: 16 })
  cipher.setAAD(Buffer.from(additionalData, 'utf8'))
  const data = Buffer.concat([cipher.update(bytes), cipher.final()])
  const tag = cipher.getAuthTag()
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${tag.toString('base64')},type:${type}]`
}

function encryptTree(
  branches: MapNode[],
  rules: Rules,
  macOnlyEncrypted: boolean,
  dataKey: Buffer,
): string {
  const hash = createHash('sha512')
  if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT)
  const onLeaf = (node: Leaf | Comment, path: string[], stack: string[][]) => {
    const isComment = node.kind === 'comment'
    const encrypted = shouldBeEncrypted(rules, path, stack, isComment)
    const { bytes, type } = plaintextOf(node)
    if ((!macOnlyEncrypted || encrypted) && !isComment) hash.update(bytes)
    if (encrypted) node.encrypted = encryptValue(bytes, type, dataKey, `${path.join(':')}:`)
  }
  const walk = (node: Node, path: string[], stack: string[][]) => {
    if (node.kind === 'leaf') {
      if (node.value !== null) onLeaf(node, path, stack)
      return
    }
    const levels = [...stack, [] as string[]]
    const top = levels.length - 1
    for (const item of node.items) {
      if (isCommentItem(item)) {
        ;(levels[top] as string[]).push(item.text)
        onLeaf(item, path, levels)
        continue
      }
      if (node.kind === 'map') {
        const entry = item as { key: string; value: Node }
        walk(entry.value, [...path, entry.key], levels)
      } else {
        walk(item as Node, path, levels)
      }
      levels[top] = []
    }
  }
  for (const branch of branches) walk(branch, [], [])
  return hash.digest('hex').toUpperCase()
}

// --- metadata (stores/stores.go, stores/metadata.go, stores/flatten.go) ----

type Meta = string | boolean | Meta[] | { [key: string]: Meta }

/** time.Time.Format(time.RFC3339) of a UTC time: seconds, no fraction, Z. */
export function goRfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`
}

function flatten(value: Meta, prefix: string, out: Array<[string, string | boolean]>): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      flatten(item, `${prefix}__list_${index}`, out)
    })
  } else if (typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      flatten(item, prefix === '' ? key : `${prefix}__map_${key}`, out)
    }
  } else {
    out.push([prefix, value])
  }
}

// --- the formats ------------------------------------------------------------

export async function encryptSops(
  plaintext: string | Buffer,
  format: SopsTestFormat,
  options: SopsEncryptOptions,
): Promise<SopsEncrypted> {
  if (options.recipients.length === 0) throw new Error('no recipients')
  const ruleFields = {
    unencrypted_suffix: options.unencryptedSuffix,
    encrypted_suffix: options.encryptedSuffix,
    unencrypted_regex: options.unencryptedRegex,
    encrypted_regex: options.encryptedRegex,
    unencrypted_comment_regex: options.unencryptedCommentRegex,
    encrypted_comment_regex: options.encryptedCommentRegex,
  }
  const set = Object.entries(ruleFields).filter(([, value]) => value !== undefined)
  if (set.length > 1) throw new Error('sops allows only one of the encryption rules')
  if (set.length === 0) ruleFields.unencrypted_suffix = '_unencrypted'
  const rules: Rules = {}
  if (ruleFields.unencrypted_suffix !== undefined)
    rules.unencryptedSuffix = ruleFields.unencrypted_suffix
  if (ruleFields.encrypted_suffix !== undefined) rules.encryptedSuffix = ruleFields.encrypted_suffix
  if (ruleFields.unencrypted_regex !== undefined)
    rules.unencryptedRegex = new RegExp(ruleFields.unencrypted_regex)
  if (ruleFields.encrypted_regex !== undefined)
    rules.encryptedRegex = new RegExp(ruleFields.encrypted_regex)
  if (ruleFields.unencrypted_comment_regex !== undefined)
    rules.unencryptedCommentRegex = new RegExp(ruleFields.unencrypted_comment_regex)
  if (ruleFields.encrypted_comment_regex !== undefined)
    rules.encryptedCommentRegex = new RegExp(ruleFields.encrypted_comment_regex)

  const input = typeof plaintext === 'string' ? Buffer.from(plaintext) : plaintext
  const document = loadPlain(input, format)
  const dataKey = options.dataKey ?? randomBytes(32)
  const macOnlyEncrypted = options.macOnlyEncrypted ?? false
  const mac = encryptTree(document.branches, rules, macOnlyEncrypted, dataKey)

  const lastModified = goRfc3339(options.lastModified ?? new Date())
  const age: Meta[] = []
  const wrap = options.wrapDataKey ?? ageEncrypt
  for (const recipient of options.recipients) {
    age.push({ recipient, enc: await wrap(dataKey, recipient) })
  }
  // sops sorts the metadata keys by name (goToSops) and leaves out empty ones.
  const metadata: Record<string, Meta> = {
    age,
    lastmodified: lastModified,
    mac: encryptValue(Buffer.from(mac), 'str', dataKey, lastModified),
  }
  if (macOnlyEncrypted) metadata.mac_only_encrypted = true
  for (const [name, value] of Object.entries(ruleFields)) {
    if (value !== undefined) metadata[name] = value
  }
  metadata.version = options.version ?? '3.10.2'
  const sorted = Object.fromEntries(
    Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  )
  return { text: document.emit(sorted), dataKey, mac }
}

/** The data key as an armored age file for one recipient (age/keysource.go). */
export async function ageEncrypt(dataKey: Buffer, recipient: string): Promise<string> {
  const encrypter = new Encrypter()
  encrypter.addRecipient(recipient)
  return armor.encode(await encrypter.encrypt(dataKey))
}

interface PlainDocument {
  branches: MapNode[]
  emit(metadata: Record<string, Meta>): string
}

function loadPlain(input: Buffer, format: SopsTestFormat): PlainDocument {
  switch (format) {
    case 'yaml':
      return loadYaml(input.toString('utf8'))
    case 'json':
      return loadJson(input.toString('utf8'))
    case 'dotenv':
      return loadDotenv(input.toString('utf8'))
    case 'ini':
      return loadIni(input.toString('utf8'))
    case 'binary': {
      // The whole file is one str value under "data" (stores/json BinaryStore).
      const data: Leaf = { kind: 'leaf', value: input.toString('latin1'), bytes: input }
      const branch: MapNode = { kind: 'map', items: [{ key: 'data', value: data }] }
      return {
        branches: [branch],
        emit: (metadata) =>
          `${jsonText({ kind: 'map', items: [...branch.items, { key: 'sops', value: metaNode(metadata) }] }, '')}`,
      }
    }
  }
}

function metaNode(value: Meta): Node {
  if (Array.isArray(value)) return { kind: 'list', items: value.map(metaNode) }
  if (typeof value === 'object') {
    return {
      kind: 'map',
      items: Object.entries(value).map(([key, item]) => ({ key, value: metaNode(item) })),
    }
  }
  return leaf(value)
}

// --- YAML (stores/yaml/store.go, on the yaml package's comment model) -------

function loadYaml(text: string): PlainDocument {
  const documents = parseAllDocuments(text)
  if (!Array.isArray(documents)) throw new Error('no YAML documents')
  const branches = documents.map((document) => {
    if (document.errors.length > 0) throw document.errors[0]
    const branch: MapNode = { kind: 'map', items: [] }
    pushComments(branch.items, document.commentBefore, false)
    if (document.contents !== null) {
      if (!isMap(document.contents)) throw new Error('sops YAML documents are mappings')
      yamlMapItems(document.contents, branch.items, true)
    }
    pushComments(branch.items, document.comment, false)
    return branch
  })
  return {
    branches,
    emit(metadata) {
      return branches
        .map((branch) => {
          const document = new Document()
          const map = yamlNode({
            kind: 'map',
            items: [...branch.items, { key: 'sops', value: metaNode(metadata) }],
          })
          document.contents = map as never
          return document.toString({ indent: 4, lineWidth: 0, indentSeq: true })
        })
        .join('---\n')
    },
  }
}

function pushComments(items: Array<unknown>, text: string | null | undefined, inline: boolean) {
  if (!text) return
  for (const line of text.split('\n')) if (line !== '') items.push(comment(line, inline))
}

function yamlMapItems(map: YAMLMap, items: MapNode['items'], handled: boolean): void {
  if (!handled) pushComments(items, map.commentBefore, false)
  for (const pair of map.items) {
    if (!isPair(pair) || !isScalar(pair.key)) throw new Error('sops YAML keys are scalars')
    pushComments(items, pair.key.commentBefore, false)
    pushComments(items, pair.key.comment, false)
    const value = pair.value
    if (value === null || isScalar(value)) {
      pushComments(items, value?.commentBefore, false)
      pushComments(items, value?.comment, true)
    }
    items.push({ key: String(pair.key.value), value: yamlTree(value) })
  }
  if (!handled) pushComments(items, map.comment, false)
}

function yamlTree(value: unknown): Node {
  if (value === null || value === undefined) return leaf(null)
  if (isScalar(value)) {
    const v = value.value
    if (v === null || v === undefined) return leaf(null)
    if (typeof v === 'number') {
      const source = (value as Scalar & { source?: string }).source ?? String(v)
      return leaf(v, !Number.isInteger(v) || /[.eE]/.test(source))
    }
    if (typeof v === 'string' || typeof v === 'boolean') return leaf(v)
    return leaf(String(v))
  }
  if (isMap(value)) {
    const node: MapNode = { kind: 'map', items: [] }
    yamlMapItems(value, node.items, false)
    return node
  }
  if (isSeq(value)) {
    const node: ListNode = { kind: 'list', items: [] }
    pushComments(node.items, value.commentBefore, false)
    for (const item of value.items) {
      if (item === null || isScalar(item)) {
        pushComments(node.items, (item as Scalar | null)?.commentBefore, false)
        pushComments(node.items, (item as Scalar | null)?.comment, true)
      }
      node.items.push(yamlTree(item))
    }
    pushComments(node.items, value.comment, false)
    return node
  }
  throw new Error('unsupported YAML node')
}

// appendTreeBranch / appendSequence: comments before an entry become its head
// comment, inline ones the line comment of the next value, trailing ones a
// comment after the collection.
function yamlNode(node: Node): Scalar | YAMLMap | YAMLSeq {
  if (node.kind === 'leaf') {
    if (node.encrypted !== undefined) return new Scalar(node.encrypted)
    const scalar = new Scalar(node.value)
    // yaml.v3 quotes a string that YAML 1.1 would read as a timestamp.
    if (typeof node.value === 'string' && /^\d{4}-\d\d-\d\d([Tt ]|$)/.test(node.value)) {
      scalar.type = 'QUOTE_DOUBLE'
    }
    if (node.float && typeof node.value === 'number' && Number.isInteger(node.value)) {
      scalar.minFractionDigits = 1
    }
    return scalar
  }
  const head: string[] = []
  const inline: string[] = []
  const take = (list: string[]) => list.splice(0).join('\n') || undefined
  const collection = node.kind === 'map' ? new YAMLMap() : new YAMLSeq()
  for (const item of node.items) {
    if (isCommentItem(item)) {
      ;(item.inline ? inline : head).push(item.encrypted ?? item.text)
      continue
    }
    if (node.kind === 'map') {
      const entry = item as { key: string; value: Node }
      const key = new Scalar(entry.key)
      key.commentBefore = take(head)
      const value = yamlNode(entry.value)
      const line = take(inline)
      if (line !== undefined) value.comment = line
      ;(collection as YAMLMap).add({ key, value } as never)
    } else {
      const value = yamlNode(item as Node)
      value.commentBefore = take(head)
      const line = take(inline)
      if (line !== undefined) value.comment = line
      ;(collection as YAMLSeq).items.push(value)
    }
  }
  const rest = [...head, ...inline]
  if (rest.length > 0) collection.comment = rest.join('\n')
  return collection
}

// --- JSON (stores/json/store.go) --------------------------------------------

function loadJson(text: string): PlainDocument {
  // The reviver's source text tells 1.0 (a float) from 1 (an int), as sops's
  // json.Number handling does; JSON.parse puts integer-like keys first, so
  // they are refused rather than silently reordered.
  const root = JSON.parse(
    text,
    function (this: unknown, key, value, context?: { source?: string }) {
      if (/^\d+$/.test(key) && !Array.isArray(this)) throw new Error('integer-like JSON keys')
      if (typeof value === 'number')
        return { __number: value, float: /[.eE]/.test(context?.source ?? '') }
      return value
    },
  ) as unknown
  const toNode = (value: unknown): Node => {
    if (Array.isArray(value)) return { kind: 'list', items: value.map(toNode) }
    if (value !== null && typeof value === 'object') {
      if ('__number' in value) {
        const number = value as { __number: number; float: boolean }
        return leaf(number.__number, number.float)
      }
      return {
        kind: 'map',
        items: Object.entries(value).map(([key, item]) => ({ key, value: toNode(item) })),
      }
    }
    return leaf(value as Leaf['value'])
  }
  const branch = toNode(root)
  if (branch.kind !== 'map') throw new Error('sops JSON files are objects')
  return {
    branches: [branch],
    emit: (metadata) =>
      `${jsonText({ kind: 'map', items: [...branch.items, { key: 'sops', value: metaNode(metadata) }] }, '')}\n`,
  }
}

function jsonText(node: Node, indent: string): string {
  const inner = `${indent}\t`
  if (node.kind === 'leaf') {
    if (node.encrypted !== undefined) return JSON.stringify(node.encrypted)
    if (typeof node.value === 'number' && node.float) return goFloat(node.value)
    return JSON.stringify(node.value)
  }
  if (node.kind === 'list') {
    const items = node.items.filter((item) => !isCommentItem(item)) as Node[]
    if (items.length === 0) return '[]'
    return `[\n${items.map((item) => inner + jsonText(item, inner)).join(',\n')}\n${indent}]`
  }
  const entries = node.items.filter((item) => !isCommentItem(item)) as Array<{
    key: string
    value: Node
  }>
  if (entries.length === 0) return '{}'
  return `{\n${entries.map((entry) => `${inner}${JSON.stringify(entry.key)}: ${jsonText(entry.value, inner)}`).join(',\n')}\n${indent}}`
}

// --- dotenv (stores/dotenv/store.go) ------------------------------------------

function loadDotenv(text: string): PlainDocument {
  const branch: MapNode = { kind: 'map', items: [] }
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      branch.items.push(comment(line.slice(1)))
      continue
    }
    const equals = line.indexOf('=')
    if (equals === -1) throw new Error('invalid dotenv line')
    const key = line.slice(0, equals)
    if (key.startsWith('sops_')) throw new Error('sops_ keys are reserved for the metadata')
    branch.items.push({ key, value: leaf(line.slice(equals + 1).replaceAll('\\n', '\n')) })
  }
  return {
    branches: [branch],
    emit(metadata) {
      let out = ''
      for (const item of branch.items) {
        if (isCommentItem(item)) {
          out += `#${item.encrypted ?? item.text}\n`
          continue
        }
        const node = item.value as Leaf
        out += `${item.key}=${(node.encrypted ?? String(node.value)).replaceAll('\n', '\\n')}\n`
      }
      const flat: Array<[string, string | boolean]> = []
      flatten(metadata, '', flat)
      for (const [key, value] of flat) {
        out += `sops_${key}=${typeof value === 'string' ? value.replaceAll('\n', '\\n') : String(value)}\n`
      }
      return out
    },
  }
}

// --- INI (stores/ini/store.go, written as go-ini writes) -------------------

function loadIni(text: string): PlainDocument {
  const sections: MapNode['items'] = []
  const defaults: MapNode = { kind: 'map', items: [] }
  sections.push({ key: 'DEFAULT', value: defaults })
  let current = defaults
  let pending: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (line.startsWith(';') || line.startsWith('#')) {
      pending.push(line)
      continue
    }
    if (line.startsWith('[')) {
      current = { kind: 'map', items: [] }
      if (pending.length > 0) current.items.push(comment(stripCommentChar(pending.join('\n'))))
      pending = []
      sections.push({ key: line.slice(1, line.indexOf(']')), value: current })
      continue
    }
    const equals = line.indexOf('=')
    if (equals === -1) throw new Error('invalid INI line')
    // go-ini's quoting (one line only here): `…`, "…" and '…' are taken off.
    const value = line
      .slice(equals + 1)
      .trim()
      .replace(/^(`|"|')(.*)\1$/s, '$2')
    current.items.push({ key: line.slice(0, equals).trim(), value: leaf(value) })
    // go-ini keeps the comment above a key as the key's; sops puts it after the key.
    if (pending.length > 0) current.items.push(comment(stripCommentChar(pending.join('\n'))))
    pending = []
  }
  if (defaults.items.length === 0) sections.shift()
  const branch: MapNode = { kind: 'map', items: sections }
  return {
    branches: [branch],
    emit(metadata) {
      const flat: Array<[string, string | boolean]> = []
      flatten(metadata, '', flat)
      const sopsSection: MapNode = {
        kind: 'map',
        items: flat.map(([key, value]) => ({
          key,
          value: leaf(typeof value === 'string' ? value.replaceAll('\n', '\\n') : String(value)),
        })),
      }
      const all = [...sections, { key: 'sops', value: sopsSection }] as Array<{
        key: string
        value: MapNode
      }>
      return all.map((section) => iniSection(section.key, section.value)).join('\n')
    },
  }
}

function stripCommentChar(text: string): string {
  if (text.startsWith(';')) return text.replace(/^[; ]+/, '')
  if (text.startsWith('#')) return text.replace(/^[# ]+/, '')
  return text
}

function iniSection(name: string, section: MapNode): string {
  let out = ''
  let items = section.items
  const first = items[0]
  if (first !== undefined && isCommentItem(first)) {
    out += `; ${first.encrypted ?? first.text}\n`
    items = items.slice(1)
  }
  if (name !== 'DEFAULT') out += `[${name}]\n`
  const keys: Array<{ key: string; value: string; comment?: string }> = []
  for (const item of items) {
    if (isCommentItem(item)) {
      const last = keys.at(-1)
      if (last) last.comment = item.encrypted ?? item.text
      continue
    }
    const node = item.value as Leaf
    keys.push({ key: item.key, value: node.encrypted ?? String(node.value) })
  }
  const width = Math.max(0, ...keys.map((key) => key.key.length))
  for (const key of keys) {
    if (key.comment !== undefined) out += `; ${key.comment}\n`
    let value = key.value
    if (value.includes('\n') || value.includes('`')) value = `"""${value}"""`
    else if (/[#;]/.test(value)) value = `\`${value}\``
    else if (value.trim() !== value) value = `"${value}"`
    out += `${key.key.padEnd(width)} = ${value}\n`
  }
  return out
}
