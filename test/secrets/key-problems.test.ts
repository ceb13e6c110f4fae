import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ageKeyProblems } from '../../services/secrets/index.js'
import { tempDir } from '../helpers/temp-dir.js'

// The startup check of the age identities (main.ts exits 1 with these
// lines): a broken line is named by its variable and number, never shown,
// since a half-pasted identity is still a secret.

const GOOD = 'AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX'

t.test('no key, a readable key file, broken lines', async (t) => {
  t.same(ageKeyProblems({ sopsAgeKey: undefined, sopsAgeKeyFile: undefined }), [], 'no key at all')
  const dir = tempDir('docker-cd-keys-')
  const broken = join(dir, 'broken.key')
  const half = `${GOOD.slice(0, 30)}`
  writeFileSync(broken, `# created: today\n# public key: age1…\n${half}\n`)
  chmodSync(broken, 0o600)
  const problems = ageKeyProblems({ sopsAgeKey: undefined, sopsAgeKeyFile: broken })
  t.match(problems, [/^SOPS_AGE_KEY_FILE line 3: /])
  t.notMatch(problems.join('\n'), half, 'the line itself is not shown')
  t.match(ageKeyProblems({ sopsAgeKey: 'not-a-key', sopsAgeKeyFile: undefined }), [
    /^SOPS_AGE_KEY line 1: /,
  ])
  t.match(ageKeyProblems({ sopsAgeKey: undefined, sopsAgeKeyFile: join(dir, 'missing') }), [
    /^SOPS_AGE_KEY_FILE: cannot read .*missing \(ENOENT\)$/,
  ])
})
