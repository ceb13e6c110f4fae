import { createHash } from 'node:crypto'

// Names of docker-cd's own files about a stack (work-tree markers, records,
// staging, deploy records). They are never built from the stack's name
// itself: a name is any string Git allows, so `.victim.tree` as a stack
// collided with stack `victim`'s marker, and a 200-character name made a
// hex file name past the file system's 255-byte limit. A key is a hash of
// the name: fixed length, file-name safe, and two names never share one.

/**
 * The directory beside the work trees (STACKS_DIR/.docker-cd) that holds
 * docker-cd's own files; a Git directory of that name is not a stack.
 */
export const INTERNAL_DIR = '.docker-cd'

/** 32 hex characters (128 bits of SHA-256) of the stack's name. */
export function stackFileKey(stack: string): string {
  return createHash('sha256').update(stack).digest('hex').slice(0, 32)
}
