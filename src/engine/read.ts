import { invalidPayload, notFound } from '../errors.js';
import type { EntityMeta } from '../metadata/registry.js';
import { entityOf, type OpContext, type Record_ } from './context.js';
import { attachIncludes, parseIncludes } from './includes.js';
import { Params } from './params.js';
import { filterSql, liveSql, orderSql, pageOf, scopeSql, whereSql, type ListQuery } from './query.js';
import { UUID_RE } from '../types/ids.js';
import type { Queryable } from '../db/database.js';

export interface ListResult {
  data: Record_[];
  meta: { page: number; per_page: number; total: number };
}

const TOTAL = 'rocket.total';

/** GET /:entity — entity → read permission → query parsing → read filters → one query (page + total) → includes. */
export async function listRecords(ctx: OpContext, entityName: string, query: ListQuery): Promise<ListResult> {
  const entity = entityOf(ctx.app, entityName);
  const scope = ctx.app.permissions.readScope(ctx.caller, entity.name);
  if (query.malformed?.length) throw invalidPayload(`Invalid filter parameter: ${query.malformed[0]}`);
  const params = new Params();
  const where = whereSql([
    liveSql(entity),
    ...filterSql(entity, query.filters, params),
    scopeSql(entity, scope, params),
  ]);
  const order = orderSql(entity, query.sort);
  const includes = parseIncludes(entity, query.include, ctx);
  const { page, perPage } = pageOf(query.page, query.perPage);
  const limit = params.add(perPage, 'int4');
  // Any offset past 2^53 is past every row; clamping keeps huge page numbers a valid int8 (→ empty page).
  const offset = params.add(Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER), 'int8');
  // Count and page in one round trip; the lateral page may be empty while the count is not.
  const rows = await ctx.app.db.query<Record_>(
    `SELECT c."${TOTAL}", p.* FROM (SELECT count(*) AS "${TOTAL}" FROM ${entity.table}${where}) c ` +
      `LEFT JOIN LATERAL (SELECT ${entity.selectList} FROM ${entity.table}${where}${order} LIMIT ${limit} OFFSET ${offset}) p ON true`,
    params.list,
  );
  const total = Number(rows[0]?.[TOTAL] ?? 0);
  const data: Record_[] = [];
  for (const row of rows) {
    if (row[entity.pk.name] === null || row[entity.pk.name] === undefined) continue;
    data.push(recordOf(entity, row));
  }
  await attachIncludes(ctx, entity, data, includes);
  return { data, meta: { page, per_page: perPage, total } };
}

/** A record as the API returns it: declared fields (+ deleted_at for soft-delete entities). */
export function recordOf(entity: EntityMeta, row: Record_): Record_ {
  const out: Record_ = {};
  for (const f of entity.fieldList) out[f.name] = row[f.name];
  if (entity.softDelete && !entity.fields.has('deleted_at')) out.deleted_at = row.deleted_at ?? null;
  return out;
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
  const pkLike = looksLikePk(entity, id);
  if (slug && entity.def.primary_key.type !== 'string' && !pkLike) attempts.push('slug');
  else if (slug && entity.def.primary_key.type === 'string') attempts.push('slug', 'pk');
  else if (pkLike) attempts.push('pk');
  for (const by of attempts) {
    const params = new Params();
    const field = by === 'slug' ? entity.fields.get(slug!.field)! : entity.pk;
    const where = whereSql([`${field.col} = ${params.add(id, field.cast)}`, liveSql(entity), opts.scope?.(params)]);
    const rows = await db.query<Record_>(
      `SELECT ${entity.selectList} FROM ${entity.table}${where}${opts.forUpdate ? ' FOR UPDATE' : ''}`,
      params.list,
    );
    if (rows[0]) return rows[0];
  }
  return undefined;
}

export function recordNotFound(entity: EntityMeta, id: string): Error {
  return notFound(`${entity.name} with id ${id} not found`);
}

/** GET /:entity/:id */
export async function getRecord(ctx: OpContext, entityName: string, id: string, include?: string): Promise<Record_> {
  const entity = entityOf(ctx.app, entityName);
  const scope = ctx.app.permissions.readScope(ctx.caller, entity.name);
  const includes = parseIncludes(entity, include, ctx);
  const row = await findRecord(ctx.app.db, entity, id, { scope: (p) => scopeSql(entity, scope, p) });
  if (!row) throw recordNotFound(entity, id);
  const record = recordOf(entity, row);
  await attachIncludes(ctx, entity, [record], includes);
  return record;
}
