// The Docker host: what the engine runs (today the running-container count of
// the status page). Other folders import this file, never the files behind it.
export * from './docker-engine.js'
