import { join } from 'node:path'
import t from 'tap'
import { createCommitSubjects } from '../../services/content/commit-subjects.js'
import { createStackCommits, newestTouching, parentsOf } from '../../services/git/stack-commits.js'
import { initialSnapshot, refreshApplied } from '../../services/refresh/snapshot.js'
import { tempDir } from '../helpers/temp-dir.js'

// The pure parts of "which commit last changed each stack": parents read
// from a commit object, `git log` output matched to stack directories, the
// one-commit case answered without git, and the stamps written from it.

const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const C = 'c'.repeat(40)

const commitObject = (parents: string[], subject: string) =>
  Buffer.from(
    `tree ${'1'.repeat(40)}\n${parents.map((p) => `parent ${p}\n`).join('')}author x <x@y> 1 +0000\ncommitter x <x@y> 1 +0000\n\n${subject}\n\nbody\n`,
  )

t.test('parentsOf reads the parent lines of the header only', async (t) => {
  t.same(parentsOf(commitObject([A], 'one')), [A])
  t.same(parentsOf(commitObject([A, B], 'merge')), [A, B])
  t.same(parentsOf(commitObject([], 'root')), [])
  t.same(parentsOf(Buffer.from(`tree x\n\nparent ${A} in the message\n`)), [])
})

t.test('newestTouching: the first (newest) commit touching each directory', async (t) => {
  const log = [
    `\x1e${C}\x1fdocs\0\nREADME.md\0`,
    `\x1e${B}\x1ftune alpha\0\nstacks/alpha/compose.yaml\0stacks/alphabet/x\0`,
    `\x1e${A}\x1fadd both\0\nstacks/alpha/compose.yaml\0stacks/beta/compose.yaml\0`,
  ].join('')
  const found = newestTouching(log, ['stacks/alpha', 'stacks/beta', 'stacks/gamma'])
  t.same(found.get('stacks/alpha'), { revision: B, subject: 'tune alpha' })
  t.same(found.get('stacks/beta'), { revision: A, subject: 'add both' })
  t.notOk(found.has('stacks/gamma'), 'untouched within the log: absent')
  t.same(
    newestTouching(`\x1e${B}\x1ftune\0\nstacks/alphabet/x\0`, ['stacks/alpha']).size,
    0,
    'a directory is matched by its whole name, not a prefix',
  )
})

t.test('newestTouching at 10,000 stacks: by name, not directory × file', async (t) => {
  const directories = Array.from({ length: 10_000 }, (_, i) => `stacks/s-${i}`)
  const files = directories.flatMap((d) => [`${d}/compose.yaml`, `${d}/a.env`, `${d}/b.env`])
  const log = `\x1e${A}\x1finitial\0\n${files.join('\0')}\0`
  const started = performance.now()
  const found = newestTouching(log, directories)
  const ms = performance.now() - started
  t.equal(found.size, 10_000)
  // Speed is for benchmarks, not tests: the time is printed (12 s before matching by name, ~35 ms after).
  t.comment(`a first look at 10,000 stacks matched in ${Math.round(ms)} ms`)
})

t.test(
  'newestTouching: a shallow boundary commit never counts (its parents are absent)',
  async (t) => {
    // git log lists every file of a boundary commit, as if it added them all.
    const log = [
      `\x1e${C}\x1fdocs\0\nREADME.md\0`,
      `\x1e${B}\x1fboundary\0\nREADME.md\0stacks/alpha/compose.yaml\0stacks/beta/compose.yaml\0`,
    ].join('')
    const found = newestTouching(log, ['stacks/alpha'], new Set([B]))
    t.equal(found.size, 0, 'not found within the history read: the caller’s first look')
    t.same(newestTouching(log, ['stacks/alpha']).get('stacks/alpha')?.revision, B, 'without it')
  },
)

t.test('a failed lookup: first look and pending; a later lookup names the commit', async (t) => {
  const stack = {
    path: 'alpha',
    composeFile: 'compose.yaml',
    composeHash: '0',
    treeOid: 't1',
    blobOid: 'b1',
  }
  const first = refreshApplied(
    refreshApplied(
      initialSnapshot('main', 'branch'),
      { revision: A, refType: 'branch', deployTreeOid: 'd0', stacks: [] },
      'startup',
      new Date(),
    ),
    {
      revision: B,
      refType: 'branch',
      deployTreeOid: 'd1',
      stacks: [{ ...stack, lookupFailed: true }],
    },
    'manual',
    new Date(),
  )
  t.match(first.stacks[0], { changedRevision: B, firstLook: true, lookupPending: true })
  const failedAgain = refreshApplied(
    first,
    {
      revision: C,
      refType: 'branch',
      deployTreeOid: 'd1',
      stacks: [{ ...stack, lookupFailed: true }],
    },
    'manual',
    new Date(),
  )
  t.match(failedAgain.stacks[0], { changedRevision: B, firstLook: true, lookupPending: true })
  const found = refreshApplied(
    failedAgain,
    {
      revision: C,
      refType: 'branch',
      deployTreeOid: 'd1',
      stacks: [{ ...stack, changedBy: { revision: A, subject: 'add alpha' } }],
    },
    'manual',
    new Date(),
  )
  t.match(found.stacks[0], {
    changedRevision: A,
    changedSubject: 'add alpha',
    changedAt: first.stacks[0]?.changedAt,
  })
  t.notOk(found.stacks[0]?.firstLook || found.stacks[0]?.lookupPending)
  const notFound = refreshApplied(
    failedAgain,
    { revision: C, refType: 'branch', deployTreeOid: 'd1', stacks: [stack] },
    'manual',
    new Date(),
  )
  t.match(notFound.stacks[0], { changedRevision: B, firstLook: true })
  t.notOk(notFound.stacks[0]?.lookupPending, 'looked up, not found: no longer pending')
})

t.test('one commit after the last revision: no git run, every stack is its', async (t) => {
  const calls: string[][] = []
  const finder = createStackCommits(
    {
      // A real directory: the two-commit case creates the history repository beside it.
      dir: join(tempDir('docker-cd-stack-commits-'), 'x.git'),
      options: { repoUrl: 'https://example.invalid/r.git' } as never,
      git: (async (args: string[]) => {
        calls.push(args)
        throw new Error('not expected')
      }) as never,
    },
    async () => commitObject([A], 'alpha to 3'),
  )
  const found = await finder.find({
    revision: B,
    resolved: { fetchTarget: 'refs/heads/main' },
    previousRevision: A,
    directories: ['alpha', 'beta'],
  })
  t.same(calls, [])
  t.same(Object.fromEntries(found), {
    alpha: { revision: B, subject: 'alpha to 3' },
    beta: { revision: B, subject: 'alpha to 3' },
  })
  // Two commits since the last revision: git is asked (here it fails, the caller copes).
  await t.rejects(
    finder.find({
      revision: B,
      resolved: { fetchTarget: 'refs/heads/main' },
      previousRevision: C,
      directories: ['alpha'],
    }),
  )
})

t.test('stamps: the found commit and subject, else the head with first look', async (t) => {
  const state = {
    revision: C,
    refType: 'branch' as const,
    deployTreeOid: 'deploy',
    stacks: [
      {
        path: 'alpha',
        composeFile: 'compose.yaml',
        composeHash: '0',
        treeOid: 't1',
        blobOid: 'b1',
        changedBy: { revision: B, subject: 'tune alpha' },
      },
      { path: 'beta', composeFile: 'compose.yaml', composeHash: '0', treeOid: 't2', blobOid: 'b2' },
    ],
  }
  const snapshot = refreshApplied(initialSnapshot('main', 'branch'), state, 'startup', new Date())
  const [alpha, beta] = snapshot.stacks
  t.match(alpha, { changedRevision: B, changedSubject: 'tune alpha' })
  t.notOk(alpha?.firstLook)
  t.notOk('changedBy' in (alpha ?? {}), 'the lookup is not part of the stack')
  t.match(beta, { changedRevision: C, firstLook: true })
  t.notOk(beta?.changedSubject)
})

t.test('commit subjects: a stamp’s subject is known without the mirror', async (t) => {
  const subjects = createCommitSubjects({
    readByOid: async () => new Map(),
  })
  subjects.remember([{ changedRevision: A, changedSubject: 'add both' }, { changedRevision: B }])
  await subjects.read([A, B])
  t.equal(subjects.get(A), 'add both')
  t.equal(subjects.get(B), undefined)
})
