// The desired state for its consumers: a stack's Compose bytes and archive,
// ETags, the live event feed and its wire format, and the bounds on long-lived
// responses. Other folders import this file, never the files behind it.
export * from './commit-subjects.js'
export * from './etag.js'
export * from './event-feed.js'
export * from './sse-frames.js'
export * from './stack-archive.js'
export * from './stack-content.js'
export * from './stall-watch.js'
export * from './stream-slots.js'
