// Go-style durations (`90s`, `5m`, `1h30m`, `250ms`, `0`), the format operators
// know from Argo CD, Flux and doco-cd. Returns milliseconds.
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y

export function parseDuration(text: string): number {
  const input = text.trim()
  if (input === '0') return 0
  if (input === '') throw new Error('empty duration')
  let total = 0
  TERM.lastIndex = 0
  while (TERM.lastIndex < input.length) {
    const start = TERM.lastIndex
    const match = TERM.exec(input)
    if (!match || match.index !== start) {
      throw new Error(`invalid duration "${text}" (use e.g. 30s, 5m, 1h30m)`)
    }
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number)
  }
  return Math.round(total)
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const seconds = Math.round(ms / 1000)
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`
}
