import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

// Is the process too busy to serve? The one signal is event-loop delay: the
// longest stall in the last sample interval. (The mean, which
// @fastify/under-pressure uses, hides a 1.5 s stall among the many short
// ticks of the same second.) Memory is reported, not judged:
// a memory limit turned a finished spike into a permanent outage (RSS is not
// handed back to the OS after the spike, so an RSS limit keeps saying "under
// pressure" long after the work is done), and real memory pressure shows up
// as event-loop delay anyway (garbage collection stalls the loop).
//
// Sampling must never throw: reading RSS opens /proc/self/stat, which fails
// with EMFILE when descriptors run out (@fastify/under-pressure crashed the
// process there). RSS is then reported as null for that sample.

export type LoadSample = {
  eventLoopDelayMs: number
  eventLoopUtilization: number
  heapUsedBytes: number
  rssBytes: number | null
}

export type LoadMonitorOptions = {
  /** Mean event-loop delay (ms) past which the process is under pressure. */
  maxEventLoopDelayMs: number
  sampleIntervalMs?: number
}

export type LoadMonitor = {
  latest(): LoadSample
  isUnderPressure(): boolean
  close(): void
}

const TICK_MS = 50

/** RSS in bytes, or null when the kernel will not tell (no descriptor left). */
function readRss(): number | null {
  try {
    return process.memoryUsage.rss()
  } catch {
    return null
  }
}

export function createLoadMonitor(options: LoadMonitorOptions): LoadMonitor {
  const sampleIntervalMs = options.sampleIntervalMs ?? 1000
  let utilizationMark = performance.eventLoopUtilization()
  let sample: LoadSample = {
    eventLoopDelayMs: 0,
    eventLoopUtilization: 0,
    heapUsedBytes: getHeapStatistics().used_heap_size,
    rssBytes: readRss(),
  }

  // A tick every TICK_MS measures how late it fires: that lateness is the
  // loop's stall. (perf_hooks' delay histogram loses a stall when it is
  // read and reset in the same overdue timer phase that records it.)
  let expected = performance.now() + TICK_MS
  let windowStart = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - expected)
    expected = now + TICK_MS
    if (now - windowStart < sampleIntervalMs) return
    const utilization = performance.eventLoopUtilization()
    sample = {
      eventLoopDelayMs: Math.max(0, Math.round(longest)),
      eventLoopUtilization: performance.eventLoopUtilization(utilization, utilizationMark)
        .utilization,
      heapUsedBytes: getHeapStatistics().used_heap_size,
      rssBytes: readRss(),
    }
    utilizationMark = utilization
    windowStart = now
    longest = 0
  }, TICK_MS)
  timer.unref()

  return {
    latest: () => sample,
    isUnderPressure: () => sample.eventLoopDelayMs > options.maxEventLoopDelayMs,
    close: () => clearInterval(timer),
  }
}
