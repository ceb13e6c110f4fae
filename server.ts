import module from 'node:module'

// Process entry (`npm start`, the image's CMD). Node's module compile cache
// is switched on before anything else is loaded: most of a cold start is
// compiling Fastify, zod and friends, and the cache (in the OS temp dir, or
// NODE_COMPILE_CACHE) makes every start after the first one faster.
module.enableCompileCache?.()
// Node 24 or newer (package.json engines): an older Node fails later, deep
// inside a dependency, with a TypeError that names nothing to fix.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  process.stderr.write(
    `docker-cd: needs Node 24 or newer, this is Node ${process.version} (${process.execPath}); install Node 24, or run the image (docker compose up -d --build)\n`,
  )
  process.exit(1)
}
await import('./main.js')
