// A host refuses the whole status (GitHub: 422) when a field is longer than it
// allows, so a long failure reason is cut to fit rather than lost.

const ELLIPSIS = '…'

/**
 * `text` cut to at most `max` characters (UTF-16 code units, as the hosts
 * count), ending in an ellipsis when cut; never splits a surrogate pair.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text
  let end = max - ELLIPSIS.length
  const last = text.charCodeAt(end - 1)
  // A high surrogate without its low half would be an invalid character.
  if (last >= 0xd800 && last <= 0xdbff) end -= 1
  return `${text.slice(0, end).trimEnd()}${ELLIPSIS}`
}
