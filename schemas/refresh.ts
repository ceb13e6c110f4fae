import { z } from 'zod'

const REFRESH_TRIGGERS = ['startup', 'periodic', 'webhook', 'manual'] as const
const refreshTriggerSchema = z.enum(REFRESH_TRIGGERS)
export type RefreshTrigger = z.infer<typeof refreshTriggerSchema>

const REF_TYPES = ['branch', 'tag', 'commit'] as const
export type RefType = (typeof REF_TYPES)[number]

const REFRESH_STATUSES = ['refreshing', 'queued', 'completed', 'failed'] as const
export type RefreshStatus = (typeof REFRESH_STATUSES)[number]

export const stackChangesSchema = z
  .object({
    added: z.array(z.string()).meta({ description: 'Stacks that appeared in Git' }),
    changed: z
      .array(z.string())
      .meta({ description: 'Stacks whose directory tree changed (any file, not only Compose)' }),
    removed: z.array(z.string()).meta({ description: 'Stacks that left Git' }),
  })
  .meta({
    id: 'StackChanges',
    description: 'What a refresh changed; all empty when the revision or tree was unchanged',
    example: { added: ['blog'], changed: ['web'], removed: [] },
  })

export const refreshStatusSchema = z
  .object({
    revision: z
      .string()
      .nullable()
      .meta({ description: 'Full commit SHA the cache reflects; null before the first snapshot' }),
    ref: z.string().meta({ description: 'The configured revision (branch, tag or commit)' }),
    refType: z.enum(REF_TYPES),
    refreshedAt: z
      .string()
      .nullable()
      .meta({ description: 'ISO time the last successful refresh finished' }),
    refreshStatus: z.enum(REFRESH_STATUSES),
    refreshError: z.string().optional().meta({
      description: 'Why the last refresh failed; present only when refreshStatus is failed',
    }),
    trigger: refreshTriggerSchema.meta({ description: 'What started the latest refresh' }),
    changes: stackChangesSchema.meta({
      description: 'What the last finished refresh changed (empty before the first one)',
    }),
  })
  .meta({
    id: 'RefreshStatus',
    example: {
      revision: '0f4c2b8e6d1a9c3b5e7f0a2c4e6b8d0f1a3c5e7b',
      ref: 'main',
      refType: 'branch',
      refreshedAt: '2026-11-22T10:00:00.000Z',
      refreshStatus: 'completed',
      trigger: 'webhook',
      changes: { added: [], changed: ['web'], removed: [] },
    },
  })

export const refreshAcceptedSchema = z
  .object({
    status: z.enum(['refreshing', 'queued']),
    message: z.string(),
  })
  .meta({
    id: 'RefreshAccepted',
    example: { status: 'refreshing', message: 'refresh started' },
  })

export const refreshFinishedSchema = z
  .object({
    status: z.enum(['completed', 'failed']),
    message: z.string(),
    revision: z.string().nullable(),
    changes: stackChangesSchema,
    stacks: z
      .array(
        z.object({
          path: z.string(),
          status: z
            .string()
            .meta({ description: 'The stack status once its deploys have finished' }),
          reason: z.string().optional(),
          run: z
            .object({
              result: z.enum(['completed', 'failed', 'interrupted']),
              trigger: z.string(),
              revision: z.string(),
              toTree: z.string(),
              rolledBackTo: z.object({ revision: z.string(), treeHash: z.string() }).optional(),
            })
            .optional()
            .meta({ description: "The stack's run of its new tree, when one ran" }),
        }),
      )
      .optional()
      .meta({
        description:
          'With `?wait=sync`: every stack the refresh added or changed, after the deploys it caused finished',
      }),
  })
  .meta({
    id: 'RefreshFinished',
    example: {
      status: 'completed',
      message: 'refresh completed',
      revision: '0f4c2b8e6d1a9c3b5e7f0a2c4e6b8d0f1a3c5e7b',
      changes: { added: [], changed: ['web'], removed: [] },
    },
  })
