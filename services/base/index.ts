// The ground floor: what every domain uses (configuration loading, constant-
// time comparison, file-system errors, logging, load monitoring, the cache
// lock, the OpenAPI document). It imports no domain. Other folders import this
// file, never the files behind it.
export * from './bearer-token.js'
export * from './cache-lock.js'
export * from './config.js'
export * from './constant-time.js'
export * from './content-access.js'
export * from './failure-words.js'
export * from './fs-error.js'
export * from './load-monitor.js'
export * from './logger.js'
export * from './observer-list.js'
export * from './openapi-document.js'
export * from './read-at-most.js'
export * from './same-origin.js'
export * from './scrub.js'
export * from './session-cookie.js'
export * from './stack-files.js'
