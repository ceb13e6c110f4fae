// Parsers for git's binary plumbing output: `cat-file --batch` records and
// raw tree objects. Pure functions over Buffers, so they are unit-tested
// without git.

export type BatchObject =
  | { request: string; missing: true }
  | { request: string; missing: false; oid: string; type: string; content: Buffer }

/** Splits `git cat-file --batch` output; `requests` are the input lines in order. */
export function parseBatchOutput(output: Buffer, requests: string[]): BatchObject[] {
  const objects: BatchObject[] = []
  let offset = 0
  for (const request of requests) {
    const headerEnd = output.indexOf(0x0a, offset)
    if (headerEnd === -1) throw new Error(`truncated cat-file output at ${request}`)
    const header = output.toString('utf8', offset, headerEnd)
    offset = headerEnd + 1
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      objects.push({ request, missing: true })
      continue
    }
    const [oid, type, sizeText] = header.split(' ')
    const size = Number(sizeText)
    if (!oid || !type || !Number.isInteger(size)) {
      throw new Error(`unexpected cat-file header "${header}"`)
    }
    const content = output.subarray(offset, offset + size)
    if (content.length !== size) throw new Error(`truncated object ${oid}`)
    offset += size + 1 // content is followed by a newline
    objects.push({ request, missing: false, oid, type, content })
  }
  return objects
}

/**
 * One tree entry. A name that is not valid UTF-8 cannot be told apart from
 * another once decoded (`\xff` and `\xfe` both become U+FFFD), so it is
 * flagged `invalidName` and given in escaped form (`\xff`) for messages;
 * consumers skip such entries.
 */
export type TreeEntry = { mode: string; name: string; oid: string; invalidName?: true }

export const TREE_MODE = '40000'
export const isRegularFile = (mode: string) => mode === '100644' || mode === '100755'

/** Raw tree object: repeated `<mode> <name>\0<binary oid>`. */
export function parseTree(content: Buffer, oidBytes = 20): TreeEntry[] {
  const entries: TreeEntry[] = []
  let offset = 0
  while (offset < content.length) {
    const space = content.indexOf(0x20, offset)
    const nul = content.indexOf(0x00, space)
    if (space === -1 || nul === -1 || nul + 1 + oidBytes > content.length) {
      throw new Error('malformed tree object')
    }
    entries.push({
      mode: content.toString('latin1', offset, space),
      oid: content.toString('hex', nul + 1, nul + 1 + oidBytes),
      ...decodeName(content.subarray(space + 1, nul)),
    })
    offset = nul + 1 + oidBytes
  }
  return entries
}

/** One line of `git ls-tree -r -t -z`: `<mode> <type> <oid>\t<path>\0` (`invalidPath` as in TreeEntry). */
export type TreeListing = {
  mode: string
  type: string
  oid: string
  path: string
  invalidPath?: true
}

export function parseTreeListing(output: Buffer): TreeListing[] {
  const entries: TreeListing[] = []
  let offset = 0
  while (offset < output.length) {
    const end = output.indexOf(0x00, offset)
    const tab = output.indexOf(0x09, offset)
    if (end === -1 || tab === -1 || tab > end) throw new Error('malformed ls-tree output')
    const [mode, type, oid] = output.toString('latin1', offset, tab).split(' ')
    if (!mode || !type || !oid) throw new Error('malformed ls-tree output')
    const { name: path, invalidName } = decodeName(output.subarray(tab + 1, end))
    entries.push(
      invalidName ? { mode, type, oid, path, invalidPath: true } : { mode, type, oid, path },
    )
    offset = end + 1
  }
  return entries
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** A name as text, or, when its bytes are not UTF-8, escaped and flagged. */
function decodeName(bytes: Buffer): { name: string; invalidName?: true } {
  try {
    return { name: strictUtf8.decode(bytes) }
  } catch {
    return { name: escapeBytes(bytes), invalidName: true }
  }
}

/** Printable ASCII as is, every other byte as `\xNN`: readable and lossless. */
function escapeBytes(bytes: Buffer): string {
  let text = ''
  for (const byte of bytes) {
    text +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`
  }
  return text
}

/**
 * Why a tree entry's name must never reach a file system, or undefined when
 * it is an ordinary name. Git's object format allows any bytes but '/' and
 * NUL in a name, and a hand-made tree (`git hash-object -t tree
 * --literally`) can hold '.', '..', '.git' or an empty name; written out,
 * `../x` lands outside the stack directory and `.git/hooks/x` turns a
 * directory into a repository. '/' is refused too: a name that holds it
 * cannot be told apart from a nested path once listed.
 */
export function unsafeName(name: string): string | undefined {
  if (name === '') return 'an empty name'
  if (name === '.' || name === '..') return `the name "${name}"`
  if (name.toLowerCase() === '.git') return 'the name ".git"'
  if (name.includes('/')) return 'a name holding "/"'
  if (name.includes('\0')) return 'a name holding NUL'
  // Git has no limit; a file system has (NAME_MAX). Refused before anything is written.
  if (Buffer.byteLength(name) > 255) return 'a name longer than 255 bytes'
  return undefined
}

/** An entry of a listing that would write outside its place, with why. */
export type UnsafeEntry = { path: string; reason: string }

/**
 * What a stack directory hands to its consumers (an archive, a work tree):
 * directories and regular files. Symlinks are left out (one could point
 * outside the stack, or at the host's files), submodules too (their content
 * is in another repository), and names that are not valid UTF-8 (decoding
 * would garble or merge them); those are returned as `invalid`. Entries a
 * file system must never see (`unsafeName`, a path listed twice, or one
 * whose parent directory is not in the listing — a name holding '/') are
 * left out and returned as `unsafe`: a consumer that writes refuses the
 * whole tree.
 */
export function plainEntries(listing: readonly TreeListing[]): {
  entries: TreeListing[]
  invalid: string[]
  unsafe: UnsafeEntry[]
} {
  const invalid: string[] = []
  const unsafe: UnsafeEntry[] = []
  const entries: TreeListing[] = []
  const seen = new Set<string>()
  const trees = new Set<string>()
  for (const entry of listing) {
    if (entry.invalidPath) {
      invalid.push(entry.path)
      continue
    }
    const reason = unsafePath(entry.path, seen, trees)
    seen.add(entry.path)
    if (entry.type === 'tree') trees.add(entry.path)
    if (reason) {
      unsafe.push({ path: entry.path, reason })
      continue
    }
    if (entry.type === 'tree' || (entry.type === 'blob' && isRegularFile(entry.mode)))
      entries.push(entry)
  }
  return { entries, invalid, unsafe }
}

/** A path inside a stack, leaving room for STACKS_DIR and the stack under PATH_MAX (4096). */
const MAX_PATH_BYTES = 3072

/** `ls-tree -r -t` lists each tree before what it holds, so a parent is always seen first. */
function unsafePath(
  path: string,
  seen: ReadonlySet<string>,
  trees: ReadonlySet<string>,
): string | undefined {
  for (const component of path.split('/')) {
    const reason = unsafeName(component)
    if (reason) return reason
  }
  if (Buffer.byteLength(path) > MAX_PATH_BYTES)
    return `a path longer than ${MAX_PATH_BYTES} bytes (the file system's limit is near)`
  if (seen.has(path)) return 'a path listed twice (a name holding "/")'
  const slash = path.lastIndexOf('/')
  if (slash !== -1 && !trees.has(path.slice(0, slash)))
    return 'a name holding "/" (its parent directory is not in the tree)'
  return undefined
}

/** Unsafe entries in words, for a reason an operator reads (the first few). */
export function describeUnsafe(unsafe: readonly UnsafeEntry[]): string {
  const shown = unsafe
    .slice(0, 3)
    .map((entry) => `${JSON.stringify(entry.path)} (${entry.reason})`)
    .join(', ')
  return unsafe.length > 3 ? `${shown} and ${unsafe.length - 3} more` : shown
}

/** A commit object's subject: the first line of its message (after the headers and the blank line). */
export function commitSubject(commit: Buffer | string): string | undefined {
  const text = commit.toString('utf8')
  const body = text.indexOf('\n\n')
  if (body < 0) return undefined
  const line = text
    .slice(body + 2)
    .split('\n', 1)[0]
    ?.trim()
  return line ? line : undefined
}
