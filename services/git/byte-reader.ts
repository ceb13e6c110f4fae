// A pull-based reader over a byte stream (git's stdout): whole lines, and
// exact byte counts handed on in pieces, so a consumer can stream objects of
// any size with memory bounded by one chunk. Pulling only when the consumer
// asks gives backpressure for free: git blocks while the client is slow.

const EMPTY = Buffer.alloc(0)

class TruncatedOutputError extends Error {
  constructor(what: string) {
    super(`git output ended early: ${what}`)
    this.name = 'TruncatedOutputError'
  }
}

export class ByteReader {
  readonly #chunks: AsyncIterator<Buffer>
  #pending: Buffer = EMPTY
  #ended = false

  constructor(stream: AsyncIterable<Buffer>) {
    this.#chunks = stream[Symbol.asyncIterator]()
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false
    const next = await this.#chunks.next()
    if (next.done) {
      this.#ended = true
      return false
    }
    // Only a partial line is ever kept between chunks, so this stays small.
    this.#pending =
      this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value])
    return true
  }

  /** The next line without its LF; undefined at a clean end of the stream. */
  async line(): Promise<string | undefined> {
    for (;;) {
      const newline = this.#pending.indexOf(0x0a)
      if (newline !== -1) {
        const text = this.#pending.toString('utf8', 0, newline)
        this.#pending = this.#pending.subarray(newline + 1)
        return text
      }
      if (!(await this.#fill())) {
        if (this.#pending.length > 0) throw new TruncatedOutputError('a line without its end')
        return undefined
      }
    }
  }

  /** Exactly `size` bytes, in the pieces they arrived in. */
  async *take(size: number): AsyncGenerator<Buffer> {
    let left = size
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.#fill())) {
        throw new TruncatedOutputError(`${left} of ${size} bytes missing`)
      }
      const piece = this.#pending.subarray(0, left)
      this.#pending = this.#pending.subarray(piece.length)
      left -= piece.length
      yield piece
    }
  }

  /**
   * Reads on to the end of the stream, which must hold nothing more. Until a
   * stream is read past its last byte it does not end, and a child process
   * whose stdout has not ended is never reported closed.
   */
  async end(): Promise<void> {
    while (this.#pending.length === 0 && (await this.#fill())) {}
    if (this.#pending.length > 0) throw new Error('unexpected output after the last object')
  }

  /** Reads and drops `size` bytes. */
  async skip(size: number): Promise<void> {
    for await (const _piece of this.take(size)) {
      // dropped
    }
  }
}
