import { parseExactJson } from '../../db/exact-json.js';
import type { ErrorDetail } from '../../errors.js';
import type { FieldMeta } from '../../metadata/registry.js';
import { isObject } from '../../metadata/problems.js';
import { coerceInput } from '../../types/coerce.js';
import { UUID_RE } from '../../types/ids.js';
import type { Record_ } from '../context.js';
import type { RowPlan } from './plan.js';

/** A string holding a JSON object with a file `id`, parsed; undefined for anything else. */
function storedFileString(value: string): Record_ | undefined {
  if (!value.trimStart().startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    // Exact: a number a double would change keeps its digits, as in an object sent as such.
    parsed = parseExactJson(value);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || typeof parsed.id !== 'string' || parsed.id === '' || !coerceInput({ type: 'json' }, parsed).ok) return undefined;
  return parsed;
}

/**
 * Puts a value into a `file` field of the row (spec: files.md §file field type), whether the client sent it,
 * a computed rule produced it or a state-machine `set_field` action set it: a file id is resolved to its
 * metadata by the files stage, after rules and state machines; an object (or a legacy client's JSON string
 * of one) is stored as given; null clears the field. A value set later replaces an id queued earlier. Anything else → the 422 detail.
 */
export function setFileValue(f: FieldMeta, value: unknown, where: string, row: Pick<RowPlan, 'values' | 'files'>): ErrorDetail | undefined {
  for (let i = row.files.length - 1; i >= 0; i--) if (row.files[i]!.field === f.name) row.files.splice(i, 1);
  if (value === null) {
    row.values[f.name] = null;
    return undefined;
  }
  if (typeof value === 'string' && UUID_RE.test(value)) {
    row.files.push({ field: f.name, id: value.toLowerCase() });
    row.values[f.name] = value;
    return undefined;
  }
  if (isObject(value) && coerceInput({ type: 'json' }, value).ok) {
    row.values[f.name] = value;
    return undefined;
  }
  const stored = typeof value === 'string' ? storedFileString(value) : undefined;
  if (stored) {
    row.values[f.name] = stored;
    return undefined;
  }
  return { field: where, rule: 'type', message: `${f.name} must be file` };
}
