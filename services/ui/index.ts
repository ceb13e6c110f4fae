// The dashboard at /ui: server-rendered pages and their two assets.
export * from './assets.js'
export * from './layout.js'
export * from './stack-list.js'
export * from './stack-page.js'
