// Decrypting a document's tree and computing its MAC in one pass, as sops's
// Tree.Decrypt does (sops.go): every value, in tree order, is decrypted when
// the rules say it is encrypted (additional data: the keys on its path, each
// followed by ':'); every value that is not a comment feeds the SHA-512 MAC,
// or only the encrypted ones with mac_only_encrypted. Null values are skipped
// entirely. Comments are decrypted when they can be and kept as they are when
// they cannot (sops warns and keeps them: files from older versions have
// plaintext comments).
import { createHash } from 'node:crypto'
import { SopsError } from './sops-error.js'
import type { SopsMetadata } from './sops-metadata.js'
import { type EncryptionRules, shouldBeEncrypted } from './sops-rules.js'
import {
  goValueText,
  isComment,
  type TreeComment,
  type TreeLeaf,
  type TreeMap,
  type TreeNode,
} from './sops-tree.js'
import {
  type GoValue,
  goFormatFloat,
  looksEncrypted,
  macBytes,
  openValue,
  parseEncryptedValue,
  typedValue,
} from './sops-value.js'

// sops.go MACOnlyEncryptedInitialization: sha256("sops"), hashed first so such
// a MAC never equals one over all values.
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from(
  '8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69',
  'hex',
)

export interface WalkResult {
  /** Upper-case hex SHA-512, as sops prints it. */
  mac: string
  /** Every decrypted value and comment, for callers to scrub messages with. */
  values: string[]
}

export function decryptTree(
  branches: readonly TreeMap[],
  metadata: SopsMetadata,
  dataKey: Buffer,
  options: { commentPathFallback?: boolean } = {},
): WalkResult {
  const hash = createHash('sha512')
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT)
  const values: string[] = []
  const rules: EncryptionRules = metadata.rules

  const onLeaf = (node: TreeLeaf, path: string[], stack: string[][]) => {
    if (node.value === null) return
    const encrypted = shouldBeEncrypted(rules, path, stack, false)
    if (!encrypted) {
      if (!metadata.macOnlyEncrypted) hash.update(plainMacBytes(node.value))
      return
    }
    if (typeof node.value !== 'string') {
      throw new SopsError(
        'malformed',
        `the value at ${describe(path)} should be encrypted but is a plain ${typeof node.value}`,
      )
    }
    const value = decryptValue(node.value, dataKey, path)
    node.decrypted = value
    values.push(goValueText(value))
    hash.update(macBytes(value))
  }

  const onComment = (node: TreeComment, path: string[], stack: string[][]) => {
    if (!looksEncrypted(node.text)) return
    if (!shouldBeEncrypted(rules, path, stack, true)) return
    const parsed = parseEncryptedValue(node.text)
    if (parsed === undefined || parsed.type !== 'comment') return
    // A YAML comment belongs to the mapping sops's YAML parser attaches it to;
    // where another parser attaches it differently, the enclosing mappings are
    // tried too (the tag authenticates only the right one).
    const candidates = options.commentPathFallback
      ? path.map((_, index) => path.slice(0, path.length - index)).concat([[]])
      : [path]
    for (const candidate of candidates) {
      const bytes = openValue(parsed, dataKey, additionalData(candidate))
      if (bytes === undefined) continue
      node.decrypted = bytes.toString('utf8')
      values.push(node.decrypted)
      return
    }
  }

  const walkValue = (node: TreeNode, path: string[], stack: string[][]) => {
    if (node.kind === 'leaf') onLeaf(node, path, stack)
    else if (node.kind === 'map') walkMap(node, path, stack)
    else walkList(node.items, path, stack)
  }

  const walkMap = (node: TreeMap, path: string[], parentStack: string[][]) => {
    const stack = [...parentStack, []]
    const level = stack.length - 1
    for (const item of node.items) {
      if (isComment(item)) {
        ;(stack[level] as string[]).push(item.text)
        onComment(item, path, stack)
        continue
      }
      walkValue(item.value, [...path, item.key], stack)
      stack[level] = []
    }
  }

  const walkList = (items: TreeList['items'], path: string[], parentStack: string[][]) => {
    const stack = [...parentStack, []]
    const level = stack.length - 1
    for (const item of items) {
      if (isComment(item)) {
        ;(stack[level] as string[]).push(item.text)
        onComment(item, path, stack)
        continue
      }
      walkValue(item, path, stack)
      stack[level] = []
    }
  }

  for (const branch of branches) walkMap(branch, [], [])
  return { mac: hash.digest('hex').toUpperCase(), values }
}

type TreeList = Extract<TreeNode, { kind: 'list' }>

function decryptValue(text: string, dataKey: Buffer, path: string[]): GoValue {
  // sops stores an empty value as an empty string, not as ENC[…].
  if (text === '') return { type: 'str', bytes: Buffer.alloc(0) }
  const parsed = parseEncryptedValue(text)
  if (parsed === undefined) {
    throw new SopsError(
      'malformed',
      `the value at ${describe(path)} should be encrypted but is not in sops's ENC[AES256_GCM,…] format`,
    )
  }
  const bytes = openValue(parsed, dataKey, additionalData(path))
  if (bytes === undefined) {
    throw new SopsError(
      'mac',
      `the value at ${describe(path)} fails its authentication tag: the file was changed after sops wrote it, or is damaged`,
    )
  }
  const value = typedValue(parsed.type, bytes)
  if (value === undefined) {
    throw new SopsError(
      'malformed',
      `the value at ${describe(path)} has type ${JSON.stringify(parsed.type)} and a plaintext that does not fit it`,
    )
  }
  return value
}

/** sops's additional data for a value: each key on its path followed by ':'. */
export function additionalData(path: readonly string[]): string {
  return `${path.join(':')}:`
}

// ToBytes for values that were never encrypted (suffix and regex rules).
function plainMacBytes(value: string | number | boolean): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (typeof value === 'boolean') return Buffer.from(value ? 'True' : 'False')
  return Buffer.from(goFormatFloat(value))
}

function describe(path: readonly string[]): string {
  return path.length === 0 ? 'the top level' : path.join('.')
}

/** Checks the MAC the file carries against the one computed over its values. */
export function verifyMac(metadata: SopsMetadata, dataKey: Buffer, computed: string): void {
  if (metadata.mac === '') {
    throw new SopsError('mac', 'it carries no MAC, so its integrity cannot be verified')
  }
  const parsed = parseEncryptedValue(metadata.mac)
  if (parsed === undefined) {
    throw new SopsError('malformed', "its MAC is not in sops's ENC[AES256_GCM,…] format")
  }
  const stored = openValue(parsed, dataKey, metadata.lastModified)
  if (stored === undefined) {
    throw new SopsError(
      'mac',
      'its MAC cannot be decrypted: the file (or its lastmodified time) was changed after sops wrote it',
    )
  }
  if (stored.toString('utf8') !== computed) {
    throw new SopsError(
      'mac',
      'MAC mismatch: its values were changed, added, removed or reordered after sops wrote it',
    )
  }
}
