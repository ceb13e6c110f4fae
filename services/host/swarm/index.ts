// Docker Swarm as a deploy target (SYNC_TARGET): the second runtime of the
// seam (services/host/runtime.ts) and the choice between the two.
export * from './content-names.js'
export * from './old-versions.js'
export * from './rollout.js'
export * from './settle-watch.js'
export * from './stack-file.js'
export * from './swarm-api.js'
export * from './swarm-drift.js'
export * from './swarm-images.js'
export * from './swarm-projects.js'
export * from './swarm-runtime.js'
export * from './swarm-status.js'
export * from './target.js'
