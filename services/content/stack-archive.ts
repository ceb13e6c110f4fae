import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { createGzip } from 'node:zlib'
import tar from 'tar-stream'
import type { GitReader } from '../git/index.js'
import { plainEntries } from '../git/index.js'

// A stack directory as a gzipped tar, streamed from the bare mirror: the
// tree is listed once, blobs come through one `cat-file --batch` in pieces,
// and every stage waits for the one after it (git → tar → gzip → client),
// so memory stays flat whatever the directory weighs.
//
// Entries: directories and regular files with their modes, named relative
// to the stack directory (no top-level folder). Symlinks are left out (one
// could point outside the stack, or the host); submodules too (their
// content is not in this repository); and names that are not valid UTF-8
// (tar names are text here; decoding would garble or merge them), reported
// through `onSkipped`. Every entry has mtime 0 and the gzip
// header carries no time, so one tree always gives the same bytes: the
// ETag is the tree id.

const EPOCH = new Date(0)

export function stackArchive(
  git: GitReader,
  treeOid: string,
  onSkipped: (paths: string[]) => void = () => {},
): Readable {
  const pack = tar.pack()
  const gzip = createGzip()
  let stopGit = () => {}
  // Aborted once the client has gone (or the archive failed): the producer
  // stops waiting for a sink that will never drain.
  const gone = new AbortController()
  const fail = (error: unknown) => {
    stopGit()
    gzip.destroy(error instanceof Error ? error : new Error(String(error)))
  }
  pack.on('error', fail)
  pack.pipe(gzip)
  gzip.on('close', () => {
    gone.abort()
    stopGit()
    // Whatever is still inside tar is dropped with it (streamx's pipe does
    // not always get there first).
    pack.destroy()
  })

  async function produce() {
    const { entries, invalid } = plainEntries(await git.listTree(treeOid))
    if (invalid.length > 0) onSkipped(invalid)
    const blobs = entries.filter((entry) => entry.type === 'blob')
    const stream = git.streamObjects(blobs.map((blob) => blob.oid))
    stopGit = stream.stop
    const objects = stream.objects[Symbol.asyncIterator]()
    for (const entry of entries) {
      if (gone.signal.aborted) return
      if (entry.type === 'tree') {
        pack.entry({ name: `${entry.path}/`, type: 'directory', mode: 0o755, mtime: EPOCH })
        continue
      }
      const next = await objects.next()
      if (next.done || next.value.missing) throw new Error(`blob ${entry.oid} is missing`)
      const object = next.value
      const sink = pack.entry({
        name: entry.path,
        type: 'file',
        size: object.size,
        mode: entry.mode === '100755' ? 0o755 : 0o644,
        mtime: EPOCH,
      })
      // When the client hangs up, tar destroys the open entry, which then
      // emits PREMATURE_CLOSE; without a listener that is an uncaught
      // exception and the process exits. The pack reports every real
      // failure of an entry itself (its 'error' above), so this one is an echo.
      sink.on('error', () => {})
      for await (const piece of object.content) {
        if (!sink.write(piece)) await once(sink, 'drain', { signal: gone.signal })
      }
      // streamx's end() takes no callback (the Node typings say otherwise).
      ;(sink as unknown as { end(): void }).end()
    }
    // Lets the reader run to git's end of output (return() would stop it
    // short, and git would never be seen to finish).
    const rest = await objects.next()
    if (!rest.done) throw new Error('more objects than entries')
    pack.finalize()
    await stream.finished
  }

  produce().catch(fail)
  return gzip
}
