import { RocketError, type ErrorDetail } from '../../errors.js';
import { engineWritten, type EntityMeta, type FieldMeta, type Registry } from '../../metadata/registry.js';
import { WRITE_MODES, type WriteMode } from '../../metadata/types.js';
import type { Record_ } from '../context.js';
import { isObject } from '../../metadata/problems.js';
import { coerceInput } from '../../types/coerce.js';
import { at, type NestedPlan, type RowPlan } from './plan.js';
import { fieldValue } from '../field-value.js';
import { setFileValue } from './file-value.js';
import { ownValue } from '../../collections.js';

/**
 * Phase 1 of a write: split every object of the payload tree into field values
 * and nested relation writes, and check types, enums and (for inserts) required
 * fields. No database access: everything here is decided by the registry.
 */

interface Collect {
  unknown: ErrorDetail[];
  invalid: ErrorDetail[];
}

function checkValue(f: FieldMeta, value: unknown, path: string, row: RowPlan, c: Collect): void {
  const where = at(path, f.name);
  if (value === null) {
    row.values[f.name] = null;
    return;
  }
  if (f.type === 'file') {
    const problem = setFileValue(f, value, where, row);
    if (problem) c.invalid.push(problem);
    return;
  }
  const checked = fieldValue(f, value, where);
  if (checked.ok) row.values[f.name] = checked.value;
  else c.invalid.push(checked.detail);
}

const blank = (v: unknown) => v === undefined || v === null || v === '';

/** The record an insert will write: sent values plus defaults (own keys only: `constructor` is a field name too). */
function insertRecord(entity: EntityMeta, values: Record_): Record_ {
  const record: Record_ = {};
  for (const f of entity.fieldList) {
    if (Object.hasOwn(values, f.name)) record[f.name] = values[f.name];
    else record[f.name] = f.default ?? null;
  }
  return record;
}

/** Required-field check of an insert row (`injected` = FK set by the parent). */
export function checkRequired(row: RowPlan, injected: string | undefined, details: ErrorDetail[]): void {
  const entity = row.entity;
  const slug = entity.def.slug;
  const pk = entity.def.primary_key;
  for (const f of entity.fieldList) {
    const clientPk = f.name === pk.field && !pk.generated;
    if (!clientPk && (!f.required || f.nullable || f.auto)) continue;
    if (f.name === pk.field && pk.generated) continue;
    if (f.name === injected) continue;
    if (f.default !== undefined && !Object.hasOwn(row.values, f.name)) continue; // an absent field takes its default
    if (slug?.source && slug.field === f.name) continue;
    const where = at(row.path, f.name);
    if (blank(ownValue(row.values, f.name)) && !details.some((d) => d.field === where)) {
      details.push({ field: at(row.path, f.name), rule: 'required', message: `${f.name} is required` });
    }
  }
}

/** Required fields may not be cleared by an update. */
export function checkNotCleared(row: RowPlan, details: ErrorDetail[]): void {
  for (const [name, value] of Object.entries(row.values)) {
    const f = row.entity.fields.get(name)!;
    if (f.required && !f.nullable && (value === null || value === '')) {
      details.push({ field: at(row.path, name), rule: 'required', message: `${name} is required` });
    }
  }
}

/**
 * Required fields a rule or state-machine action set to null or "" (the client's own values were checked while
 * parsing): the same 422 a sent value gets, with the row's path. An inserted child's key to its
 * parent (`injected`) is the parent's whatever a rule made of it.
 */
export function checkProducedRequired(row: RowPlan, injected: string | undefined, details: ErrorDetail[]): void {
  if (row.op === 'insert' || row.op === 'update') {
    for (const [name, value] of Object.entries(row.values)) {
      if (!blank(value) || (row.op === 'insert' && name === injected)) continue;
      const f = row.entity.fields.get(name);
      if (f?.required && !f.nullable) details.push({ field: at(row.path, name), rule: 'required', message: `${name} is required` });
    }
  }
  for (const n of row.nested) for (const child of n.rows) checkProducedRequired(child, n.relation.def.target_key, details);
}

function parseNested(registry: Registry, parent: EntityMeta, key: string, value: unknown, path: string, c: Collect): NestedPlan | undefined {
  const use = registry.resolve(parent, key);
  if (!use?.forward) return undefined;
  const where = at(path, key);
  const relation = use.relation;
  // Only `{"data": [objects…]}` makes a nested write; anything else under a relation's name is an unknown key (rest-api.md §Create 2).
  if (!isObject(value) || !Array.isArray(value.data) || !value.data.every(isObject)) {
    c.unknown.push({ field: where, rule: 'unknown', message: `Unknown field or relation: ${key}` });
    return { key, relation, mode: 'diff', rows: [], links: [], removed: [] };
  }
  const requested = value._write_mode;
  const mode: WriteMode = (WRITE_MODES as readonly unknown[]).includes(requested) ? (requested as WriteMode) : relation.def.write_mode;
  for (const k of Object.keys(value)) {
    if (k !== 'data' && k !== '_write_mode') c.unknown.push({ field: at(where, k), rule: 'unknown', message: `Unknown field or relation: ${k}` });
  }
  const plan: NestedPlan = { key, relation, mode, rows: [], links: [], removed: [] };
  const target = relation.target;
  value.data.forEach((item, i) => {
    const rowPath = `${where}[${i}]`;
    const del = item._delete;
    if (del !== undefined && del !== true && del !== false) {
      c.invalid.push({ field: at(rowPath, '_delete'), rule: 'type', message: '_delete must be true' });
      return;
    }
    if (relation.def.type === 'many_to_many') {
      const id = ownValue(item, target.pk.name) ?? ownValue(item, 'id');
      if (id === undefined || id === null) return; // rows without an id are skipped (spec)
      const coerced = coerceInput(target.pk, id);
      if (!coerced.ok) {
        c.invalid.push({ field: at(rowPath, target.pk.name), rule: 'type', message: `${target.pk.name} must be ${target.pk.type}` });
        return;
      }
      plan.links.push({ id: coerced.value, remove: del === true, path: rowPath });
      return;
    }
    const child = parseRow(registry, target, item, rowPath, 'nested', c, relation.def.target_key);
    if (del === true) {
      // A key of the wrong type is already reported as such, not also as missing.
      if (child.sentPk === undefined && (ownValue(item, target.pk.name) ?? null) === null) {
        c.invalid.push({ field: at(rowPath, '_delete'), rule: 'invalid', message: `_delete needs the ${target.pk.name} of an existing row` });
      }
      child.op = 'delete';
    }
    plan.rows.push(child);
  });
  return plan;
}

/**
 * Parses one object of the payload. `kind` is 'insert' / 'update' for the top
 * row; nested rows get their op once current children are known.
 */
export function parseRow(
  registry: Registry,
  entity: EntityMeta,
  input: Record_,
  path: string,
  kind: 'insert' | 'update' | 'nested',
  c: Collect,
  /** A nested row's key to its parent, which an insert takes from the parent whatever the row sends. */
  injected?: string,
): RowPlan {
  const row: RowPlan = {
    entity,
    path,
    op: kind === 'update' ? 'update' : 'insert',
    values: {},
    record: {},
    nested: [],
    files: [],
  };
  let sentKey: { f: FieldMeta; value: unknown } | undefined;
  for (const [key, value] of Object.entries(input)) {
    if (kind === 'nested' && key === '_delete') continue;
    const f = entity.fields.get(key);
    if (f && key === injected) {
      sentKey = { f, value }; // judged below, once the row is known to be an insert or not
      continue;
    }
    if (f) {
      if (f.name === entity.pk.name && kind === 'nested' && value !== null && value !== undefined) {
        const coerced = coerceInput(f, value);
        if (coerced.ok) row.sentPk = coerced.value;
        else c.invalid.push({ field: at(path, f.name), rule: 'type', message: `${f.name} must be ${f.type}` });
        if (!entity.def.primary_key.generated && coerced.ok) row.values[f.name] = coerced.value;
        continue;
      }
      if (engineWritten(entity, f)) continue;
      if (f.name === entity.pk.name && kind === 'update') continue; // a PK never changes
      checkValue(f, value, path, row, c);
      continue;
    }
    if (key === 'deleted_at' && entity.softDelete) continue;
    const nested = parseNested(registry, entity, key, value, path, c);
    if (nested) {
      row.nested.push(nested);
      continue;
    }
    c.unknown.push({ field: at(path, key), rule: 'unknown', message: `Unknown field or relation: ${key}` });
  }
  // rest-api.md §Nested writes: an inserted child's key is overwritten by the parent's, so what it sent is not checked
  if (sentKey && row.sentPk !== undefined && !engineWritten(entity, sentKey.f)) checkValue(sentKey.f, sentKey.value, path, row, c);
  if (row.op === 'insert') row.record = insertRecord(entity, row.values);
  return row;
}

/**
 * Parses and field-validates a whole payload tree. Unknown keys anywhere → one
 * 422 listing only them; otherwise type/enum/required problems → one 422.
 */
export function parsePayload(registry: Registry, entity: EntityMeta, body: Record_, kind: 'insert' | 'update'): RowPlan {
  const c: Collect = { unknown: [], invalid: [] };
  const row = parseRow(registry, entity, body, '', kind, c);
  if (c.unknown.length) throw new RocketError('VALIDATION_FAILED', 'Validation failed', c.unknown);
  if (kind === 'insert') {
    checkRequired(row, undefined, c.invalid);
  } else {
    checkNotCleared(row, c.invalid);
  }
  for (const n of row.nested) checkNestedInserts(n, c.invalid);
  if (c.invalid.length) {
    // Every field problem of the tree is answered in one 422 (rest-api.md §Create 3): those that need the current
    // children (a nested row's required fields once it is known to be an update or an insert) come later.
    if (!waitsForChildren(row)) throw new RocketError('VALIDATION_FAILED', 'Validation failed', c.invalid);
    row.pending = c.invalid;
  }
  return row;
}

/** Whether some row of the tree is classified against the stored rows: a nested row naming a PK, or a link. */
function waitsForChildren(row: RowPlan): boolean {
  return row.nested.some((n) => n.links.length > 0 || n.rows.some((child) => child.sentPk !== undefined || waitsForChildren(child)));
}

/** Rows without a PK are inserts whatever the mode: check their required fields now. */
function checkNestedInserts(n: NestedPlan, details: ErrorDetail[]): void {
  for (const child of n.rows) {
    if (child.sentPk === undefined && child.op !== 'delete') checkRequired(child, n.relation.def.target_key, details);
    for (const g of child.nested) checkNestedInserts(g, details);
  }
}
