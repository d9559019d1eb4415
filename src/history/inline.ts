import type { InlineCapture, InlineWrite } from '../engine/context.js';
import type { EntityMeta, FieldMeta } from '../metadata/registry.js';
import { IDENTIFIER_RE } from '../metadata/types.js';
import { actorOf } from './entries.js';
import { getOrInsert } from '../collections.js';

/**
 * History of a one-statement write: the entry is computed by PostgreSQL from
 * the rows the write returned, as a CTE of the write's own statement, so a
 * plain write stays one round trip. Values are encoded as API responses
 * encode them (see entries.ts, the general path's twin of this file).
 */

/** A field name as a SQL string literal: names are identifiers (checked at definition time, and here). */
function nameLiteral(name: string): string {
  if (!IDENTIFIER_RE.test(name)) throw new Error(`not an identifier: ${name}`);
  return `'${name}'`;
}

/** A value of field `f` (a column reference) as its JSON response value: timestamps as `toISOString()` writes them, the rest as to_jsonb does. */
function valueSql(f: FieldMeta, col: string): string {
  if (f.type === 'timestamp') return `to_jsonb(to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
  return `to_jsonb(${col})`;
}

/** `{"f": {"from": null, "to": …}, …}` of a created row (jsonb_build_object takes at most 100 arguments: chunks of 40 fields). */
function createChanges(e: EntityMeta, rel: string): string {
  const pairs = e.fieldList
    .filter((f) => !f.auto)
    .map((f) => `${nameLiteral(f.name)}, jsonb_build_object('from', NULL::jsonb, 'to', ${valueSql(f, `${rel}.${f.col}`)})`);
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += 40) chunks.push(`jsonb_build_object(${pairs.slice(i, i + 40).join(', ')})`);
  return chunks.join(' || ');
}

/** Of `fields`, only those whose stored value changed: `old(f)` is a field's value before the write, in `after`. */
function updateChanges(fields: readonly FieldMeta[], old: (f: FieldMeta) => string, after: string): string {
  const parts = fields.map((f) => {
    const was = old(f);
    return (
      `CASE WHEN ${was} IS DISTINCT FROM ${after}.${f.col} THEN jsonb_build_object(${nameLiteral(f.name)}, ` +
      `jsonb_build_object('from', ${valueSql(f, was)}, 'to', ${valueSql(f, `${after}.${f.col}`)})) ELSE '{}'::jsonb END`
    );
  });
  return parts.length ? parts.join(' || ') : `'{}'::jsonb`;
}

/**
 * The capture of one entity with history. Made when the fast path of the entity is decided, i.e. once per
 * metadata snapshot: the change expressions are built once per relation name (and, for updates, per set of
 * written fields) and reused by every write, so a write only adds its bind parameters. The entity's name,
 * the action and the actor's kind are literals (an identifier and two closed unions): three bind parameters
 * fewer for the driver to encode and the server to read on every write.
 */
export function historyCaptureOf(e: EntityMeta): InlineCapture {
  const creates = new Map<string, string>();
  const updates = new Map<string, string>();
  const head = 'INSERT INTO _history (entity, action, actor_kind, actor_id, actor_email, at, record_id, changes)';
  const entity = nameLiteral(e.name);
  const sql = (w: InlineWrite): string => {
    const p = w.params;
    const actor = actorOf(w.ctx);
    const fixed = `${entity}, '${w.action}', '${actor.kind}', ${p.add(actor.id, 'text')}, ${p.add(actor.email, 'text')}, ${p.add(w.now, 'timestamptz')}`;
    if (w.action === 'create') {
      const changes = getOrInsert(creates, w.rows, () => createChanges(e, w.rows));
      return `${head} SELECT ${fixed}, ${w.rows}.${e.pk.col}::text, ${changes} FROM ${w.rows}`;
    }
    const { old, written } = w;
    if (!old || !written) throw new Error('history of an update needs the written fields and their old values');
    const compared = written.filter((f) => !f.auto);
    // Asked on every write: asking is what makes the statement return these old values.
    for (const f of compared) old(f);
    const select = getOrInsert(
      updates,
      `${w.rows} ${compared.map((f) => f.name).join(',')}`,
      () =>
        `(SELECT ${w.rows}.${e.pk.col}::text AS id, ${updateChanges(compared, old, w.rows)} AS changes FROM ${w.rows}) x ` +
        `WHERE x.changes <> '{}'::jsonb`,
    );
    return `${head} SELECT ${fixed}, x.id, x.changes FROM ${select}`;
  };
  return { sql };
}
