import t from 'tap'
import { classifyGitFailure } from '../../services/git/command.js'
import { parseBatchOutput, parseTree, parseTreeListing } from '../../services/git/objects.js'
import { describeRevision, pickRemoteRef } from '../../services/git/reader.js'
import { pickComposeFile, stackDirectories } from '../../services/refresh/stack-discovery.js'

const oid = (n: number) => n.toString(16).padStart(40, '0')
const treeEntry = (mode: string, name: string, n: number) =>
  Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid(n), 'hex')])

t.test('parseTree reads mode, name and binary oid', async (t) => {
  const tree = Buffer.concat([
    treeEntry('40000', 'web', 1),
    treeEntry('100644', 'compose.yaml', 2),
    treeEntry('120000', 'link', 3),
  ])
  t.same(parseTree(tree), [
    { mode: '40000', name: 'web', oid: oid(1) },
    { mode: '100644', name: 'compose.yaml', oid: oid(2) },
    { mode: '120000', name: 'link', oid: oid(3) },
  ])
  t.throws(() => parseTree(Buffer.from('100644 broken')), /malformed/)
})

t.test(
  'parseBatchOutput splits records, including binary content and missing objects',
  async (t) => {
    const content = Buffer.from([0, 10, 255, 10])
    const output = Buffer.concat([
      Buffer.from(`${oid(1)} blob 4\n`),
      content,
      Buffer.from('\nabc missing\n'),
      Buffer.from(`${oid(2)} tree 0\n\n`),
    ])
    const objects = parseBatchOutput(output, [oid(1), 'abc', oid(2)])
    t.match(objects[0], { missing: false, oid: oid(1), type: 'blob' })
    t.same(objects[0]?.missing === false && objects[0].content, content)
    t.same(objects[1], { request: 'abc', missing: true })
    t.match(objects[2], { missing: false, type: 'tree' })
    t.throws(
      () => parseBatchOutput(Buffer.from(`${oid(1)} blob 10\nshort\n`), [oid(1)]),
      /truncated/,
    )
  },
)

t.test('names that are not UTF-8 are flagged, escaped losslessly, never merged', async (t) => {
  const entry = (name: Buffer, n: number) =>
    Buffer.concat([Buffer.from('40000 '), name, Buffer.from([0]), Buffer.alloc(20, n)])
  const tree = Buffer.concat([
    entry(Buffer.from([0x73, 0xff]), 1),
    entry(Buffer.from([0x73, 0xfe]), 2),
    entry(Buffer.from('ok-ü'), 3),
  ])
  const entries = parseTree(tree)
  t.same(
    entries.map((e) => [e.name, e.invalidName ?? false]),
    [
      ['s\\xff', true],
      ['s\\xfe', true],
      ['ok-ü', false],
    ],
  )
  const { directories, skipped } = stackDirectories(entries)
  t.same(
    directories.map((e) => e.name),
    ['ok-ü'],
  )
  t.same(skipped, ['s\\xff', 's\\xfe'], 'two distinct names, both reported')
  const listing = parseTreeListing(
    Buffer.concat([
      Buffer.from(`100644 blob ${oid(1)}\t`),
      Buffer.from([0x61, 0x2f, 0xff]),
      Buffer.from([0]),
      Buffer.from(`100644 blob ${oid(2)}\tb.txt\0`),
    ]),
  )
  t.same(
    listing.map((e) => [e.path, e.invalidPath ?? false]),
    [
      ['a/\\xff', true],
      ['b.txt', false],
    ],
  )
})

t.test('discovery: directories only, Compose name precedence, regular files only', async (t) => {
  t.same(
    stackDirectories([
      { mode: '40000', name: 'a', oid: oid(1) },
      { mode: '100644', name: 'compose.yaml', oid: oid(2) },
      { mode: '120000', name: 'linked', oid: oid(3) },
      { mode: '160000', name: 'sub', oid: oid(4) },
    ]).directories.map((e) => e.name),
    ['a'],
  )
  const file = (name: string, mode = '100644') => ({ mode, name, oid: oid(name.length) })
  t.equal(
    pickComposeFile([file('docker-compose.yaml'), file('docker-compose.yml')])?.name,
    'docker-compose.yml',
  )
  t.equal(pickComposeFile([file('docker-compose.yml'), file('compose.yml')])?.name, 'compose.yml')
  t.equal(pickComposeFile([file('compose.yml'), file('compose.yaml')])?.name, 'compose.yaml')
  t.equal(
    pickComposeFile([file('compose.yaml', '120000'), file('compose.yml')])?.name,
    'compose.yml',
  )
  t.equal(pickComposeFile([file('compose.yaml', '40000')]), undefined)
  t.equal(pickComposeFile([file('compose.yaml', '100755')])?.name, 'compose.yaml')
  t.equal(pickComposeFile([file('README.md'), file('Compose.yaml')]), undefined)
})

t.test('revision kinds and ls-remote picking', async (t) => {
  t.same(describeRevision('main'), {
    ref: 'main',
    candidates: ['refs/heads/main', 'refs/tags/main'],
    commit: false,
  })
  t.same(describeRevision('refs/tags/v1'), {
    ref: 'v1',
    candidates: ['refs/tags/v1'],
    commit: false,
  })
  t.same(describeRevision('refs/heads/x/y'), {
    ref: 'x/y',
    candidates: ['refs/heads/x/y'],
    commit: false,
  })
  t.same(describeRevision('A'.repeat(40)), { ref: 'a'.repeat(40), candidates: [], commit: true })
  const listing = [
    `${oid(1)}\trefs/heads/v1`,
    `${oid(2)}\trefs/tags/v1`,
    `${oid(3)}\trefs/tags/v1^{}`,
  ].join('\n')
  t.same(pickRemoteRef(listing, ['refs/heads/v1', 'refs/tags/v1']), {
    name: 'refs/heads/v1',
    sha: oid(1),
  })
  t.same(
    pickRemoteRef(listing, ['refs/tags/v1']),
    { name: 'refs/tags/v1', sha: oid(3) },
    'annotated tag peeled',
  )
  t.equal(pickRemoteRef(listing, ['refs/heads/main']), undefined)
})

t.test('git failures are classified', async (t) => {
  t.equal(classifyGitFailure("fatal: Authentication failed for 'https://x/'"), 'auth_failed')
  t.equal(
    classifyGitFailure("fatal: could not read Username for 'https://x': terminal prompts disabled"),
    'auth_failed',
  )
  t.equal(
    classifyGitFailure("fatal: unable to access 'https://x/': Failed to connect to x port 443"),
    'unreachable',
  )
  t.equal(
    classifyGitFailure('fatal: unable to access: SSL certificate problem: self-signed certificate'),
    'unreachable',
  )
  t.equal(classifyGitFailure("fatal: couldn't find remote ref refs/heads/gone"), 'ref_not_found')
  t.equal(classifyGitFailure('fatal: not a git repository'), 'corrupt_mirror')
  t.equal(classifyGitFailure('error: object file .git/objects/ab/cd is empty'), 'corrupt_mirror')
  t.equal(classifyGitFailure('something else'), 'git_error')
})
