import { readFileSync } from 'node:fs'
import { isAbsolute, relative, resolve } from 'node:path'
import { COMPOSE_FILE_NAMES } from '../refresh/index.js'

// Compose quotes the files it reads in its messages: a `.env` line it cannot
// parse comes back whole (`unexpected character "!" in variable name
// "DB_PASSWORD hunter2!…"`), and such a message becomes a stack's reason —
// stored, logged, shown on pages and sent in events. Before that, every value
// of the stack's env files is cut out of it: `.env` in the work tree and the
// files its Compose file names under `env_file:`. Those are found by reading
// the Compose file's text, not by asking Compose: the message to clean is
// often Compose's refusal to read the very same files.
//
// Values shorter than MIN_SCRUBBED are left: `1`, `true`, `80`, `dev` appear
// in any message (replacing them would shred it), and a secret that short is
// no secret. The service's own secrets are cut the same way (services/base/scrub.ts).

const MIN_SCRUBBED = 4
/** Larger files are not env files anyone writes by hand; reading stops there. */
const MAX_ENV_FILE_BYTES = 1024 * 1024

const unquote = (text: string) => text.trim().replace(/^["']|["']$/g, '')

/** A file of the work tree as text, or '' (absent, too large, or outside the tree). */
function readInside(dir: string, path: string): string {
  const full = resolve(dir, path)
  const inside = relative(dir, full)
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return ''
  try {
    const content = readFileSync(full)
    return content.length > MAX_ENV_FILE_BYTES ? '' : content.toString('utf8')
  } catch {
    return ''
  }
}

/** Paths named under `env_file:` (a string, a flow list, a block list of strings or `path:` items). */
export function envFilesNamed(composeText: string): string[] {
  const found: string[] = []
  const lines = composeText.split(/\r?\n/)
  for (let index = 0; index < lines.length; index++) {
    const match = /^(\s*)env_file:\s*(.*?)\s*(#.*)?$/.exec(lines[index] as string)
    if (!match) continue
    const [, indent = '', inline = ''] = match
    if (inline.startsWith('[')) {
      found.push(
        ...inline
          .replace(/^\[|\]$/g, '')
          .split(',')
          .map(unquote),
      )
    } else if (inline !== '') {
      found.push(unquote(inline))
    } else {
      // The block below, as long as it is indented deeper than the key.
      for (let next = index + 1; next < lines.length; next++) {
        const line = lines[next] as string
        if (line.trim() === '' || line.trim().startsWith('#')) continue
        if (line.length - line.trimStart().length <= indent.length) break
        const item = /^\s*(?:-\s*)?(?:path:\s*)?(.*?)\s*(#.*)?$/.exec(line)?.[1] ?? ''
        if (/^(required|format):/.test(item)) continue
        found.push(unquote(item))
      }
    }
  }
  return found.filter((path) => path !== '')
}

/** The values an env file sets, as Compose might quote them. */
export function envFileValues(text: string): string[] {
  const values: string[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '')
    if (line === '' || line.startsWith('#')) continue
    const equals = line.indexOf('=')
    // No `=`: Compose reads the whole line as a name and quotes it; all but
    // the first word (the name the operator looks for) is cut.
    const value = equals === -1 ? line.replace(/^\S+\s*/, '') : line.slice(equals + 1)
    values.push(value, value.trim(), unquote(value))
  }
  return values
}

/** Cuts the values of the env files of the stack in `dir` out of `text`. */
export function scrubEnvFileValues(dir: string, text: string): string {
  const files = ['.env']
  for (const name of COMPOSE_FILE_NAMES) files.push(...envFilesNamed(readInside(dir, name)))
  const values = [...new Set(files.flatMap((file) => envFileValues(readInside(dir, file))))]
    .filter((value) => value.length >= MIN_SCRUBBED)
    // Longest first: a value that contains another is cut whole.
    .sort((a, b) => b.length - a.length)
  return values.reduce((clean, value) => clean.split(value).join('[REDACTED]'), text)
}
