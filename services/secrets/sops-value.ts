import { createDecipheriv } from 'node:crypto'

// One SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, AES-256-GCM
// under the document's data key with sops's 32-byte IV and the value's path
// as additional data (aes/cipher.go in getsops/sops). The type says how the
// plaintext bytes become a value again, and how that value is fed to the MAC
// (sops.go ToBytes): an int or a float is parsed and printed back, a bool
// becomes "True"/"False", a string counts as its raw bytes.

export type GoValue =
  | { type: 'str'; bytes: Buffer }
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'bytes'; bytes: Buffer }
  | { type: 'time'; text: string }
  | { type: 'comment'; text: string }

export interface EncryptedValue {
  data: Buffer
  iv: Buffer
  tag: Buffer
  type: string
}

// sops's own pattern (aes/cipher.go), anchored at the start only, as there.
const ENC = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/s
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

export function looksEncrypted(text: string): boolean {
  return text.startsWith('ENC[AES256_GCM,')
}

/** Undefined when `text` is not in sops's value format. */
export function parseEncryptedValue(text: string): EncryptedValue | undefined {
  const match = ENC.exec(text)
  if (match === null) return undefined
  const [, data, iv, tag, type] = match as unknown as [string, string, string, string, string]
  if (![data, iv, tag].every((part) => BASE64.test(part) && part.length % 4 === 0)) return undefined
  return {
    data: Buffer.from(data, 'base64'),
    iv: Buffer.from(iv, 'base64'),
    tag: Buffer.from(tag, 'base64'),
    type,
  }
}

/** The plaintext bytes, or undefined when the tag does not authenticate them. */
export function openValue(
  value: EncryptedValue,
  dataKey: Buffer,
  additionalData: string,
): Buffer | undefined {
  if (value.iv.length === 0 || value.tag.length !== 16) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, value.iv, { authTagLength: 16 })
    decipher.setAAD(Buffer.from(additionalData, 'utf8'))
    decipher.setAuthTag(value.tag)
    return Buffer.concat([decipher.update(value.data), decipher.final()])
  } catch {
    return undefined
  }
}

/** Undefined for an unknown type or a plaintext its type cannot parse. */
export function typedValue(type: string, bytes: Buffer): GoValue | undefined {
  const text = bytes.toString('utf8')
  switch (type) {
    case 'str':
      return { type, bytes }
    case 'bytes':
      return { type, bytes }
    case 'comment':
      return { type, text }
    case 'int': {
      const value = parseGoInt(text)
      return value === undefined ? undefined : { type, value }
    }
    case 'float': {
      const value = parseGoFloat(text)
      return value === undefined ? undefined : { type, value }
    }
    case 'bool': {
      const value = parseGoBool(text)
      return value === undefined ? undefined : { type, value }
    }
    case 'time':
      return RFC3339.test(text) ? { type, text } : undefined
    default:
      return undefined
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

// strconv.Atoi: an optional sign and decimal digits, within int64.
function parseGoInt(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}

// strconv.ParseFloat: decimal and exponent forms, inf/infinity/nan in any case.
function parseGoFloat(text: string): number | undefined {
  const special = text.toLowerCase().replace(/^\+/, '')
  if (special === 'inf' || special === 'infinity') return Number.POSITIVE_INFINITY
  if (special === '-inf' || special === '-infinity') return Number.NEGATIVE_INFINITY
  if (special === 'nan') return Number.NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined
  return Number(text)
}

// strconv.ParseBool.
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false
  return undefined
}

/**
 * strconv.FormatFloat(value, 'f', -1, 64): the shortest digits that read back
 * as the same float, never in exponent form. JavaScript finds the same
 * shortest digits; only the exponent form needs spelling out.
 */
export function goFormatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  if (Object.is(value, -0)) return '-0'
  const text = String(value)
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text)
  if (match === null) return text
  const [, sign, head, tail = '', exponentText] = match as unknown as [
    string,
    string,
    string,
    string | undefined,
    string,
  ]
  const digits = head + tail
  const exponent = Number(exponentText)
  if (exponent >= 0) {
    const whole = digits.padEnd(exponent + 1, '0')
    return `${sign}${whole.slice(0, exponent + 1)}${whole.length > exponent + 1 ? `.${whole.slice(exponent + 1)}` : ''}`
  }
  return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`
}

/** What sops's ToBytes feeds to the MAC for a decrypted value. */
export function macBytes(value: GoValue): Buffer {
  switch (value.type) {
    case 'str':
    case 'bytes':
      return value.bytes
    case 'int':
      return Buffer.from(String(value.value))
    case 'float':
      return Buffer.from(goFormatFloat(value.value))
    case 'bool':
      return Buffer.from(value.value ? 'True' : 'False')
    case 'time':
      return Buffer.from(goTimeText(value.text))
    case 'comment':
      return Buffer.from(value.text)
  }
}

// time.Time.MarshalText is RFC 3339 with nanoseconds, trailing zeros of the
// fraction dropped, and a zero offset written Z.
function goTimeText(text: string): string {
  const [, base = '', fraction = '', zone = ''] = /^(.{19})(?:\.(\d+))?(.*)$/.exec(text) ?? []
  const trimmed = fraction.slice(0, 9).replace(/0+$/, '')
  const offset = zone === '+00:00' || zone === '-00:00' ? 'Z' : zone
  return `${base}${trimmed === '' ? '' : `.${trimmed}`}${offset}`
}
