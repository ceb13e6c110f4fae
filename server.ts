import module from 'node:module'

// Process entry (`npm start`, the image's CMD). Node's module compile cache
// is switched on before anything else is loaded: most of a cold start is
// compiling Fastify, zod and friends, and the cache (in the OS temp dir, or
// NODE_COMPILE_CACHE) makes every start after the first one faster.
module.enableCompileCache?.()
await import('./main.js')
