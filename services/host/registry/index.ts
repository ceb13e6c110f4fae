// Registries: what an image tag points to now (image updates), asked
// without pulling. Other folders import this file via services/host.
export * from './client.js'
export * from './credentials.js'
export * from './image-checks.js'
export * from './image-ref.js'
