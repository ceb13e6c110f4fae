// Notifications: what happened, told to the channels an operator configured
// (NOTIFY_URLS), and commit statuses (commit-status/), wired to what docker-cd
// observes in notifier.ts. Events in words (events.ts), one pure formatter per channel
// kind (channels/), and delivery that never holds up a deploy (delivery.ts).
// Other folders import this file, never the files behind it.
export * from './channels.js'
export * from './delivery.js'
export * from './events.js'
export * from './notices.js'
export * from './notifier.js'
export * from './notify-on.js'
export type { Channel, ChannelKind, ChannelRequest, HttpRequest, MailMessage } from './request.js'
export { CHANNEL_KINDS } from './request.js'
export type { SendOutcome, Transport } from './transport.js'
