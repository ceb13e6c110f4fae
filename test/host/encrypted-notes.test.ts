import t from 'tap'
import { encryptedInDirectories } from '../../services/host/file-changes.js'

// An encrypted file is a link into SECRETS_DIR in the work tree: mounted by
// itself the engine resolves it; read through a mounted directory or a build
// context the container gets a link it cannot follow. The check says so.

t.test('encrypted files read through a directory are noted', async (t) => {
  const reads = {
    inside: {
      app: [{ path: 'conf', kind: 'bind' as const }],
      web: [{ path: 'conf/secret.yaml', kind: 'bind' as const }],
      builder: [{ path: '', kind: 'build' as const }],
    },
    outside: [],
  }
  const notes = encryptedInDirectories(reads, ['conf/secret.yaml'])
  t.equal(notes.length, 2, notes.join('\n'))
  t.match(
    notes[0],
    /^service app reads the SOPS-encrypted \.\/conf\/secret\.yaml through \.\/conf \(a bind mount\).*mount the file itself/,
  )
  t.match(notes[1], /^service builder .* through \.\/\. \(a build context or Dockerfile\)/)
  t.same(encryptedInDirectories(reads, []), [], 'no encrypted file, no note')
  t.same(encryptedInDirectories(undefined, ['a.env']), [])
  t.same(
    encryptedInDirectories({ ...reads, inside: { app: reads.inside.app } }, ['other.env']),
    [],
    'a file no directory holds',
  )
})
