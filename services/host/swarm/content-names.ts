import { createHash } from 'node:crypto'
import { lstat, readFile, realpath } from 'node:fs/promises'
import { isAbsolute, relative, resolve } from 'node:path'
import { describeFsError } from '../../base/index.js'
import { WorkTreeError } from '../work-tree-safety.js'
import { labelMap, type RenderedStack } from './stack-file.js'

// Swarm configs and secrets are immutable: the engine refuses new data
// under a name it has (`docker stack deploy` fails with "only updates to
// Labels are allowed"), and a service whose spec names the same object is
// not rolled. So each file-based config and secret of a stack gets a name
// that carries its content: Compose's name for it (`<stack>_<key>`) plus
// 8 hex digits of the SHA-256 of the file's bytes. An unchanged file keeps
// its name — the services' specs are unchanged and Swarm leaves them
// running —, a changed file gets a new object, and only the services that
// name it roll. External objects (`external: true`) are the operator's and
// keep their names. A SOPS-encrypted file is a link into SECRETS_DIR in the
// work tree (services/secrets): its plaintext is hashed, as the docker CLI
// reads the plaintext through the link.

export type ObjectKind = 'config' | 'secret'

export const OBJECT_KINDS = ['config', 'secret'] as const

/** The label docker-cd puts on each content-named object: the hash its name ends with. */
export const CONTENT_LABEL = 'io.docker-cd.content-hash'

/** Swarm refuses config and secret names longer than this. */
const MAX_NAME = 64

const HASH_HEX = 8

/** A top-level `configs:`/`secrets:` entry of Compose's rendering. */
type RenderedObject = {
  name?: string
  file?: string
  external?: boolean
  labels?: Record<string, string> | string[]
}

/** The first 8 hex digits of the SHA-256 of an object's content. */
export const contentHash = (content: Buffer | string) =>
  createHash('sha256').update(content).digest('hex').slice(0, HASH_HEX)

/** `<base>_<hash>`, the base shortened where Swarm's 64 characters would not hold both. */
export function contentName(base: string, hash: string): string {
  return `${base.slice(0, MAX_NAME - HASH_HEX - 1)}_${hash}`
}

/** The version a name carries for a base (`shop_app_conf_1a2b3c4d` → `1a2b3c4d`), or undefined. */
export function versionOf(name: string, base: string): string | undefined {
  const prefix = `${base.slice(0, MAX_NAME - HASH_HEX - 1)}_`
  const rest = name.startsWith(prefix) ? name.slice(prefix.length) : ''
  return /^[0-9a-f]{8}$/.test(rest) ? rest : undefined
}

/** The name Compose gives an object of the stack (what the content name extends). */
const baseOf = (stack: string, key: string, object: RenderedObject) =>
  object.name ?? `${stack}_${key}`

/** A file-based object docker-cd names by content (not external, not `content:`/`environment:`). */
const contentNamed = (object: unknown): object is RenderedObject & { file: string } =>
  !!object &&
  typeof object === 'object' &&
  !(object as RenderedObject).external &&
  typeof (object as RenderedObject).file === 'string'

/** The stack's content-named objects, by kind: the key in the file, its base and its name now. */
export type NamedObject = { kind: ObjectKind; key: string; base: string; name: string }

/**
 * Compose's rendering with each file-based config and secret named by its
 * content (and labelled with the hash); `read` gives a file's bytes. Pure
 * but for `read`. The objects named, with their base names (what an older
 * version's name starts with).
 */
export async function withContentNames(
  stack: string,
  rendered: RenderedStack,
  read: (file: string) => Promise<Buffer>,
): Promise<{ rendered: RenderedStack; named: NamedObject[] }> {
  const named: NamedObject[] = []
  const out: RenderedStack = { ...rendered }
  for (const kind of OBJECT_KINDS) {
    const section = rendered[`${kind}s`]
    if (!section || typeof section !== 'object') continue
    const entries = await Promise.all(
      Object.entries(section as Record<string, unknown>).map(async ([key, object]) => {
        if (!contentNamed(object)) return [key, object] as const
        const hash = contentHash(await read(object.file))
        const base = baseOf(stack, key, object)
        const name = contentName(base, hash)
        named.push({ kind, key, base, name })
        return [
          key,
          { ...object, name, labels: { ...labelMap(object.labels), [CONTENT_LABEL]: hash } },
        ] as const
      }),
    )
    out[`${kind}s`] = Object.fromEntries(entries)
  }
  return { rendered: out, named }
}

/**
 * A config or secret file's bytes, as the docker CLI will read them. A file
 * missing from the tree is the tree's failure (Compose does not check);
 * a link whose target is gone (a decrypted file no longer in SECRETS_DIR)
 * or a file that cannot be read is the host's.
 */
export async function readObjectFile(
  file: string,
  roots?: { dir: string; secretsDir?: string },
): Promise<Buffer> {
  if (roots) await refuseOutside(file, roots)
  try {
    return await readFile(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const link = await lstat(file).then(
      (info) => info.isSymbolicLink(),
      () => false,
    )
    if (code === 'ENOENT' && !link)
      throw new WorkTreeError(
        'tree',
        `${file} is not in the stack's tree (a configs:/secrets: file:)`,
      )
    throw new WorkTreeError(
      'host',
      `${file} (a configs:/secrets: file:) cannot be read: ${code ? describeFsError(code) : (error as Error).message}`,
      code,
    )
  }
}

/** Whether `path` is `root` or inside it. */
const isInside = (root: string, path: string) => {
  const inside = relative(root, path)
  return inside === '' || !(inside === '..' || inside.startsWith('../') || isAbsolute(inside))
}

/**
 * A configs:/secrets: file must be in the stack's work tree (its bytes
 * become an object every node of the swarm can read): a path that leaves
 * it (`../../etc/passwd`, `/etc/passwd`) or a link that leads out of it is
 * the tree's failure, refused before docker-cd or the docker CLI read it.
 * A decrypted SOPS file is a link into SECRETS_DIR: that one is followed.
 */
async function refuseOutside(file: string, roots: { dir: string; secretsDir?: string }) {
  const dir = resolve(roots.dir)
  if (!isInside(dir, resolve(dir, file)))
    throw new WorkTreeError(
      'tree',
      `${file} (a configs:/secrets: file:) is outside the stack's work tree ${dir}: refused, docker-cd reads no file outside it`,
    )
  const real = await realpath(file).catch(() => undefined)
  if (real === undefined) return // missing: said by the read
  const allowed = [dir, ...(roots.secretsDir ? [roots.secretsDir] : [])]
  const reals = await Promise.all(allowed.map((root) => realpath(root).catch(() => resolve(root))))
  if (!reals.some((root) => isInside(root, real)))
    throw new WorkTreeError(
      'tree',
      `${file} (a configs:/secrets: file:) leads out of the stack's work tree (to ${real}): refused, docker-cd reads no file outside it`,
    )
}
