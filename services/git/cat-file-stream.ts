import { ByteReader } from './byte-reader.js'

// `git cat-file --batch` output read incrementally: for each request a
// header `<oid> <type> <size>` (or `<request> missing`), then the content,
// then a newline. Each object's content is handed on as a stream of pieces
// and must be consumed (or is skipped) before the next object is read, so a
// 512 MiB blob costs one chunk of memory, not 512 MiB.

type StreamedObject =
  | { request: string; missing: true }
  | {
      request: string
      missing: false
      oid: string
      type: string
      size: number
      content: AsyncGenerator<Buffer>
    }

export async function* catFileObjects(
  stdout: AsyncIterable<Buffer>,
  requests: readonly string[],
): AsyncGenerator<StreamedObject> {
  const reader = new ByteReader(stdout)
  for (const request of requests) {
    const header = await reader.line()
    if (header === undefined) throw new Error(`cat-file output ended before ${request}`)
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      yield { request, missing: true }
      continue
    }
    const [oid, type, sizeText] = header.split(' ')
    const size = Number(sizeText)
    if (!oid || !type || !Number.isSafeInteger(size) || size < 0) {
      throw new Error(`unexpected cat-file header "${header}"`)
    }
    let delivered = 0
    const content = (async function* () {
      for await (const piece of reader.take(size)) {
        delivered += piece.length
        yield piece
      }
    })()
    yield { request, missing: false, oid, type, size, content }
    // Whatever the consumer left unread of this object is skipped.
    await content.return(undefined)
    await reader.skip(size - delivered)
    await reader.skip(1) // the newline after the content
  }
  await reader.end()
}
