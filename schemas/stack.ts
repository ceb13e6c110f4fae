import { z } from 'zod'

const STACK_STATUSES = ['missing', 'syncing', 'synced', 'deleting'] as const
const stackStatusSchema = z.enum(STACK_STATUSES)
export type StackStatus = z.infer<typeof stackStatusSchema>

const stackSchema = z
  .object({
    path: z.string().meta({ description: 'Stack directory, relative to the deploy directory' }),
    composeFile: z.string().meta({ description: 'The Compose file chosen in the stack directory' }),
    composeHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .meta({ description: 'Lowercase hex SHA-256 of the Compose file bytes' }),
    status: stackStatusSchema.meta({
      description: 'missing until a reconciler deploys it; syncing, synced or deleting afterwards',
    }),
  })
  .meta({
    id: 'Stack',
    example: {
      path: 'web',
      composeFile: 'compose.yaml',
      composeHash: 'a3f1c2e4b5d6978812345678901234567890abcdef1234567890abcdef123456',
      status: 'missing',
    },
  })
export type StackView = z.infer<typeof stackSchema>

export const stackListSchema = z.array(stackSchema).meta({ description: 'Stacks sorted by path' })
