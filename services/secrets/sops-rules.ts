// Which values of a document are encrypted: sops's shouldBeEncrypted
// (sops.go). At most one rule is set in a file; with none, sops uses
// unencrypted_suffix "_unencrypted". A suffix or key regex applies when any
// key on the value's path matches; the comment regexes look at the comments
// in force above the value.
import { SopsError } from './sops-error.js'

export interface EncryptionRules {
  unencryptedSuffix?: string
  encryptedSuffix?: string
  unencryptedRegex?: RegExp
  encryptedRegex?: RegExp
  unencryptedCommentRegex?: RegExp
  encryptedCommentRegex?: RegExp
}

export function shouldBeEncrypted(
  rules: EncryptionRules,
  path: readonly string[],
  commentsStack: readonly (readonly string[])[],
  isComment: boolean,
): boolean {
  let encrypted = true
  if (rules.unencryptedSuffix) {
    const suffix = rules.unencryptedSuffix
    if (path.some((key) => key.endsWith(suffix))) encrypted = false
  }
  if (rules.encryptedSuffix) {
    const suffix = rules.encryptedSuffix
    encrypted = path.some((key) => key.endsWith(suffix))
  }
  if (rules.unencryptedRegex) {
    const regex = rules.unencryptedRegex
    if (path.some((key) => regex.test(key))) encrypted = false
  }
  if (rules.encryptedRegex) {
    const regex = rules.encryptedRegex
    encrypted = path.some((key) => regex.test(key))
  }
  if (rules.unencryptedCommentRegex) {
    const regex = rules.unencryptedCommentRegex
    if (commentsStack.some((comments) => comments.some((text) => regex.test(text)))) {
      encrypted = false
    }
  }
  if (rules.encryptedCommentRegex) {
    const regex = rules.encryptedCommentRegex
    const lastLevel = commentsStack.length - 1
    const lastIndex = (commentsStack[lastLevel]?.length ?? 0) - 1
    // As in sops: the comment that carries the marker is not itself encrypted;
    // only an earlier marker line encrypts a comment.
    encrypted = commentsStack.some((comments, level) =>
      comments.some(
        (text, index) =>
          !(isComment && level === lastLevel && index === lastIndex) && regex.test(text),
      ),
    )
  }
  return encrypted
}

/**
 * A Go (RE2) pattern from the file's metadata as a JavaScript RegExp. Go's
 * leading flag group `(?i)` becomes a flag; what JavaScript cannot compile is
 * refused, rather than silently matching nothing and deciding wrongly which
 * values are encrypted.
 */
export function goRegExp(pattern: string, field: string): RegExp {
  let source = pattern
  let flags = ''
  const flagGroup = /^\(\?([ims]+)\)/.exec(source)
  if (flagGroup) {
    flags = [...new Set(flagGroup[1])].join('')
    source = source.slice(flagGroup[0].length)
  }
  try {
    return new RegExp(source, `${flags}u`)
  } catch {
    try {
      return new RegExp(source, flags)
    } catch {
      throw new SopsError(
        'unsupported',
        `its ${field} is a regular expression docker-cd cannot evaluate`,
      )
    }
  }
}
