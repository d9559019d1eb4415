import type { PermissionCondition, ReadScope } from '../../auth/permissions.js';
import type { Params } from '../../db/params.js';
import { RocketError, invalidPayload } from '../../errors.js';
import { coerceFilter } from '../../types/coerce.js';
import { FILTER_OPERATORS, type FilterOp } from '../../types/filter-operators.js';
import { DELETED_AT, type EntityMeta, type FieldMeta } from '../registry.js';

/**
 * Conditions and orders over entity tables: the pieces statements.ts puts together. Every name is checked
 * against the registry before any text exists; every value is a bind parameter.
 */

/** `filter[<key>]=<value>` of a list or a stream: `<key>` is `<field>` or `<field>.<op>`. */
export interface ListFilter {
  key: string;
  /** Raw text; a repeated parameter gives a list (only `in` / `not_in` accept one). */
  value: string | string[];
}

const SQL_OP: Record<Exclude<FilterOp, 'in' | 'not_in'>, string> = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  like: 'LIKE',
};

function filterValue(field: FieldMeta, raw: string): unknown {
  const c = coerceFilter(field, raw);
  if (!c.ok) throw invalidPayload(`Invalid filter value for ${field.name}: ${JSON.stringify(raw)} is not ${field.type}`);
  return c.value;
}

/** `<field>` or `<field>.<op>` of a filter key (a declared field name containing a dot wins). */
export function filterTarget(entity: EntityMeta, key: string): { name: string; op: string } {
  const dot = key.lastIndexOf('.');
  if (dot >= 0 && !entity.fields.has(key)) return { name: key.slice(0, dot), op: key.slice(dot + 1) };
  return { name: key, op: 'eq' };
}

/** SQL conditions of the user's filters (ANDed), checked against the registry before any SQL exists. */
export function filterSql(entity: EntityMeta, filters: readonly ListFilter[], params: Params, alias = ''): string[] {
  const out: string[] = [];
  for (const { key, value } of filters) {
    const { name, op } = filterTarget(entity, key);
    const field = entity.fields.get(name);
    if (!field) throw new RocketError('UNKNOWN_FIELD', `Unknown filter field: ${name}`);
    if (!(FILTER_OPERATORS as readonly string[]).includes(op)) throw invalidPayload(`Unknown filter operator: ${op}`);
    if (field.type === 'json' || field.type === 'file') {
      throw invalidPayload(`Invalid filter value for ${field.name}: ${field.type} fields cannot be filtered`);
    }
    const col = alias + field.col;
    if (Array.isArray(value) && op !== 'in' && op !== 'not_in')
      throw invalidPayload(`Invalid filter value for ${field.name}: a list needs in or not_in`);
    if (op === 'in' || op === 'not_in') {
      const items = (Array.isArray(value) ? value : value.split(',')).map((v) => filterValue(field, v.trim()));
      // postgres.js types an array of JS booleans as a single bool: send booleans as text and cast the array.
      const p = field.type === 'boolean' ? `${params.add(items.map(String), 'text[]')}::bool[]` : params.add(items as string[], `${field.cast}[]`);
      out.push(op === 'in' ? `${col} = ANY(${p})` : `${col} <> ALL(${p})`);
    } else if (op === 'like') {
      if (field.type !== 'string' && field.type !== 'text') {
        throw invalidPayload(`Invalid filter value for ${field.name}: like needs a string field`);
      }
      const pattern = filterValue(field, value as string) as string;
      // Backslash escapes the next character (`\%` is a literal %); a trailing lone one escapes nothing.
      if (/(^|[^\\])(\\\\)*\\$/.test(pattern)) {
        throw invalidPayload(
          `Invalid filter value for ${field.name}: a like pattern cannot end with an unescaped backslash (write \\\\ for a literal one)`,
        );
      }
      out.push(`${col} LIKE ${params.add(pattern, 'text')}`);
    } else {
      out.push(`${col} ${SQL_OP[op as keyof typeof SQL_OP]} ${params.add(filterValue(field, value as string) as string, field.cast)}`);
    }
  }
  return out;
}

export interface SortKey {
  field: FieldMeta;
  desc: boolean;
}

export function orderSql(keys: readonly SortKey[], alias = ''): string {
  return ` ORDER BY ${keys.map((k) => `${alias}${k.field.col} ${k.desc ? 'DESC' : 'ASC'}`).join(', ')}`;
}

/**
 * A bound an integer field's type refuses (`n lt 10.5`), as the number it is: compared numerically, as the
 * update check compares it, instead of matching nothing.
 */
function numericBound(field: FieldMeta, value: unknown, params: Params): string | undefined {
  if (field.type !== 'int' && field.type !== 'integer' && field.type !== 'bigint') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? params.add(String(n), 'numeric') : undefined;
}

function conditionSql(entity: EntityMeta, c: PermissionCondition, params: Params, alias: string): string {
  const field = entity.fields.get(c.field);
  if (!field) return 'FALSE'; // a condition on a field the entity lacks matches nothing
  const col = alias + field.col;
  const typed = (v: unknown) => {
    const coerced = v === null || v === undefined ? { ok: false as const } : coerceFilter(field, String(v));
    return coerced.ok ? params.add(coerced.value as string, field.cast) : undefined;
  };
  switch (c.operator) {
    case 'eq':
    case 'neq': {
      const p = typed(c.value);
      const op = c.operator === 'eq' ? '=' : '<>';
      return p ? `${col} ${op} ${p}` : `${col}::text ${op} ${params.add(String(c.value), 'text')}`;
    }
    case 'in':
    case 'not_in': {
      const list = Array.isArray(c.value) ? c.value.map(String) : [];
      const p = params.add(list, 'text[]');
      return c.operator === 'in' ? `${col}::text = ANY(${p})` : `${col}::text <> ALL(${p})`;
    }
    default: {
      const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.operator];
      const p = typed(c.value) ?? numericBound(field, c.value, params);
      return p ? `${col} ${op} ${p}` : 'FALSE';
    }
  }
}

/** Row-level read filter of a permission scope; undefined when every row is visible. */
export function scopeSql(entity: EntityMeta, scope: ReadScope, params: Params, alias = ''): string | undefined {
  if (scope.kind === 'all') return undefined;
  if (scope.groups.length === 0) return 'FALSE';
  const groups = scope.groups.map((g) => (g.length === 0 ? 'TRUE' : `(${g.map((c) => conditionSql(entity, c, params, alias)).join(' AND ')})`));
  return `(${groups.join(' OR ')})`;
}

export function liveSql(entity: EntityMeta, alias = ''): string | undefined {
  return entity.softDelete ? `${alias}${DELETED_AT} IS NULL` : undefined;
}

export function whereSql(parts: ReadonlyArray<string | undefined>): string {
  const present = parts.filter((p): p is string => p !== undefined && p !== '');
  return present.length ? ` WHERE ${present.join(' AND ')}` : '';
}

/** Types whose JavaScript value is not PostgreSQL's exact value: the cursor takes their text from SQL. */
export const INEXACT = new Set(['timestamp', 'decimal', 'float', 'bigint', 'json', 'file']);

export const keyAlias = (i: number) => `"rocket.k${i}"`;

/** Extra select-list items giving the exact text of the sort keys that need it. */
export function keyTextSelect(keys: readonly SortKey[], alias = ''): string {
  return keys.map((k, i) => (INEXACT.has(k.field.type) ? `, ${alias}${k.field.col}::text AS ${keyAlias(i)}` : '')).join('');
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
