import t from 'tap'

// The image runs Node 24; the tests must too, even on a machine whose own
// Node is older (npm scripts put the `node@24` devDependency first on PATH).
t.equal(
  process.versions.node.split('.')[0],
  '24',
  `tests run on Node ${process.version}, expected 24`,
)
