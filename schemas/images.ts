import { z } from 'zod'

// What POST /api/images/check answers: per stack with something to say,
// the services whose image tag moved in the registry and the asks that
// failed (image updates, detect).

export const imageCheckSchema = z
  .object({
    stacks: z.array(
      z.object({
        path: z.string(),
        moved: z.array(
          z.object({
            service: z.string(),
            reference: z.string().meta({ description: 'The tag, as the Compose file names it' }),
            running: z.string().meta({ description: 'The digest its containers run' }),
            current: z
              .string()
              .meta({ description: 'The digest the tag names in the registry now' }),
          }),
        ),
        problems: z.array(z.string()).meta({ description: 'Asks that failed, in words' }),
      }),
    ),
  })
  .meta({ id: 'ImageCheck' })
