import { readCovers, type ServiceReads } from './service-reads.js'
import type { FileChangeAction } from './stack-settings.js'

// What a change of files in Git means for the services that read them
// (service-reads.ts): Compose's configuration hash does not cover the
// content of a bind-mounted file, a `configs:`/`secrets:` file or a build
// context, so Compose alone would leave these services as they are. A
// service that reads a changed file is recreated (its mounts are set up
// again from the new files), restarted when its stack asks for that in
// `x-docker-cd` (a restart sets the mounts up again too, the container
// stays), and rebuilt then recreated when the file is in its build context
// (a restart would keep the old image). Pure: the changed files (from Git,
// `git diff-tree` of two tree ids) and the reads (from the model) in, the
// changes out.

/** What is done to a service whose files changed. */
export type FileChangeKind = 'recreate' | 'restart' | 'rebuild'

export type FileChange = {
  service: string
  action: FileChangeKind
  /** The changed files it reads, as the stack directory has them (`./conf/app.conf`), sorted. */
  files: string[]
}

/** The services reading any of `changed` (paths relative to the stack directory), each with its action. */
export function fileChangesOf(
  reads: ServiceReads | undefined,
  changed: readonly string[],
  onFileChange: Readonly<Record<string, FileChangeAction>> = {},
): FileChange[] {
  if (!reads || changed.length === 0) return []
  const changes: FileChange[] = []
  for (const [service, list] of Object.entries(reads.inside)) {
    const files = new Set<string>()
    let build = false
    for (const file of changed)
      for (const read of list)
        if (readCovers(read, file)) {
          files.add(`./${file}`)
          if (read.kind === 'build') build = true
        }
    if (files.size === 0) continue
    // Own keys only: a service may be named `constructor` (Compose allows it).
    const asked = Object.hasOwn(onFileChange, service) ? onFileChange[service] : undefined
    const action: FileChangeKind = build ? 'rebuild' : (asked ?? 'recreate')
    changes.push({ service, action, files: [...files].sort() })
  }
  return changes.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
}

const SHOWN_FILES = 3

/** `./a.conf changed`, `./a.conf and ./b.conf changed`, `./a, ./b, ./c and 2 more files changed`. */
export function changedFilesWords(files: readonly string[]): string {
  if (files.length <= 1) return `${files[0] ?? 'a file'} changed`
  if (files.length <= SHOWN_FILES)
    return `${files.slice(0, -1).join(', ')} and ${files[files.length - 1]} changed`
  const rest = files.length - SHOWN_FILES
  return `${files.slice(0, SHOWN_FILES).join(', ')} and ${rest} more file${rest === 1 ? '' : 's'} changed`
}

const DONE_WORDS: Record<FileChangeKind, string> = {
  recreate: 'recreated',
  restart: 'restarted',
  rebuild: 'rebuilt and recreated',
}

/** What a deploy did, as the history says it: `app recreated: ./conf/app.conf changed`. */
export const fileChangeDone = (change: FileChange) =>
  `${change.service} ${DONE_WORDS[change.action]}: ${changedFilesWords(change.files)}`

/** What a check says a deploy would do: `service web would be recreated: ./nginx.conf changed since it was deployed`. */
export const fileChangePending = (change: FileChange) =>
  `service ${change.service} would be ${DONE_WORDS[change.action]}: ${changedFilesWords(change.files)} since it was deployed`

/** Bind mounts and files outside the stack directory, said once: docker-cd does not track them. */
export function untrackedReads(reads: ServiceReads | undefined): string[] {
  return (reads?.outside ?? []).map(
    (read) =>
      `service ${read.service} reads ${read.source} (${READ_WORDS[read.kind]}) from outside the stack directory: docker-cd does not track changes to it`,
  )
}

/**
 * Encrypted files a service reads through a directory (a mounted folder, a
 * build context): each is a link into SECRETS_DIR in the work tree, which
 * the engine resolves only for a path mounted itself — inside a mounted
 * directory the container sees a link it cannot follow, and a build
 * context sends the link, not the plaintext. Said once per service and file.
 */
export function encryptedInDirectories(
  reads: ServiceReads | undefined,
  encrypted: readonly string[],
): string[] {
  if (!reads || encrypted.length === 0) return []
  const notes: string[] = []
  for (const [service, list] of Object.entries(reads.inside))
    for (const file of encrypted) {
      const through = list.find((read) => read.path !== file && readCovers(read, file))
      if (through && !list.some((read) => read.path === file && read.kind !== 'build'))
        notes.push(
          `service ${service} reads the SOPS-encrypted ./${file} through ./${through.path || '.'} (${READ_WORDS[through.kind]}): its plaintext is only in SECRETS_DIR, and through a directory the container sees a link it cannot follow; mount the file itself`,
        )
    }
  return notes
}

const READ_WORDS = {
  bind: 'a bind mount',
  config: 'a config file',
  secret: 'a secret file',
  build: 'a build context or Dockerfile',
} as const
