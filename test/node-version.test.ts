import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { tempDir } from './helpers/temp-dir.js'

// The image runs Node 24; the tests must too, even on a machine whose own
// Node is older (npm scripts put the `node@24` devDependency first on PATH).
t.equal(
  process.versions.node.split('.')[0],
  '24',
  `tests run on Node ${process.version}, expected 24`,
)

// Under an older Node, `node dist/server.js` says so in one line and exits 1
// (instead of a TypeError deep inside undici). The entry point is compiled
// by TypeScript and run by the machine's own Node, when that is older than
// 24 (Debian's is 20).
const olderNode = ['/usr/bin/node', '/usr/local/bin/node'].find((candidate) => {
  try {
    const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim()
    return Number(version.slice(1).split('.')[0]) < 24
  } catch {
    return false
  }
})

t.test(
  'an older Node gets one clear line',
  { skip: olderNode ? false : 'no Node older than 24 on this machine' },
  async (t) => {
    const dir = tempDir('docker-cd-old-node-')
    const entry = join(dir, 'server.mjs')
    const source = readFileSync(new URL('../server.ts', import.meta.url), 'utf8')
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    writeFileSync(entry, outputText)
    const run = spawnSync(olderNode as string, [entry], { encoding: 'utf8' })
    t.equal(run.status, 1)
    t.match(
      run.stderr,
      /^docker-cd: needs Node 24 or newer, this is Node v\d+\.\d+\.\d+ \(.*\); install Node 24, or run the image/,
    )
    t.equal(run.stderr.trim().split('\n').length, 1, 'one line')
  },
)
