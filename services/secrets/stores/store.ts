// What each SOPS format's store does for decryption: read the file into
// sops's tree plus its raw metadata, and print the decrypted tree again as
// `sops -d` prints it.
import type { TreeMap } from '../sops-tree.js'

export interface LoadedDocument {
  branches: TreeMap[]
  /** The metadata as a nested value, before it is checked. */
  metadata: unknown
  /** YAML comments may be attached to another mapping than sops's parser does. */
  commentPathFallback?: boolean
  emit(): Buffer
}

export interface SopsStore {
  load(text: string): LoadedDocument
  /** A byte check before parsing: false for most files that are not SOPS. */
  mayHaveMetadata(text: string): boolean
}
