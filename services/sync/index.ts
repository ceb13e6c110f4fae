// Applying: the reconciler that deploys what Git changed (up to
// SYNC_CONCURRENCY stacks at a time, in the order they declare; validate →
// pull → up → read back, rollback), its queue, timing, outcome and pure
// decisions, the observers told about every run, the deploy records it
// keeps in GIT_CACHE_DIR, and the composition root that builds it with the
// host monitor. Other folders import this file, never the files behind it.
export * from './decide.js'
export * from './failure.js'
export * from './host-sync.js'
export * from './image-updates.js'
export * from './observers.js'
export * from './order.js'
export * from './outcome.js'
export * from './reconciler.js'
export * from './records.js'
export * from './steps.js'
export * from './sync-log.js'
