// dotenv (stores/dotenv/store.go): one `KEY=value` per line, `#` lines are
// comments, `\n` in a value stands for a newline; the metadata is every key
// starting with `sops_`, fully flattened.
import { SopsError } from '../sops-error.js'
import { unflattenMetadata } from '../sops-metadata.js'
import { comment, isComment, leaf, type TreeMap } from '../sops-tree.js'
import type { LoadedDocument, SopsStore } from './store.js'
import { valueText } from './value-text.js'

const PREFIX = 'sops_'

export const dotenvStore: SopsStore = {
  mayHaveMetadata(text) {
    return /^sops_mac=/m.test(text) && /^sops_lastmodified=/m.test(text)
  },
  load(text): LoadedDocument {
    const branch: TreeMap = { kind: 'map', items: [] }
    const metadata: Array<[string, string]> = []
    text.split('\n').forEach((line, index) => {
      if (line === '') return
      if (line.startsWith('#')) {
        branch.items.push(comment(line.slice(1)))
        return
      }
      const equals = line.indexOf('=')
      if (equals === -1) {
        throw new SopsError('malformed', `its line ${index + 1} is not KEY=value`)
      }
      const key = line.slice(0, equals)
      const value = line.slice(equals + 1).replaceAll('\\n', '\n')
      if (key.startsWith(PREFIX)) metadata.push([key.slice(PREFIX.length), value])
      else branch.items.push({ key, value: leaf(value) })
    })
    if (metadata.length === 0) throw new SopsError('malformed', 'it has no sops metadata')
    return {
      branches: [branch],
      metadata: unflattenMetadata(metadata),
      emit: () => Buffer.from(emitDotenv(branch)),
    }
  },
}

function emitDotenv(branch: TreeMap): string {
  let out = ''
  for (const item of branch.items) {
    if (isComment(item)) {
      out += `#${item.decrypted ?? item.text}\n`
      continue
    }
    const node = item.value
    if (node.kind !== 'leaf') throw new SopsError('malformed', 'a dotenv value is not a scalar')
    const value = node.decrypted ?? node.value
    const text =
      typeof value === 'string' ||
      (value !== null && typeof value === 'object' && value.type === 'str')
        ? valueText(value).replaceAll('\n', '\\n')
        : valueText(value)
    out += `${item.key}=${text}\n`
  }
  return out
}
