import { z } from 'zod'
import { deploySchema, syncRunSchema } from './sync.js'

export const STACK_STATUSES = [
  'missing',
  'out_of_sync',
  'syncing',
  'synced',
  'failed',
  'deleting',
  'unknown',
] as const
export const stackStatusSchema = z.enum(STACK_STATUSES)
export type StackStatus = z.infer<typeof stackStatusSchema>

export const stackHealthSchema = z.enum(['healthy', 'progressing', 'degraded', 'unknown']).meta({
  description:
    'Of its containers (SYNC_MODE=detect): healthy: all running (and healthy, with a health check); progressing: starting; degraded: exited, restarting, unhealthy, or a service without a container; unknown. Absent when missing or not checked',
})
export type StackHealth = z.infer<typeof stackHealthSchema>

const sha1 = z.string().regex(/^[0-9a-f]{40}$/)

const stackExample = {
  path: 'web',
  composeFile: 'compose.yaml',
  composeHash: 'a3f1c2e4b5d6978812345678901234567890abcdef1234567890abcdef123456',
  status: 'missing',
  treeHash: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
} as const

const stackSchema = z
  .object({
    path: z.string().meta({ description: 'Stack directory, relative to the deploy directory' }),
    composeFile: z.string().meta({ description: 'The Compose file chosen in the stack directory' }),
    composeHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .meta({ description: 'Lowercase hex SHA-256 of the Compose file bytes' }),
    status: stackStatusSchema.meta({
      description:
        'From the host (SYNC_MODE=detect): missing: no container of its Compose project exists; synced: Compose would change nothing; out_of_sync: Compose would create, recreate, start or remove something (or rejects the file); unknown: the engine or Compose could not be asked. syncing: a sync runs; failed: its tree failed to deploy (see sync.error, sync.rolledBackTo); not retried until the tree changes or a manual sync. With SYNC_MODE=off every stack is missing.',
    }),
    treeHash: sha1.meta({
      description:
        'Git tree id of the stack directory: changes when any file in it changes (.env, mounted configs), not only the Compose file',
    }),
    health: stackHealthSchema.optional(),
    reason: z.string().optional().meta({
      description:
        'Why the stack has its status, in words (as `sync.reason` in its detail); part of its status: a change of it alone is a `stack-status` event. Absent before the first host check, and with SYNC_MODE=off',
    }),
  })
  .meta({ id: 'Stack', example: stackExample })
export type StackView = z.infer<typeof stackSchema>

export const stackListSchema = z.array(stackSchema).meta({ description: 'Stacks sorted by path' })

const hostContainerSchema = z.object({
  service: z.string(),
  name: z.string(),
  state: z.string().meta({ description: 'running, exited, created, restarting, paused, dead' }),
  health: z
    .string()
    .optional()
    .meta({ description: 'healthy, unhealthy, starting; absent without a health check' }),
  status: z.string().meta({
    description:
      "The engine's own words at the last check, e.g. `Exited (137) 2 minutes ago` (frozen then: `since` stays true)",
  }),
  since: z.string().optional().meta({
    description:
      'Since when it is in its state: started (running), finished (exited) or created, ISO 8601',
  }),
  image: z.string().meta({
    description:
      'The image reference it was created from; the image id once that reference names another image (the tag moved)',
  }),
  imageId: z.string().optional().meta({ description: 'The image it runs, `sha256:…`' }),
  digest: z.string().optional().meta({
    description:
      "The image's digest in the repository its reference names (`sha256:…`, as a pull by tag recorded it); absent for an image built on the host",
  }),
})

const swarmTaskSchema = z.object({
  slot: z
    .number()
    .int()
    .optional()
    .meta({ description: 'Replica slot; absent for a global service' }),
  node: z.string().meta({
    description:
      'The node it is on (hostname and address); empty while the scheduler has not placed it',
  }),
  nodeId: z
    .string()
    .optional()
    .meta({ description: 'The node’s id, as GET /api/host lists the nodes' }),
  nodeState: z.string().optional().meta({
    description:
      "The node's state when it is not `ready` (`down`: what the task last said is not known to be true)",
  }),
  state: z.string().meta({
    description:
      'new, pending, assigned, accepted, preparing, starting, running, complete, failed, shutdown, rejected, orphaned',
  }),
  desiredState: z
    .string()
    .meta({ description: 'What the orchestrator wants: running, shutdown, …' }),
  error: z.string().optional().meta({
    description:
      "The engine's error, e.g. `no suitable node (max replicas per node limit exceed; …)` for a task the scheduler cannot place",
  }),
  since: z.string().meta({ description: 'When the task reached its state, ISO 8601' }),
})

export const swarmServiceSchema = z
  .object({
    name: z.string().meta({ description: "The service's name in the Compose file" }),
    mode: z.enum(['replicated', 'global']),
    replicas: z.object({
      running: z.number().int().meta({ description: 'Tasks running on a node that is up' }),
      desired: z.number().int(),
    }),
    updateState: z.string().optional().meta({
      description:
        "Swarm's update of the service: updating, paused, completed, rollback_started, rollback_paused, rollback_completed",
    }),
    updateMessage: z.string().optional(),
    tasks: z.array(swarmTaskSchema).meta({
      description:
        'The tasks the orchestrator wants running (one per slot, or per node), with the node each is on',
    }),
  })
  .meta({ id: 'SwarmService' })
export type SwarmServiceView = z.infer<typeof swarmServiceSchema>

const hostSyncSchema = deploySchema.extend({
  reason: z.string().meta({ description: 'Why the stack has its status, in words' }),
  plan: z
    .array(
      z.object({
        service: z.string(),
        container: z.string(),
        action: z.enum(['create', 'recreate', 'start', 'remove', 'restart', 'rebuild', 'update']),
        files: z.array(z.string()).optional().meta({
          description:
            'Set when the entry comes from files the service reads (bind mounts, configs, secrets, build context) that changed since its containers were created: `./nginx.conf`',
        }),
        image: z
          .object({ reference: z.string(), running: z.string(), current: z.string() })
          .optional()
          .meta({
            description:
              "For `update`: the service's image tag moved in the registry (image updates): the digest its containers run and the one the tag names now",
          }),
      }),
    )
    .meta({
      description:
        'What a deploy would change: `docker compose up -d --remove-orphans` (create, recreate, start, remove), plus the services whose read files changed since they were deployed (recreate, restart, rebuild; with `files`), and the services whose image tag moved in the registry (update; with `image`)',
    }),
  notes: z.array(z.string()).optional().meta({
    description:
      'What docker-cd does not track, in words: files services mount from outside the stack directory; with Swarm, bind mounts from the work tree (node-local) and image updates it reports and does not apply',
  }),
  checkedAt: z.string().meta({ description: 'When the host was last asked about this stack' }),
})

export const stackDetailSchema = stackSchema
  .extend({
    project: z.string().optional().meta({ description: 'The Compose project name Compose picks' }),
    containers: z.array(hostContainerSchema).optional(),
    swarmServices: z.array(swarmServiceSchema).optional().meta({
      description:
        'SYNC_TARGET=swarm: each service of the stack on the swarm, with its replicas and its tasks per node (`containers` lists the same tasks as containers); absent for Compose',
    }),
    sync: hostSyncSchema
      .optional()
      .meta({ description: 'Absent with SYNC_MODE=off, or before the first check' }),
    history: z.array(syncRunSchema).optional().meta({
      description: 'The last 20 sync runs of the stack, newest first (kept across restarts)',
    }),
    revision: sha1.meta({ description: 'Commit of the snapshot this answer comes from' }),
    changedAt: z.string().meta({
      description:
        'When this service last saw the stack directory change (first seen counts); kept across restarts',
    }),
    changedRevision: sha1.meta({
      description:
        'The commit that last changed the stack directory (of several commits in one refresh, the newest that touched it; looked up among the last 50 commits)',
    }),
    changedSubject: z.string().optional().meta({
      description: "The first line of changedRevision's commit message",
    }),
    firstLook: z.literal(true).optional().meta({
      description:
        "Set when the tree was already so at docker-cd's first look and no commit among the last 50 touched it (or the lookup failed): changedRevision is then the fetched commit, and the commit that changed the stack is older",
    }),
  })
  .meta({
    id: 'StackDetail',
    example: {
      ...stackExample,
      revision: '0f4c2b8e6d1a9c3b5e7f0a2c4e6b8d0f1a3c5e7b',
      changedAt: '2026-11-22T10:00:00.000Z',
      changedRevision: '0f4c2b8e6d1a9c3b5e7f0a2c4e6b8d0f1a3c5e7b',
    },
  })

/**
 * A stack name in a URL: one plain directory name, never a path. Fastify
 * decodes the parameter first, so `%2F` arrives as `/` and is refused here.
 */
export const stackNameParamsSchema = z.object({
  name: z
    .string()
    .refine((name) => name !== '' && name !== '.' && name !== '..', {
      message: 'must be a directory name, not empty, "." or ".."',
    })
    .refine((name) => !/[/\0]/.test(name), { message: 'must not contain a slash or NUL' })
    .refine((name) => Buffer.byteLength(name) <= 255, { message: 'must be at most 255 bytes' })
    .meta({ description: 'The stack path as /api/stacks lists it' }),
})
