import type { SqlParam } from '../db/database.js';
import { entityOf, type OpContext } from '../engine/context.js';
import { Params } from '../db/params.js';
import { pageOf } from '../engine/list-query.js';
import { scopeSql, whereSql } from '../metadata/sql/conditions.js';
import { findRecord, looksLikePk, recordNotFound } from '../engine/read.js';
import { invalidPayload, notFound } from '../errors.js';
import type { EntityMeta } from '../metadata/registry.js';
import { UUID_RE } from '../types/ids.js';
import { coerceInput } from '../types/coerce.js';
import { HISTORY_ACTIONS, type Actor, type Changes, type HistoryAction } from './entries.js';

/** Reading history (spec: history.md §Reading it): one record's entries, and the whole log with filters. */

export interface HistoryEntry {
  id: string;
  entity: string;
  record_id: string | null;
  action: HistoryAction;
  changes: Changes;
  actor: Actor;
  at: Date;
}

export interface HistoryPage {
  data: HistoryEntry[];
  meta: { page: number; per_page: number; total: number };
}

interface Row {
  total: number;
  id: string | null;
  entity: string;
  record_id: string | null;
  action: HistoryAction;
  /** The driver's json parse keeps the numbers a double would change exact. */
  changes: Changes;
  actor_kind: Actor['kind'];
  actor_id: string | null;
  actor_email: string | null;
  at: Date;
}

type Query = Record<string, unknown>;

const single = (q: Query, key: string): string | undefined => (typeof q[key] === 'string' ? (q[key] as string) : undefined);

/**
 * Entries matching `conds`, newest first, one page and the total in one round trip. Newest by id: ids are
 * taken as entries are written, after the row's lock, so concurrent writes of one record list in the order
 * they took effect; `at` is each write's clock, taken when it began, and may run the other way.
 */
async function pageOfEntries(ctx: OpContext, conds: string[], params: Params, q: Query): Promise<HistoryPage> {
  const { page, perPage } = pageOf(single(q, 'page'), single(q, 'per_page'));
  const where = whereSql(conds);
  const limit = params.add(perPage, 'int4');
  const offset = params.add(Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER), 'int8');
  const rows = await ctx.app.db.query<Row>(
    `SELECT c.total, p.* FROM (SELECT count(*)::int8 AS total FROM _history${where}) c LEFT JOIN LATERAL (
       SELECT id::text AS id, entity, record_id, action, changes, actor_kind, actor_id, actor_email, at
         FROM _history${where} ORDER BY _history.id DESC LIMIT ${limit} OFFSET ${offset}) p ON true`,
    params.list as SqlParam[],
  );
  const data: HistoryEntry[] = [];
  for (const r of rows) {
    if (r.id === null) continue;
    data.push({
      id: r.id,
      entity: r.entity,
      record_id: r.record_id,
      action: r.action,
      changes: r.changes,
      actor: { kind: r.actor_kind, id: r.actor_id, email: r.actor_email },
      at: r.at,
    });
  }
  return { data, meta: { page, per_page: perPage, total: Number(rows[0]?.total ?? 0) } };
}

/**
 * A deleted row's key as entries store it (`String` of the value the database returned): a URL may spell it
 * otherwise (an upper-case UUID, `007`); undefined when the key column could not hold it (no such record).
 */
function storedKey(entity: EntityMeta, id: string): string | undefined {
  if (!looksLikePk(entity, id)) return undefined;
  const type = entity.def.primary_key.type;
  if (type === 'uuid') return id.toLowerCase();
  if (type === 'int' || type === 'bigint') return BigInt(id).toString();
  return id;
}

/**
 * GET /:entity/:id/_history — the caller must be able to read the record as
 * it is now (row conditions included); a deleted record's history is for admins.
 */
export async function recordHistory(ctx: OpContext, entityName: string, id: string, q: Query): Promise<HistoryPage> {
  const entity = entityOf(ctx.app, entityName);
  if (!entity.def.history) throw notFound(`History is off for entity ${entity.name}`);
  const scope = ctx.app.permissions.readScope(ctx.caller, entity.name);
  const row = await findRecord(ctx.app.db, entity, id, { scope: (p) => scopeSql(entity, scope, p) });
  if (!row && !ctx.caller.isAdmin) throw recordNotFound(entity, id);
  const recordId = row ? String(row[entity.pk.name]) : storedKey(entity, id);
  if (recordId === undefined) throw recordNotFound(entity, id);
  const params = new Params();
  const conds = [`entity = ${params.add(entity.name, 'text')}`, `record_id = ${params.add(recordId, 'text')}`];
  const found = await pageOfEntries(ctx, conds, params, q);
  if (!row && found.meta.total === 0) throw recordNotFound(entity, id);
  return found;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** A filter parameter: absent, or one non-empty string (else 400). */
function filterValue(q: Query, key: string): string | undefined {
  const v = q[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '' || v.includes('\u0000')) throw invalidPayload(`Invalid ${key} filter: expected one non-empty value`);
  return v;
}

function instant(q: Query, key: string): string | undefined {
  const v = filterValue(q, key);
  if (v === undefined) return undefined;
  // The record fields' own check: Date.parse would take 2026-02-30, which PostgreSQL then refuses.
  if (!RFC3339.test(v) || !coerceInput({ type: 'timestamp' }, v.toUpperCase()).ok)
    throw invalidPayload(`Invalid ${key} filter: ${JSON.stringify(v)} is not an RFC 3339 timestamp`);
  return v;
}

/** GET /_admin/history — the whole log (admins), filtered; bad filter values are 400 INVALID_PAYLOAD. */
export async function auditLog(ctx: OpContext, q: Query): Promise<HistoryPage> {
  const params = new Params();
  const conds: string[] = [];
  for (const key of ['entity', 'record_id', 'actor_id'] as const) {
    const v = filterValue(q, key);
    // Actors are users and platform admins, both named by UUIDs; the job actor has none.
    if (key === 'actor_id' && v !== undefined && !UUID_RE.test(v))
      throw invalidPayload(`Invalid actor_id filter: ${JSON.stringify(v)} is not a UUID`);
    // Actor ids are stored as PostgreSQL writes UUIDs (lower case); an upper-case spelling names the same actor.
    if (key === 'actor_id' && v !== undefined) conds.push(`${key} = ${params.add(v.toLowerCase(), 'text')}`);
    // A UUID record id is stored lower case too, and names the same record in any case (as GET /:entity/:id
    // reads it); other ids (names of metadata items, string keys) are matched as written.
    else if (key === 'record_id' && v !== undefined && UUID_RE.test(v) && v !== v.toLowerCase()) {
      conds.push(`${key} = ANY(${params.add([v, v.toLowerCase()], 'text[]')})`);
    } else if (v !== undefined) conds.push(`${key} = ${params.add(v, 'text')}`);
  }
  const action = filterValue(q, 'action');
  if (action !== undefined) {
    if (!(HISTORY_ACTIONS as readonly string[]).includes(action)) {
      throw invalidPayload(`Invalid action filter: ${JSON.stringify(action)} (one of ${HISTORY_ACTIONS.join(', ')})`);
    }
    conds.push(`action = ${params.add(action, 'text')}`);
  }
  const since = instant(q, 'since');
  if (since !== undefined) conds.push(`at >= ${params.add(since, 'timestamptz')}`);
  const until = instant(q, 'until');
  if (until !== undefined) conds.push(`at < ${params.add(until, 'timestamptz')}`);
  return pageOfEntries(ctx, conds, params, q);
}
