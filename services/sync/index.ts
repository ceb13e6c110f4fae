// Applying: the reconciler that deploys what Git changed (one stack at a
// time, validate → pull → up → read back, rollback), its pure decisions,
// and the deploy records it keeps in GIT_CACHE_DIR. Other folders import
// this file, never the files behind it.
export * from './decide.js'
export * from './reconciler.js'
export * from './records.js'
export * from './steps.js'
