// Decrypting a SOPS document in memory, as `sops -d` would print it: the data
// key from an age entry, every value decrypted with its path as additional
// data, the MAC verified before anything is returned. Nothing here writes a
// file; where the plaintext goes is the caller's decision.
import type { AgeIdentity } from './age-keys.js'
import { dataKeyOf } from './sops-data-key.js'
import { SopsError } from './sops-error.js'
import type { SopsFormat } from './sops-format.js'
import { looksLikeMetadata, readMetadata } from './sops-metadata.js'
import { decryptTree, verifyMac } from './sops-walk.js'
import { dotenvStore } from './stores/dotenv.js'
import { iniStore } from './stores/ini.js'
import { binaryStore, jsonStore } from './stores/json.js'
import type { SopsStore } from './stores/store.js'
import { yamlStore } from './stores/yaml.js'

export type { AgeIdentity, AgeKeySources } from './age-keys.js'
export { AgeKeyError, ageKeyProblems, parseAgeIdentities } from './age-keys.js'
export { SopsError, type SopsErrorKind } from './sops-error.js'
export { type SopsFormat, sopsFormatOf } from './sops-format.js'

export interface DecryptedSops {
  /** The file as `sops -d` prints it, without the metadata. */
  plaintext: Buffer
  /** Every decrypted value and comment, for scrubbing other programs' messages. */
  values: string[]
}

const STORES: Record<SopsFormat, SopsStore> = {
  yaml: yamlStore,
  json: jsonStore,
  dotenv: dotenvStore,
  ini: iniStore,
  binary: binaryStore,
}

/**
 * True when `content` carries SOPS metadata (a `sops` entry with `mac`,
 * `lastmodified` and a key source; the `sops_…` keys of dotenv, the [sops]
 * section of INI). A byte check comes first, so ordinary files are not parsed.
 */
export function isSopsDocument(content: Buffer | string, format: SopsFormat): boolean {
  const store = STORES[format]
  const text = typeof content === 'string' ? content : content.toString('utf8')
  if (!store.mayHaveMetadata(text)) return false
  try {
    return looksLikeMetadata(store.load(text).metadata)
  } catch {
    return false
  }
}

export async function decryptSops(
  content: Buffer | string,
  format: SopsFormat,
  identities: readonly AgeIdentity[],
): Promise<DecryptedSops> {
  const text = typeof content === 'string' ? content : content.toString('utf8')
  const document = loadDocument(STORES[format], text)
  const metadata = readMetadata(document.metadata)
  const dataKey = await dataKeyOf(metadata, identities)
  const { mac, values } = decryptTree(document.branches, metadata, dataKey, {
    commentPathFallback: document.commentPathFallback ?? false,
  })
  verifyMac(metadata, dataKey, mac)
  return { plaintext: document.emit(), values }
}

function loadDocument(store: SopsStore, text: string) {
  try {
    return store.load(text)
  } catch (error) {
    if (error instanceof SopsError) throw error
    // A parser's own message can quote the file; only say that it failed.
    throw new SopsError('malformed', 'it could not be parsed')
  }
}
