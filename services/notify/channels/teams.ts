import { factsOf, type NotifyEvent, type Severity, severityOf, titleOf } from '../events.js'
import { displayOf, jsonPost, type ParsedChannel } from '../request.js'

// teams+https://….powerautomate.com/…: a Teams Workflows webhook ("When a
// Teams webhook request is received", the replacement for the retired
// Office 365 connectors, which took the old MessageCard). Workflows accept
// Adaptive Cards only, wrapped as a message with one attachment, as
// Microsoft documents for webhooks (learn.microsoft.com/en-us/microsoftteams/
// platform/webhooks-and-connectors/how-to/connectors-using, "Send Adaptive
// Cards using an Incoming Webhook"):
//   { type: 'message', attachments: [{ contentType:
//     'application/vnd.microsoft.card.adaptive', contentUrl: null,
//     content: { $schema, type: 'AdaptiveCard', version, body, actions } }] }
// Card elements from the Adaptive Cards schema (adaptivecards.io/explorer):
// TextBlock (`color` one of default, good, warning, attention, accent),
// FactSet (`facts` of title/value), Action.OpenUrl. Version 1.4, which the
// Workflows "post card" action renders.

const COLOUR: Record<Severity, string> = {
  failure: 'attention',
  warning: 'warning',
  success: 'good',
  info: 'accent',
}

export function teamsPayload(event: NotifyEvent) {
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      {
        type: 'TextBlock',
        text: titleOf(event),
        weight: 'bolder',
        size: 'medium',
        color: COLOUR[severityOf(event)],
        wrap: true,
      },
      { type: 'TextBlock', text: event.reason || titleOf(event), wrap: true },
      {
        type: 'FactSet',
        facts: factsOf(event).map((fact) => ({ title: fact.label, value: fact.value })),
      },
    ],
  }
  if (event.url)
    card.actions = [{ type: 'Action.OpenUrl', title: 'Open stack page', url: event.url }]
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card },
    ],
  }
}

export function parseTeams(url: URL): ParsedChannel {
  if (url.pathname === '/' || url.pathname === '')
    return { problem: 'the URL has no workflow path (paste the whole webhook URL from Teams)' }
  const href = url.href
  return {
    kind: 'teams',
    display: displayOf('teams', url),
    request: (event) => jsonPost(href, teamsPayload(event)),
  }
}
