import {
  factsOf,
  type NotifyEvent,
  type Severity,
  severityOf,
  titleOf,
  truncate,
} from '../events.js'
import { displayOf, jsonPost, type ParsedChannel } from '../request.js'

// discord+https://discord.com/api/webhooks/<id>/<token>: Discord's "Execute
// Webhook" (discord.com/developers/docs/resources/webhook#execute-webhook):
// a JSON POST with `content` (up to 2000 characters) and `embeds` (up to 10
// embed objects). Embed limits from the message resource's embed object
// (discord.com/developers/docs/resources/message#embed-object-embed-limits):
// title 256, description 4096, up to 25 fields, field name 256 and value
// 1024, footer text 2048; `color` is an integer, `timestamp` ISO 8601.
//
// `allowed_mentions: { parse: [] }` because a commit subject or a reason
// could contain `@everyone`; Discord would otherwise ping the whole server.

/** Colours from Discord's own palette, by how bad it is. */
export const DISCORD_COLOURS: Record<Severity, number> = {
  failure: 0xed4245,
  warning: 0xfee75c,
  success: 0x57f287,
  info: 0x5865f2,
}

export function discordPayload(event: NotifyEvent) {
  const embed: Record<string, unknown> = {
    title: truncate(titleOf(event), 256),
    description: truncate(event.reason || titleOf(event), 4096),
    color: DISCORD_COLOURS[severityOf(event)],
    timestamp: event.at,
    fields: factsOf(event)
      .filter((fact) => fact.label !== 'At')
      .slice(0, 25)
      .map((fact) => ({
        name: truncate(fact.label, 256),
        value: truncate(fact.value, 1024),
        inline: fact.label !== 'Commit',
      })),
    footer: { text: truncate(`docker-cd on ${event.instance}`, 2048) },
  }
  if (event.url) embed.url = event.url
  return {
    content: truncate(titleOf(event), 2000),
    embeds: [embed],
    allowed_mentions: { parse: [] },
  }
}

export function parseDiscord(url: URL): ParsedChannel {
  if (!/\/webhooks\/[^/]+\/[^/]+/.test(url.pathname))
    return { problem: 'the path is not a Discord webhook (/api/webhooks/<id>/<token>)' }
  const href = url.href
  return {
    kind: 'discord',
    display: displayOf('discord', url),
    request: (event) => jsonPost(href, discordPayload(event)),
  }
}
