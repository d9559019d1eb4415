import { jsonOfText } from '../db/exact-json.js';
import type { Queryable } from '../db/database.js';
import { forbidden } from '../errors.js';
import type { Caller } from './caller.js';
import { getOrInsert } from '../collections.js';
import { comparableField, compareOrdered, conditionText, orderingBound } from '../types/condition-values.js';
import type { TypedField } from '../types/field-types.js';

/**
 * Permission policies (spec: auth.md §Permissions): a whitelist of
 * (entity, action, roles, conditions) rows. Pure evaluation: no HTTP, no SQL
 * beyond loading the rows. The CRUD engine turns a ReadScope into SQL filters.
 */

export type PermissionAction = 'read' | 'create' | 'update' | 'delete';
export type ConditionOperator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'not_in';
export interface PermissionCondition {
  field: string;
  operator: ConditionOperator;
  value: unknown;
}
export interface PermissionPolicy {
  id: string;
  entity: string;
  action: PermissionAction;
  roles: string[];
  conditions: PermissionCondition[];
}
/** Read visibility for one caller on one entity: every row, or rows matching any of the groups (each group = AND of conditions, with $user.* values already resolved). */
export type ReadScope = { kind: 'all' } | { kind: 'some'; groups: PermissionCondition[][] };

export const PERMISSION_ACTIONS: readonly PermissionAction[] = ['read', 'create', 'update', 'delete'];
export const CONDITION_OPERATORS: readonly ConditionOperator[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in'];
export const ORDERING_OPERATORS: readonly ConditionOperator[] = ['gt', 'gte', 'lt', 'lte'];
export const LIST_OPERATORS: readonly ConditionOperator[] = ['in', 'not_in'];
/** Condition values naming the caller, substituted at evaluation time. */
export const USER_VARIABLES = ['$user.id', '$user.email', '$user.roles'] as const;

export function isPermissionAction(value: unknown): value is PermissionAction {
  return typeof value === 'string' && (PERMISSION_ACTIONS as readonly string[]).includes(value);
}

export function isConditionOperator(value: unknown): value is ConditionOperator {
  return typeof value === 'string' && (CONDITION_OPERATORS as readonly string[]).includes(value);
}

/** A policy with its roles lower-cased once, for case-insensitive matching. */
interface CompiledPolicy {
  policy: PermissionPolicy;
  roles: ReadonlySet<string>;
}

/** Marker for a `$user.*` value the caller cannot supply (e.g. no email): the condition never holds. */
const UNRESOLVED = Symbol('unresolved');
type Resolved = unknown | typeof UNRESOLVED;

const ALL: ReadScope = { kind: 'all' };
const NOTHING: ReadScope = { kind: 'some', groups: [] };

export class PermissionSet {
  private constructor(private readonly byKey: ReadonlyMap<string, readonly CompiledPolicy[]>) {}

  static empty(): PermissionSet {
    return new PermissionSet(new Map());
  }

  /** Rows of `_permissions`; rows that cannot be parsed are skipped (they grant nothing: fail closed). */
  static fromRows(rows: readonly unknown[]): PermissionSet {
    const byKey = new Map<string, CompiledPolicy[]>();
    for (const row of rows) {
      const policy = parsePolicyRow(row);
      if (!policy) continue;
      const key = keyOf(policy.entity, policy.action);
      const list = getOrInsert(byKey, key, () => []);
      list.push({ policy, roles: new Set(policy.roles.map((r) => r.toLowerCase())) });
    }
    return new PermissionSet(byKey);
  }

  /** Every policy, in load order (for diagnostics and tests). */
  policies(): PermissionPolicy[] {
    return [...this.byKey.values()].flatMap((list) => list.map((c) => c.policy));
  }

  /**
   * 403 FORBIDDEN "No permission for <action> on <entity>" when no policy exists for (entity, action);
   * "Permission denied for <action> on <entity>" when none grants it. Admins always pass.
   * `record` is the current stored row for update/delete (`fields`: its entity's, see conditionHolds); for
   * `read` with a record, the record must be visible under one matching policy; `create` never evaluates
   * conditions.
   */
  check(
    caller: Caller,
    entity: string,
    action: PermissionAction,
    record?: Readonly<Record<string, unknown>>,
    fields?: ReadonlyMap<string, TypedField>,
  ): void {
    if (caller.isAdmin) return;
    const matching = this.matching(caller, entity, action);
    if (action === 'create') return;
    if (action === 'read' && record === undefined) return;
    const row = record ?? {};
    for (const { policy } of matching) {
      if (policy.conditions.every((c) => conditionHolds(row, c, caller, fields))) return;
    }
    throw denied(action, entity);
  }

  /** True when the action is granted whatever the stored row holds (admin, or a matching policy without conditions). Never throws. */
  allowsAnyRow(caller: Caller, entity: string, action: PermissionAction): boolean {
    if (caller.isAdmin) return true;
    return this.matchingOrEmpty(caller, entity, action).some(({ policy }) => policy.conditions.length === 0);
  }

  /** Whether some policy for (entity, action) names one of the caller's roles, whatever its conditions. Admins: always. */
  grants(caller: Caller, entity: string, action: PermissionAction): boolean {
    return caller.isAdmin || this.matchingOrEmpty(caller, entity, action).length > 0;
  }

  /** For reads: throws the same 403 when no policy exists/matches; else the scope. Admin → {kind:'all'}. */
  readScope(caller: Caller, entity: string): ReadScope {
    if (caller.isAdmin) return ALL;
    return scopeOf(this.matching(caller, entity, 'read'), caller);
  }

  /** Like readScope but never throws: includes of an entity the caller cannot read yield no rows. */
  includeScope(caller: Caller, entity: string): ReadScope {
    if (caller.isAdmin) return ALL;
    const matching = this.matchingOrEmpty(caller, entity, 'read');
    return matching.length === 0 ? NOTHING : scopeOf(matching, caller);
  }

  /** Matching policies; throws the spec's 403s when there are none. */
  private matching(caller: Caller, entity: string, action: PermissionAction): readonly CompiledPolicy[] {
    const all = this.byKey.get(keyOf(entity, action));
    if (!all || all.length === 0) throw forbidden(`No permission for ${action} on ${entity}`);
    const matching = rolesMatch(all, caller);
    if (matching.length === 0) throw denied(action, entity);
    return matching;
  }

  private matchingOrEmpty(caller: Caller, entity: string, action: PermissionAction): readonly CompiledPolicy[] {
    const all = this.byKey.get(keyOf(entity, action));
    return all ? rolesMatch(all, caller) : [];
  }
}

export async function loadPermissionSet(db: Queryable): Promise<PermissionSet> {
  const rows = await db.query('SELECT id, entity, action, roles, conditions FROM _permissions ORDER BY entity, action, created_at, id');
  return PermissionSet.fromRows(rows);
}

/**
 * Whether one condition holds on a record (spec: auth.md §Evaluation), with `$user.*` values taken from
 * the caller. A missing (or null) field never holds, like SQL's NULL comparisons; with the entity's
 * `fields`, neither does an undeclared, json or file one (types/condition-values.ts).
 */
export function conditionHolds(
  record: Readonly<Record<string, unknown>>,
  condition: PermissionCondition,
  caller: Caller,
  fields?: ReadonlyMap<string, TypedField>,
): boolean {
  const field = fields?.get(condition.field);
  if (fields && !comparableField(field)) return false;
  const type = field?.type;
  const actual = Object.hasOwn(record, condition.field) ? record[condition.field] : undefined;
  if (actual === undefined || actual === null) return false;
  const expected = resolveValue(condition, caller);
  if (expected === UNRESOLVED) return false;
  switch (condition.operator) {
    case 'eq':
      return conditionText(actual, type) === conditionText(expected, type);
    case 'neq':
      return conditionText(actual, type) !== conditionText(expected, type);
    case 'in':
    case 'not_in': {
      if (!Array.isArray(expected)) return false;
      const text = conditionText(actual, type);
      const found = expected.some((member) => conditionText(member, type) === text);
      return condition.operator === 'in' ? found : !found;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const cmp = compareOrdered(actual, orderingBound(expected));
      if (cmp === undefined) return false;
      if (condition.operator === 'gt') return cmp > 0;
      if (condition.operator === 'gte') return cmp >= 0;
      if (condition.operator === 'lt') return cmp < 0;
      return cmp <= 0;
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------

function keyOf(entity: string, action: PermissionAction): string {
  return `${entity}\u0000${action}`;
}

function denied(action: PermissionAction, entity: string) {
  return forbidden(`Permission denied for ${action} on ${entity}`);
}

function rolesMatch(policies: readonly CompiledPolicy[], caller: Caller): CompiledPolicy[] {
  const mine = caller.roles.map((r) => r.toLowerCase());
  return policies.filter((p) => mine.some((r) => p.roles.has(r)));
}

/** OR of the matching policies; a policy without conditions makes every row visible. */
function scopeOf(matching: readonly CompiledPolicy[], caller: Caller): ReadScope {
  const groups: PermissionCondition[][] = [];
  for (const { policy } of matching) {
    if (policy.conditions.length === 0) return ALL;
    const group: PermissionCondition[] = [];
    let possible = true;
    for (const condition of policy.conditions) {
      const value = resolveValue(condition, caller);
      if (value === UNRESOLVED) {
        possible = false; // e.g. $user.email for a caller without an email: the group matches nothing
        break;
      }
      group.push({ field: condition.field, operator: condition.operator, value });
    }
    if (possible) groups.push(group);
  }
  return { kind: 'some', groups };
}

/** Substitutes `$user.id`, `$user.email`, `$user.roles` (also as members of in/not_in lists). */
function resolveValue(condition: PermissionCondition, caller: Caller): Resolved {
  const { operator, value } = condition;
  const list = operator === 'in' || operator === 'not_in';
  if (value === '$user.roles') return list ? [...caller.roles] : UNRESOLVED;
  if (list && Array.isArray(value)) {
    const out: unknown[] = [];
    for (const member of value) {
      const resolved = resolveScalar(member, caller);
      if (resolved !== UNRESOLVED) out.push(resolved);
    }
    return out;
  }
  return resolveScalar(value, caller);
}

function resolveScalar(value: unknown, caller: Caller): Resolved {
  if (value === '$user.id') return caller.id;
  if (value === '$user.email') return caller.email ?? UNRESOLVED;
  if (value === '$user.roles') return UNRESOLVED;
  return value;
}

function parsePolicyRow(row: unknown): PermissionPolicy | undefined {
  if (row === null || typeof row !== 'object') return undefined;
  const r = row as Record<string, unknown>;
  if (typeof r.entity !== 'string' || r.entity === '' || !isPermissionAction(r.action)) return undefined;
  const roles = r.roles ?? [];
  if (!Array.isArray(roles) || !roles.every((x): x is string => typeof x === 'string')) return undefined;
  let raw: unknown = r.conditions ?? [];
  if (typeof raw === 'string') {
    raw = jsonOfText(raw);
    if (raw === undefined) return undefined;
  }
  if (raw === null) raw = [];
  if (!Array.isArray(raw)) return undefined;
  const conditions: PermissionCondition[] = [];
  for (const c of raw) {
    const condition = parseStoredCondition(c);
    if (!condition) return undefined;
    conditions.push(condition);
  }
  return { id: String(r.id ?? ''), entity: r.entity, action: r.action, roles: [...roles], conditions };
}

function parseStoredCondition(c: unknown): PermissionCondition | undefined {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const { field, operator, value } = c as Record<string, unknown>;
  if (typeof field !== 'string' || field === '' || !isConditionOperator(operator)) return undefined;
  if ((operator === 'in' || operator === 'not_in') && !Array.isArray(value) && value !== '$user.roles') return undefined;
  return { field, operator, value };
}
