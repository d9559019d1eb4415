import { invalidPayload, notFound } from '../errors.js';
import type { EntityMeta } from '../metadata/registry.js';
import { entityOf, type OpContext, recordOf, type Record_ } from './context.js';

export { recordOf } from './context.js';
import { attachIncludes, resolveIncludes } from './includes.js';
import { Params } from '../db/params.js';
import { cursorBinding, decodeCursor, encodeCursor, keyValues } from './cursor.js';
import { filterSql, keyTextSelect, keysetSql, liveSql, orderSql, scopeSql, whereSql } from '../metadata/sql/conditions.js';
import { countSql, countedPageSql, estimateSql, pageSql as pageStatement, selectRows } from '../metadata/sql/statements.js';
import { sortKeys } from './query.js';
import type { CountStrategy, ListQuery } from './list-query.js';
import { DEFAULT_LIST_SETTINGS } from './list-settings.js';
import { CANONICAL_UUID_RE, UUID_RE } from '../types/ids.js';
import type { Queryable, SqlParam } from '../db/database.js';

export interface ListMeta {
  page: number;
  per_page: number;
  /** Absent with `count=none`. */
  total?: number;
  /** With `count=estimated`, when `total` is the planner's estimate. */
  total_estimated?: true;
  /** Continues after this page's last row; null on the last page. */
  next_cursor: string | null;
}

export interface ListResult {
  data: Record_[];
  meta: ListMeta;
}

const TOTAL = 'rocket.total';
/** The planner's row estimate for a WHERE clause (one EXPLAIN, no rows read). */
async function estimateRows(db: Queryable, entity: EntityMeta, where: string, params: readonly SqlParam[]): Promise<number> {
  const rows = await db.query<{ 'QUERY PLAN': Array<{ Plan?: { 'Plan Rows'?: number } }> }>(estimateSql(entity, where), params);
  return Math.round(rows[0]?.['QUERY PLAN']?.[0]?.Plan?.['Plan Rows'] ?? 0);
}

/**
 * GET /:entity — entity → read permission → the query's names checked against the registry → read filters → page (+ count, per the
 * `count` strategy) → includes. Pages are in a total order (sort keys + primary key); one row past
 * the page tells whether a next cursor exists.
 */
export async function listRecords(ctx: OpContext, entityName: string, query: ListQuery): Promise<ListResult> {
  const entity = entityOf(ctx.app, entityName);
  const scope = ctx.app.permissions.readScope(ctx.caller, entity.name);
  if (query.malformed?.length) throw invalidPayload(`Invalid filter parameter: ${query.malformed[0]}`);
  if (query.invalidCount !== undefined) throw invalidPayload(`Invalid count: ${JSON.stringify(query.invalidCount)} (exact, estimated or none)`);
  const settings = ctx.app.listSettings ?? DEFAULT_LIST_SETTINGS;
  const count: CountStrategy = query.count;
  const params = new Params();
  const conditions = [liveSql(entity), ...filterSql(entity, query.filters, params), scopeSql(entity, scope, params)];
  const where = whereSql(conditions);
  const keys = sortKeys(entity, query.sort);
  const includes = resolveIncludes(entity, query.include, ctx);
  const { page, perPage } = query;
  const binding = cursorBinding(entity, keys, query.filters);
  const countParams = params.list.length;
  let pageWhere = where;
  let offset = Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER);
  if (query.cursor !== undefined) {
    const after = decodeCursor(settings.cursorKey, binding, query.cursor, keys.length);
    pageWhere = whereSql([...conditions, keysetSql(entity, keys, after, params)]);
    offset = 0;
  }
  const limit = params.add(perPage + 1, 'int4');
  // Any offset past 2^53 is past every row; clamping keeps huge page numbers a valid int8 (→ empty page).
  const off = params.add(offset, 'int8');
  const pageSql = pageStatement(entity, pageWhere, orderSql(keys), limit, off, {
    keyText: keyTextSelect(keys, 'r.'),
    outerOrder: orderSql(keys, 'r.'),
  });

  let rows: Record_[];
  let total: number | undefined;
  let estimated = false;
  if (count === 'exact') {
    // Count and page in one round trip; the lateral page may be empty while the count is not.
    rows = await ctx.app.db.query<Record_>(countedPageSql(entity, where, pageSql, TOTAL), params.list);
    total = Number(rows[0]?.[TOTAL] ?? 0);
    rows = rows.filter((r) => r[entity.pk.name] !== null && r[entity.pk.name] !== undefined);
  } else if (count === 'none') {
    rows = await ctx.app.db.query<Record_>(pageSql, params.list);
  } else {
    const countOnly = params.list.slice(0, countParams);
    const [estimate, pageRows] = await Promise.all([
      estimateRows(ctx.app.db, entity, where, countOnly),
      ctx.app.db.query<Record_>(pageSql, params.list),
    ]);
    rows = pageRows;
    if (estimate >= settings.countEstimateThreshold) {
      total = estimate;
      estimated = true;
    } else {
      const counted = await ctx.app.db.query<{ n: number }>(countSql(entity, where), countOnly);
      total = Number(counted[0]?.n ?? 0);
    }
  }
  const more = rows.length > perPage;
  const data: Record_[] = [];
  for (let i = 0; i < rows.length && i < perPage; i++) data.push(recordOf(entity, rows[i]!));
  await attachIncludes(ctx, entity, data, includes);
  const meta: ListMeta = {
    page,
    per_page: perPage,
    ...(total !== undefined && { total }),
    ...(estimated && { total_estimated: true as const }),
    next_cursor: more ? encodeCursor(settings.cursorKey, binding, keyValues(keys, rows[perPage - 1]!)) : null,
  };
  return { data, meta };
}

/** Whether `id` can be a value of the entity's primary key (else it is a slug, or simply not found). */
export function looksLikePk(entity: EntityMeta, id: string): boolean {
  switch (entity.def.primary_key.type) {
    case 'uuid':
      return UUID_RE.test(id);
    case 'int':
      return /^-?\d+$/.test(id) && Math.abs(Number(id)) <= 2147483647;
    case 'bigint':
      return /^-?\d+$/.test(id) && BigInt(id) <= 9223372036854775807n && BigInt(id) >= -9223372036854775808n;
    case 'string':
      return !id.includes('\u0000');
  }
}

/**
 * What "looks like a PK" for the slug-or-PK decision (rest-api.md §Get): lowercase UUIDs and unsigned
 * digits only, a string PK never, so an uppercase UUID or '-5' is tried as a slug before the PK.
 */
const PK_SHAPE: Record<EntityMeta['def']['primary_key']['type'], RegExp> = {
  uuid: CANONICAL_UUID_RE,
  int: /^\d+$/,
  bigint: /^\d+$/,
  string: /(?!)/,
};

/**
 * Finds a live record by PK or slug (spec: rest-api.md §Get lookup), within
 * an optional extra condition (row-level read filter). Undefined when absent.
 */
export async function findRecord(
  db: Queryable,
  entity: EntityMeta,
  id: string,
  opts: { scope?: (params: Params) => string | undefined; forUpdate?: boolean } = {},
): Promise<Record_ | undefined> {
  // No stored key or slug can hold a NUL (PostgreSQL text cannot); binding one would fail as a bad value.
  if (id.includes('\u0000')) return undefined;
  const slug = entity.def.slug;
  const attempts: Array<'slug' | 'pk'> = [];
  if (slug && !PK_SHAPE[entity.def.primary_key.type].test(id)) attempts.push('slug');
  // A value the PK column cannot hold (e.g. 'abc' for a uuid PK) names no record by PK.
  if (looksLikePk(entity, id)) attempts.push('pk');
  for (const by of attempts) {
    const params = new Params();
    const field = by === 'slug' ? entity.fields.get(slug!.field)! : entity.pk;
    const where = [`${field.col} = ${params.add(id, field.cast)}`, liveSql(entity), opts.scope?.(params)];
    const rows = await db.query<Record_>(selectRows(entity, where, { forUpdate: opts.forUpdate }), params.list);
    if (rows[0]) return rows[0];
  }
  return undefined;
}

export function recordNotFound(entity: EntityMeta, id: string): Error {
  return notFound(`${entity.name} with id ${id} not found`);
}

/** GET /:entity/:id */
export async function getRecord(ctx: OpContext, entityName: string, id: string, include: readonly string[] = []): Promise<Record_> {
  const entity = entityOf(ctx.app, entityName);
  const scope = ctx.app.permissions.readScope(ctx.caller, entity.name);
  const row = await findRecord(ctx.app.db, entity, id, { scope: (p) => scopeSql(entity, scope, p) });
  if (!row) throw recordNotFound(entity, id);
  // rest-api.md §Get: fetch (404) comes before the includes (400)
  const includes = resolveIncludes(entity, include, ctx);
  const record = recordOf(entity, row);
  await attachIncludes(ctx, entity, [record], includes);
  return record;
}
