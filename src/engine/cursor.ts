import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalidPayload } from '../errors.js';
import type { EntityMeta, FieldMeta } from '../metadata/registry.js';
import type { Params } from './params.js';
import type { ListFilter } from './list-query.js';
import { filterTarget, type SortKey } from './query.js';

/**
 * Keyset pagination (spec: rest-api.md `cursor`). A cursor holds the sort-key values of the last
 * row of a page, as PostgreSQL's text of each value (exact: timestamps keep their microseconds,
 * decimals and bigints all their digits), and a MAC over those values and what the list was:
 * entity, sort keys and the user's filters after normalisation (`x` = `x.eq`, order irrelevant).
 * A cursor that was altered, or is replayed against another sort or other filters, fails the MAC
 * and is refused with 400. Only the values are readable by the client; they are values of a row
 * the caller was shown.
 */

const MAC_CHARS = 22; // 128 bits of base64url

/** What a cursor is bound to. */
export function cursorBinding(entity: EntityMeta, keys: readonly SortKey[], filters: readonly ListFilter[]): string {
  const normal = filters
    .map(({ key, value }) => {
      const { name, op } = filterTarget(entity, key);
      return JSON.stringify([name, op, value]);
    })
    .sort();
  return JSON.stringify([entity.name, keys.map((k) => [k.field.name, k.desc]), normal]);
}

function mac(key: Uint8Array, binding: string, payload: string): string {
  return createHmac('sha256', key).update(binding).update('\n').update(payload).digest('base64url').slice(0, MAC_CHARS);
}

export function encodeCursor(key: Uint8Array, binding: string, values: ReadonlyArray<string | null>): string {
  const payload = Buffer.from(JSON.stringify(values)).toString('base64url');
  return `${payload}.${mac(key, binding, payload)}`;
}

const invalidCursor = () => invalidPayload('Invalid cursor: it is malformed, altered, or was made for another sort or other filters');

/** The key values of a cursor made for this binding; 400 otherwise. */
export function decodeCursor(key: Uint8Array, binding: string, cursor: string, keyCount: number): Array<string | null> {
  const dot = cursor.indexOf('.');
  if (dot <= 0 || cursor.length > 8192) throw invalidCursor();
  const payload = cursor.slice(0, dot);
  const given = Buffer.from(cursor.slice(dot + 1));
  const expected = Buffer.from(mac(key, binding, payload));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidCursor();
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(values) || values.length !== keyCount || values.some((v) => v !== null && typeof v !== 'string')) {
    throw invalidCursor();
  }
  return values as Array<string | null>;
}

/** Types whose JavaScript value is not PostgreSQL's exact value: the cursor takes their text from SQL. */
const INEXACT = new Set(['timestamp', 'decimal', 'float', 'bigint', 'json', 'file']);

export const keyAlias = (i: number) => `"rocket.k${i}"`;

/** Extra select-list items giving the exact text of the sort keys that need it. */
export function keyTextSelect(keys: readonly SortKey[], alias = ''): string {
  return keys.map((k, i) => (INEXACT.has(k.field.type) ? `, ${alias}${k.field.col}::text AS ${keyAlias(i)}` : '')).join('');
}

/** The cursor values of a fetched row (with the columns of keyTextSelect). */
export function keyValues(keys: readonly SortKey[], row: Record<string, unknown>): Array<string | null> {
  return keys.map((k, i) => {
    const v = INEXACT.has(k.field.type) ? row[`rocket.k${i}`] : row[k.field.name];
    return v === null || v === undefined ? null : String(v);
  });
}

const notNull = (f: FieldMeta, entity: EntityMeta) => f === entity.pk || Boolean(f.required && !f.nullable);

/**
 * "After the cursor's row" in the order of the keys. One direction and no NULL in play → a row
 * comparison, which an index on the leading keys serves; otherwise the expanded form with
 * PostgreSQL's NULL placement (last when ascending, first when descending).
 */
export function keysetSql(entity: EntityMeta, keys: readonly SortKey[], values: ReadonlyArray<string | null>, params: Params, alias = ''): string {
  const bound = values.map((v, i) => (v === null ? undefined : `${params.add(v, 'text')}::${keys[i]!.field.cast}`));
  const desc = keys[0]!.desc;
  const oneDirection = keys.every((k) => k.desc === desc);
  // Descending puts NULLs first: rows with a NULL key are already behind a non-NULL cursor value.
  if (oneDirection && bound.every((b) => b !== undefined) && (desc || keys.every((k) => notNull(k.field, entity)))) {
    return `(${keys.map((k) => alias + k.field.col).join(', ')}) ${desc ? '<' : '>'} (${bound.join(', ')})`;
  }
  const terms: string[] = [];
  const equal: string[] = [];
  keys.forEach((k, i) => {
    const col = alias + k.field.col;
    const p = bound[i];
    const after = k.desc ? (p ? `${col} < ${p}` : `${col} IS NOT NULL`) : p ? `(${col} > ${p} OR ${col} IS NULL)` : undefined;
    if (after) terms.push([...equal, after].join(' AND '));
    equal.push(p ? `${col} = ${p}` : `${col} IS NULL`);
  });
  return terms.length ? `(${terms.map((t) => `(${t})`).join(' OR ')})` : 'FALSE';
}
