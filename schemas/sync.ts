import { z } from 'zod'
import { waitFlag } from './api.js'

// Shapes of applying: the manual sync route, the deploy record and history
// in a stack's detail, and the `sync` event of the feed.

export const SYNC_TRIGGERS = [
  'git',
  'manual',
  'self-heal',
  'adopt',
  'retry',
  'prune',
  'recover',
  'image',
] as const
const syncTrigger = z.enum(SYNC_TRIGGERS).meta({
  description:
    'git: the stack’s tree changed in Git; manual: POST /api/stacks/{name}/sync; self-heal: drift re-applied (SYNC_SELF_HEAL); adopt: a same-named project taken over (SYNC_ADOPT); retry: after an engine failure; prune: removed from Git (SYNC_PRUNE); recover: a deploy interrupted by a stop of docker-cd, taken through the health gate again after the restart (rolled back if it does not pass); image: an image tag moved in the registry (image_updates: apply)',
})

export const treeRefSchema = z.object({
  revision: z.string().meta({ description: 'The commit the tree was deployed from' }),
  treeHash: z.string().meta({ description: 'Git tree id of the stack directory' }),
})

const runningImageSchema = z
  .object({
    service: z.string(),
    reference: z.string().meta({ description: 'The image reference the service names' }),
    imageId: z.string().meta({ description: 'The image it runs, `sha256:…`' }),
    digest: z.string().optional().meta({
      description: "That image's digest in its repository; absent for an image built on the host",
    }),
  })
  .meta({ id: 'RunningImage' })

const imageUpdateSchema = z.object({
  service: z.string(),
  reference: z.string(),
  running: z.string().meta({ description: 'The digest the service ran before' }),
  current: z.string().meta({ description: 'The digest its tag named in the registry' }),
})

/** Where a failed deploy was put back: the last good tree, and the images an image update replaced. */
export const rolledBackToSchema = treeRefSchema.extend({
  images: z.array(runningImageSchema).optional().meta({
    description:
      'The images a failed image update replaced, put back under their tags by id (the previous digest)',
  }),
})

export const syncRunSchema = z
  .object({
    trigger: syncTrigger,
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number().int(),
    fromTree: z.string().optional().meta({ description: 'The tree deployed before, if any' }),
    toTree: z.string(),
    revision: z.string(),
    result: z.enum(['completed', 'failed', 'interrupted']),
    servicesChanged: z.array(z.string()).meta({ description: 'Services Compose changed' }),
    fileChanges: z
      .array(
        z.object({
          service: z.string(),
          action: z.enum(['recreate', 'restart', 'rebuild']),
          files: z.array(z.string()),
        }),
      )
      .optional()
      .meta({
        description:
          'Services whose read files (bind mounts, configs, secrets, build context) changed, and what the deploy did to them',
      }),
    imageUpdates: z.array(imageUpdateSchema).optional().meta({
      description: 'The moved image tags the run pulled and deployed (image updates)',
    }),
    imagesUnchanged: z.array(imageUpdateSchema).optional().meta({
      description:
        'Moved tags whose pull changed nothing: the registry names a digest its pull does not serve (recorded in failedImages: not pulled again until the tag names another digest or a manual sync)',
    }),
    images: z.array(runningImageSchema).optional().meta({
      description: 'The image each service ran once the deploy passed its health gate',
    }),
    evidence: z
      .array(
        z.object({
          container: z.string(),
          service: z.string(),
          problem: z.string().meta({ description: 'Why it did not pass, in words' }),
          healthOutput: z.string().optional().meta({
            description:
              'What its health check printed last time it failed (at most 1 KiB, secrets cut out)',
          }),
        }),
      )
      .optional()
      .meta({
        description:
          'The containers that failed the health gate, read before the rollback replaced them',
      }),
    reason: z.string().meta({ description: 'What happened, in words' }),
    error: z.string().optional().meta({ description: 'Compose’s message, when it failed' }),
    rolledBackTo: rolledBackToSchema.optional(),
  })
  .meta({ id: 'SyncRun' })

export const deploySchema = z.object({
  deployedRevision: z.string().optional().meta({ description: 'Revision docker-cd last deployed' }),
  deployedTreeHash: z
    .string()
    .optional()
    .meta({ description: 'Tree docker-cd last deployed (the one a rollback returns to)' }),
  deployedAt: z.string().optional(),
  deployedImages: z.array(runningImageSchema).optional().meta({
    description:
      'The image each service ran after the last deploy: reference, image id, repository digest',
  }),
  failedImages: z
    .array(z.object({ service: z.string(), reference: z.string(), digest: z.string() }))
    .optional()
    .meta({
      description:
        'Digests of moved tags whose deploy failed its health gate, or whose pull did not bring them: not taken again until the tag moves or a manual sync',
    }),
  lastResult: z.enum(['completed', 'failed', 'interrupted']).optional(),
  error: z
    .string()
    .optional()
    .meta({ description: 'Why the last sync failed (Compose’s message)' }),
  rolledBackTo: rolledBackToSchema.optional().meta({
    description:
      'Set when the last sync failed and the last good tree runs again (with the previous images, after an image update)',
  }),
})

export const syncQuerySchema = z.object({
  wait: waitFlag('Answer when the sync this request asked for has finished'),
})

export const syncAcceptedSchema = z
  .object({ status: z.enum(['syncing', 'queued']), message: z.string() })
  .meta({ id: 'SyncAccepted', example: { status: 'syncing', message: 'sync of web started' } })

/** What a sync run is about and how it went: in its answer and in each of its events. */
const syncRunFields = {
  revision: z.string(),
  treeHash: z.string(),
  message: z.string(),
  error: z.string().optional(),
  rolledBackTo: rolledBackToSchema.optional(),
}

export const syncFinishedSchema = z
  .object({ status: z.enum(['completed', 'failed']), ...syncRunFields })
  .meta({
    id: 'SyncFinished',
    example: {
      status: 'completed',
      revision: '0f4c2b8e6d1a9c3b5e7f0a2c4e6b8d0f1a3c5e7b',
      treeHash: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
      message: 'deployed tree 4b825dc: changed app',
    },
  })

export const syncEventSchema = z
  .object({
    id: z.number().int(),
    stack: z.string(),
    phase: z.enum([
      'queued',
      'validate',
      'pull',
      'build',
      'up',
      'renew',
      'wait',
      'rollback',
      'completed',
      'failed',
      'deleting',
      'deleted',
    ]),
    trigger: syncTrigger,
    ...syncRunFields,
  })
  .meta({
    id: 'SyncEvent',
    description:
      '`event: sync` — a phase of a sync run: queued, validate, pull, build (a changed build context), up, renew (services whose mounted files changed: recreated or restarted), wait, rollback, then completed or failed (deleting, deleted when a stack removed from Git is taken down)',
  })
