// The document as sops sees it once a store has read it (sops.go): ordered
// mappings and lists whose leaves are scalars, with comments as entries of
// their own. Every store (YAML, JSON, dotenv, INI, binary) builds this shape,
// so the walk that decrypts values and computes the MAC exists once, and the
// order of the walk is sops's tree order, which the MAC depends on.
import type { GoValue } from './sops-value.js'

/** A scalar as the store parsed it; an encrypted one is its `ENC[…]` string. */
export type PlainValue = string | number | boolean | null

export interface TreeLeaf {
  kind: 'leaf'
  value: PlainValue
  /** Set by the walk when the value was encrypted. */
  decrypted?: GoValue
}

export interface TreeComment {
  kind: 'comment'
  text: string
  inline: boolean
  /** Set by the walk when the comment was encrypted and decrypts. */
  decrypted?: string
}

export interface TreeEntry {
  key: string
  value: TreeNode
}

export interface TreeMap {
  kind: 'map'
  items: Array<TreeEntry | TreeComment>
}

export interface TreeList {
  kind: 'list'
  items: Array<TreeNode | TreeComment>
}

export type TreeNode = TreeLeaf | TreeMap | TreeList

export const leaf = (value: PlainValue): TreeLeaf => ({ kind: 'leaf', value })
export const comment = (text: string, inline = false): TreeComment => ({
  kind: 'comment',
  text,
  inline,
})

export function isComment(item: TreeEntry | TreeNode | TreeComment): item is TreeComment {
  return 'kind' in item && item.kind === 'comment'
}

/** What the plaintext is, for output: the decrypted value or the one in the file. */
export function leafOutput(node: TreeLeaf): PlainValue | GoValue {
  return node.decrypted ?? node.value
}

/** A decrypted string's text (binary data stays bytes elsewhere). */
export function goValueText(value: GoValue): string {
  switch (value.type) {
    case 'str':
    case 'bytes':
      return value.bytes.toString('utf8')
    case 'comment':
    case 'time':
      return value.text
    default:
      return String(value.value)
  }
}
