import {
  factsOf,
  type NotifyEvent,
  type Severity,
  severityOf,
  summaryOf,
  titleOf,
  truncate,
} from '../events.js'
import { displayOf, jsonPost, type ParsedChannel } from '../request.js'

// slack+https://hooks.slack.com/services/T…/B…/…: Slack's incoming webhook.
// Payload as Slack documents it (api.slack.com/messaging/webhooks, "Sending
// messages using incoming webhooks"): a JSON POST with `text` and `blocks`.
// `text` is the whole message in one line, because Slack shows it in
// notifications when there are blocks, and because Mattermost and
// Rocket.Chat, which accept the same incoming-webhook payload, render `text`
// and skip what they don't know.
//
// Block limits from Block Kit's reference (docs.slack.dev/reference/
// block-kit/blocks): a header's plain_text at most 150 characters, a
// section's text 3000, at most 10 fields of 2000 each. `&`, `<` and `>` are
// escaped as Slack asks ("Escaping text", docs.slack.dev/messaging/
// formatting-message-text): a commit subject must not turn into `<!channel>`.

const EMOJI: Record<Severity, string> = {
  failure: ':red_circle:',
  warning: ':warning:',
  success: ':large_green_circle:',
  info: ':information_source:',
}

export function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

export function slackPayload(event: NotifyEvent) {
  const blocks: unknown[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(titleOf(event), 150), emoji: true },
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `${EMOJI[severityOf(event)]} ${escapeSlack(event.reason || titleOf(event))}`,
          3000,
        ),
      },
    },
    {
      type: 'section',
      fields: factsOf(event)
        .slice(0, 10)
        .map((fact) => ({
          type: 'mrkdwn',
          text: truncate(`*${fact.label}*\n${escapeSlack(fact.value)}`, 2000),
        })),
    },
  ]
  if (event.url)
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Open stack page' }, url: event.url },
      ],
    })
  return { text: escapeSlack(summaryOf(event)), blocks }
}

export function parseSlack(url: URL): ParsedChannel {
  if (url.pathname === '/' || url.pathname === '')
    return { problem: 'the URL has no webhook path (paste the whole incoming-webhook URL)' }
  const href = url.href
  return {
    kind: 'slack',
    display: displayOf('slack', url),
    request: (event) => jsonPost(href, slackPayload(event)),
  }
}
