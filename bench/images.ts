// Image-check benchmark (not a test): BENCH_STACKS (200) stacks of two
// services each, their images spread over BENCH_TAGS (5) distinct tags on a
// real registry on loopback (Debian's docker-registry), checked by the
// registry client through image checks (services/host/registry/): a cold
// round (every tag asked), then a warm round within the interval (nothing
// asked). Printed: manifest requests the registry logged, wall time, and
// bytes the registry sent for them (its access log's byte counts).
//
//   npm run bench:images
//   BENCH_STACKS=1000 BENCH_TAGS=20 npm run bench:images
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createImageChecks, createRegistryClient } from '../services/host/index.js'
import { docker, ensureTestImage } from '../test/helpers/docker.js'
import { startRegistry } from '../test/helpers/registry.js'
import { tempDir } from '../test/helpers/temp-dir.js'

const STACKS = Number(process.env.BENCH_STACKS ?? 200)
const TAGS = Number(process.env.BENCH_TAGS ?? 5)
const registry = await startRegistry()
const image = ensureTestImage()
const tags = Array.from({ length: TAGS }, (_, i) => `${registry.host}/bench-images:t${i}`)
for (const [i, tag] of tags.entries()) {
  const context = tempDir('bench-images-')
  writeFileSync(join(context, 'Dockerfile'), `FROM ${image}\nLABEL bench="${i}"\n`)
  docker('build', '-q', '-t', tag, context)
  await promisify(execFile)('docker', ['push', tag])
  docker('image', 'rm', tag)
}
const references = Array.from({ length: STACKS * 2 }, (_, i) => tags[i % TAGS] as string)
const checks = createImageChecks({
  client: createRegistryClient({ credentials: async () => undefined }),
  intervalMs: 6 * 3600_000,
})
const log = join(registry.logDir, 'access.log')
const manifestLines = () =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => /"(HEAD|GET) \/v2\/[^ ]*\/manifests\//.test(line))
const bytesOf = (lines: string[]) =>
  lines.reduce((sum, line) => sum + Number(/" \d{3} (\d+)/.exec(line)?.[1] ?? 0), 0)

for (const round of ['cold', 'warm']) {
  const before = manifestLines().length
  const start = performance.now()
  const answers = await checks.check(references)
  const ms = performance.now() - start
  const lines = manifestLines().slice(before)
  const ok = [...answers.values()].filter((a) => a.kind === 'asked' && a.answer.ok).length
  console.log(
    `${round}: ${STACKS} stacks × 2 services on ${TAGS} tags: ${lines.length} manifest requests (${
      lines
        .map((l) => /"(\w+) /.exec(l)?.[1])
        .filter((m, i, all) => all.indexOf(m) === i)
        .join(', ') || 'none'
    }), ${bytesOf(lines)} bytes logged (the manifests' sizes; a HEAD sends no body), ${ms.toFixed(1)} ms, ${ok}/${answers.size} distinct references answered`,
  )
}
await registry.close()
