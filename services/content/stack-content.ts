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
