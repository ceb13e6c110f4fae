import { z } from 'zod'
import { stackChangesSchema } from './refresh.js'
import { stackHealthSchema, stackStatusSchema } from './stack.js'
import { syncEventSchema } from './sync.js'

// The events of GET /api/events (Server-Sent Events). Each arrives as
// `id: <n>`, `event: <name>`, `data: <one JSON object>`; the JSON repeats
// the id.

const eventId = z.number().int().meta({ description: 'Same as the SSE id: increasing, resumable' })
const sha = z.string().regex(/^[0-9a-f]{40}$/)

export const refreshEventSchema = z
  .object({
    id: eventId,
    trigger: z.enum(['startup', 'periodic', 'webhook', 'manual']),
    outcome: z.enum(['completed', 'failed']),
    revision: sha.nullable().meta({ description: 'What the cache reflects after this refresh' }),
    previousRevision: sha.nullable(),
    startedAt: z.string(),
    finishedAt: z.string(),
    error: z
      .string()
      .optional()
      .meta({ description: 'Why it failed (token-free); only when failed' }),
    reason: z.string().optional().meta({ description: 'Failure category, e.g. unreachable' }),
    changes: stackChangesSchema,
  })
  .meta({
    id: 'RefreshEvent',
    description: '`event: refresh` — sent after every finished refresh, also when nothing changed',
  })

export const stackStatusEventSchema = z
  .object({
    id: eventId,
    path: z.string(),
    from: stackStatusSchema,
    to: stackStatusSchema,
    reason: z.string().optional().meta({
      description: 'Why the stack has its status, in words (its reason after the change)',
    }),
    health: stackHealthSchema.optional(),
  })
  .meta({
    id: 'StackStatusEvent',
    description:
      "`event: stack-status` — a stack's sync status, health or reason changed (`from` equals `to` when only the health or the reason did)",
  })

const resetEventSchema = z.object({ reason: z.string(), message: z.string() }).meta({
  id: 'ResetEvent',
  description:
    '`event: reset` — the events after Last-Event-ID are no longer kept (too old, or from before a restart): re-read /api/stacks, then follow the feed',
})

export const feedEventSchema = z
  .union([refreshEventSchema, stackStatusEventSchema, syncEventSchema, resetEventSchema])
  .meta({ description: 'The data of one event; its SSE `event:` field names which' })
