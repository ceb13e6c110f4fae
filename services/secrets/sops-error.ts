// Why a SOPS document could not be decrypted, in an operator's words. The
// message names the cause (and where useful the value's path, which is
// plaintext in the file anyway) but never a decrypted value or key material:
// callers put it into stack reasons, logs and API answers as it is.
export type SopsErrorKind = 'no-key' | 'wrong-key' | 'mac' | 'malformed' | 'unsupported'

export class SopsError extends Error {
  override readonly name = 'SopsError'
  constructor(
    readonly kind: SopsErrorKind,
    message: string,
  ) {
    super(message)
  }
}
