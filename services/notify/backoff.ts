// How long to wait before try n+1 when the receiver had a passing failure:
// doubling from `initialMs` up to `maxMs`, with up to a fifth of jitter so
// several docker-cd hosts told off by one rate-limited endpoint do not come
// back in step.

export type Backoff = (attempt: number) => number

export function exponentialBackoff({
  initialMs = 1000,
  maxMs = 30_000,
  jitter = 0.2,
  random = Math.random,
}: {
  initialMs?: number
  maxMs?: number
  jitter?: number
  random?: () => number
} = {}): Backoff {
  return (attempt) => {
    const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1))
    return Math.round(base * (1 - jitter * random()))
  }
}
