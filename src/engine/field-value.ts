import type { ErrorDetail } from '../errors.js';
import type { FieldMeta } from '../metadata/registry.js';
import { coerceInput, isEnumMember } from '../types/coerce.js';

/**
 * A value about to be written to a field — sent by the client, computed by a rule or set by a state-machine
 * action — as it is bound, or the 422 detail it earns: its type first, then its field's `enum` (metadata.md:
 * "on create and update", whoever produced the value).
 */
export function fieldValue(f: FieldMeta, value: unknown, where: string): { ok: true; value: unknown } | { ok: false; detail: ErrorDetail } {
  const coerced = coerceInput(f, value);
  if (!coerced.ok) return { ok: false, detail: { field: where, rule: 'type', message: `${f.name} must be ${f.type}` } };
  const v = coerced.value;
  if (v !== null && f.enum && f.enumKeys && !isEnumMember(f, f.enum, v, f.enumKeys)) {
    return { ok: false, detail: { field: where, rule: 'enum', message: `${f.name} must be one of: ${f.enum.join(', ')}` } };
  }
  return { ok: true, value: coerced.value };
}
