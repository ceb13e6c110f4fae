// The refresh lifecycle and its owner: queue, scheduler, named steps, the
// immutable snapshot, stack discovery and history, and the composition root
// that wires them to Git. Other folders import this file, never the files
// behind it.
export * from './controller.js'
export * from './desired-state.js'
export * from './refresh-log.js'
export { backoffDelay, type Timers, unrefTimers } from './scheduler.js'
export * from './snapshot.js'
export { COMPOSE_FILE_NAMES } from './stack-discovery.js'
export { repositoryKey } from './stack-history.js'
