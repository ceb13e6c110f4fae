import { z } from 'zod'

export const hostOverviewSchema = z
  .object({
    syncMode: z.enum(['off', 'detect', 'apply']),
    engine: z.object({
      address: z.string().meta({ description: 'DOCKER_HOST: the socket path or host:port' }),
      reachable: z.boolean(),
      reason: z.string().optional().meta({ description: 'Why the engine could not be asked' }),
      eventsConnected: z
        .boolean()
        .optional()
        .meta({ description: "Whether the engine's event stream is open (SYNC_MODE=detect)" }),
    }),
    target: z.enum(['compose', 'swarm']).optional().meta({
      description:
        'What deploys the stacks (SYNC_TARGET, as decided for this engine); absent while the engine has not answered yet',
    }),
    nodes: z
      .array(
        z.object({
          id: z.string(),
          hostname: z.string(),
          role: z.string().meta({ description: 'manager or worker' }),
          availability: z.string().meta({
            description: 'active, pause, drain: whether the scheduler places tasks there',
          }),
          state: z.string().meta({
            description: 'ready, down, unknown, disconnected: whether the manager hears from it',
          }),
          address: z.string(),
          leader: z.boolean().optional().meta({ description: 'The manager that leads the swarm' }),
        }),
      )
      .optional()
      .meta({ description: "SYNC_TARGET=swarm: the swarm's nodes, read live" }),
    projects: z
      .array(
        z.object({
          name: z.string(),
          stack: z.string().optional().meta({
            description:
              'The stack this Compose project belongs to; absent: not a stack of this repository (docker-cd leaves it alone)',
          }),
          workingDir: z
            .string()
            .optional()
            .meta({ description: 'Where Compose ran for it (its containers’ label)' }),
          removedStack: z.string().optional().meta({
            description:
              'A stack docker-cd deployed as this project and Git no longer has (kept without SYNC_PRUNE)',
          }),
          containers: z.number().int(),
          running: z.number().int(),
        }),
      )
      .meta({
        description:
          'Every Compose project on the engine, by name; with SYNC_TARGET=swarm, every stack on the swarm (`containers`: its tasks that should run, `workingDir`: the work tree docker-cd labelled its services with)',
      }),
    removedStacks: z
      .array(
        z.object({
          stack: z.string(),
          project: z.string().optional(),
          status: z.enum(['deleting', 'kept']),
          reason: z.string(),
        }),
      )
      .meta({
        description:
          'Stacks docker-cd deployed that Git no longer has: being taken down (SYNC_PRUNE=true) or kept running, with the reason',
      }),
  })
  .meta({
    id: 'HostOverview',
    example: {
      syncMode: 'detect',
      engine: { address: '/var/run/docker.sock', reachable: true, eventsConnected: true },
      projects: [
        {
          name: 'web',
          stack: 'web',
          workingDir: '/var/lib/docker-cd/stacks/web',
          containers: 2,
          running: 2,
        },
        { name: 'legacy', workingDir: '/srv/legacy', containers: 1, running: 1 },
      ],
      removedStacks: [],
    },
  })
