// The document's 32-byte data key, from the age entries of its one key group:
// each entry's `enc` is an armored age file, encrypted to that entry's
// recipient, whose payload is the data key (age/keysource.go in
// getsops/sops). The age layer is the age project's own TypeScript
// implementation (age-encryption); every configured identity is tried on every
// entry, in the file's order, as sops does.
import { armor, Decrypter } from 'age-encryption'
import type { AgeIdentity } from './age-keys.js'
import { SopsError } from './sops-error.js'
import type { KeyGroup, SopsMetadata } from './sops-metadata.js'

const NO_MATCH = "no identity matched any of the file's recipients"

export async function dataKeyOf(
  metadata: SopsMetadata,
  identities: readonly AgeIdentity[],
): Promise<Buffer> {
  const group = onlyGroup(metadata)
  if (group.age.length === 0) {
    throw new SopsError(
      'unsupported',
      `it is encrypted only for ${group.others.join(', ')}; docker-cd decrypts with age keys only`,
    )
  }
  const recipients = group.age.map((stanza) => stanza.recipient).join(', ')
  if (identities.length === 0) {
    throw new SopsError(
      'no-key',
      `it is encrypted for age recipient(s) ${recipients}, and no age key is configured (SOPS_AGE_KEY_FILE or SOPS_AGE_KEY)`,
    )
  }
  const decrypter = new Decrypter()
  for (const identity of identities) decrypter.addIdentity(identity)
  let damaged = false
  for (const stanza of group.age) {
    let file: Uint8Array
    try {
      file = armor.decode(stanza.enc)
    } catch {
      damaged = true
      continue
    }
    try {
      const key = Buffer.from(await decrypter.decrypt(file))
      if (key.length !== 32) {
        throw new SopsError('malformed', `its data key for ${stanza.recipient} is not 32 bytes`)
      }
      return key
    } catch (error) {
      if (error instanceof SopsError) throw error
      if (!(error instanceof Error && error.message === NO_MATCH)) damaged = true
    }
  }
  if (damaged) {
    throw new SopsError(
      'malformed',
      `its age-encrypted data key could not be read (damaged enc for recipient(s) ${recipients})`,
    )
  }
  throw new SopsError(
    'wrong-key',
    `none of the configured age keys is a recipient of it (recipients: ${recipients})`,
  )
}

// Several groups split the data key with Shamir's secret sharing; docker-cd
// refuses them rather than carry an implementation of Shamir's scheme.
function onlyGroup(metadata: SopsMetadata): KeyGroup {
  const [group, ...rest] = metadata.keyGroups
  if (group === undefined || rest.length > 0) {
    throw new SopsError(
      'unsupported',
      `it uses ${metadata.keyGroups.length} key groups (Shamir secret sharing, threshold ${metadata.shamirThreshold || metadata.keyGroups.length}); docker-cd decrypts files with a single key group only`,
    )
  }
  return group
}
