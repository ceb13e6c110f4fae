// The dashboard at /ui: server-rendered pages and their two assets.
export * from './assets.js'
export * from './stack-list.js'
