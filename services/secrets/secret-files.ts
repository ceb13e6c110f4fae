import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { stackFileKey } from '../base/index.js'

// Where decrypted SOPS files live: SECRETS_DIR, a memory-backed directory
// (tmpfs), one directory per stack (named by a hash of the stack's name, as
// its other files are), mirroring the paths of the stack's directory. The
// work tree holds a symlink to each (work-tree-secrets.ts): Compose reads
// `env_file`, `.env` and `configs:`/`secrets:` files through it, and the
// engine resolves it when it sets up a bind mount. Nothing here is ever
// written under STACKS_DIR or GIT_CACHE_DIR, and nothing is written at all
// unless SECRETS_DIR is memory-backed: after a reboot it is empty, and the
// next check of each stack decrypts its files again from Git.
//
// A file is replaced by rename (a reader never sees half of it), and only
// when its content changed: a bind mount keeps the inode it was set up
// with, so an unchanged secret (a re-encryption for a new recipient) keeps
// the one its containers read. Directories are 0700, files 0600.

/** Linux `statfs` magic numbers of the file systems that live in memory. */
const MEMORY_FILE_SYSTEMS = new Map([
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
])

/** SECRETS_DIR is missing, not writable, or on persistent disk: no plaintext is written. */
export class SecretsDirError extends Error {
  override readonly name = 'SecretsDirError'
}

export function createSecretFiles(options: { secretsDir: string }) {
  const root = resolve(options.secretsDir)
  /** The stack's decrypted values, longest first, for scrubbing other programs' messages. */
  const values = new Map<string, Map<string, readonly string[]>>()
  let checked: Promise<void> | undefined

  /** Made once (0700), and refused unless memory-backed. */
  function ready(): Promise<void> {
    checked ??= (async () => {
      try {
        await mkdir(root, { recursive: true, mode: 0o700 })
        const { type } = await statfs(root)
        if (!MEMORY_FILE_SYSTEMS.has(type))
          throw new SecretsDirError(
            `SECRETS_DIR ${root} is not memory-backed (file system type 0x${type.toString(16)}; tmpfs expected): docker-cd writes no decrypted file to persistent disk`,
          )
      } catch (error) {
        checked = undefined // asked again next time (the directory may be mounted later)
        if (error instanceof SecretsDirError) throw error
        throw new SecretsDirError(
          `SECRETS_DIR ${root} cannot be used: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        )
      }
    })()
    return checked
  }

  const dirOf = (stack: string) => join(root, stackFileKey(stack))

  /** Where the plaintext of the stack's file `path` (relative, from a Git tree) lives. */
  function targetOf(stack: string, path: string): string {
    const target = resolve(dirOf(stack), path)
    if (relative(dirOf(stack), target).split(sep)[0] === '..')
      throw new SecretsDirError(`refusing a path outside the stack's secrets: ${path}`)
    return target
  }

  /** Writes the plaintext (unless it is there already); returns where it is. */
  async function place(stack: string, path: string, plaintext: Buffer): Promise<string> {
    await ready()
    const target = targetOf(stack, path)
    const current = await readFile(target).catch(() => undefined)
    if (current?.equals(plaintext)) return target
    await clearTheWay(stack, target)
    await mkdir(dirname(target), { recursive: true, mode: 0o700 })
    const fresh = `${target}.${randomBytes(6).toString('hex')}.new`
    try {
      await writeFile(fresh, plaintext, { mode: 0o600 })
      await rename(fresh, target)
    } finally {
      await rm(fresh, { force: true })
    }
    return target
  }

  /**
   * Whatever stands where the file or its folders go is the stack's own and
   * not wanted (Git holds a file there): a directory at the file's path (one
   * an engine made at a missing bind source, or an older tree's folder) and
   * a file where a folder goes (an older tree's file) are removed, or the
   * rename and the mkdir would fail until SECRETS_DIR is emptied by hand.
   */
  async function clearTheWay(stack: string, target: string) {
    if ((await lstat(target).catch(() => undefined))?.isDirectory())
      await rm(target, { recursive: true, force: true })
    const top = dirOf(stack)
    const folders: string[] = []
    for (let dir = dirname(target); dir.startsWith(`${top}${sep}`); dir = dirname(dir))
      folders.unshift(dir)
    for (const dir of [top, ...folders]) {
      const onDisk = await lstat(dir).catch(() => undefined)
      if (onDisk === undefined) return // made below, as folders
      if (!onDisk.isDirectory()) await rm(dir, { force: true })
    }
  }

  /** Whether the plaintext of `path` is in place (a reboot empties SECRETS_DIR). */
  const present = async (stack: string, path: string) =>
    (await lstat(targetOf(stack, path)).catch(() => undefined))?.isFile() === true

  /** Removes the stack's plaintext files that are not in `keep` (paths), and their emptied directories. */
  async function prune(stack: string, keep: ReadonlySet<string>) {
    const dir = dirOf(stack)
    const walk = async (relativeDir: string): Promise<boolean> => {
      const entries = await readdir(join(dir, relativeDir), { withFileTypes: true }).catch(() => [])
      let empty = true
      for (const entry of entries) {
        const path = relativeDir ? `${relativeDir}/${entry.name}` : entry.name
        if (entry.isDirectory()) {
          if (await walk(path)) await rm(join(dir, path), { recursive: true, force: true })
          else empty = false
        } else if (keep.has(path)) empty = false
        else await rm(join(dir, path), { force: true })
      }
      return empty
    }
    await walk('')
    const kept = values.get(stack)
    if (kept) for (const path of [...kept.keys()]) if (!keep.has(path)) kept.delete(path)
  }

  /** The stack left Git (or has no encrypted file any more): its plaintext goes. */
  async function remove(stack: string) {
    values.delete(stack)
    await rm(dirOf(stack), { recursive: true, force: true })
  }

  /** Remembers the values of a decrypted file, to cut them out of other programs' messages. */
  function remember(stack: string, path: string, decrypted: readonly string[]) {
    const kept = values.get(stack) ?? new Map<string, readonly string[]>()
    // Short values (`1`, `true`) would cut ordinary words: the scrub is for secrets.
    kept.set(
      path,
      decrypted.flatMap(echoedForms).filter((value) => value.length >= 4),
    )
    values.set(stack, kept)
  }

  /** Every decrypted value replaced by [REDACTED], longest first (one that holds another goes whole). */
  function scrub(text: string): string {
    const all = [...values.values()].flatMap((files) => [...files.values()].flat())
    if (all.length === 0) return text
    return [...new Set(all)]
      .sort((a, b) => b.length - a.length)
      .reduce((clean, value) => clean.split(value).join('[REDACTED]'), text)
  }

  return { root, ready, targetOf, place, present, prune, remove, remember, scrub }
}

export type SecretFiles = ReturnType<typeof createSecretFiles>

/**
 * The forms a decrypted value takes in another program's message: as
 * decrypted; as a dotenv reader (Compose) reads it — quotes taken off and
 * escapes resolved, an unquoted value's inline comment cut; and each of
 * those escaped the way Go's %q writes a string (Compose's errors quote the
 * value they could not parse: `parsing "pw\"x"`).
 */
export function echoedForms(value: string): string[] {
  const forms = new Set([value])
  const double = /^"(.*)"$/s.exec(value)?.[1]
  const single = /^'(.*)'$/s.exec(value)?.[1]
  if (double !== undefined)
    forms.add(double.replace(/\\(.)/gs, (_m, c: string) => DOTENV_ESCAPES[c] ?? c))
  else if (single !== undefined) forms.add(single)
  else forms.add(value.replace(/\s+#.*$/s, '').trim())
  for (const form of [...forms]) forms.add(goEscaped(form))
  return [...forms]
}

const DOTENV_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t' }

const GO_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
}

/** The inside of Go's strconv.Quote for the ASCII escapes (other letters as they are). */
const goEscaped = (text: string) =>
  text.replace(
    // Control characters are the point here (Go escapes them).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the job
    /[\\"\x00-\x1f\x7f]/g,
    (c) => GO_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )
