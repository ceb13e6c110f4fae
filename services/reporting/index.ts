// Views over the refresh domain: Prometheus metrics and the plain-text status
// page. Other folders import this file, never the files behind it.
export * from './metrics.js'
export * from './status-page.js'
