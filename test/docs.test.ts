import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import t from 'tap'
import { configEnvSchema } from '../schemas/config.js'

// The README is the operator's page and docs/ holds the detail: every
// relative link between them must land on a file and, with `#anchor`, on a
// heading of it; the README's table of contents names every section; the
// configuration table names every variable the service reads.

const root = join(import.meta.dirname, '..')
const pages = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]

/** The page's lines outside fenced code blocks. */
function prose(text: string): string[] {
  let fenced = false
  return text.split('\n').filter((line) => {
    if (/^\s*```/.test(line)) fenced = !fenced
    return !fenced && !/^\s*```/.test(line)
  })
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const line of prose(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const slug = (heading[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    found.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return found
}

const read = (page: string) => readFileSync(join(root, page), 'utf8')

t.test('every relative link resolves to a file and a heading', async (t) => {
  let checked = 0
  for (const page of pages) {
    for (const line of prose(read(page))) {
      for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1] as string
        if (/^[a-z]+:/i.test(target)) continue
        const [path, anchor] = target.split('#') as [string, string | undefined]
        const file = path === '' ? page : relative(root, join(root, dirname(page), path))
        checked++
        if (!existsSync(join(root, file))) {
          t.fail(`${page}: ${target} names no file`)
          continue
        }
        if (anchor !== undefined && !anchors(read(file)).has(anchor))
          t.fail(`${page}: ${target} names no heading of ${file}`)
      }
    }
  }
  t.ok(checked > 50, `${checked} links checked`)
})

t.test("the README's table of contents names every section", async (t) => {
  const lines = prose(read('README.md'))
  const first = lines.findIndex((line) => line.startsWith('## '))
  const contents = lines.slice(0, first).join('\n')
  for (const line of lines.slice(first)) {
    if (!line.startsWith('## ')) continue
    const [slug] = [...anchors(line)]
    t.ok(contents.includes(`](#${slug})`), `${line} is in the table of contents`)
  }
})

t.test("the README's configuration table names every variable", async (t) => {
  const lines = prose(read('README.md'))
  const start = lines.indexOf('## Configuration')
  const table = lines.slice(start).filter((line, index, all) => {
    const end = all.findIndex((other, at) => at > 0 && other.startsWith('## '))
    return index < end && line.startsWith('| `')
  })
  const named = new Set(
    table.flatMap((row) =>
      [...(row.split('|')[1] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]),
    ),
  )
  for (const name of Object.keys(configEnvSchema.shape))
    t.ok(named.has(name), `${name} is in the table`)
})
