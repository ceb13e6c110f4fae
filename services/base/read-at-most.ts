// The first bytes of a response body, and no more: an answer from another
// service (a Git host's error, a registry's token or manifest) is read up
// to a bound, so an endless or huge body is never held in memory. Leaving
// the loop destroys the stream (the connection is not reused).

/** Up to `max` bytes of `body`; `whole` says whether the body ended within them. */
export async function readAtMost(
  body: AsyncIterable<Buffer | Uint8Array>,
  max: number,
): Promise<{ bytes: Buffer; whole: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk))
    size += chunk.length
    if (size > max) return { bytes: Buffer.concat(chunks).subarray(0, max), whole: false }
  }
  return { bytes: Buffer.concat(chunks), whole: true }
}
