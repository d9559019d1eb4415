import { RocketError, objectPayload, type ErrorDetail } from '../../errors.js';
import type { EntityMeta } from '../../metadata/registry.js';
import type { PermissionAction } from '../../auth/permissions.js';
import {
  entityOf,
  envRecordOf,
  type OpContext,
  type Record_,
  type WriteEvent,
  type InlineCapture,
  type StageContext,
  type StoredEffect,
} from '../context.js';
import { findRecord, looksLikePk, recordNotFound, recordOf } from '../read.js';
import { deleteWithCascades, existingPks, executeRow, insertTree, loadChildren, updateByKey } from './execute.js';
import { checkNotCleared, checkProducedRequired, checkRequired, parsePayload } from './payload.js';
import { at, prefixDetails, walk, type NestedPlan, type RowPlan } from './plan.js';
import { runRules } from '../rules.js';
import { inlineCommitted, inlineSettled, type Inline } from './inline.js';
import { type FastPath, fastPathOf, rowIsPlain } from './fast-path.js';
import { stageApplies } from './stages.js';
import { ROW_STAGES } from './row-stages.js';
import { SYSTEM_ACTOR } from '../../auth/caller.js';
import { dispatchEffects, recordEffects } from '../outbox.js';
import type { Queryable } from '../../db/database.js';
import { nowIso } from '../../types/time.js';

/**
 * The write pipeline (DESIGN.md principle 4): parse → permission → field
 * validation → (in the transaction) current rows → row stages (rules and
 * computed fields, state machines, slugs, files) → SQL → observers → commit.
 */

/** Permission check of a nested row; a denial names the row's path. */
function permit(ctx: OpContext, entity: EntityMeta, path: string, action: PermissionAction, current?: Record_): void {
  try {
    ctx.app.permissions.check(ctx.caller, entity.name, action, current, entity.fields);
  } catch (err) {
    if (err instanceof RocketError) {
      throw new RocketError(err.code, `${err.message} (${path})`, [{ field: path, rule: 'permission', message: err.message }]);
    }
    throw err;
  }
}

/** Classifies nested rows against the parent's current children (spec: rest-api.md §Nested writes). */
async function planNested(sc: StageContext, n: NestedPlan, parentPk: unknown, parentIsNew: boolean): Promise<void> {
  if (n.relation.def.type === 'many_to_many') {
    const target = n.relation.target;
    const ids = n.links.filter((l) => !l.remove || n.mode !== 'diff').map((l) => l.id);
    const found = await existingPks(sc.tx, target, ids);
    for (const l of n.links) {
      if ((!l.remove || n.mode !== 'diff') && !found.has(String(l.id))) {
        sc.details.push({ field: at(l.path, target.pk.name), rule: 'exists', message: `${target.name} ${String(l.id)} not found` });
      }
    }
    return;
  }
  const target = n.relation.target;
  const pkName = target.pk.name;
  const current = parentIsNew ? [] : await loadChildren(sc.tx, n, parentPk);
  const byPk = new Map(current.map((r) => [String(r[pkName]), r]));
  const mentioned = new Set<string>();
  const clientPk = !target.def.primary_key.generated;
  const unknownPks: RowPlan[] = [];

  for (const row of n.rows) {
    if (row.sentPk === undefined) continue; // insert (or invalid _delete, already reported)
    const key = String(row.sentPk);
    mentioned.add(key);
    const cur = byPk.get(key);
    if (n.mode === 'append') {
      // append ignores `_delete` rows (rest-api.md §Nested writes): a client key that exists nowhere is no insert then
      row.op = cur || !clientPk || row.op === 'delete' ? 'ignore' : 'insert';
      if (row.op === 'insert') unknownPks.push(row);
      continue;
    }
    if (!cur) {
      // Not a child of this parent: never touched. A client-chosen key that exists nowhere is a new row.
      if (row.op === 'delete' || !clientPk) row.op = 'ignore';
      else unknownPks.push(row);
      continue;
    }
    row.current = cur;
    if (row.op !== 'delete') {
      row.op = 'update';
      row.record = { ...envRecordOf(target, cur), ...row.values };
    }
  }
  if (unknownPks.length) {
    const exists = await existingPks(
      sc.tx,
      target,
      unknownPks.map((r) => r.sentPk),
    );
    for (const row of unknownPks) {
      row.op = exists.has(String(row.sentPk)) ? 'ignore' : 'insert';
      if (row.op === 'insert') checkRequired(row, n.relation.def.target_key, sc.details);
    }
  }
  ignoreRowsOfDeleted(n.rows);
  if (n.mode === 'replace') n.removed = current.filter((r) => !mentioned.has(String(r[pkName])));
  for (const row of n.rows) if (row.op === 'update') checkNotCleared(row, sc.details);
  n.rows = n.rows.filter((r) => r.op !== 'ignore');
  // An inserted child is written with its parent's key (rest-api.md §Nested writes), so its rules and machine see
  // that key in `record` as in a top-level write (rules.md); only a parent key the database generates on INSERT is
  // unknown while the tree is checked.
  if (parentPk !== undefined && parentPk !== null) {
    const fk = n.relation.def.target_key!;
    for (const row of n.rows) if (row.op === 'insert') row.record[fk] = parentPk;
  }
}

/**
 * A child that one row deletes is not also updated (or deleted again) by another row of the same payload:
 * its update would run after the delete, on a removed row, and nest its own children under it.
 */
function ignoreRowsOfDeleted(rows: readonly RowPlan[]): void {
  const deleting = new Map<string, RowPlan>();
  for (const row of rows) {
    const key = String(row.sentPk);
    if (row.op === 'delete' && row.current && !deleting.has(key)) deleting.set(key, row);
  }
  if (deleting.size === 0) return;
  for (const row of rows) {
    const first = row.sentPk === undefined ? undefined : deleting.get(String(row.sentPk));
    if (first && first !== row) row.op = 'ignore';
  }
}

/** Runs everything that must happen before write SQL, for every row of the tree. */
async function prepareTree(sc: StageContext, top: RowPlan): Promise<void> {
  // First, so the checks below see what parsing reported (a field with a bad type is not also "required").
  if (top.pending) sc.details.push(...top.pending);
  const queue: RowPlan[] = [top];
  while (queue.length) {
    const row = queue.shift()!;
    // A new row's key is known before its INSERT only when the client chose it.
    const pk =
      row.op === 'insert' ? (row.entity.def.primary_key.generated ? undefined : row.values[row.entity.pk.name]) : row.current?.[row.entity.pk.name];
    for (const n of row.nested) {
      await planNested(sc, n, pk, row.op === 'insert');
      queue.push(...n.rows);
    }
  }
  if (sc.details.length) throw new RocketError('VALIDATION_FAILED', 'Validation failed', sc.details);

  for (const row of walk(top)) {
    if (row !== top) permit(sc, row.entity, row.path, row.op === 'insert' ? 'create' : row.op === 'update' ? 'update' : 'delete', row.current);
    for (const n of row.nested) {
      for (const removed of n.removed) permit(sc, n.relation.target, at(row.path, n.key), 'delete', removed);
    }
  }

  // before_delete rules of every row the tree removes
  for (const row of walk(top)) {
    const removals = [
      ...(row.op === 'delete' ? [{ entity: row.entity, current: row.current!, path: row.path }] : []),
      ...row.nested.flatMap((n) =>
        n.removed.map((current, i) => ({ entity: n.relation.target, current, path: `${at(row.path, n.key)}(removed ${i})` })),
      ),
    ];
    for (const r of removals) {
      const found: ErrorDetail[] = [];
      const record = envRecordOf(r.entity, r.current);
      await runRules(
        sc.tx,
        sc.caller,
        new Date(sc.now),
        { entity: r.entity, record, old: record, pk: r.current[r.entity.pk.name], action: 'delete' },
        found,
      );
      sc.details.push(...prefixDetails(r.path, found));
    }
  }

  for (const stage of ROW_STAGES) {
    const rows = [...walk(top)].filter((row) => stageApplies(stage, row));
    if (rows.length) await stage.run(sc, rows);
    if (sc.details.length) throw new RocketError('VALIDATION_FAILED', 'Validation failed', sc.details);
  }
  checkProducedRequired(top, undefined, sc.details);
  if (sc.details.length) throw new RocketError('VALIDATION_FAILED', 'Validation failed', sc.details);
}

function jsonObject(body: unknown): Record_ {
  return objectPayload(body, 'Invalid JSON body');
}

/** Creates a record inside a running write (state-machine `create_record`), as the system actor. */
async function createWithin(sc: StageContext, entityName: string, body: Record_, prefix: string): Promise<Record_> {
  const inner: StageContext = { ...sc, caller: SYSTEM_ACTOR, details: [] };
  const entity = sc.app.registry.entities.get(entityName);
  // The target was deleted after the machine was stored: the request named a known entity, so no 404 UNKNOWN_ENTITY.
  if (!entity) {
    const message = `entity not found: ${entityName}`;
    throw new RocketError('VALIDATION_FAILED', 'Validation failed', [{ field: at(prefix, 'entity'), rule: 'state_machine', message }]);
  }
  try {
    const row = parsePayload(sc.app.registry, entity, body, 'insert');
    await prepareTree(inner, row);
    return await executeRow({ ...sc, cause: 'action' }, row);
  } catch (err) {
    if (err instanceof RocketError) {
      const details = err.details.map((d) => ({ ...d, field: at(prefix, d.field ?? d.rule ?? '') }));
      throw new RocketError(err.code, err.message, details, err.status);
    }
    throw err;
  }
}

/** After a failed transaction (rolled back, connection released): observers record what must survive it. */
async function afterRollback(ctx: OpContext, writes: readonly WriteEvent[], err: unknown): Promise<void> {
  for (const o of ctx.app.extensions.observers) {
    if (!o.afterRollback) continue;
    try {
      await o.afterRollback(ctx, writes, err);
    } catch (e) {
      ctx.app.log.error({ err: e, app: ctx.app.name, observer: o.name }, 'post-rollback work failed');
    }
  }
}

/** Runs a write in one transaction; post-commit effects are dispatched after COMMIT, off the connection. */
async function inTransaction<T>(ctx: OpContext, fn: (sc: StageContext) => Promise<T>): Promise<T> {
  const now = nowIso();
  let effects: StoredEffect[] = [];
  const writes: WriteEvent[] = [];
  const result = await ctx.app.db
    .transaction(async (tx: Queryable) => {
      const sc: StageContext = {
        ...ctx,
        tx,
        now,
        writes,
        details: [] as ErrorDetail[],
        outbox: [],
        createRecord: (entity, body, prefix) => createWithin(sc, entity, body, prefix),
      };
      const out = await fn(sc);
      for (const o of ctx.app.extensions.observers) if (o.beforeCommit) await o.beforeCommit(sc, writes);
      effects = await recordEffects(tx, sc.outbox);
      return out;
    })
    .catch(async (err: unknown) => {
      await afterRollback(ctx, writes, err);
      throw err;
    });
  try {
    if (effects.length) await dispatchEffects(ctx.app, effects);
  } finally {
    // The write committed: its observers hear of it even when handing on its effects failed.
    for (const o of ctx.app.extensions.observers) {
      if (!o.afterCommit) continue;
      try {
        await o.afterCommit(ctx, writes);
      } catch (err) {
        ctx.app.log.error({ err, app: ctx.app.name, observer: o.name }, 'post-commit work failed');
      }
    }
  }
  return result;
}

/** POST /:entity. `checkQuery` judges the request's query (`include=`) after the entity and permission checks, before the body. */
export async function createRecord(ctx: OpContext, entityName: string, body: unknown, checkQuery?: () => void): Promise<Record_> {
  const entity = entityOf(ctx.app, entityName);
  ctx.app.permissions.check(ctx.caller, entity.name, 'create');
  checkQuery?.();
  const row = parsePayload(ctx.app.registry, entity, jsonObject(body), 'insert');
  const single = await plainWrite(ctx, row);
  if (single) {
    try {
      const stored = await executeRow({ tx: ctx.app.db, now: nowIso(), writes: [] }, row, single);
      inlineCommitted([single]);
      return recordOf(entity, stored);
    } finally {
      inlineSettled([single]);
    }
  }
  const tree = await plainInsertTree(ctx, row);
  if (tree) {
    try {
      const stored = await insertTree({ tx: ctx.app.db, now: nowIso(), writes: [] }, row, (e) => tree.get(e));
      inlineCommitted(tree.values());
      return recordOf(entity, stored);
    } finally {
      inlineSettled(tree.values());
    }
  }
  const stored = await inTransaction(ctx, async (sc) => {
    await prepareTree(sc, row);
    return executeRow(sc, row);
  });
  return recordOf(entity, stored);
}

/** The fast path of one row's entity, when the row may take it (undefined: the general path must run). */
async function plainPath(ctx: OpContext, row: RowPlan): Promise<FastPath | undefined> {
  if (row.pending) return undefined; // problems waiting for the stored children: prepareTree answers them
  const path = await fastPathOf(ctx.app, row.entity);
  return path && rowIsPlain(path, row) ? path : undefined;
}

/**
 * Captures wanted only sometimes (realtime: while subscribed) are left out of a statement while idle; those
 * that want to know when such a write is over say so (`skipped`). Call `inlineSettled` once the statement ran.
 */
function inlineOf(ctx: OpContext, captures: readonly InlineCapture[]): Inline {
  if (!captures.some((c) => c.active)) return { ctx, captures };
  const on: InlineCapture[] = [];
  const skipped: Array<() => void> = [];
  for (const c of captures) {
    if (!c.active || c.active(ctx)) on.push(c);
    else if (c.skipped) skipped.push(c.skipped(ctx));
  }
  return skipped.length > 0 ? { ctx, captures: on, skipped } : { ctx, captures: on };
}

/** A single plain row: one statement, no explicit transaction (no BEGIN/COMMIT round trips). */
async function plainWrite(ctx: OpContext, row: RowPlan): Promise<Inline | undefined> {
  const path = row.nested.length === 0 ? await plainPath(ctx, row) : undefined;
  // Decided last, just before the statement runs: whatever `inlineOf` skipped must be settled after it.
  return path && inlineOf(ctx, path.captures);
}

/**
 * A new plain parent with new plain children only (one level, one_to_one /
 * one_to_many), the caller allowed to create them: one statement (see insertTree).
 * The answer gives each entity's fast path.
 */
async function plainInsertTree(ctx: OpContext, row: RowPlan): Promise<Map<EntityMeta, Inline> | undefined> {
  if (row.nested.length === 0) return undefined;
  const parent = await plainPath(ctx, row);
  if (!parent) return undefined;
  const paths = new Map<EntityMeta, FastPath>([[row.entity, parent]]);
  for (const n of row.nested) {
    if (n.relation.def.type === 'many_to_many') return undefined;
    if (n.rows.length === 0) continue;
    const child = await fastPathOf(ctx.app, n.relation.target);
    if (!child) return undefined;
    for (const c of n.rows) {
      if (c.sentPk !== undefined || c.op !== 'insert' || c.nested.length > 0 || !rowIsPlain(child, c)) return undefined;
    }
    paths.set(n.relation.target, child);
  }
  for (const n of row.nested) for (const child of n.rows) permit(ctx, child.entity, child.path, 'create');
  // Decided last, just before the statement runs: whatever `inlineOf` skipped must be settled after it.
  const plans = new Map<EntityMeta, Inline>();
  for (const [entity, path] of paths) plans.set(entity, inlineOf(ctx, path.captures));
  return plans;
}

/**
 * PUT fast path: a plain write by primary key that no row-level permission
 * condition depends on is one `UPDATE … RETURNING` (a missing row is a 404).
 * Undefined when the general path must run.
 */
async function plainUpdate(ctx: OpContext, entity: EntityMeta, id: string, body: unknown, checkQuery?: () => void): Promise<Record_ | undefined> {
  // With a slug field `id` may be a slug, which only the general path looks up.
  if (entity.def.slug || !looksLikePk(entity, id) || !ctx.app.permissions.allowsAnyRow(ctx.caller, entity.name, 'update')) return undefined;
  let row: RowPlan;
  try {
    checkQuery?.();
    row = parsePayload(ctx.app.registry, entity, jsonObject(body), 'update');
  } catch (err) {
    // The spec answers 404 before looking at the query or the body.
    if (!(await findRecord(ctx.app.db, entity, id))) throw recordNotFound(entity, id);
    throw err;
  }
  const inline = await plainWrite(ctx, row);
  if (!inline) return undefined;
  try {
    const stored = await updateByKey({ tx: ctx.app.db, now: nowIso(), writes: [] }, row, id, inline);
    if (!stored) {
      // Nothing was written: either no such row, or (with captures: see guardedUpdateSql) another write got there first.
      // The general path tells the two apart and updates under a row lock.
      if (inline.captures.length > 0) return undefined;
      throw recordNotFound(entity, id);
    }
    inlineCommitted([inline]);
    return recordOf(entity, stored);
  } finally {
    inlineSettled([inline]);
  }
}

/** PUT /:entity/:id — partial update; `id` may be a slug. `checkQuery`: as for create, after the record's 404 and 403. */
export async function updateRecord(ctx: OpContext, entityName: string, id: string, body: unknown, checkQuery?: () => void): Promise<Record_> {
  const entity = entityOf(ctx.app, entityName);
  const plain = await plainUpdate(ctx, entity, id, body, checkQuery);
  if (plain) return plain;
  const stored = await inTransaction(ctx, async (sc) => {
    const current = await findRecord(sc.tx, entity, id, { forUpdate: true });
    if (!current) throw recordNotFound(entity, id);
    ctx.app.permissions.check(ctx.caller, entity.name, 'update', current, entity.fields);
    checkQuery?.();
    const row = parsePayload(ctx.app.registry, entity, jsonObject(body), 'update');
    row.current = current;
    row.record = { ...envRecordOf(entity, current), ...row.values };
    await prepareTree(sc, row);
    return executeRow(sc, row);
  });
  return recordOf(entity, stored);
}

/** DELETE /:entity/:id — permission against the current row, before_delete rules, cascades, the row; one transaction. */
export async function deleteRecord(ctx: OpContext, entityName: string, id: string): Promise<{ id: string }> {
  const entity = entityOf(ctx.app, entityName);
  await inTransaction(ctx, async (sc) => {
    const current = await findRecord(sc.tx, entity, id, { forUpdate: true });
    if (!current) throw recordNotFound(entity, id);
    ctx.app.permissions.check(ctx.caller, entity.name, 'delete', current, entity.fields);
    const record = envRecordOf(entity, current);
    await runRules(sc.tx, ctx.caller, new Date(sc.now), { entity, record, old: record, pk: current[entity.pk.name], action: 'delete' }, sc.details);
    if (sc.details.length) throw new RocketError('VALIDATION_FAILED', 'Validation failed', sc.details);
    await deleteWithCascades(sc, entity, [current]);
  });
  return { id };
}
