import { Readable } from 'node:stream'
import type { GitReader } from '../git/index.js'
import type { Snapshot, Stack } from '../refresh/index.js'

// What a consumer reads of one stack, from the snapshot it already holds:
// the stack itself, and its Compose file's exact bytes streamed from the
// mirror (the objects of a superseded snapshot stay readable, so a refresh
// during a download does not change what that download returns).

export function findStack(snapshot: Snapshot, name: string): Stack | undefined {
  return snapshot.stacks.find((stack) => stack.path === name)
}

/** A stack named in a URL and the revision it is read at; undefined before a first snapshot too. */
export function stackAt(
  snapshot: Snapshot,
  name: string,
): { stack: Stack; revision: string } | undefined {
  const stack = findStack(snapshot, name)
  return stack && snapshot.revision !== null ? { stack, revision: snapshot.revision } : undefined
}

/** The answer when a URL names no stack of the snapshot. */
export const noSuchStack = (name: string) => `no stack "${name}" at the cached revision`

/** One blob's bytes as a stream; git is stopped when the reader goes away. */
export function blobContent(git: GitReader, oid: string): Readable {
  const stream = git.streamObjects([oid])
  const output = Readable.from(
    (async function* () {
      for await (const object of stream.objects) {
        if (object.missing) throw new Error(`blob ${oid} is missing from the mirror`)
        yield* object.content
      }
      await stream.finished
    })(),
  )
  output.on('close', () => stream.stop())
  return output
}

/** Up to `max` bytes of a blob (a page shows them), and whether there was more. */
export async function blobPrefix(
  git: GitReader,
  oid: string,
  max: number,
): Promise<{ content: Buffer; truncated: boolean }> {
  const pieces: Buffer[] = []
  let size = 0
  // Leaving the loop early destroys the stream, which stops git.
  for await (const piece of blobContent(git, oid)) {
    pieces.push(piece as Buffer)
    size += (piece as Buffer).length
    if (size > max) break
  }
  return { content: Buffer.concat(pieces).subarray(0, max), truncated: size > max }
}
