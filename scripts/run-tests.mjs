// `npm test`: runs tap and prints what a person needs to read — one line
// per test file, every failure in full (with the subtests it sits in), the
// coverage summary and tap's totals line `# { total: N, pass: N, … }`,
// which .ci/run reads. TEST_OUTPUT=full prints tap's whole TAP stream
// instead (every assertion). Arguments go to tap (`npm test -- FILE`).
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const full = process.env.TEST_OUTPUT === 'full'
const tap = spawn('tap', ['-R', 'tap', ...process.argv.slice(2)], {
  stdio: ['inherit', 'pipe', 'inherit'],
})

const indentOf = (line) => line.length - line.trimStart().length
/** The `# Subtest:` header last seen at each indentation: a failure's context. */
const headers = new Map()
/** Inside a failure: print until the text returns to this indentation or less. */
let failureIndent = -1
/** Deepest failure printed in this file: its subtests' own `not ok` add nothing. */
let deepestFailure = -1

function filter(line) {
  const indent = indentOf(line)
  const text = line.trimStart()
  if (indent === 0) {
    failureIndent = -1
    deepestFailure = -1
    // Top-level results, the plan and tap's totals; the coverage report after them.
    // Coverage below 100 % is allowed (package.json), so tap's "ERROR:
    // incomplete coverage" lines report nothing wrong; the summary says it.
    if (/^# ERROR: incomplete \w+ coverage/.test(text)) return
    if (text !== '' && !text.startsWith('# Subtest:')) console.log(line)
    return
  }
  if (failureIndent >= 0) {
    if (indent > failureIndent || (indent === failureIndent + 2 && text === '...')) {
      console.log(line)
      return
    }
    failureIndent = -1
  }
  if (text.startsWith('# Subtest:')) {
    headers.set(indent, line)
    for (const depth of [...headers.keys()]) if (depth > indent) headers.delete(depth)
    return
  }
  if (text.startsWith('not ok')) {
    // A subtest that failed because an assertion inside it did.
    if (/ # time=/.test(text) && deepestFailure > indent) return
    deepestFailure = Math.max(deepestFailure, indent)
    for (const [depth, header] of [...headers].sort((a, b) => a[0] - b[0]))
      if (depth < indent) console.log(header)
    console.log(line)
    failureIndent = indent
  }
}

createInterface({ input: tap.stdout }).on('line', full ? (line) => console.log(line) : filter)
tap.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
