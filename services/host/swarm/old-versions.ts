import type { Engine } from '../docker-engine.js'
import { CONTENT_LABEL, type NamedObject, type ObjectKind, versionOf } from './content-names.js'
import { STACK_LABEL } from './swarm-api.js'

// Content-named configs and secrets (content-names.ts) leave a new object
// behind at every change of a file: the old versions of a stack's objects
// are removed once a deploy passed its gate, the ones its tree names now
// kept. Nothing is removed after a failed deploy (its rollback is not a
// success of the tree), and an object the engine refuses to remove (a
// service still names it: a change by hand) stays, said so. A rollback to
// an older tree later still works: `docker stack deploy` creates an object
// it names from the tree's file again, under the same name (same content).
// `docker stack rm` removes every object of the stack already.

/** A config or secret of a stack on the swarm (`com.docker.stack.namespace=<stack>`). */
export type StackObject = {
  kind: ObjectKind
  id: string
  name: string
  labels: Record<string, string>
}

/**
 * The stack's objects that are old versions: each carries the stack's
 * label and is named as a version of an object the tree names (its base,
 * with or without a hash: the name before content names), or was named by
 * content by docker-cd (an object the tree no longer declares) — and is
 * not what the tree names now. Pure.
 */
export function oldVersions(
  objects: readonly StackObject[],
  named: readonly NamedObject[],
): StackObject[] {
  const current = new Set(named.map((object) => `${object.kind}:${object.name}`))
  return objects.filter((object) => {
    if (current.has(`${object.kind}:${object.name}`)) return false
    if (object.labels[CONTENT_LABEL] !== undefined) return true
    return named.some(
      (declared) =>
        declared.kind === object.kind &&
        (object.name === declared.base || versionOf(object.name, declared.base) !== undefined),
    )
  })
}

/** `config app_conf (shop_app_conf_1a2b3c4d)`: the key the tree names it by, where known. */
export function objectWords(object: StackObject, named: readonly NamedObject[]): string {
  const declared = named.find(
    (n) =>
      n.kind === object.kind &&
      (object.name === n.base || versionOf(object.name, n.base) !== undefined),
  )
  return declared
    ? `${object.kind} ${declared.key} version ${versionOf(object.name, declared.base) ?? '(not content-named)'} (${object.name})`
    : `${object.kind} ${object.name}`
}

/** The stack's configs and secrets on the swarm (Engine API reads). */
export async function stackObjects(
  engine: Pick<Engine, 'read'>,
  stack: string,
): Promise<StackObject[]> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`${STACK_LABEL}=${stack}`] }))
  const lists = await Promise.all(
    (['config', 'secret'] as const).map(async (kind) =>
      (
        await engine.read<
          { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }[]
        >(`/${kind}s?filters=${filter}`)
      ).map((raw) => ({
        kind,
        id: raw.ID,
        name: raw.Spec?.Name ?? raw.ID,
        labels: raw.Spec?.Labels ?? {},
      })),
    ),
  )
  return lists.flat().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
