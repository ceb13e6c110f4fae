import { lstatSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'

// Reads a tar.gz as the test expects a client to (tar-stream, no service
// code), and lists a directory on disk the same way for comparison.

export type ArchiveEntry = { name: string; type: string; mode: number; content?: string }

export async function readTarGz(bytes: Buffer): Promise<ArchiveEntry[]> {
  const extract = tar.extract()
  const entries: ArchiveEntry[] = []
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer))
      stream.on('end', () => {
        entries.push({
          name: header.name,
          type: header.type ?? 'file',
          mode: (header.mode ?? 0) & 0o777,
          ...(header.type === 'file' ? { content: Buffer.concat(chunks).toString('utf8') } : {}),
        })
        next()
      })
    })
    extract.on('finish', resolve)
    extract.on('error', reject)
  })
  Readable.from([bytes]).pipe(createGunzip()).pipe(extract)
  await done
  return entries.sort((a, b) => (a.name < b.name ? -1 : 1))
}

/** Regular files and directories below `dir`, as an archive of it should hold them. */
export function listDirectory(dir: string, prefix = ''): ArchiveEntry[] {
  const entries: ArchiveEntry[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const stat = lstatSync(path)
    const relative = `${prefix}${name}`
    if (stat.isSymbolicLink()) continue
    if (stat.isDirectory()) {
      entries.push({ name: `${relative}/`, type: 'directory', mode: 0o755 })
      entries.push(...listDirectory(path, `${relative}/`))
    } else if (stat.isFile()) {
      entries.push({
        name: relative,
        type: 'file',
        mode: stat.mode & 0o100 ? 0o755 : 0o644,
        content: readFileSync(path, 'utf8'),
      })
    }
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : 1))
}

/**
 * Starts a download and holds it after its first chunk: `received` is what
 * arrived so far, `finish()` reads the rest and resolves with every byte.
 */
export async function pausedDownload(url: string) {
  const res = await fetch(url)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  const first = await reader.read()
  if (first.value) chunks.push(first.value)
  return {
    received: () => chunks.reduce((sum, chunk) => sum + chunk.length, 0),
    async finish(): Promise<Buffer> {
      for (let next = await reader.read(); !next.done; next = await reader.read())
        chunks.push(next.value)
      return Buffer.concat(chunks)
    },
  }
}
