// INI (stores/ini/store.go, read and written by go-ini with sops's options).
// Each section is a mapping of its keys; keys before the first section form
// the DEFAULT section; a comment above a section or key belongs to it. The
// metadata is the [sops] section, flattened below it, with `\n` for
// newlines. Printing follows go-ini: keys aligned on ` = `, a blank line
// between sections, comments written `; text`.
import { SopsError } from '../sops-error.js'
import { unflattenMetadata } from '../sops-metadata.js'
import { comment, isComment, leaf, type TreeComment, type TreeMap } from '../sops-tree.js'
import type { LoadedDocument, SopsStore } from './store.js'
import { valueText } from './value-text.js'

interface Section {
  name: string
  comment: string
  keys: Array<{ name: string; value: string; comment: string }>
}

export const iniStore: SopsStore = {
  mayHaveMetadata: (text) => /^\s*\[sops\]/m.test(text) && text.includes('lastmodified'),
  load(text): LoadedDocument {
    const sections = parseIni(text)
    const metadataSections = sections.filter((section) => section.name === 'sops')
    if (metadataSections.length === 0) throw new SopsError('malformed', 'it has no sops metadata')
    const [metadataSection] = metadataSections
    const metadata = unflattenMetadata(
      (metadataSection as Section).keys.map((key) => [key.name, key.value.replaceAll('\\n', '\n')]),
    )
    const branch: TreeMap = { kind: 'map', items: [] }
    for (const section of sections) {
      if (section.name === 'sops') continue
      const items: TreeMap['items'] = []
      if (section.comment !== '') items.push(comment(stripCommentChar(section.comment)))
      for (const key of section.keys) {
        items.push({ key: key.name, value: leaf(key.value) })
        if (key.comment !== '') items.push(comment(stripCommentChar(key.comment)))
      }
      branch.items.push({ key: section.name, value: { kind: 'map', items } })
    }
    return { branches: [branch], metadata, emit: () => Buffer.from(emitIni(branch)) }
  },
}

function stripCommentChar(text: string): string {
  if (text.startsWith(';')) return text.replace(/^[; ]+/, '')
  if (text.startsWith('#')) return text.replace(/^[# ]+/, '')
  return text
}

function parseIni(text: string): Section[] {
  const sections: Section[] = [{ name: 'DEFAULT', comment: '', keys: [] }]
  let section = sections[0] as Section
  let pending: string[] = []
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] as string).trimStart()
    if (line.trim() === '') continue
    if (line.startsWith('#') || line.startsWith(';')) {
      pending.push(line.trimEnd())
      continue
    }
    if (line.startsWith('[')) {
      const close = line.lastIndexOf(']')
      if (close === -1)
        throw new SopsError('malformed', `its line ${index + 1} opens a section it does not close`)
      const rest = line.slice(close + 1).trim()
      if (rest.startsWith('#') || rest.startsWith(';')) pending.push(rest)
      section = { name: line.slice(1, close), comment: pending.join('\n').trim(), keys: [] }
      sections.push(section)
      pending = []
      continue
    }
    const delimiter = line.search(/[=:]/)
    if (delimiter <= 0) throw new SopsError('malformed', `its line ${index + 1} is not key = value`)
    const name = line.slice(0, delimiter).trim()
    let value = line.slice(delimiter + 1).trimStart()
    const quote = value.startsWith('"""') ? '"""' : value.startsWith('`') ? '`' : ''
    if (quote !== '') {
      let body = value.slice(quote.length)
      while (!body.includes(quote) && index + 1 < lines.length) {
        index++
        body += `\n${lines[index] as string}`
      }
      const end = body.indexOf(quote)
      if (end === -1)
        throw new SopsError('malformed', `its line ${index + 1} has an unclosed quote`)
      value = body.slice(0, end)
    } else {
      value = value.trim()
      while (value.endsWith('\\') && index + 1 < lines.length) {
        index++
        value = value.slice(0, -1) + (lines[index] as string).trim()
      }
      const inline = value.search(/[#;]/)
      if (inline !== -1) {
        pending.push(value.slice(inline))
        value = value.slice(0, inline).trim()
      }
      if (/^(".*"|'.*')$/s.test(value) && value.length >= 2) value = value.slice(1, -1)
    }
    const existing = section.keys.find((key) => key.name === name)
    const keyComment = pending.join('\n').trim()
    pending = []
    if (existing) {
      existing.value = value
      existing.comment = keyComment
    } else {
      section.keys.push({ name, value, comment: keyComment })
    }
  }
  return sections
}

function emitIni(branch: TreeMap): string {
  const sections = branch.items.filter((item) => !isComment(item)) as Array<{
    key: string
    value: TreeMap
  }>
  let out = ''
  sections.forEach((section, index) => {
    const items = section.value.items
    let sectionComment = ''
    let first = 0
    const head = items[0]
    if (head !== undefined && isComment(head)) {
      sectionComment = commentText(head)
      first = 1
    }
    const keys: Array<{ name: string; value: string; comment: string }> = []
    for (const item of items.slice(first)) {
      if (isComment(item)) {
        const last = keys.at(-1)
        if (last) last.comment = commentText(item)
      } else if (item.value.kind === 'leaf') {
        keys.push({
          name: item.key,
          value: valueText(item.value.decrypted ?? item.value.value),
          comment: '',
        })
      }
    }
    if (sectionComment !== '') out += commentLines(sectionComment, false)
    if (index === 0 && section.key === 'DEFAULT') {
      if (keys.length === 0) return
    } else {
      out += `[${section.key}]\n`
    }
    const quotedName = (name: string) =>
      name.includes('"') || /[=:]/.test(name)
        ? `\`${name}\``
        : name.includes('`')
          ? `"""${name}"""`
          : name
    const align = Math.max(0, ...keys.map((key) => quotedName(key.name).length))
    for (const key of keys) {
      if (key.comment !== '') out += commentLines(key.comment, true)
      const name = quotedName(key.name)
      let value = key.value
      if (/[\n`]/.test(value)) value = `"""${value}"""`
      else if (/[#;]/.test(value)) value = `\`${value}\``
      else if (value.trim().length !== value.length) value = `"${value}"`
      out += `${name}${' '.repeat(align - name.length)} = ${value}\n`
    }
    if (index !== sections.length - 1) out += '\n'
  })
  return out
}

function commentText(node: TreeComment): string {
  return node.decrypted ?? node.text
}

function commentLines(text: string, trim: boolean): string {
  return text
    .split('\n')
    .map((line) => {
      if (line[0] !== '#' && line[0] !== ';') return `; ${trim ? line.trim() : line}`
      return `${line[0]} ${line.slice(1).trim()}`
    })
    .map((line) => `${line}\n`)
    .join('')
}
