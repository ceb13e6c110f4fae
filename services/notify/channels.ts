import { parseApprise } from './channels/apprise.js'
import { parseDiscord } from './channels/discord.js'
import { parseGeneric } from './channels/generic.js'
import { parseGotify } from './channels/gotify.js'
import { parseNtfy } from './channels/ntfy.js'
import { parseSlack } from './channels/slack.js'
import { parseSmtp } from './channels/smtp.js'
import { parseTeams } from './channels/teams.js'
import type { Channel, ParsedChannel } from './request.js'

// NOTIFY_URLS: the addresses the services themselves hand out, each prefixed
// with the channel kind (`slack+https://hooks.slack.com/…`), so an operator
// pastes what Slack or ntfy showed them. `http://` works for every kind, for
// receivers on a private network. E-mail is `smtp://` / `smtps://`.
//
// Entries are separated by newlines or by commas — but only by a comma that
// starts a new URL (`, ntfy+https://…`) or ends the entry: a comma inside a
// URL, as in `to=a@x.org,b@x.org`, stays part of it. Blank lines and lines starting
// with `#` are skipped (NOTIFY_URLS_FILE may carry comments).
//
// Every problem names the entry by position and, where it is safe, its kind;
// never the URL, whose path, query or user info is the secret (a Slack or
// Discord webhook URL is itself the credential).

type HttpParser = (url: URL) => ParsedChannel

const HTTP_KINDS: Record<string, HttpParser> = {
  generic: parseGeneric,
  slack: parseSlack,
  discord: parseDiscord,
  teams: parseTeams,
  ntfy: parseNtfy,
  gotify: parseGotify,
  apprise: parseApprise,
}

const KNOWN = `${Object.keys(HTTP_KINDS).join(', ')}, smtp, smtps`

/** Splits on newlines, and on commas that begin another `scheme://`. */
export function splitNotifyUrls(text: string): string[] {
  return (
    text
      .split(/\r?\n|,(?=\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)/)
      // A comma that ends an entry separates it from nothing (a list written
      // with a comma after each URL): it is not part of the URL, where it would
      // change a webhook path or a secret.
      .map((entry) => entry.replace(/[\s,]+$/, '').trim())
      .filter((entry) => entry !== '' && !entry.startsWith('#'))
  )
}

function parseEntry(entry: string): ParsedChannel {
  const mail = /^(smtps?):\/\//i.exec(entry)
  if (mail) return parseUrl(entry, 'smtp', parseSmtp)
  const prefixed = /^([A-Za-z0-9_-]+)\+(https?):\/\//.exec(entry)
  if (prefixed) {
    const kind = (prefixed[1] as string).toLowerCase()
    const parser = HTTP_KINDS[kind]
    if (!parser) {
      // The kind is echoed only when it is short and plain: it comes before
      // `+`, so it is never part of the service's own URL.
      const named = kind.length <= 20 ? ` "${kind}"` : ''
      return { problem: `unknown channel kind${named} (known: ${KNOWN})` }
    }
    return parseUrl(entry.slice(kind.length + 1), kind, parser)
  }
  if (/^https?:\/\//i.test(entry))
    return {
      problem: `no channel kind: prefix the service's URL with one, e.g. slack+https://… (known: ${KNOWN})`,
    }
  return {
    problem: `not a notification URL (expected <kind>+https://… or smtp://…; known: ${KNOWN})`,
  }
}

function parseUrl(text: string, kind: string, parser: HttpParser): ParsedChannel {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return { problem: `${kind}: not a valid URL` }
  }
  if (url.hostname === '') return { problem: `${kind}: the URL names no host` }
  const parsed = parser(url)
  return 'problem' in parsed ? { problem: `${kind}: ${parsed.problem}` } : parsed
}

/**
 * Every channel in `text`, and one line per entry that is not usable.
 * `source` names where the text came from (NOTIFY_URLS or NOTIFY_URLS_FILE).
 */
export function parseNotifyUrls(
  text: string,
  source = 'NOTIFY_URLS',
): { channels: Channel[]; problems: string[] } {
  const channels: Channel[] = []
  const problems: string[] = []
  splitNotifyUrls(text).forEach((entry, index) => {
    const parsed = parseEntry(entry)
    if ('problem' in parsed) problems.push(`${source} entry ${index + 1}: ${parsed.problem}`)
    else channels.push(parsed)
  })
  return { channels, problems }
}
