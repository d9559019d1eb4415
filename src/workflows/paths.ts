import { exactJson, parseExactJson } from '../db/exact-json.js';
/**
 * Dot-paths (not expressions) used by workflow context maps, action
 * `record_id` / data values and relation assignees: `trigger.record.amount`,
 * `context.items.0.id`. A missing key, a member of a non-object or a path that
 * does not start at a root name gives null.
 */
export function resolvePath(root: Record<string, unknown>, path: unknown): unknown {
  if (typeof path !== 'string' || path === '') return null;
  let cur: unknown = root;
  for (const key of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(key)) cur = cur[Number(key)];
    else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, key)) cur = (cur as Record<string, unknown>)[key];
    else return null;
  }
  return cur === undefined ? null : cur;
}

/**
 * A plain JSON copy: Dates become RFC 3339 strings, undefined keys disappear; an int8 beyond 2^53 or a long
 * decimal (an ExactNumber) stays that number (JSON.stringify would make it a string of its digits).
 */
export function toJson<T>(value: T): T {
  return value === undefined ? (null as T) : (parseExactJson(exactJson(value)) as T);
}
