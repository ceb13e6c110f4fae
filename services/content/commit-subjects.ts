import { commitSubject, type GitReader } from '../git/index.js'

// The first line of commit messages, for pages that name revisions: read
// from the mirror in one `cat-file` batch for the revisions not seen yet
// (the shallow mirror holds the commits it fetched; others read as
// unknown, unless a stack's change stamp kept it), remembered by revision
// (bounded).

const REMEMBERED = 2000

export function createCommitSubjects(git: Pick<GitReader, 'readByOid'>) {
  const subjects = new Map<string, string | undefined>()
  return {
    /** Makes the subjects of these revisions known (one batch for the new ones). */
    async read(revisions: readonly (string | undefined)[]): Promise<void> {
      const wanted = [...new Set(revisions)].filter(
        (rev): rev is string =>
          rev !== undefined && /^[0-9a-f]{40}$/.test(rev) && !subjects.has(rev),
      )
      if (wanted.length === 0) return
      if (subjects.size + wanted.length > REMEMBERED) subjects.clear()
      const objects = await git.readByOid(wanted).catch(() => new Map<string, Buffer>())
      for (const rev of wanted) {
        const commit = objects.get(rev)
        subjects.set(rev, commit ? commitSubject(commit) : undefined)
      }
    },
    /** Subjects known without the mirror: kept with each stack's change stamp (older commits leave the shallow mirror). */
    remember(stamps: readonly { changedRevision: string; changedSubject?: string }[]): void {
      for (const stamp of stamps)
        if (stamp.changedSubject && subjects.get(stamp.changedRevision) === undefined) {
          if (subjects.size >= REMEMBERED) subjects.clear()
          subjects.set(stamp.changedRevision, stamp.changedSubject)
        }
    },
    /** A revision's subject, once read. */
    get: (revision: string): string | undefined => subjects.get(revision),
  }
}
