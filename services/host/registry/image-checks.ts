import type { RegistryClient, RemoteDigest } from './client.js'
import { type ImageRef, parseImageRef } from './image-ref.js'

// What the tags a host runs point to now, asked at most once per interval
// per repository and tag, however many stacks and services use it (200
// stacks on `postgres:16` cost one manifest HEAD per interval). An answer is
// kept for the interval; a failed ask (registry down, refused) is kept too
// and asked again after a back-off that doubles up to the interval, so a
// registry that is down is not hammered and is not waited for twice in one
// round; the digest the tag last named stays known meanwhile (a registry
// that fails now and then does not make a moved tag come and go). Asks run
// a few at a time. Pinned references (`@sha256:…`) and
// references that are not valid are never asked: they come back as such.

export type ImageAnswer =
  | { kind: 'pinned'; ref: ImageRef }
  | { kind: 'invalid'; problem: string }
  | {
      kind: 'asked'
      ref: ImageRef
      answer: RemoteDigest
      at: number
      /** After a failed ask: the digest the last answered ask named (a failure does not take a moved tag back). */
      known?: string
    }

export type ImageChecksOptions = {
  client: Pick<RegistryClient, 'remoteDigest'>
  /** IMAGE_POLL_INTERVAL: how long an answer stands. */
  intervalMs: number
  /** First wait after a failed ask (doubling up to the interval). */
  retryMs?: number
  /** Asks at the same time. */
  concurrency?: number
  now?: () => number
}

type Kept = {
  answer: RemoteDigest
  at: number
  until: number
  failures: number
  /** The digest the last answered ask named. */
  known?: string
}

export function createImageChecks(options: ImageChecksOptions) {
  const now = options.now ?? Date.now
  const retryMs = options.retryMs ?? 60_000
  const concurrency = Math.max(1, options.concurrency ?? 4)
  const kept = new Map<string, Kept>()
  const asking = new Map<string, Promise<Kept>>()

  function ask(key: string, ref: ImageRef): Promise<Kept> {
    let pending = asking.get(key)
    if (!pending) {
      const previous = kept.get(key)
      pending = options.client.remoteDigest(ref).then((answer) => {
        const at = now()
        const failures = answer.ok ? 0 : (previous?.answer.ok === false ? previous.failures : 0) + 1
        const wait = answer.ok
          ? options.intervalMs
          : Math.min(options.intervalMs, retryMs * 2 ** (failures - 1))
        const known = answer.ok ? answer.digest : previous?.known
        const entry = { answer, at, until: at + wait, failures, ...(known ? { known } : {}) }
        kept.set(key, entry)
        return entry
      })
      asking.set(key, pending)
      void pending.finally(() => asking.delete(key))
    }
    return pending
  }

  /**
   * Answers for these references (as Compose files write them), asking the
   * registries only about what is not known for the interval. `force`: a
   * manual request, which asks again whatever is kept.
   */
  async function check(
    references: readonly string[],
    force = false,
  ): Promise<Map<string, ImageAnswer>> {
    const answers = new Map<string, ImageAnswer>()
    const toAsk = new Map<string, ImageRef>()
    for (const reference of new Set(references)) {
      const ref = parseImageRef(reference)
      if ('problem' in ref) {
        answers.set(reference, { kind: 'invalid', problem: ref.problem })
        continue
      }
      if (ref.digest) {
        answers.set(reference, { kind: 'pinned', ref })
        continue
      }
      const key = `${ref.registry}/${ref.repository}:${ref.tag}`
      const entry = kept.get(key)
      if (force || !entry || entry.until <= now()) toAsk.set(key, ref)
    }
    const keys = [...toAsk.keys()]
    let next = 0
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++] as string
        await ask(key, toAsk.get(key) as ImageRef)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker))
    for (const reference of new Set(references)) {
      if (answers.has(reference)) continue
      const ref = parseImageRef(reference) as ImageRef
      const entry = kept.get(`${ref.registry}/${ref.repository}:${ref.tag}`)
      if (entry)
        answers.set(reference, {
          kind: 'asked',
          ref,
          answer: entry.answer,
          at: entry.at,
          ...(!entry.answer.ok && entry.known ? { known: entry.known } : {}),
        })
    }
    return answers
  }

  return {
    check,
    /** Repository:tag pairs with a standing answer (tests, the status page). */
    known: () => kept.size,
  }
}

export type ImageChecks = ReturnType<typeof createImageChecks>
