import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { readObjectFile, WorkTreeError } from '../../services/host/index.js'
import { tempDir } from '../helpers/temp-dir.js'

// A configs:/secrets: file of a Swarm stack is read by docker-cd (its
// hash) and by the docker CLI (the object every node can read): it must be
// in the stack's work tree. A path that leaves it (`../../etc/passwd`, an
// absolute one), a link out of it (planted by a container in a mounted
// directory), or a path through a linked directory is refused as the
// tree's failure, with the path; a decrypted SOPS file (a link into
// SECRETS_DIR) is read.

t.test('a configs:/secrets: file outside the stack’s work tree is refused', async (t) => {
  const root = tempDir('docker-cd-objfiles-')
  const dir = join(root, 'stacks', 'bsw')
  const secretsDir = join(root, 'secrets')
  mkdirSync(dir, { recursive: true })
  mkdirSync(join(secretsDir, 'bsw'), { recursive: true })
  writeFileSync(join(dir, 'app.conf'), 'good=1\n')
  writeFileSync(join(root, 'outside.txt'), 'host secret\n')
  writeFileSync(join(secretsDir, 'bsw', 'db.txt'), 'plaintext\n')
  symlinkSync(join(secretsDir, 'bsw', 'db.txt'), join(dir, 'db.txt'))
  symlinkSync(join(root, 'outside.txt'), join(dir, 'planted.txt'))
  symlinkSync(root, join(dir, 'through'))
  const roots = { dir, secretsDir }

  t.equal((await readObjectFile(join(dir, 'app.conf'), roots)).toString(), 'good=1\n')
  t.equal(
    (await readObjectFile(join(dir, 'db.txt'), roots)).toString(),
    'plaintext\n',
    'a SOPS link into SECRETS_DIR is read',
  )
  for (const [file, what] of [
    [join(dir, '../../outside.txt'), '../ out of the tree'],
    ['/etc/passwd', 'an absolute path'],
    [join(dir, 'planted.txt'), 'a link out of the tree'],
    [join(dir, 'through', 'outside.txt'), 'a path through a linked directory'],
  ] as const) {
    const error = await readObjectFile(file, roots).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(error instanceof WorkTreeError, `${what}: refused`)
    t.equal((error as WorkTreeError | undefined)?.kind, 'tree', `${what}: the tree's failure`)
    t.match(
      (error as Error | undefined)?.message ?? '',
      /outside|out of the stack's work tree/,
      what,
    )
  }
  const missing = await readObjectFile(join(dir, 'gone.conf'), roots).catch((e: unknown) => e)
  t.match(missing, { kind: 'tree', message: /is not in the stack's tree/ }, 'a missing file: said')
})
