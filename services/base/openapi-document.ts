// The zod type provider emits every registered schema twice, as `X` (output)
// and `XInput` (input). This API takes no request bodies with named schemas,
// so only what the paths reference, directly or through other components,
// belongs in the document.

type Doc = { paths?: unknown; components?: { schemas?: Record<string, unknown> } }

const REF = /"#\/components\/schemas\/([^"]+)"/g

function referencedNames(value: unknown): string[] {
  return [...JSON.stringify(value ?? null).matchAll(REF)].map((match) => match[1] as string)
}

/** Drops component schemas no path reaches. */
export function withoutUnusedSchemas<D extends Doc>(document: D): D {
  const schemas = document.components?.schemas
  if (!schemas) return document
  const reachable = new Set<string>()
  const pending = referencedNames(document.paths)
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (reachable.has(name)) continue
    reachable.add(name)
    pending.push(...referencedNames(schemas[name]))
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => reachable.has(name)))
  return { ...document, components: { ...document.components, schemas: kept } }
}
