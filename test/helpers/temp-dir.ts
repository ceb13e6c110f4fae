import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Temporary directories that are removed when the process exits, so a test
// run (each tap file is its own process) or the demo leaves nothing behind.

const created: string[] = []
let hooked = false

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  created.push(dir)
  if (!hooked) {
    hooked = true
    process.on('exit', removeTempDirs)
  }
  return dir
}

export function removeTempDirs() {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true })
}
