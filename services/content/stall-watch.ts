// Ends a response whose client has stopped reading. Progress is what the
// kernel has taken from us (`bytesWritten`): when a client does not read,
// its socket buffers fill and the count stops moving. A count that has not
// moved for a whole `idleMs` window counts as stalled (so a stall is noticed
// between one and two windows after it began).

export function watchForStall(options: {
  progress: () => number
  idleMs: number
  onStall: () => void
}): () => void {
  let last = options.progress()
  const timer = setInterval(() => {
    const now = options.progress()
    if (now !== last) {
      last = now
      return
    }
    clearInterval(timer)
    options.onStall()
  }, options.idleMs)
  timer.unref()
  return () => clearInterval(timer)
}
