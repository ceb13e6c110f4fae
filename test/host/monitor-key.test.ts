import t from 'tap'
import { createHostMonitor, type HostCheck } from '../../services/host/monitor.js'
import { WorkTreeError } from '../../services/host/work-trees.js'
import { waitFor } from '../helpers/build.js'

// A stack whose encrypted files need an age key docker-cd does not have is
// `unknown` with the reason and is not checked again on a timer (nothing
// changes until a key is configured): no retry loop. A stack whose work
// tree failed on the host's side (a full disk) is retried with back-off —
// here after 1 ms, then 2 ms: once it has been retried twice, a retry of
// the key stack, scheduled the same way, would have come too.

t.test('no key: unknown, never retried; a host failure: retried', async (t) => {
  const ensures = new Map<string, number>()
  const states = new Map<string, HostCheck>()
  const stacks = [
    { path: 'key', treeOid: 'a'.repeat(40) },
    { path: 'disk', treeOid: 'b'.repeat(40) },
  ]
  const monitor = createHostMonitor({
    workTrees: {
      async ensure(stack: string) {
        ensures.set(stack, (ensures.get(stack) ?? 0) + 1)
        throw stack === 'key'
          ? new WorkTreeError('key', 'app.yaml is SOPS-encrypted and no age key is configured')
          : new WorkTreeError('host', 'no space left on the volume of STACKS_DIR')
      },
    } as never,
    runtime: {} as never,
    current: () => ({ stacks }) as never,
    onState: (path, check) => states.set(path, check),
    retryBaseMs: 1,
  })
  t.teardown(() => monitor.close())
  monitor.observer.refreshFinished?.(
    { status: 'completed', changes: { added: [], changed: [], removed: [] } } as never,
    { stacks } as never,
  )
  await waitFor(() => (ensures.get('disk') ?? 0) >= 4, 'the host failure retried twice')
  t.match(states.get('key'), {
    status: 'unknown',
    reason: 'app.yaml is SOPS-encrypted and no age key is configured',
  })
  t.equal(ensures.get('key'), 2, 'the name pass and one check: no retry')
  t.match(states.get('disk'), { status: 'unknown', reason: /no space left/ })
})
