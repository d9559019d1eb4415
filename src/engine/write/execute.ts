import type { Queryable } from '../../db/database.js';
import type { EntityMeta, FieldMeta } from '../../metadata/registry.js';
import type { Exec, Record_, WriteCause } from '../context.js';
import { deleteRows, type CascadedRow } from '../cascade.js';
import { Params } from '../../db/params.js';
import { liveSql, whereSql } from '../../metadata/sql/conditions.js';
import {
  type Assignment,
  insertChildrenSql,
  insertManySql,
  insertReturningSql,
  joinTableSql,
  selectRows,
  setsSql,
  updateSql,
  guardedUpdateSql,
  oldColumn,
} from '../../metadata/sql/statements.js';
import type { NestedPlan, RowPlan } from './plan.js';
import { captureCtes, type Inline } from './inline.js';
import { getOrInsert } from '../../collections.js';
import { withSlugRetry } from './slug.js';

const causeOf = (exec: Exec): { cause?: WriteCause } => (exec.cause ? { cause: exec.cause } : {});

/**
 * Phase 3 of a write: the SQL, inside the transaction, once the whole tree
 * has been validated. Parent first, then each relation's deletes, updates and
 * inserts (inserts batched when no grandchildren need the new keys).
 */

function columnsToWrite(row: RowPlan, now: string, op: 'insert' | 'update'): Assignment[] {
  const out: Assignment[] = [];
  for (const f of row.entity.fieldList) {
    if (f.auto === 'update' || (f.auto === 'create' && op === 'insert')) out.push([f, now]);
    else if (Object.hasOwn(row.values, f.name)) out.push([f, row.values[f.name]]);
    else if (op === 'insert' && f.default !== undefined && !(f.name === row.entity.pk.name && row.entity.def.primary_key.generated)) {
      out.push([f, f.default]);
    }
  }
  return out;
}

async function insertOne(exec: Exec, row: RowPlan, inline?: Inline): Promise<Record_> {
  const { tx, now, writes } = exec;
  const e = row.entity;
  const rows = await withSlugRetry(tx, [row], () => {
    const params = new Params();
    let text = insertReturningSql(e, columnsToWrite(row, now, 'insert'), params);
    if (inline?.captures.length) {
      const ctes = captureCtes(inline, { entity: e, action: 'create', now, rows: 'w', params }, 0);
      text = `WITH w AS (${text}), ${ctes.join(', ')} SELECT * FROM w`;
    }
    return tx.query<Record_>(text, params.list);
  });
  writes.push({ entity: e, action: 'create', record: rows[0]!, old: null, values: row.values, ...causeOf(exec) });
  return rows[0]!;
}

/** Many rows, one statement: rows are grouped by the columns they write. */
async function insertMany(exec: Exec, rows: RowPlan[]): Promise<void> {
  const groups = new Map<string, Array<{ row: RowPlan; cols: Assignment[] }>>();
  for (const row of rows) {
    const cols = columnsToWrite(row, exec.now, 'insert');
    const sig = cols.map(([f]) => f.name).join(',');
    const g = getOrInsert(groups, sig, () => []);
    g.push({ row, cols });
  }
  const e = rows[0]!.entity;
  for (const group of groups.values()) {
    const fields = group[0]!.cols.map(([f]) => f);
    if (fields.length === 0) {
      for (const { row } of group) await insertOne(exec, row);
      continue;
    }
    const stored = await withSlugRetry(
      exec.tx,
      group.map(({ row }) => row),
      () => {
        const params = new Params();
        // Built from the rows' values again on every attempt: a slug clash gives them new slugs.
        const values = group.map(({ row }) => columnsToWrite(row, exec.now, 'insert'));
        return exec.tx.query<Record_>(insertManySql(e, fields, values, params), params.list);
      },
    );
    // RETURNING of a multi-row VALUES insert comes back in VALUES order.
    for (const [i, record] of stored.entries()) {
      exec.writes.push({ entity: e, action: 'create', record, old: null, values: group[i]!.row.values, ...causeOf(exec) });
    }
  }
}

async function updateOne(exec: Exec, row: RowPlan, scope?: { fk: FieldMeta; parent: unknown }): Promise<Record_ | undefined> {
  const { tx, now, writes } = exec;
  const e = row.entity;
  if (columnsToWrite(row, now, 'update').length === 0) return row.current;
  const rows = await withSlugRetry(tx, [row], () => {
    const params = new Params();
    const sets = setsSql(columnsToWrite(row, now, 'update'), params);
    const where = whereSql([
      `${e.pk.col} = ${params.add(row.current![e.pk.name] as string, e.pk.cast)}`,
      scope ? `${scope.fk.col} = ${params.add(scope.parent as string, scope.fk.cast)}` : undefined,
    ]);
    return tx.query<Record_>(updateSql(e, sets, where), params.list);
  });
  if (rows[0]) writes.push({ entity: e, action: 'update', record: rows[0], old: row.current!, values: row.values, ...causeOf(exec) });
  return rows[0];
}

/**
 * A new row and its direct children in one statement: data-modifying CTEs
 * run atomically without an explicit transaction, and the children take the
 * parent's generated key inside the statement. Children rows are grouped by
 * the columns they write; the parent row comes back.
 */
export async function insertTree({ tx, now }: Exec, row: RowPlan, inline?: (entity: EntityMeta) => Inline | undefined): Promise<Record_> {
  const e = row.entity;
  const params = new Params();
  const captures: string[] = [];
  const capture = (entity: EntityMeta, rows: string) => {
    const i = inline?.(entity);
    if (i?.captures.length) captures.push(...captureCtes(i, { entity, action: 'create', now, rows, params }, captures.length));
  };
  const ctes = [`p AS (${insertReturningSql(e, columnsToWrite(row, now, 'insert'), params)})`];
  capture(e, 'p');
  for (const n of row.nested) {
    const target = n.relation.target;
    const fk = target.fields.get(n.relation.def.target_key!)!;
    const groups = new Map<string, Assignment[][]>();
    for (const child of n.rows) {
      const cols = columnsToWrite(child, now, 'insert').filter(([f]) => f.name !== fk.name);
      const sig = cols.map(([f]) => f.name).join(',');
      const g = getOrInsert(groups, sig, () => []);
      g.push(cols);
    }
    for (const group of groups.values()) {
      const fields = group[0]!.map(([f]) => f);
      const insert = insertChildrenSql(target, fk, { cte: 'p', pk: e.pk }, fields, group, params);
      const name = `c${ctes.length}`;
      const before = captures.length;
      capture(target, name);
      // Captured children hand their rows on; the others return nothing anyone reads.
      ctes.push(`${name} AS (${insert(captures.length > before)})`);
    }
  }
  const rows = await tx.query<Record_>(`WITH ${[...ctes, ...captures].join(', ')} SELECT * FROM p`, params.list);
  return rows[0]!;
}

/**
 * UPDATE of a live row by primary key, without reading it first; undefined when
 * no live row has that key, and, with captures (which compare old and new values),
 * also when another write changed the row between this statement's read and its
 * write (see guardedUpdateSql). With nothing to set it only reads the row.
 */
export async function updateByKey({ tx, now }: Exec, row: RowPlan, pk: string, inline?: Inline): Promise<Record_ | undefined> {
  const e = row.entity;
  const cols = columnsToWrite(row, now, 'update');
  const params = new Params();
  const byKey = [`${e.pk.col} = ${params.add(pk, e.pk.cast)}`, liveSql(e)];
  if (cols.length === 0) return (await tx.query<Record_>(selectRows(e, byKey), params.list))[0];
  const where = whereSql(byKey);
  const sets = setsSql(cols, params);
  if (!inline?.captures.length) return (await tx.query<Record_>(updateSql(e, sets, where), params.list))[0];
  const written = cols.map(([f]) => f);
  // The captures are built first: they name the old values the UPDATE must return.
  const olds = new Set<FieldMeta>();
  const old = (f: FieldMeta) => {
    olds.add(f);
    return `w.${oldColumn(f)}`;
  };
  const ctes = captureCtes(inline, { entity: e, action: 'update', now, rows: 'w', old, written, params }, 0);
  const update = guardedUpdateSql(e, sets, where, [...olds]);
  return (await tx.query<Record_>(`WITH w AS (${update}), ${ctes.join(', ')} SELECT ${e.selectList} FROM w`, params.list))[0];
}

/** Writes one row and its subtree; returns the row as stored. */
export async function executeRow(exec: Exec, row: RowPlan, inline?: Inline): Promise<Record_> {
  const stored = row.op === 'insert' ? await insertOne(exec, row, inline) : ((await updateOne(exec, row)) ?? row.current!);
  const pk = stored[row.entity.pk.name];
  for (const n of row.nested) await executeNested(exec, n, pk);
  return stored;
}

async function executeNested(exec: Exec, n: NestedPlan, parentPk: unknown): Promise<void> {
  const { tx } = exec;
  const def = n.relation.def;
  if (def.type === 'many_to_many') return executeLinks(tx, n, parentPk);
  const target = n.relation.target;
  const fk = target.fields.get(def.target_key!)!;

  const deletes = [...n.removed, ...n.rows.filter((r) => r.op === 'delete').map((r) => r.current!)];
  if (deletes.length) {
    await deleteWithCascades(exec, target, deletes);
  }

  for (const row of n.rows) {
    if (row.op !== 'update') continue;
    await updateOne(exec, row, { fk, parent: parentPk });
    for (const g of row.nested) await executeNested(exec, g, row.current![target.pk.name]);
  }

  const inserts = n.rows.filter((r) => r.op === 'insert');
  for (const row of inserts) row.values[fk.name] = parentPk;
  const simple = inserts.filter((r) => r.nested.length === 0);
  if (simple.length) await insertMany(exec, simple);
  for (const row of inserts) if (row.nested.length) await executeRow(exec, row);
}

/** Deletes stored rows with their cascades; every row deleted or changed becomes an event. */
export async function deleteWithCascades(exec: Exec, entity: EntityMeta, rows: readonly Record_[]): Promise<void> {
  const cascaded: CascadedRow[] = [];
  await deleteRows(
    exec.tx,
    entity,
    rows.map((r) => r[entity.pk.name]),
    exec.now,
    cascaded,
  );
  for (const record of rows) exec.writes.push({ entity, action: 'delete', record, old: record, values: {}, ...causeOf(exec) });
  for (const c of cascaded) exec.writes.push({ ...c, cause: 'cascade' });
}

async function executeLinks(tx: Queryable, n: NestedPlan, parentPk: unknown): Promise<void> {
  const sql = joinTableSql(n.relation);
  if (n.mode === 'replace') await tx.query(sql.deleteAll, [parentPk as string]);
  const remove = n.mode === 'diff' ? n.links.filter((l) => l.remove).map((l) => l.id) : [];
  const add = n.links.filter((l) => n.mode !== 'diff' || !l.remove).map((l) => l.id);
  if (remove.length) await tx.query(sql.deleteSome, [parentPk as string, remove as string[]]);
  if (add.length) await tx.query(sql.insert, [parentPk as string, add as string[]]);
}

/** Current live children of a parent under a one_to_one / one_to_many relation, locked. */
export async function loadChildren(tx: Queryable, n: NestedPlan, parentPk: unknown): Promise<Record_[]> {
  const target = n.relation.target;
  const fk = target.fields.get(n.relation.def.target_key!)!;
  const params = new Params();
  return tx.query<Record_>(
    selectRows(target, [`${fk.col} = ${params.add(parentPk as string, fk.cast)}`, liveSql(target)], { forUpdate: true }),
    params.list,
  );
}

/** Which of these PKs exist (live) in the entity at all. */
export async function existingPks(tx: Queryable, entity: EntityMeta, pks: unknown[]): Promise<Set<string>> {
  if (pks.length === 0) return new Set();
  const params = new Params();
  const where = [`${entity.pk.col} = ANY(${params.add(pks as string[], `${entity.pk.cast}[]`)})`, liveSql(entity)];
  const rows = await tx.query<Record_>(selectRows(entity, where, { columns: entity.pk.col }), params.list);
  return new Set(rows.map((r) => String(r[entity.pk.name])));
}
