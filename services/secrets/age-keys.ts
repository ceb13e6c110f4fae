import { readFileSync } from 'node:fs'
// The age identities docker-cd decrypts SOPS data keys with, read the way
// sops reads them: SOPS_AGE_KEY holds identities separated by any whitespace
// (several on a line allowed), a SOPS_AGE_KEY_FILE has one identity per line;
// in both, empty lines and lines starting with `#` (age-keygen's "created" and
// "public key" comments) are skipped. A malformed line is an error naming the
// source and line number, never the line itself: a half-pasted key is still
// a secret.

export type AgeIdentity = string

export interface AgeKeySources {
  /** The value of SOPS_AGE_KEY. */
  key?: string | undefined
  /** The content of the file SOPS_AGE_KEY_FILE names (a Docker secret too). */
  keyFile?: string | undefined
}

export class AgeKeyError extends Error {
  override readonly name = 'AgeKeyError'
  constructor(
    readonly source: 'SOPS_AGE_KEY' | 'SOPS_AGE_KEY_FILE',
    readonly line: number,
    reason: string,
  ) {
    super(`${source} line ${line}: ${reason}`)
  }
}

// sops accepts X25519 identities and, since age 1.3, the post-quantum hybrid
// ones; age-encryption decrypts both. Plugin identities (AGE-PLUGIN-…) need
// an external program and are refused with their own reason.
const PREFIXES = ['AGE-SECRET-KEY-PQ-1', 'AGE-SECRET-KEY-1'] as const

export function parseAgeIdentities(sources: AgeKeySources): AgeIdentity[] {
  const identities: AgeIdentity[] = []
  if (sources.key !== undefined) identities.push(...parseSource(sources.key, 'SOPS_AGE_KEY', true))
  if (sources.keyFile !== undefined) {
    identities.push(...parseSource(sources.keyFile, 'SOPS_AGE_KEY_FILE', false))
  }
  return identities
}

function parseSource(
  text: string,
  source: 'SOPS_AGE_KEY' | 'SOPS_AGE_KEY_FILE',
  severalPerLine: boolean,
): AgeIdentity[] {
  const identities: AgeIdentity[] = []
  // Go's bufio.Scanner, which sops reads with, drops a trailing \r per line.
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''))
  lines.forEach((line, index) => {
    if (line === '' || line.startsWith('#')) return
    const words = severalPerLine ? line.split(/\s+/).filter((word) => word !== '') : [line]
    for (const word of words) identities.push(checkIdentity(word, source, index + 1))
  })
  return identities
}

function checkIdentity(
  word: string,
  source: 'SOPS_AGE_KEY' | 'SOPS_AGE_KEY_FILE',
  line: number,
): AgeIdentity {
  if (word.startsWith('AGE-PLUGIN-')) {
    throw new AgeKeyError(source, line, 'age plugin identities are not supported')
  }
  const prefix = PREFIXES.find((candidate) => word.startsWith(candidate))
  if (prefix === undefined) {
    throw new AgeKeyError(
      source,
      line,
      'not an age identity (expected a line starting with AGE-SECRET-KEY-1)',
    )
  }
  if (!isBech32Key(word)) {
    throw new AgeKeyError(
      source,
      line,
      'malformed age identity (wrong length, characters or checksum; was it copied whole?)',
    )
  }
  return word
}

// Bech32 (BIP 173) checksum and length: 32 key bytes are 52 five-bit groups,
// plus 6 checksum groups. Checked here so a truncated or mistyped key is a
// startup error, not a failed deploy later.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

function isBech32Key(word: string): boolean {
  const lower = word.toLowerCase()
  const separator = lower.lastIndexOf('1')
  const hrp = lower.slice(0, separator)
  const data = lower.slice(separator + 1)
  if (data.length !== 58) return false
  const values: number[] = []
  for (const char of data) {
    const value = CHARSET.indexOf(char)
    if (value === -1) return false
    values.push(value)
  }
  let checksum = 1
  const feed = (value: number) => {
    const top = checksum >>> 25
    checksum = ((checksum & 0x1ffffff) << 5) ^ value
    for (let bit = 0; bit < 5; bit++) {
      if ((top >>> bit) & 1) checksum ^= GENERATOR[bit] as number
    }
  }
  for (const char of hrp) feed(char.charCodeAt(0) >>> 5)
  feed(0)
  for (const char of hrp) feed(char.charCodeAt(0) & 31)
  for (const value of values) feed(value)
  return checksum === 1
}

/**
 * Startup check of the configured identities (main.ts): each problem in
 * words, naming the variable and the line, never the key. The key file is
 * read again whenever a file needs it (a rotated Docker secret counts).
 */
export function ageKeyProblems(config: {
  sopsAgeKey: string | undefined
  sopsAgeKeyFile: string | undefined
}): string[] {
  let keyFile: string | undefined
  if (config.sopsAgeKeyFile) {
    try {
      keyFile = readFileSync(config.sopsAgeKeyFile, 'utf8')
    } catch (error) {
      return [
        `SOPS_AGE_KEY_FILE: cannot read ${config.sopsAgeKeyFile} (${(error as NodeJS.ErrnoException).code})`,
      ]
    }
  }
  try {
    parseAgeIdentities({ key: config.sopsAgeKey, keyFile })
    return []
  } catch (error) {
    if (error instanceof AgeKeyError) return [error.message]
    throw error
  }
}
