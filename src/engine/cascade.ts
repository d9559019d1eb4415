import type { Queryable } from '../db/database.js';
import { conflict } from '../errors.js';
import type { EntityMeta } from '../metadata/registry.js';
import type { Record_ } from './context.js';
import { Params } from '../db/params.js';
import { liveSql } from '../metadata/sql/conditions.js';
import { clearForeignKeySql, countLiveSql, deleteByKeysSql, joinTableSql, selectRows } from '../metadata/sql/statements.js';
import { coerceInput } from '../types/coerce.js';

/** A row a cascade changed (its children deleted, or their keys set to null), with the row as it was. */
export interface CascadedRow {
  entity: EntityMeta;
  action: 'update' | 'delete';
  /** The row after the change (for deletes: as it was). */
  record: Record_;
  old: Record_;
  /** What the cascade wrote (`set_null`: the key). */
  values: Record_;
}

const key = (entity: EntityMeta, id: unknown) => `${entity.name}\u0000${String(id)}`;

/**
 * Deletes rows of an entity and applies on_delete of every relation where it
 * is the source, recursively (customer → orders → items), inside the caller's
 * transaction. A `restrict` anywhere throws 409 and the transaction rolls back.
 * The rows the cascades changed go to `changed` (the deleted rows themselves are the caller's to report).
 */
export async function deleteRows(
  tx: Queryable,
  entity: EntityMeta,
  ids: unknown[],
  now: string,
  changed: CascadedRow[] = [],
  seen = new Set<string>(),
): Promise<void> {
  const fresh = ids.filter((id) => {
    const k = key(entity, id);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (fresh.length === 0) return;
  await applyCascades(tx, entity, fresh, now, changed, seen);
  const params = new Params();
  await tx.query(deleteByKeysSql(entity, fresh, now, params), params.list);
}

async function applyCascades(
  tx: Queryable,
  entity: EntityMeta,
  ids: unknown[],
  now: string,
  changed: CascadedRow[],
  seen: Set<string>,
): Promise<void> {
  for (const rel of entity.outgoing) {
    const def = rel.def;
    const target = rel.target;
    if (def.type === 'many_to_many') {
      const sql = joinTableSql(rel);
      const params = [ids as string[]];
      if (def.on_delete === 'restrict') {
        const rows = await tx.query<{ n: number }>(sql.countOf, params);
        if (rows[0]!.n > 0) throw conflict(`Cannot delete: ${rows[0]!.n} related ${target.name} records exist`);
      } else if (def.on_delete) {
        await tx.query(sql.deleteOf, params);
      }
      continue;
    }
    const fk = target.fields.get(def.target_key!)!;
    // Children are matched in the FK's type; a parent key that is no value of it (a text PK 'abc' under a uuid FK) has none.
    const keys = ids.flatMap((id) => {
      const c = coerceInput(fk, id);
      return c.ok && c.value !== null ? [c.value] : [];
    });
    if (keys.length === 0) continue;
    const p = new Params();
    const match = `${fk.col} = ANY(${p.add(keys as string[], `${fk.cast}[]`)})`;
    switch (def.on_delete) {
      case 'restrict': {
        const rows = await tx.query<{ n: number }>(countLiveSql(target, match), p.list);
        if (rows[0]!.n > 0) throw conflict(`Cannot delete: ${rows[0]!.n} related ${target.name} records exist`);
        break;
      }
      case 'set_null': {
        // The rows as they were come back from the locked read the UPDATE joins.
        const before = await tx.query<Record_>(clearForeignKeySql(target, fk, match), p.list);
        for (const old of before) {
          changed.push({ entity: target, action: 'update', record: { ...old, [fk.name]: null }, old, values: { [fk.name]: null } });
        }
        break;
      }
      case 'cascade': {
        // Locked before their own cascades read grandchildren: a writer holding a child (PUT of it with
        // nested rows) commits first and its new grandchildren are then seen and removed, never orphaned.
        const children = await tx.query<Record_>(selectRows(target, [match, liveSql(target)], { forUpdate: true }), p.list);
        const fresh = children.filter((c) => !seen.has(key(target, c[target.pk.name])));
        for (const record of fresh) changed.push({ entity: target, action: 'delete', record, old: record, values: {} });
        if (fresh.length)
          await deleteRows(
            tx,
            target,
            fresh.map((c) => c[target.pk.name]),
            now,
            changed,
            seen,
          );
        break;
      }
      default:
        break; // detach and empty: nothing for one_to_one / one_to_many
    }
  }
}
