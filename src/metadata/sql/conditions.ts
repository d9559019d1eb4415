import type { PermissionCondition, ReadScope } from '../../auth/permissions.js';
import type { Params } from '../../db/params.js';
import { RocketError, invalidPayload } from '../../errors.js';
import { coerceFilter } from '../../types/coerce.js';
import {
  INSTANT_PATTERN,
  INT8_MAX,
  NUMBER_TEXT_MAX,
  NUMBER_TEXT_PATTERN,
  ceilDecimal,
  comparableField,
  conditionNumber,
  conditionText,
  decimalParam,
  floorDecimal,
  orderingBound,
  pgInstantText,
  storedValueWithText,
} from '../../types/condition-values.js';
import { compareDecimals, type Decimal } from '../../db/exact-number.js';
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

type Ordering = 'gt' | 'gte' | 'lt' | 'lte';
const ORDER_SQL: Record<Ordering, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };
const holdsFor = (cmp: number, op: Ordering) => (op === 'gt' ? cmp > 0 : op === 'gte' ? cmp >= 0 : op === 'lt' ? cmp < 0 : cmp <= 0);
const ZERO: Decimal = { m: 0n, e: 0 };

/*
 * Permission conditions as read filters (spec: auth.md §Evaluation). The update/delete check decides on
 * the decoded row in JavaScript (types/condition-values.ts); these predicates pass exactly the rows it
 * passes. Values whose text or number no stored value of the column type can have are settled here, so
 * what reaches SQL is the column's own typed comparison, which its indexes serve; only a text column
 * compared numerically or by date, and a float against a bound no double prints as, need casts.
 */

/** A stored value's text is one of `texts` (eq, in), or (negated) is none of them (neq, not_in). */
function textMatchSql(field: FieldMeta, col: string, texts: readonly string[], negate: boolean, params: Params): string {
  const values = [...new Set(texts.map((t) => storedValueWithText(field.type, t)).filter((v) => v !== undefined))];
  if (values.length === 0) return negate ? `${col} IS NOT NULL` : 'FALSE';
  if (field.type === 'timestamp') {
    // A stored timestamp reads as its millisecond (Date): the text names [t, t + 1 ms).
    const ms = values.map((v) => Date.parse(v));
    if (ms.length === 1) {
      const from = params.add(pgInstantText(ms[0]!), 'timestamptz');
      const to = params.add(pgInstantText(ms[0]! + 1), 'timestamptz');
      return negate ? `(${col} < ${from} OR ${col} >= ${to})` : `(${col} >= ${from} AND ${col} < ${to})`;
    }
    const list = params.add(ms.map(pgInstantText), 'text[]');
    return `date_trunc('milliseconds', ${col}) ${negate ? '<> ALL' : '= ANY'}(${list}::timestamptz[])`;
  }
  if (values.length === 1) {
    // postgres.js writes a bool parameter from a JS boolean only (any string becomes false).
    const value = field.type === 'boolean' ? values[0] === 'true' : values[0]!;
    return `${col} ${negate ? '<>' : '='} ${params.add(value, field.cast)}`;
  }
  return `${col} ${negate ? '<> ALL' : '= ANY'}(${params.add(values, 'text[]')}::${field.cast}[])`;
}

/** `col op n` over an integer column, with n's floor or ceiling: the comparison an index serves. */
function integerOrderSql(col: string, op: Ordering, d: Decimal, params: Params): string {
  const up = op === 'gte' || op === 'lt';
  const bound = up ? ceilDecimal(d) : floorDecimal(d);
  const above = op === 'gt' || op === 'gte';
  if (bound > INT8_MAX) return above ? 'FALSE' : `${col} IS NOT NULL`;
  if (bound < -INT8_MAX - 1n) return above ? `${col} IS NOT NULL` : 'FALSE';
  return `${col} ${ORDER_SQL[op]} ${params.add(bound.toString(), 'int8')}`;
}

/** gt/gte/lt/lte against a number: exact comparison of the column's number (a non-number counts as 0). */
function numberOrderSql(field: FieldMeta, col: string, op: Ordering, d: Decimal, params: Params): string {
  const sqlOp = ORDER_SQL[op];
  switch (field.type) {
    case 'int':
    case 'integer':
    case 'bigint':
      return integerOrderSql(col, op, d, params);
    case 'decimal':
      return `${col} ${sqlOp} ${params.add(decimalParam(d), 'numeric')}`;
    case 'float': {
      // A double reads as its shortest decimal (what JSON writes), which orders as the doubles do; a bound
      // between two doubles compares with that decimal, float8's text.
      const n = String(Number(decimalParam(d)));
      if (compareDecimals(conditionNumber(n) ?? ZERO, d) === 0) return `${col} ${sqlOp} ${params.add(n, 'float8')}`;
      return `${col}::text::numeric ${sqlOp} ${params.add(decimalParam(d), 'numeric')}`;
    }
    case 'string':
    case 'text': {
      const number = `CASE WHEN char_length(${col}) <= ${NUMBER_TEXT_MAX} AND ${col} ~ '${NUMBER_TEXT_PATTERN}' THEN ${col}::numeric ELSE 0 END`;
      return `(${col} IS NOT NULL AND (${number}) ${sqlOp} ${params.add(decimalParam(d), 'numeric')})`;
    }
    default: // booleans, UUIDs, dates and timestamps are no numbers: 0
      return holdsFor(compareDecimals(ZERO, d), op) ? `${col} IS NOT NULL` : 'FALSE';
  }
}

/** gt/gte/lt/lte against a date: instants compared at the millisecond (a value that is no date never holds). */
function instantOrderSql(field: FieldMeta, col: string, op: Ordering, ms: number, params: Params): string {
  let value: string;
  if (field.type === 'timestamp' || field.type === 'date') value = col;
  else if (field.type === 'string' || field.type === 'text') {
    // Digits past the millisecond are dropped, as Date drops them (PostgreSQL would round at the microsecond).
    value = `(CASE WHEN ${col} ~ '${INSTANT_PATTERN}' THEN regexp_replace(${col}, '([.][0-9]{3})[0-9]+', '\\1')::timestamptz END)`;
  } else return 'FALSE';
  // At the millisecond: trunc(v) > t ⇔ v ≥ t + 1 ms, trunc(v) ≤ t ⇔ v < t + 1 ms.
  const after = op === 'gt' || op === 'lte';
  const sqlOp = op === 'gt' || op === 'gte' ? '>=' : '<';
  return `${value} ${sqlOp} ${params.add(pgInstantText(after ? ms + 1 : ms), 'timestamptz')}`;
}

function conditionSql(entity: EntityMeta, c: PermissionCondition, params: Params, alias: string): string {
  const field = entity.fields.get(c.field);
  // A condition on a field the entity lacks, or on a json or file one, matches nothing.
  if (!field || !comparableField(field)) return 'FALSE';
  const col = alias + field.col;
  switch (c.operator) {
    case 'eq':
    case 'neq':
      return textMatchSql(field, col, [conditionText(c.value, field.type)], c.operator === 'neq', params);
    case 'in':
    case 'not_in': {
      if (!Array.isArray(c.value)) return 'FALSE';
      const texts = c.value.map((v) => conditionText(v, field.type));
      return textMatchSql(field, col, texts, c.operator === 'not_in', params);
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const bound = orderingBound(c.value);
      return bound.kind === 'number'
        ? numberOrderSql(field, col, c.operator, bound.d, params)
        : instantOrderSql(field, col, c.operator, bound.ms, params);
    }
    default:
      return 'FALSE';
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

/**
 * Types whose JavaScript value is not PostgreSQL's exact value: the cursor takes their text from SQL. A
 * timestamp is not among them: its value keeps PostgreSQL's text (db/stored-timestamp.ts).
 */
export const INEXACT = new Set(['decimal', 'float', 'bigint', 'json', 'file']);

export const keyAlias = (i: number) => `"rocket.k${i}"`;

/** Extra select-list items giving the exact text of the sort keys that need it. */
export function keyTextSelect(keys: readonly SortKey[], alias = ''): string {
  return keys.map((k, i) => (INEXACT.has(k.field.type) ? `, ${alias}${k.field.col}::text AS ${keyAlias(i)}` : '')).join('');
}

// The column, not the metadata: a `required` field may hold NULL in rows older than the field (registry.ts).
const notNull = (f: FieldMeta, entity: EntityMeta) => f === entity.pk || f.notNull;

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
  // Built from the last key back, `after(k1) OR (k1 = v1 AND (after(k2) OR (k2 = v2 AND …)))`: its size grows
  // with the keys, where the OR of every prefix grows with their square (hundreds of keys took seconds to plan).
  let rest: string | undefined;
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i]!;
    const col = alias + k.field.col;
    const p = bound[i];
    const after = k.desc ? (p ? `${col} < ${p}` : `${col} IS NOT NULL`) : p ? `(${col} > ${p} OR ${col} IS NULL)` : undefined;
    const tie = rest === undefined ? undefined : `${p ? `${col} = ${p}` : `${col} IS NULL`} AND ${rest}`;
    rest = after === undefined ? (tie === undefined ? undefined : `(${tie})`) : tie === undefined ? after : `(${after} OR ${tie})`;
  }
  return rest ?? 'FALSE';
}
