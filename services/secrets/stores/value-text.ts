// stores.ValToString (stores/stores.go): how dotenv and INI print a value
// that is not a string.

import type { PlainValue } from '../sops-tree.js'
import type { GoValue } from '../sops-value.js'

export function valueText(value: PlainValue | GoValue): string {
  if (value === null) return '<nil>'
  if (typeof value === 'string') return value
  if (typeof value === 'boolean') return String(value)
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : goFloatG(value)
  switch (value.type) {
    case 'str':
    case 'bytes':
      return value.bytes.toString('utf8')
    case 'int':
    case 'bool':
      return String(value.value)
    case 'float':
      return goFloatG(value.value)
    case 'time':
    case 'comment':
      return value.text
  }
}

// FormatFloat(v, 'G', -1, 64), with ".0" added where it reads like an integer.
function goFloatG(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf'
  const exponent = value === 0 ? 0 : Math.floor(Math.log10(Math.abs(value)))
  let text: string
  if (exponent < -4 || exponent >= 21) {
    text = value
      .toExponential()
      .toUpperCase()
      .replace(/E([+-])(\d)$/, 'E$10$2')
  } else {
    text = String(value)
  }
  if (!text.includes('.') && !text.includes('E')) text = `${text}.0`
  return text
}
