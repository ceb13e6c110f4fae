import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { docker, ensureTestImage, removeProject, sleeperService } from './docker.js'
import { createFixtureRepo } from './git-fixture.js'
import type { GitServer } from './git-server.js'
import { tempDir } from './temp-dir.js'

// What the image-update tests share: the stack they deploy (`app` from the
// registry with `image_updates: apply`, `side` from the local test image,
// never pulled), the settings they run docker-cd with, images removed at
// the end, and a Compose wrapper for the tests that step into `up`.

/** docker-cd in apply mode, images asked every second, a deploy waited for at most 30 s. */
export const imageApplyEnv = (): Record<string, string> => ({
  SYNC_MODE: 'apply',
  STACKS_DIR: tempDir('docker-cd-stacks-'),
  SYNC_TIMEOUT: '30s',
  IMAGE_POLL_INTERVAL: '1s',
})

/** A repository with one stack: `app` runs `reference` (image_updates: apply), `side` the local test image. */
export function applyStackRepo(t: Test, server: GitServer, stack: string, reference: string) {
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `x-docker-cd:\n  image_updates: apply\nservices:\n  app:\n${sleeperService(reference)}  side:\n${sleeperService(ensureTestImage(), '    pull_policy: never\n')}`,
    )
    .commitAndPush('an app from the registry')
  return repo
}

/** The images named here (and any added later) are removed from the engine when the test ends. */
export function imagesRemovedAtEnd(t: Test, names: string[]): string[] {
  t.teardown(() => {
    for (const name of names)
      try {
        docker('image', 'rm', '-f', name)
      } catch {
        // gone already
      }
  })
  return names
}

/** A `docker-compose` that runs `upScript` (sh) for `up` and is Compose for everything else; its path. */
export function composeWrapper(upScript: (compose: string) => string): string {
  const compose = '/usr/libexec/docker/cli-plugins/docker-compose'
  const wrapper = join(tempDir('docker-cd-compose-'), 'docker-compose')
  writeFileSync(
    wrapper,
    `#!/bin/sh\nif [ "$1" = up ]; then\n${upScript(compose)}\nfi\nexec ${compose} "$@"\n`,
  )
  chmodSync(wrapper, 0o755)
  return wrapper
}
