import { type KeyObject, createHmac, timingSafeEqual } from 'node:crypto';
import { StoredTimestamp } from '../db/stored-timestamp.js';
import { invalidPayload } from '../errors.js';
import type { EntityMeta } from '../metadata/registry.js';
import { INEXACT, filterTarget, type ListFilter, type SortKey } from '../metadata/sql/conditions.js';

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

function mac(key: KeyObject, binding: string, payload: string): string {
  // One update: each call crosses into OpenSSL, and every list answer with a next page signs one cursor.
  return createHmac('sha256', key).update(`${binding}\n${payload}`).digest('base64url').slice(0, MAC_CHARS);
}

export function encodeCursor(key: KeyObject, binding: string, values: ReadonlyArray<string | null>): string {
  const payload = Buffer.from(JSON.stringify(values)).toString('base64url');
  return `${payload}.${mac(key, binding, payload)}`;
}

const invalidCursor = () => invalidPayload('Invalid cursor: it is malformed, altered, or was made for another sort or other filters');

/** The key values of a cursor made for this binding; 400 otherwise. */
export function decodeCursor(key: KeyObject, binding: string, cursor: string, keyCount: number): Array<string | null> {
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

/** The cursor values of a fetched row (with the columns of keyTextSelect; a timestamp as PostgreSQL wrote it). */
export function keyValues(keys: readonly SortKey[], row: Record<string, unknown>): Array<string | null> {
  return keys.map((k, i) => {
    const v = INEXACT.has(k.field.type) ? row[`rocket.k${i}`] : row[k.field.name];
    if (v === null || v === undefined) return null;
    return v instanceof StoredTimestamp ? v.pgText : String(v);
  });
}
