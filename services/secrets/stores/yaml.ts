// YAML (stores/yaml/store.go). sops reads every document of the stream, keeps
// key order and each scalar's type, and carries comments as entries of the
// tree (an encrypted comment is `#ENC[…,type:comment]`). Decrypted values are
// written back into the parsed documents, so order, types and comments stay;
// printing uses sops's four-space indentation. The `sops` mapping of the
// first document is the metadata and is dropped from every document.
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Scalar,
  visit,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml'
import { SopsError } from '../sops-error.js'
import {
  comment,
  type PlainValue,
  type TreeComment,
  type TreeLeaf,
  type TreeList,
  type TreeMap,
  type TreeNode,
} from '../sops-tree.js'
import type { GoValue } from '../sops-value.js'
import type { LoadedDocument, SopsStore } from './store.js'

type TreeListNode = Extract<TreeNode, { kind: 'list' }>
type ScalarLeaf = TreeLeaf & { scalar: Scalar }

export const yamlStore: SopsStore = {
  mayHaveMetadata: (text) =>
    text.includes('sops') && text.includes('lastmodified') && text.includes('mac'),
  load(text): LoadedDocument {
    const documents = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false })
    if (!Array.isArray(documents)) return emptyStream()
    for (const document of documents) {
      const [error] = document.errors
      if (error !== undefined) {
        const line = error.linePos?.[0].line
        throw new SopsError('malformed', `it is not valid YAML${line ? ` (line ${line})` : ''}`)
      }
    }
    const leaves: ScalarLeaf[] = []
    const comments: TreeComment[] = []
    let metadata: unknown
    const branches = documents.map((document, index) => {
      const contents = document.contents
      if (contents !== null && !isMap(contents)) {
        throw new SopsError(
          'unsupported',
          'it is a YAML document whose top level is not a mapping, which sops does not write',
        )
      }
      if (isMap(contents)) {
        const sopsPairs = contents.items.filter(
          (pair) => isScalar(pair.key) && pair.key.value === 'sops',
        )
        if (sopsPairs.length > 1 && index === 0) {
          throw new SopsError('malformed', 'it has more than one sops entry')
        }
        const [sopsPair] = sopsPairs
        if (index === 0 && sopsPair !== undefined) metadata = document.toJS().sops
        keepCommentsBefore(sopsPairs, contents)
        contents.items = contents.items.filter((pair) => !sopsPairs.includes(pair))
      }
      const branch: TreeMap = { kind: 'map', items: [] }
      pushComments(branch.items, document.commentBefore, false, comments)
      if (isMap(contents)) {
        mapItems(contents, branch.items, true, leaves, comments)
        pushComments(branch.items, contents.comment, false, comments)
      }
      pushComments(branch.items, document.comment, false, comments)
      return branch
    })
    if (metadata === undefined) throw new SopsError('malformed', 'it has no sops metadata')
    return {
      branches,
      metadata,
      commentPathFallback: true,
      emit: () => Buffer.from(emitYaml(documents, leaves, comments)),
    }
  },
}

// sops writes the metadata after the document's last entry, so a comment at
// the end of the document is the head comment of the `sops` key; in sops's
// tree it is an entry of its own and stays when the metadata is taken out.
// Here it moves to the next entry, or to the end of the top-level mapping.
function keepCommentsBefore(sopsPairs: YAMLMap['items'], contents: YAMLMap): void {
  for (const pair of sopsPairs) {
    const key = pair.key
    const text = isScalar(key) ? key.commentBefore : undefined
    if (!text) continue
    const index = contents.items.indexOf(pair)
    const next = contents.items.slice(index + 1).find((item) => !sopsPairs.includes(item))
    if (next !== undefined && isScalar(next.key)) {
      next.key.commentBefore = next.key.commentBefore ? `${text}\n${next.key.commentBefore}` : text
    } else {
      contents.comment = contents.comment ? `${contents.comment}\n${text}` : text
    }
  }
}

function emptyStream(): never {
  throw new SopsError('malformed', 'it has no sops metadata')
}

function pushComments(
  items: Array<TreeMap['items'][number] | TreeList['items'][number]>,
  text: string | null | undefined,
  inline: boolean,
  all: TreeComment[],
): void {
  if (!text) return
  for (const line of text.split('\n')) {
    if (line === '') continue
    const node = comment(line, inline)
    items.push(node)
    all.push(node)
  }
}

// Comments before a key and around a scalar value are entries just before
// that value, as sops's YAML store puts them; a nested mapping or list keeps
// its own leading and trailing comments inside itself.
function mapItems(
  map: YAMLMap,
  items: TreeMap['items'],
  commentsHandled: boolean,
  leaves: ScalarLeaf[],
  comments: TreeComment[],
): void {
  if (!commentsHandled) pushComments(items, map.commentBefore, false, comments)
  for (const pair of map.items) {
    if (!isPair(pair) || !isScalar(pair.key) || typeof pair.key.value !== 'string') {
      throw new SopsError(
        'unsupported',
        'it has a YAML key that is not a string, which sops refuses',
      )
    }
    pushComments(items, pair.key.commentBefore, false, comments)
    pushComments(items, pair.key.comment, false, comments)
    const value = pair.value
    const scalarLike = value === null || isScalar(value)
    if (scalarLike && value !== null) {
      pushComments(items, value.commentBefore, false, comments)
      pushComments(items, value.comment, true, comments)
    }
    items.push({ key: pair.key.value, value: treeValue(value, leaves, comments) })
  }
  if (!commentsHandled) pushComments(items, map.comment, false, comments)
}

function seqItems(
  seq: YAMLSeq,
  items: TreeListNode['items'],
  leaves: ScalarLeaf[],
  comments: TreeComment[],
): void {
  pushComments(items, seq.commentBefore, false, comments)
  for (const item of seq.items) {
    if (item === null || isScalar(item)) {
      pushComments(items, item?.commentBefore, false, comments)
      pushComments(items, item?.comment, true, comments)
    }
    items.push(treeValue(item as never, leaves, comments))
  }
  pushComments(items, seq.comment, false, comments)
}

function treeValue(value: unknown, leaves: ScalarLeaf[], comments: TreeComment[]): TreeNode {
  if (value === null || value === undefined) return { kind: 'leaf', value: null }
  if (isAlias(value)) {
    throw new SopsError('unsupported', 'it uses YAML aliases, which sops does not write')
  }
  if (isScalar(value)) {
    const node: ScalarLeaf = { kind: 'leaf', value: scalarValue(value), scalar: value }
    leaves.push(node)
    return node
  }
  if (isMap(value)) {
    const node: TreeMap = { kind: 'map', items: [] }
    mapItems(value, node.items, false, leaves, comments)
    return node
  }
  if (isSeq(value)) {
    const node: TreeListNode = { kind: 'list', items: [] }
    seqItems(value, node.items, leaves, comments)
    return node
  }
  throw new SopsError('unsupported', 'it has a YAML node docker-cd cannot read')
}

function scalarValue(scalar: Scalar): PlainValue {
  const value = scalar.value
  if (value === null || value === undefined) return null
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value
  }
  if (typeof value === 'bigint') return Number(value)
  return String(value)
}

function emitYaml(
  documents: Document.Parsed[],
  leaves: ScalarLeaf[],
  comments: TreeComment[],
): string {
  for (const node of leaves) {
    if (node.decrypted === undefined) continue
    const value = yamlValue(node.decrypted)
    node.scalar.value = value
    node.scalar.type =
      typeof value === 'string' && value.includes('\n') ? 'BLOCK_LITERAL' : undefined
    delete node.scalar.format
  }
  // Comment text is unique (each encrypted comment has its own IV), so the
  // decrypted text replaces the encrypted line wherever the parser put it.
  const plainComments = new Map<string, string>()
  for (const node of comments)
    if (node.decrypted !== undefined) plainComments.set(node.text, node.decrypted)
  const decryptComment = (text: string | null | undefined) =>
    text
      ?.split('\n')
      .map((line) => plainComments.get(line) ?? line)
      .join('\n')
  for (const document of documents) {
    if (plainComments.size > 0) {
      document.commentBefore = decryptComment(document.commentBefore) ?? null
      document.comment = decryptComment(document.comment) ?? null
      visit(document, (_key, node) => {
        if (isScalar(node) || isMap(node) || isSeq(node)) {
          node.commentBefore = decryptComment(node.commentBefore)
          node.comment = decryptComment(node.comment)
        }
      })
    }
  }
  return documents
    .map((document) =>
      document.toString({ indent: 4, lineWidth: 0, directives: false, indentSeq: true }),
    )
    .join('---\n')
}

function yamlValue(value: GoValue): string | number | boolean {
  switch (value.type) {
    case 'str':
    case 'bytes':
      return value.bytes.toString('utf8')
    case 'time':
    case 'comment':
      return value.text
    default:
      return value.value
  }
}
