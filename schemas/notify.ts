import { z } from 'zod'
import { EVENT_KINDS } from '../services/notify/events.js'
import { CHANNEL_KINDS } from '../services/notify/request.js'
import { COMMIT_STATUS_PROVIDERS } from './config.js'

// What GET /api/notifications and POST /api/notifications/test answer: the
// channels by kind and host only (their URLs carry tokens and are never
// shown), each with its latest delivery.

export const deliveryResultSchema = z
  .object({
    channel: z.string().describe('Kind and host, e.g. `slack (hooks.slack.com)`'),
    kind: z.enum(CHANNEL_KINDS),
    event: z.enum(EVENT_KINDS),
    stack: z.string().optional(),
    outcome: z.enum(['delivered', 'dropped']),
    reason: z.string().optional().describe('Why it was dropped, in words'),
    note: z.string().optional().describe('A caveat on a delivery (some e-mail recipients refused)'),
    attempts: z.number().int(),
    at: z.string(),
  })
  .meta({ id: 'DeliveryResult' })

export const notificationsStatusSchema = z
  .object({
    channels: z.array(
      z.object({
        channel: z.string(),
        kind: z.enum(CHANNEL_KINDS),
        queued: z.number().int().describe('Messages waiting for this channel'),
        last: deliveryResultSchema.optional(),
      }),
    ),
    on: z.array(z.enum(EVENT_KINDS)).describe('Event kinds worth a message (NOTIFY_ON)'),
    commitStatus: z
      .object({
        provider: z.enum(COMMIT_STATUS_PROVIDERS),
        api: z.string().describe('The API host statuses are written to'),
      })
      .nullable()
      .describe('Where commit statuses go (COMMIT_STATUS=true), or null'),
  })
  .meta({ id: 'NotificationsStatus' })

export const notificationTestSchema = z
  .object({ results: z.array(deliveryResultSchema) })
  .meta({ id: 'NotificationTest' })
