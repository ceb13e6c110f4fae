// The Docker host: what the engine runs (containers of a Compose project,
// the status page's running-container count), each stack's work tree under
// STACKS_DIR, Compose's own plan for it, and drift — what differs from Git,
// in words; the runtime seam (runtime.ts) the monitor and the sync steps
// use, with Compose v2 and Swarm (swarm/) as its implementations. Other folders import this
// file, never the files behind it.
export * from './compose.js'
export * from './compose-runtime.js'
export * from './docker-engine.js'
export * from './drift.js'
export * from './engine-watch.js'
export * from './env-scrub.js'
export * from './file-changes.js'
export * from './image-watch.js'
export * from './monitor.js'
export * from './overview.js'
export * from './registry/index.js'
export * from './runtime.js'
export * from './service-reads.js'
export * from './stack-settings.js'
export * from './swarm/index.js'
export * from './work-trees.js'
