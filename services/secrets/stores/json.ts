// JSON and binary (stores/json/store.go). sops reads JSON token by token, so
// key order (and even a repeated key) is kept, and a number is an int when it
// fits one, else a float; it prints with tab indentation and Go's string
// escaping. A binary file is a JSON document whose `data` value is the whole
// file, encrypted as one string; decrypted, it is those bytes and nothing else.
import { SopsError } from '../sops-error.js'
import { isComment, leaf, leafOutput, type TreeMap, type TreeNode } from '../sops-tree.js'
import type { GoValue } from '../sops-value.js'
import type { LoadedDocument, SopsStore } from './store.js'

export const jsonStore: SopsStore = {
  mayHaveMetadata: mayHaveJsonMetadata,
  load(text): LoadedDocument {
    const branch = loadJson(text)
    const metadata = takeMetadata(branch)
    return {
      branches: [branch],
      metadata,
      emit: () => Buffer.from(`${indentJson(branch, '')}\n`),
    }
  },
}

export const binaryStore: SopsStore = {
  mayHaveMetadata: mayHaveJsonMetadata,
  load(text): LoadedDocument {
    const branch = loadJson(text)
    const metadata = takeMetadata(branch)
    return {
      branches: [branch],
      metadata,
      emit() {
        const data = branch.items.find((item) => !isComment(item) && item.key === 'data')
        if (data === undefined || isComment(data) || data.value.kind !== 'leaf') {
          throw new SopsError('malformed', 'it has no binary data (a "data" value)')
        }
        const value = leafOutput(data.value)
        if (typeof value === 'string') return Buffer.from(value, 'utf8')
        if (value !== null && typeof value === 'object' && value.type === 'str') return value.bytes
        throw new SopsError('malformed', 'its "data" value is not a string')
      },
    }
  },
}

function mayHaveJsonMetadata(text: string): boolean {
  return text.includes('"sops"') && text.includes('"lastmodified"') && text.includes('"mac"')
}

/** Removes the `sops` entry and returns it as a plain value. */
export function takeMetadata(branch: TreeMap): unknown {
  const found = branch.items.filter((item) => !isComment(item) && item.key === 'sops')
  if (found.length === 0) throw new SopsError('malformed', 'it has no sops metadata')
  if (found.length > 1) throw new SopsError('malformed', 'it has more than one sops entry')
  const [entry] = found
  branch.items = branch.items.filter((item) => item !== entry)
  if (entry === undefined || isComment(entry) || entry.value.kind !== 'map') {
    throw new SopsError('malformed', 'its sops entry is not a mapping')
  }
  return toPlain(entry.value)
}

export function toPlain(node: TreeNode): unknown {
  if (node.kind === 'leaf') return node.value
  if (node.kind === 'list')
    return node.items.filter((item) => !isComment(item)).map((item) => toPlain(item as TreeNode))
  const out: Record<string, unknown> = {}
  for (const item of node.items) if (!isComment(item)) out[item.key] = toPlain(item.value)
  return out
}

// --- reading ---------------------------------------------------------------

function loadJson(text: string): TreeMap {
  const parser = new JsonParser(text)
  parser.space()
  if (parser.peek() !== '{') {
    throw new SopsError('malformed', 'it is not a JSON object (sops JSON files are objects)')
  }
  const value = parser.value()
  parser.space()
  return value as TreeMap
}

class JsonParser {
  position = 0
  constructor(readonly text: string) {}

  peek(): string {
    return this.text[this.position] ?? ''
  }

  fail(): never {
    throw new SopsError('malformed', `it is not valid JSON (at character ${this.position + 1})`)
  }

  space(): void {
    while (/[ \t\n\r]/.test(this.peek())) this.position++
  }

  expect(char: string): void {
    if (this.peek() !== char) this.fail()
    this.position++
  }

  value(): TreeNode {
    this.space()
    const char = this.peek()
    if (char === '{') return this.object()
    if (char === '[') return this.array()
    if (char === '"') return leaf(this.string())
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.position)) {
        this.position += word.length
        return leaf(value)
      }
    }
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(
      this.text.slice(this.position, this.position + 400),
    )
    if (match === null) this.fail()
    this.position += match[0].length
    return leaf(Number(match[0]))
  }

  object(): TreeMap {
    this.expect('{')
    const node: TreeMap = { kind: 'map', items: [] }
    this.space()
    if (this.peek() === '}') {
      this.position++
      return node
    }
    for (;;) {
      this.space()
      const key = this.string()
      this.space()
      this.expect(':')
      node.items.push({ key, value: this.value() })
      this.space()
      if (this.peek() === ',') {
        this.position++
        continue
      }
      this.expect('}')
      return node
    }
  }

  array(): TreeNode {
    this.expect('[')
    const items: TreeNode[] = []
    this.space()
    if (this.peek() === ']') {
      this.position++
      return { kind: 'list', items }
    }
    for (;;) {
      items.push(this.value())
      this.space()
      if (this.peek() === ',') {
        this.position++
        continue
      }
      this.expect(']')
      return { kind: 'list', items }
    }
  }

  string(): string {
    if (this.peek() !== '"') this.fail()
    const start = this.position
    this.position++
    while (this.position < this.text.length) {
      const char = this.text[this.position]
      if (char === '\\') this.position += 2
      else if (char === '"') break
      else this.position++
    }
    this.expect('"')
    try {
      return JSON.parse(this.text.slice(start, this.position)) as string
    } catch {
      this.fail()
    }
  }
}

// --- printing ----------------------------------------------------------------

// encoding/json's Marshal followed by json.Indent with a tab, as sops prints.
function indentJson(node: TreeNode, indent: string): string {
  const inner = `${indent}\t`
  if (node.kind === 'leaf') return jsonScalar(leafOutput(node))
  if (node.kind === 'list') {
    const items = node.items.filter((item) => !isComment(item)) as TreeNode[]
    if (items.length === 0) return '[]'
    return `[\n${items.map((item) => inner + indentJson(item, inner)).join(',\n')}\n${indent}]`
  }
  const entries = node.items.filter((item) => !isComment(item))
  if (entries.length === 0) return '{}'
  const lines = entries.map((item) => {
    const entry = item as { key: string; value: TreeNode }
    return `${inner}${goJsonString(entry.key)}: ${indentJson(entry.value, inner)}`
  })
  return `{\n${lines.join(',\n')}\n${indent}}`
}

function jsonScalar(value: ReturnType<typeof leafOutput>): string {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'string' ? goJsonString(value) : JSON.stringify(value)
  }
  const decrypted = value as GoValue
  switch (decrypted.type) {
    case 'str':
      return goJsonString(decrypted.bytes.toString('utf8'))
    case 'bytes':
      return goJsonString(decrypted.bytes.toString('base64'))
    case 'time':
    case 'comment':
      return goJsonString(decrypted.text)
    default:
      return JSON.stringify(decrypted.value)
  }
}

// Go escapes <, >, & and the two Unicode line separators, which
// JSON.stringify leaves as they are.
function goJsonString(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (char) => {
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
}
