import { lstat, readlink, rename, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { GitReader } from '../git/index.js'
import { WorkTreeError, type WorkTrees } from '../host/index.js'
import type { AgeIdentity } from './age-keys.js'
import type { SecretFiles } from './secret-files.js'
import { SecretsDirError } from './secret-files.js'
import { AgeKeyError, decryptSops, isSopsDocument, SopsError, sopsFormatOf } from './sops.js'

// The work trees of stacks with SOPS-encrypted files. A stack's directory is
// written from Git as always (services/host/work-trees.ts); then each file
// that is a SOPS document — recognised by its metadata, whatever its name —
// is decrypted in memory, its plaintext placed in SECRETS_DIR
// (secret-files.ts), and its path in the work tree becomes a symlink to
// it. Compose finds the plaintext exactly where the stack's files name it
// (`env_file: db.env`, the `.env` it interpolates from, `configs:` and
// `secrets:` files, `./app.yaml:/etc/app.yaml`), and the engine resolves
// the link when it sets up a bind mount; neither the Compose files nor the
// stack's layout change, and no plaintext is on persistent disk.
// (Considered and rejected: decrypting in place, as doco-cd does — the
// plaintext would sit on disk under STACKS_DIR; a generated override file —
// Compose appends `env_file` lists instead of replacing them, so the
// ciphertext's `sops_*` lines would reach the container's environment too.)
//
// Which files are encrypted is worked out once per tree (every blob read
// once, the answer kept beside the work tree); a stack without any costs
// nothing more. Every file decrypts before any is placed: a wrong key or a
// tampered file (the MAC is verified) fails the stack with the file and the
// cause, and nothing of the host changes. A file inside a bind-mounted
// directory is a link the container cannot follow: mount encrypted files
// one by one (the README says so).

/** What is kept per tree: its encrypted files and their blobs (no plaintext). */
type EncryptedFiles = { files: { path: string; oid: string }[] }

/** An encrypted file whose link (and maybe plaintext) must be put in place. */
type Due = { path: string; oid: string; link: string; target: string; inPlace: boolean }

/** Bigger blobs are not read for SOPS metadata (a SOPS file of secrets is small). */
const MAX_SOPS_BYTES = 32 * 1024 * 1024

export function withSecrets(
  workTrees: WorkTrees,
  options: {
    git: Pick<GitReader, 'listTree' | 'readByOid' | 'streamObjects'>
    files: SecretFiles
    /** The configured identities, read when a file needs them; [] without a key. */
    identities: () => Promise<AgeIdentity[]>
    /** What a missing key makes of a stack: `tree` (apply: failed) or `key` (detect: cannot judge). */
    missingKey: 'tree' | 'key'
  },
): WorkTrees & { sameSecrets: typeof sameSecrets } {
  const { files } = options
  /** The blob each placed plaintext came from, per stack and path (this process's). */
  const placed = new Map<string, string>()
  const placedKey = (stack: string, path: string) => `${stack}\0${path}`
  /** The encrypted files of each stack's last tree asked about. */
  const lastScan = new Map<string, { tree: string; files: EncryptedFiles['files'] }>()
  /** Stacks without encrypted files whose SECRETS_DIR directory is known to be gone. */
  const cleared = new Set<string>()

  /** The tree's encrypted files: remembered beside the work tree, else read from Git once. */
  async function encryptedFiles(stack: string, tree: string) {
    // Every check asks: the answer for the stack's current tree is kept in memory too.
    const known = lastScan.get(stack)
    if (known?.tree === tree) return known.files
    const record = workTrees.treeRecord<EncryptedFiles>(stack, tree, 'secrets')
    let found = (await record.get())?.files
    if (!found) {
      found = await scan(tree)
      await record.set({ files: found })
    }
    lastScan.set(stack, { tree, files: found })
    return found
  }

  /** Every blob of the tree, read once (in the listing's order), kept when it is a SOPS document. */
  async function scan(tree: string) {
    const blobs = (await options.git.listTree(tree)).filter((entry) => entry.type === 'blob')
    const found: { path: string; oid: string }[] = []
    if (blobs.length === 0) return found
    const stream = options.git.streamObjects(blobs.map((blob) => blob.oid))
    const objects = stream.objects[Symbol.asyncIterator]()
    try {
      for (const blob of blobs) {
        const next = await objects.next()
        if (next.done || next.value.missing) throw new Error(`blob ${blob.oid} is missing`)
        const chunks: Buffer[] = []
        let size = 0
        for await (const piece of next.value.content) {
          size += piece.length
          if (size <= MAX_SOPS_BYTES) chunks.push(piece)
        }
        if (
          size <= MAX_SOPS_BYTES &&
          isSopsDocument(Buffer.concat(chunks), sopsFormatOf(blob.path))
        )
          found.push({ path: blob.path, oid: blob.oid })
      }
      if (!(await objects.next()).done) throw new Error('more objects than entries')
      await stream.finished
    } catch (error) {
      stream.stop()
      throw error
    }
    return found
  }

  async function ensure(stack: string, tree: string) {
    const result = await workTrees.ensure(stack, tree)
    const encrypted = await encryptedFiles(stack, tree)
    if (encrypted.length === 0) {
      // Its plaintext from an earlier tree (or run) goes, once: not at every check.
      if (!cleared.has(stack)) await files.remove(stack)
      cleared.add(stack)
      return result
    }
    cleared.delete(stack)
    const due: Due[] = []
    for (const file of encrypted) {
      const link = join(result.dir, file.path)
      const target = files.targetOf(stack, file.path)
      // The plaintext of this very blob is in place (a new tree rewrote only the link).
      const inPlace =
        placed.get(placedKey(stack, file.path)) === file.oid &&
        (await files.present(stack, file.path))
      if (inPlace && (await linksTo(link, target))) continue
      due.push({ ...file, link, target, inPlace })
    }
    if (due.length > 0) await decryptAndPlace(stack, due)
    await files.prune(stack, new Set(encrypted.map((file) => file.path)))
    return { ...result, encrypted: encrypted.map((file) => file.path) }
  }

  /** Decrypts every due file first (all or nothing), then places each and links its path to it. */
  async function decryptAndPlace(stack: string, due: Due[]) {
    const toDecrypt = due.filter((file) => !file.inPlace)
    const blobs = toDecrypt.length
      ? await options.git.readByOid([...new Set(toDecrypt.map((file) => file.oid))])
      : new Map<string, Buffer>()
    const keys = toDecrypt.length ? await readIdentities() : []
    const decrypted = new Map<string, { plaintext: Buffer; values: string[] }>()
    for (const file of toDecrypt) {
      try {
        decrypted.set(
          file.path,
          await decryptSops(blobs.get(file.oid) as Buffer, sopsFormatOf(file.path), keys),
        )
      } catch (error) {
        throw secretsError(file.path, error)
      }
    }
    for (const file of due) {
      try {
        const plain = decrypted.get(file.path)
        if (plain) {
          await files.place(stack, file.path, plain.plaintext)
          files.remember(stack, file.path, plain.values)
        }
        await linkTo(file.link, file.target)
        placed.set(placedKey(stack, file.path), file.oid)
      } catch (error) {
        throw secretsError(file.path, error)
      }
    }
  }

  /**
   * The identities, or the stack unknown for now: a key file half-written
   * or unreadable (a rotation in progress) is worth trying again, and is
   * not "no key configured". The message names the line, never the key.
   */
  async function readIdentities(): Promise<AgeIdentity[]> {
    try {
      return await options.identities()
    } catch (error) {
      const why =
        error instanceof AgeKeyError
          ? error.message
          : ((error as NodeJS.ErrnoException).code ?? 'unreadable')
      throw new WorkTreeError(
        'host',
        `the age keys (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE) cannot be read: ${why}`,
      )
    }
  }

  /** A decryption failure as the stack's: the file and the cause, never a value. */
  function secretsError(path: string, error: unknown): unknown {
    if (error instanceof SopsError) {
      if (error.kind === 'no-key')
        return new WorkTreeError(
          options.missingKey,
          `${path} is SOPS-encrypted and no age key is configured (SOPS_AGE_KEY_FILE or SOPS_AGE_KEY): the stack cannot be judged or deployed`,
        )
      return new WorkTreeError('tree', `${path} cannot be decrypted: ${error.message}`)
    }
    if (error instanceof SecretsDirError) return new WorkTreeError('host', error.message)
    // Placing the plaintext or its link failed (SECRETS_DIR full, a permission): the
    // stack is unknown with the reason and tried again, not left as it was with a log line.
    const code = (error as NodeJS.ErrnoException)?.code
    if (code)
      return new WorkTreeError(
        'host',
        `cannot put the plaintext of ${path} in place (its file in SECRETS_DIR ${files.root}, its link in the work tree): ${code}`,
        code,
      )
    return error
  }

  /**
   * Of the files that differ between two trees, those whose content is
   * really different: an encrypted file whose plaintext is the same in
   * both (re-encrypted for a new recipient, `sops updatekeys`, a rotated
   * data key) is left out, so it recreates nothing. When either side does
   * not decrypt, the file counts as changed.
   */
  async function sameSecrets(
    fromTree: string,
    toTree: string,
    changed: readonly string[],
  ): Promise<string[]> {
    if (changed.length === 0) return []
    const [from, to] = await Promise.all(
      [fromTree, toTree].map(
        async (tree) =>
          new Map(
            (await options.git.listTree(tree))
              .filter((entry) => entry.type === 'blob')
              .map((entry) => [entry.path, entry.oid]),
          ),
      ),
    )
    const pairs = changed
      .map((path) => ({ path, before: from?.get(path), after: to?.get(path) }))
      .filter(
        (pair): pair is { path: string; before: string; after: string } =>
          pair.before !== undefined && pair.after !== undefined,
      )
    if (pairs.length === 0) return [...changed]
    const blobs = await options.git.readByOid([
      ...new Set(pairs.flatMap((p) => [p.before, p.after])),
    ])
    const format = (path: string) => sopsFormatOf(path)
    const unchanged = new Set<string>()
    let keys: AgeIdentity[] | undefined
    for (const pair of pairs) {
      const before = blobs.get(pair.before) as Buffer
      const after = blobs.get(pair.after) as Buffer
      if (!isSopsDocument(before, format(pair.path)) || !isSopsDocument(after, format(pair.path)))
        continue
      try {
        keys ??= await options.identities()
        const [a, b] = await Promise.all(
          [before, after].map((content) => decryptSops(content, format(pair.path), keys ?? [])),
        )
        if (a?.plaintext.equals(b?.plaintext ?? Buffer.alloc(0))) unchanged.add(pair.path)
      } catch {
        // Cannot tell: changed.
      }
    }
    return changed.filter((path) => !unchanged.has(path))
  }

  return {
    ...workTrees,
    ensure,
    async remove(stack: string) {
      await workTrees.remove(stack)
      for (const key of [...placed.keys()]) if (key.startsWith(`${stack}\0`)) placed.delete(key)
      lastScan.delete(stack)
      cleared.delete(stack)
      await files.remove(stack)
    },
    sameSecrets,
  }
}

/** Whether `link` is a symlink to `target`. */
async function linksTo(link: string, target: string): Promise<boolean> {
  const onDisk = await lstat(link).catch(() => undefined)
  return onDisk?.isSymbolicLink() === true && (await readlink(link)) === target
}

/** Makes `link` a symlink to `target` in one step (made beside it, renamed over it). */
async function linkTo(link: string, target: string) {
  if (await linksTo(link, target)) return
  const fresh = `${link}.docker-cd-link`
  await rm(fresh, { force: true })
  await symlink(target, fresh)
  try {
    await rename(fresh, link)
  } finally {
    await rm(fresh, { force: true })
  }
}
