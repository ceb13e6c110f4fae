// The `sops` metadata of a document (stores/stores.go, stores/metadata.go in
// getsops/sops): when it was last written (the MAC's additional data), the
// encrypted MAC, which values are encrypted, and the master keys that each
// hold the data key. YAML and JSON keep it as a nested `sops` mapping; INI
// flattens it into a [sops] section and dotenv into `sops_…` keys, with
// `__map_<key>` and `__list_<n>` spelling out the nesting.
import { SopsError } from './sops-error.js'
import { type EncryptionRules, goRegExp } from './sops-rules.js'

export interface AgeStanza {
  recipient: string
  enc: string
}

export interface KeyGroup {
  age: AgeStanza[]
  /** The other master key types in the group, e.g. `pgp (2)`, for messages. */
  others: string[]
}

export interface SopsMetadata {
  lastModified: string
  mac: string
  macOnlyEncrypted: boolean
  rules: EncryptionRules
  keyGroups: KeyGroup[]
  shamirThreshold: number
}

const KEY_TYPES = ['kms', 'gcp_kms', 'hckms', 'azure_kv', 'hc_vault', 'age', 'pgp'] as const

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** True when `value` has what every sops document's metadata has. */
export function looksLikeMetadata(value: unknown): boolean {
  if (!isObject(value)) return false
  if (typeof value.mac !== 'string' || typeof value.lastmodified !== 'string') return false
  return hasKeySource(value)
}

function hasKeySource(value: Record<string, unknown>): boolean {
  if (KEY_TYPES.some((type) => Array.isArray(value[type]) && value[type].length > 0)) return true
  return Array.isArray(value.key_groups) && value.key_groups.length > 0
}

export function readMetadata(value: unknown): SopsMetadata {
  if (!isObject(value)) throw malformed('its sops metadata is not a mapping')
  const lastModified = weakString(value.lastmodified)
  if (lastModified === undefined || !RFC3339.test(lastModified)) {
    throw malformed('its sops metadata has no valid lastmodified time')
  }
  const mac = weakString(value.mac) ?? ''
  return {
    lastModified: goRfc3339(lastModified),
    mac,
    macOnlyEncrypted: weakBool(value.mac_only_encrypted),
    rules: readRules(value),
    keyGroups: readKeyGroups(value),
    shamirThreshold: Number(weakString(value.shamir_threshold) ?? 0) || 0,
  }
}

function readRules(value: Record<string, unknown>): EncryptionRules {
  const fields = {
    unencrypted_suffix: weakString(value.unencrypted_suffix) ?? '',
    encrypted_suffix: weakString(value.encrypted_suffix) ?? '',
    unencrypted_regex: weakString(value.unencrypted_regex) ?? '',
    encrypted_regex: weakString(value.encrypted_regex) ?? '',
    unencrypted_comment_regex: weakString(value.unencrypted_comment_regex) ?? '',
    encrypted_comment_regex: weakString(value.encrypted_comment_regex) ?? '',
  }
  const set = Object.entries(fields).filter(([, rule]) => rule !== '')
  if (set.length > 1) {
    throw malformed(
      `its sops metadata sets more than one of ${set.map(([name]) => name).join(', ')}`,
    )
  }
  // sops's default when a file names no rule.
  if (set.length === 0) return { unencryptedSuffix: '_unencrypted' }
  const rules: EncryptionRules = {}
  if (fields.unencrypted_suffix) rules.unencryptedSuffix = fields.unencrypted_suffix
  if (fields.encrypted_suffix) rules.encryptedSuffix = fields.encrypted_suffix
  if (fields.unencrypted_regex) {
    rules.unencryptedRegex = goRegExp(fields.unencrypted_regex, 'unencrypted_regex')
  }
  if (fields.encrypted_regex) {
    rules.encryptedRegex = goRegExp(fields.encrypted_regex, 'encrypted_regex')
  }
  if (fields.unencrypted_comment_regex) {
    rules.unencryptedCommentRegex = goRegExp(
      fields.unencrypted_comment_regex,
      'unencrypted_comment_regex',
    )
  }
  if (fields.encrypted_comment_regex) {
    rules.encryptedCommentRegex = goRegExp(
      fields.encrypted_comment_regex,
      'encrypted_comment_regex',
    )
  }
  return rules
}

// As sops: keys listed at the top of the metadata form the one group, and
// then key_groups is not read; otherwise each key_groups entry is a group.
function readKeyGroups(value: Record<string, unknown>): KeyGroup[] {
  if (KEY_TYPES.some((type) => Array.isArray(value[type]) && value[type].length > 0)) {
    return [readGroup(value)]
  }
  if (Array.isArray(value.key_groups) && value.key_groups.length > 0) {
    return value.key_groups.map((group) => readGroup(isObject(group) ? group : {}))
  }
  throw malformed('its sops metadata lists no keys')
}

function readGroup(group: Record<string, unknown>): KeyGroup {
  const age: AgeStanza[] = []
  const others: string[] = []
  for (const type of KEY_TYPES) {
    const entries = Array.isArray(group[type]) ? group[type] : []
    if (entries.length === 0) continue
    if (type !== 'age') {
      others.push(`${type} (${entries.length})`)
      continue
    }
    for (const entry of entries) {
      const recipient = isObject(entry) ? weakString(entry.recipient) : undefined
      const enc = isObject(entry) ? weakString(entry.enc) : undefined
      if (recipient === undefined || enc === undefined) {
        throw malformed('an age entry of its sops metadata has no recipient or enc')
      }
      age.push({ recipient, enc })
    }
  }
  return { age, others }
}

/**
 * The nested metadata from flattened `age__list_0__map_enc`-style keys
 * (stores/flatten.go: unflattenTreeBranch).
 */
export function unflattenMetadata(entries: ReadonlyArray<readonly [string, string]>): Json {
  const root: Record<string, Json> = {}
  for (const [flatKey, value] of entries) {
    const tokens = tokenize(flatKey)
    let node: Json = root
    tokens.forEach((token, index) => {
      const last = index === tokens.length - 1
      const container = node as Record<string, Json> | Json[]
      const key = token as never
      const existing = (container as Record<string, Json>)[key]
      if (last) {
        if (existing !== undefined) throw malformed('its sops metadata repeats a key')
        ;(container as Record<string, Json>)[key] = value
        return
      }
      const next = tokens[index + 1]
      if (existing === undefined) {
        ;(container as Record<string, Json>)[key] = typeof next === 'number' ? [] : {}
      }
      node = (container as Record<string, Json>)[key] as Json
      if (
        node === null ||
        typeof node !== 'object' ||
        Array.isArray(node) !== (typeof next === 'number')
      ) {
        throw malformed('its sops metadata mixes values and lists under one key')
      }
    })
  }
  for (const list of lists(root)) {
    if ([...list.keys()].some((index) => list[index] === undefined)) {
      throw malformed('its sops metadata has a list with gaps')
    }
  }
  return root
}

function* lists(node: Json): Generator<Json[]> {
  if (Array.isArray(node)) {
    yield node
    for (const item of node) yield* lists(item)
  } else if (node !== null && typeof node === 'object') {
    for (const item of Object.values(node)) yield* lists(item)
  }
}

function tokenize(flatKey: string): Array<string | number> {
  const tokens: Array<string | number> = []
  const parts = flatKey.split(/(__map_|__list_)/)
  tokens.push(parts[0] as string)
  for (let index = 1; index < parts.length; index += 2) {
    const rest = parts[index + 1] as string
    tokens.push(parts[index] === '__list_' ? Number.parseInt(rest, 10) || 0 : rest)
  }
  return tokens
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

// The MAC's additional data is lastmodified parsed and printed again with
// Go's time.RFC3339 layout: the fraction dropped, a zero offset written Z.
function goRfc3339(text: string): string {
  const match = /^(.{10}).(.{8})(?:\.\d+)?(.*)$/.exec(text) as RegExpExecArray
  const zone = match[3] as string
  const offset = /^[Zz]$|^[+-]00:00$/.test(zone) ? 'Z' : zone
  return `${match[1]}T${match[2]}${offset}`
}

// mapstructure's WeaklyTypedInput, which sops decodes metadata with: the
// flattened formats hold every value as a string.
function weakString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

function weakBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)
  if (typeof value === 'number') return value !== 0
  return false
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function malformed(reason: string): SopsError {
  return new SopsError('malformed', reason)
}
