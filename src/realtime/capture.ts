import { SYSTEM_ACTOR } from '../auth/caller.js';
import type { Queryable } from '../db/database.js';
import type { OpContext, Record_, InlineWrite, WriteEvent } from '../engine/context.js';
import type { EntityMeta } from '../metadata/registry.js';
import { IDENTIFIER_RE } from '../metadata/types.js';
import { exactJson } from '../db/exact-json.js';
import { oldColumnName } from '../metadata/sql/statements.js';

/**
 * Capture: every change goes into `_realtime_events` inside the write's own
 * transaction (as a CTE of the statement on the fast paths, before COMMIT on
 * the general path), so a rolled-back write leaves nothing behind and a
 * committed one cannot be missed. `row` is the row as stored (for deletes: as
 * it was), keyed by column, in the form `jsonb_populate_record` reads back
 * into the entity's table type — the feed evaluates filters and read
 * conditions on it with the same SQL as list and get.
 */

export type ChangeAction = 'create' | 'update' | 'delete';

/** `by` of an event: the user whose request made the change; null for the engine's own background work. */
export function byOf(ctx: Pick<OpContext, 'caller' | 'actingFor'>): string | null {
  if (ctx.actingFor !== undefined) return ctx.actingFor?.id ?? null;
  return ctx.caller.id === SYSTEM_ACTOR.id ? null : ctx.caller.id;
}

function nameLiteral(name: string): string {
  if (!IDENTIFIER_RE.test(name)) throw new Error(`not an identifier: ${name}`);
  return `'${name}'`;
}

/**
 * The written row of an update as `to_jsonb` keys it, without the old values the statement returns beside it
 * (this capture asks for every field's; names are identifiers, so the keys are plain literals).
 */
function rowJson(e: EntityMeta, rows: string): string {
  return `to_jsonb(${rows}) - ARRAY[${e.fieldList.map((f) => `'${oldColumnName(f)}'`).join(', ')}]::text[]`;
}

/** The fast-path capture: `INSERT INTO _realtime_events … SELECT … FROM <rows>`. */
export function captureSql(w: InlineWrite): string {
  const e = w.entity;
  const p = w.params;
  const head = 'INSERT INTO _realtime_events (entity, action, record_id, row, changed, at, by)';
  const fixed = `${p.add(e.name, 'text')}, '${w.action}'`;
  const tail = `${p.add(w.now, 'timestamptz')}, ${p.add(byOf(w.ctx), 'text')}`;
  if (w.action === 'create') {
    return `${head} SELECT ${fixed}, ${w.rows}.${e.pk.col}::text, to_jsonb(${w.rows}), NULL, ${tail} FROM ${w.rows}`;
  }
  if (!w.old) throw new Error('a realtime update needs the values as they were');
  const a = w.rows;
  const olds = e.fieldList.map((f) => w.old!(f));
  const changed = e.fieldList.map((f, i) => `CASE WHEN ${olds[i]} IS DISTINCT FROM ${a}.${f.col} THEN ${nameLiteral(f.name)} END`);
  return (
    `${head} SELECT ${fixed}, x.id, x.row, x.changed, ${tail} FROM (SELECT ${a}.${e.pk.col}::text AS id, ${rowJson(e, a)} AS row, ` +
    `array_remove(ARRAY[${changed.join(', ')}]::text[], NULL) AS changed FROM ${a}) x ` +
    `WHERE cardinality(x.changed) > 0`
  );
}

/** One captured change of the general path (or of an import). */
export interface Change {
  entity: string;
  action: ChangeAction;
  record_id: string | null;
  row: Record_;
  changed: string[] | null;
  by: string | null;
}

/** Fields whose stored value differs, compared by their JSON text (the driver's values). */
function changedFields(e: EntityMeta, old: Record_, now: Record_): string[] {
  return e.fieldList.filter((f) => JSON.stringify(old[f.name] ?? null) !== JSON.stringify(now[f.name] ?? null)).map((f) => f.name);
}

/**
 * The change of one written row; undefined for an update that changed no value, and for one of a row that
 * stays soft-deleted (a `set_null` cascade clears the key of deleted children too): no caller can read that
 * row, so no subscriber may be sent it.
 */
export function changeOf(ctx: OpContext, w: WriteEvent): Change | undefined {
  if (w.action === 'update' && w.entity.softDelete && (w.record.deleted_at ?? null) !== null) return undefined;
  const changed = w.action === 'update' && w.old ? changedFields(w.entity, w.old, w.record) : null;
  if (changed && changed.length === 0) return undefined;
  const pk = w.record[w.entity.pk.name];
  return {
    entity: w.entity.name,
    action: w.action,
    record_id: pk === null || pk === undefined ? null : String(pk),
    row: w.record,
    changed,
    by: byOf(ctx),
  };
}

/** Stores changes in the caller's transaction, in the given order (their capture order). */
export async function insertChanges(tx: Queryable, changes: readonly Change[], at: string): Promise<void> {
  if (changes.length === 0) return;
  await tx.query(
    `INSERT INTO _realtime_events (entity, action, record_id, row, changed, at, by)
     SELECT x.entity, x.action, x.record_id, x.row, x.changed, $2::timestamptz, x.by
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (entity text, action text, record_id text, row jsonb,
            changed text[], by text)) WITH ORDINALITY AS x
      ORDER BY x.ordinality`,
    // Exact: a number a double would change (in an int8, a decimal or a json field) keeps its digits and stays a
    // number; JSON.stringify would write it as a string, which a json field's event would then show.
    [exactJson(changes), at],
  );
}
