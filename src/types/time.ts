/** The current instant as RFC 3339 in UTC with milliseconds, the clock of a write. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** An instant as RFC 3339 in UTC with second precision (exports, `now` values, webhook timestamps). */
export function isoSeconds(at: Date | string = new Date()): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}
