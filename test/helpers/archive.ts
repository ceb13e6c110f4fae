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
