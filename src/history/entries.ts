import { SYSTEM_ACTOR } from '../auth/caller.js';
import type { Queryable } from '../db/database.js';
import type { OpContext, Record_, WriteCause, WriteEvent } from '../engine/context.js';
import { encodeOutput } from '../types/coerce.js';
import { exactJson } from '../db/exact-json.js';
import type { EntityMeta } from '../metadata/registry.js';

/** Who made a change (spec: history.md §What is recorded). */
export interface Actor {
  kind: 'user' | 'platform' | 'system';
  id: string | null;
  email: string | null;
}

export type HistoryAction = 'create' | 'update' | 'delete';
export const HISTORY_ACTIONS: readonly HistoryAction[] = ['create', 'update', 'delete'];

export type Changes = Record<string, { from: unknown; to: unknown }>;

/** One entry to store; `at` is the write's clock. */
export interface NewEntry {
  entity: string;
  record_id: string | null;
  action: HistoryAction;
  changes: Changes;
  actor: Actor;
}

/**
 * The actor of a written row: the caller for the rows a request wrote itself;
 * the system, with the causing user, for rows written on its behalf (cascades,
 * state-machine `create_record`, workflow actions; no user for background work).
 */
export function actorOf(ctx: Pick<OpContext, 'caller' | 'actingFor'>, cause?: WriteCause): Actor {
  if (ctx.actingFor !== undefined) return { kind: 'system', id: ctx.actingFor?.id ?? null, email: ctx.actingFor?.email ?? null };
  const c = ctx.caller;
  if (c.id === SYSTEM_ACTOR.id) return { kind: 'system', id: null, email: null };
  if (cause) return { kind: 'system', id: c.id, email: c.email };
  return { kind: c.platform ? 'platform' : 'user', id: c.id, email: c.email };
}

/** A value as an API response holds it, compared by its JSON text. */
const encoded = (e: EntityMeta, name: string, row: Record_ | null): unknown =>
  row ? (encodeOutput(e.fields.get(name)!.type, row[name]) ?? null) : null;

/**
 * The changes of one written row: creates and deletes list every declared
 * field, updates only those whose stored value changed; auto fields never.
 */
export function changesOf(e: EntityMeta, action: HistoryAction, old: Record_ | null, record: Record_): Changes {
  const out: Changes = {};
  for (const f of e.fieldList) {
    if (f.auto) continue;
    const from = action === 'create' ? null : encoded(e, f.name, old);
    const to = action === 'delete' ? null : encoded(e, f.name, record);
    if (action === 'update' && JSON.stringify(from) === JSON.stringify(to)) continue;
    out[f.name] = { from, to };
  }
  return out;
}

/** The entry of a written row of an entity with history; undefined for an update that changed nothing. */
export function entryOf(ctx: OpContext, w: WriteEvent): NewEntry | undefined {
  const changes = changesOf(w.entity, w.action, w.old, w.record);
  if (w.action === 'update' && Object.keys(changes).length === 0) return undefined;
  const pk = w.record[w.entity.pk.name];
  return {
    entity: w.entity.name,
    record_id: pk === null || pk === undefined ? null : String(pk),
    action: w.action,
    changes,
    actor: actorOf(ctx, w.cause),
  };
}

/** Stores entries in one statement, in the caller's transaction, in the given order. */
export async function insertEntries(tx: Queryable, entries: readonly NewEntry[], at: string): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((e) => ({
    entity: e.entity,
    record_id: e.record_id,
    action: e.action,
    changes: e.changes,
    actor_kind: e.actor.kind,
    actor_id: e.actor.id,
    actor_email: e.actor.email,
  }));
  await tx.query(
    `INSERT INTO _history (entity, record_id, action, changes, actor_kind, actor_id, actor_email, at)
     SELECT x.entity, x.record_id, x.action, x.changes, x.actor_kind, x.actor_id, x.actor_email, $2::timestamptz
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (entity text, record_id text, action text, changes jsonb,
            actor_kind text, actor_id text, actor_email text)) WITH ORDINALITY AS x
      ORDER BY x.ordinality`,
    // Exact: an int8 beyond 2^53 (an ExactNumber) is written as its digits, not rounded or quoted.
    [exactJson(rows), at],
  );
}
