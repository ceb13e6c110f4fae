// Per-stack settings live in Git, in the Compose file's top-level
// `x-docker-cd` extension (Compose keeps top-level `x-` fields in
// `docker compose config`, so they are read from Compose's own model, with
// its interpolation and its `include`/override merging). One place for every
// per-stack choice; later keys are added to KNOWN_KEYS and to the README's
// table. A value of the wrong shape is a problem of the stack (it is not
// deployed, with the reason); a key docker-cd does not know is a warning
// (a typo, or a setting of a newer docker-cd).

/** What a service gets when a file it mounts changes in Git (file-changes.ts). */
export type FileChangeAction = 'recreate' | 'restart'

/**
 * What is done about a moved image tag (image-watch.ts): nothing (`off`),
 * reported (`detect`), or pulled and deployed behind the health gate
 * (`apply`, in SYNC_MODE=apply; reported like `detect` otherwise).
 */
export type ImagePolicy = 'off' | 'detect' | 'apply'
export const IMAGE_POLICIES: readonly ImagePolicy[] = ['off', 'detect', 'apply']

export type StackSettings = Readonly<{
  /** Stacks (directory names) that must be synced and healthy before this one deploys. */
  dependsOn: readonly string[]
  /** Per service (`services.<name>.on_file_change`); a service not named is recreated. */
  onFileChange: Readonly<Record<string, FileChangeAction>>
  /** `image_updates` for the stack; undefined: IMAGE_UPDATES decides. */
  imageUpdates?: ImagePolicy
  /** Per service (`services.<name>.image_updates`), over the stack's. */
  serviceImageUpdates: Readonly<Record<string, ImagePolicy>>
  /** Values docker-cd cannot use, in words: the stack is not deployed while any is there. */
  problems: readonly string[]
  /** Keys docker-cd does not know, in words (logged). */
  warnings: readonly string[]
}>

export const EXTENSION_KEY = 'x-docker-cd'

const KNOWN_KEYS = ['depends_on', 'image_updates', 'services'] as const
const SERVICE_KEYS = ['image_updates', 'on_file_change'] as const
const FILE_CHANGE_ACTIONS: readonly FileChangeAction[] = ['recreate', 'restart']

export const NO_SETTINGS: StackSettings = Object.freeze({
  dependsOn: Object.freeze([]),
  onFileChange: Object.freeze({}),
  serviceImageUpdates: Object.freeze({}),
  problems: Object.freeze([]),
  warnings: Object.freeze([]),
})

/** The settings in a stack's `x-docker-cd` value (undefined: none given). */
export function readStackSettings(raw: unknown): StackSettings {
  if (raw === undefined || raw === null) return NO_SETTINGS
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { ...NO_SETTINGS, problems: [`${EXTENSION_KEY} must be a mapping of settings`] }
  const fields = raw as Record<string, unknown>
  const problems: string[] = []
  const warnings = Object.keys(fields)
    .filter((key) => !(KNOWN_KEYS as readonly string[]).includes(key))
    .sort()
    .map(
      (key) =>
        `${EXTENSION_KEY}.${key} is not a setting docker-cd knows (ignored); known: ${KNOWN_KEYS.join(', ')}`,
    )
  const dependsOn = readNames(fields.depends_on, `${EXTENSION_KEY}.depends_on`, problems)
  const { onFileChange, serviceImageUpdates } = readServices(fields.services, problems, warnings)
  const imageUpdates = readImagePolicy(
    fields.image_updates,
    `${EXTENSION_KEY}.image_updates`,
    problems,
  )
  return {
    dependsOn,
    onFileChange,
    ...(imageUpdates ? { imageUpdates } : {}),
    serviceImageUpdates,
    problems,
    warnings,
  }
}

/** `off`, `detect` or `apply`; anything else is a problem of the stack. */
function readImagePolicy(value: unknown, key: string, problems: string[]): ImagePolicy | undefined {
  if (value === undefined || value === null) return undefined
  if (IMAGE_POLICIES.includes(value as ImagePolicy)) return value as ImagePolicy
  problems.push(`${key} must be one of ${IMAGE_POLICIES.join(', ')}`)
  return undefined
}

/** A list of stack names (one name alone is taken as a list of one). */
function readNames(value: unknown, key: string, problems: string[]): string[] {
  if (value === undefined || value === null) return []
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || list.some((name) => typeof name !== 'string' || name === '')) {
    problems.push(`${key} must be a list of stack names (directory names)`)
    return []
  }
  return [...new Set(list as string[])].sort()
}

/** `services: { <name>: { on_file_change: recreate|restart } }`: per-service choices. */
function readServices(
  value: unknown,
  problems: string[],
  warnings: string[],
): {
  onFileChange: Record<string, FileChangeAction>
  serviceImageUpdates: Record<string, ImagePolicy>
} {
  const key = `${EXTENSION_KEY}.services`
  // No prototype: a service named `__proto__` is a key like any other.
  const onFileChange: Record<string, FileChangeAction> = Object.create(null)
  const serviceImageUpdates: Record<string, ImagePolicy> = Object.create(null)
  const result = { onFileChange, serviceImageUpdates }
  if (value === undefined || value === null) return result
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${key} must be a mapping of service names to settings`)
    return result
  }
  for (const [service, settings] of Object.entries(value as Record<string, unknown>)) {
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
      problems.push(`${key}.${service} must be a mapping of settings`)
      continue
    }
    const fields = settings as Record<string, unknown>
    for (const unknownKey of Object.keys(fields).filter(
      (name) => !(SERVICE_KEYS as readonly string[]).includes(name),
    ))
      warnings.push(
        `${key}.${service}.${unknownKey} is not a setting docker-cd knows (ignored); known: ${SERVICE_KEYS.join(', ')}`,
      )
    const policy = readImagePolicy(
      fields.image_updates,
      `${key}.${service}.image_updates`,
      problems,
    )
    if (policy) serviceImageUpdates[service] = policy
    const action = fields.on_file_change
    if (action === undefined || action === null) continue
    if (!FILE_CHANGE_ACTIONS.includes(action as FileChangeAction)) {
      problems.push(
        `${key}.${service}.on_file_change must be one of ${FILE_CHANGE_ACTIONS.join(', ')} (a signal is not offered: a single-file bind mount keeps the old file's inode until the container starts again)`,
      )
      continue
    }
    onFileChange[service] = action as FileChangeAction
  }
  return result
}

/** Settings naming a service the stack does not have: a warning each (a typo, or a service removed). */
export function withServiceNames(
  settings: StackSettings,
  services: readonly string[],
): StackSettings {
  const unknown = [
    ...new Set([
      ...Object.keys(settings.onFileChange),
      ...Object.keys(settings.serviceImageUpdates),
    ]),
  ].filter((name) => !services.includes(name))
  if (unknown.length === 0) return settings
  return {
    ...settings,
    warnings: [
      ...settings.warnings,
      ...unknown.map(
        (name) =>
          `${EXTENSION_KEY}.services.${name} names no service of this stack (ignored); its services: ${services.join(', ')}`,
      ),
    ],
  }
}
