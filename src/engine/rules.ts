import type { Caller } from '../auth/caller.js';
import type { Queryable } from '../db/database.js';
import type { ErrorDetail } from '../errors.js';
import { ExactNumber, compareExact } from '../db/exact-number.js';
import { ExprRuntimeError, truthy } from '../expr/index.js';
import { engineWritten, type EntityMeta } from '../metadata/registry.js';
import { loadKey, type CompiledRule } from '../metadata/compiled-rules.js';
import type { Record_ } from './context.js';
import { loadRelated } from './related.js';
import { fieldValue } from './field-value.js';
import { setFileValue } from './write/file-value.js';
import type { RowPlan } from './write/plan.js';
import { ownValue } from '../collections.js';
import { PROTO_KEY } from '../metadata/types.js';

/** Field rule check (spec: rules.md §Field rules); undefined = passes. */
function fieldRuleFails(rule: CompiledRule, record: Record_): boolean {
  const { field, operator, value: threshold } = rule.def;
  const value = ownValue(record, field!);
  if (value === undefined || value === null) return false;
  // An exact decimal or int8 (an ExactNumber) and a threshold beyond a double's digits compare by their digits.
  const num = (v: unknown) => (typeof v === 'number' ? v : v instanceof Number ? v.valueOf() : undefined);
  const numeric = (v: unknown): v is number | ExactNumber => typeof v === 'number' || v instanceof ExactNumber;
  switch (operator) {
    case 'min':
      return numeric(value) && numeric(threshold) && compareExact(value, threshold) < 0;
    case 'max':
      return numeric(value) && numeric(threshold) && compareExact(value, threshold) > 0;
    case 'min_length':
      return typeof value === 'string' && num(threshold) !== undefined && [...value].length < num(threshold)!;
    case 'max_length':
      return typeof value === 'string' && num(threshold) !== undefined && [...value].length > num(threshold)!;
    case 'pattern':
      if (typeof value !== 'string' || typeof threshold !== 'string') return false;
      return !rule.pattern?.test(value);
    default:
      return false;
  }
}

export type RuleEnv = {
  record: Record_;
  old: Record_ | null;
  action: 'create' | 'update' | 'delete';
  user: { id: string; email: string | null; roles: string[] };
  entity: string;
  related: Record_;
  now: Date;
};

export function userOf(caller: Caller): RuleEnv['user'] {
  return { id: caller.id, email: caller.email, roles: caller.roles };
}

/** The environment a rule sees: `related` holds exactly the loads the rule declared, with its filters. */
type RelatedOf = (rule: CompiledRule, env: RuleEnv) => RuleEnv;

/**
 * Runs field then expression rules; returns false when a stop_on_fail rule
 * ended evaluation. Details are appended in spec form.
 */
function validate(fieldRules: CompiledRule[], exprRules: CompiledRule[], env: RuleEnv, relatedOf: RelatedOf, details: ErrorDetail[]): boolean {
  for (const rule of fieldRules) {
    if (!fieldRuleFails(rule, env.record)) continue;
    details.push({
      field: rule.def.field,
      rule: rule.def.operator,
      message: rule.def.message ?? `field ${rule.def.field} failed ${rule.def.operator} validation`,
    });
    if (rule.def.stop_on_fail) return false;
  }
  for (const rule of exprRules) {
    let message: string | undefined;
    if (!rule.expr) message = `compile error: ${rule.compileError}`;
    else {
      try {
        if (truthy(rule.expr.evaluate(relatedOf(rule, env)))) message = rule.def.message ?? 'Expression rule violated';
      } catch (err) {
        message = `rule evaluation error: ${err instanceof ExprRuntimeError ? err.message : String(err)}`;
      }
    }
    if (message === undefined) continue;
    details.push({ rule: 'expression', message });
    if (rule.def.stop_on_fail) return false;
  }
  return true;
}

export interface RuleTarget {
  entity: EntityMeta;
  record: Record_;
  old: Record_ | null;
  pk: unknown;
  action: 'create' | 'update' | 'delete';
  /** Writable values of the row; computed results land here too. */
  values?: Record_;
  /** File ids of the row queued for the files stage; a computed file id joins them. */
  files?: RowPlan['files'];
}

/**
 * before_write / before_delete rules of one row. Violations go to `details`
 * (unprefixed); computed values are written into record and values.
 */
export async function runRules(db: Queryable, caller: Caller, now: Date, target: RuleTarget, details: ErrorDetail[]): Promise<void> {
  const rules = target.entity.rules;
  const deleting = target.action === 'delete';
  const fieldRules = deleting ? rules.deleteField : rules.field;
  const exprRules = deleting ? rules.deleteExpression : rules.expression;
  const computed = deleting ? [] : rules.computed;
  if (fieldRules.length + exprRules.length + computed.length === 0) return;

  const loaded = new Map<string, unknown>();
  const loads = deleting ? rules.deleteLoads : rules.writeLoads;
  for (const load of loads) {
    const one: Record_ = {};
    await loadRelated(db, target.entity, target.action === 'create' ? undefined : target.pk, [load], one);
    loaded.set(loadKey(load), one[load.relation]);
  }
  const env: RuleEnv = {
    record: target.record,
    old: target.old,
    action: target.action,
    user: userOf(caller),
    entity: target.entity.name,
    related: {},
    now,
  };
  const relatedOf: RelatedOf = (rule, base) => {
    if (!rule.def.related_load?.length) return base;
    const related: Record_ = {};
    for (const l of rule.def.related_load) related[l.relation] = loaded.get(loadKey(l));
    return { ...base, related };
  };
  const before = details.length;
  if (!validate(fieldRules, exprRules, env, relatedOf, details) || details.length > before) return;

  for (const rule of computed) {
    const failed = details.length;
    computeOne(rule, target, env, relatedOf, details);
    if (rule.def.stop_on_fail && details.length > failed) return;
  }
}

/** One computed rule: its result written into record and values; an error or a refused value goes to `details`. */
function computeOne(rule: CompiledRule, target: RuleTarget, env: RuleEnv, relatedOf: RelatedOf, details: ErrorDetail[]): void {
  const field = rule.def.field!;
  let value: unknown;
  try {
    if (!rule.expr) throw new Error(`compile error: ${rule.compileError}`);
    value = rule.expr.evaluate(relatedOf(rule, env));
  } catch (err) {
    details.push({ field, rule: 'computed', message: (err as Error).message });
    return;
  }
  if (value instanceof Date) value = value.toISOString();
  else if (typeof value === 'object' && value !== null) {
    try {
      value = storable(value, target.record);
    } catch (err) {
      if (!(err instanceof ResultTooLarge)) throw err;
      details.push({ field, rule: 'computed', message: err.message });
      return;
    }
  }
  // Never an entity field, so dropped anyway; assigning it would replace the prototype of `record`.
  if (field !== PROTO_KEY) target.record[field] = value;
  const meta = target.entity.fields.get(field);
  if (!meta || !target.values) return; // not an entity field: dropped at write time
  // Ignored by the write like a sent value (rest-api.md): a generated key, auto timestamps and the soft-delete marker
  // are the engine's, and a key never changes on update (else a rule could move a row, or delete it by an update).
  if (engineWritten(target.entity, meta) || (meta === target.entity.pk && target.action !== 'create')) return;
  if (meta.type === 'file' && target.files) {
    // As if sent (files.md): "any result type" (rules.md) includes a file id, resolved after the rules.
    const problem = setFileValue(meta, value, field, { values: target.values, files: target.files });
    if (problem) details.push(problem);
    return;
  }
  const checked = fieldValue(meta, value, field);
  if (checked.ok) target.values[field] = checked.value;
  else details.push(checked.detail);
}

/**
 * Values and characters (strings and keys counted by length) a computed result may expand to. The evaluation
 * budget bounds the work of building a result, not its size once written out: `map(record.doc, x => record.doc)`
 * costs 3 steps per element yet holds the list once per element, and serialising 30,000 × 30,000 values would
 * block the server for a long while before failing. As much as one evaluation may build in strings (8 Mi), far
 * above what a request body brings by default.
 */
const MAX_COMPUTED_SIZE = 8 * 1024 * 1024;

class ResultTooLarge extends Error {}

/**
 * A computed result made fit to store: every reference to `record` itself (`record`, `[record]`, `{r: record}`)
 * is replaced by a copy of it, since written into `record` the result would otherwise contain itself, a cycle
 * that no JSON write or response can serialise (a 500). Parts without such a reference are kept as they are,
 * so nothing is copied for ordinary results. Throws ResultTooLarge past MAX_COMPUTED_SIZE, counted as written
 * out (a list held twice counts twice).
 */
function storable(value: unknown, record: Record_): unknown {
  let snapshot: Record_ | undefined;
  let size = 0;
  const grow = (n: number) => {
    size += n;
    if (size > MAX_COMPUTED_SIZE) throw new ResultTooLarge(`result too large (over ${MAX_COMPUTED_SIZE} values and characters)`);
  };
  const walk = (v: unknown): unknown => {
    grow(typeof v === 'string' ? 1 + v.length : 1);
    if (v === record) {
      snapshot ??= { ...record };
      return walk(snapshot);
    }
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const x = walk(v[i]);
        if (x === v[i]) continue;
        out ??= v.slice();
        out[i] = x;
      }
      return out ?? v;
    }
    if (typeof v !== 'object' || v === null) return v;
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    let out: Record_ | undefined;
    for (const [k, item] of Object.entries(v)) {
      grow(k.length);
      const x = walk(item);
      if (x === item) continue;
      out ??= { ...v };
      out[k] = x;
    }
    return out ?? v;
  };
  return walk(value);
}
