import type { Database } from '../db/database.js';
import { exactJson, jsonOfText } from '../db/exact-json.js';
import { ExactNumber } from '../db/exact-number.js';
import { invalid, invalidPayload, notFound } from '../errors.js';
import {
  CONDITION_OPERATORS,
  USER_VARIABLES,
  isConditionOperator,
  isPermissionAction,
  type PermissionAction,
  type PermissionCondition,
} from './permissions.js';
import { optionalRoles } from './users.js';
import { UUID_RE } from '../types/ids.js';
import { instantValue } from '../types/condition-values.js';

/**
 * Admin API of permission policies (spec: auth.md §Permissions, Admin API). Conditions are stored with exactJson:
 * a value beyond a double's digits (an int8's 9007199254740993) matches that value, not its rounded neighbour.
 */

export interface PermissionRow {
  id: string;
  entity: string;
  action: string;
  roles: string[];
  conditions: PermissionCondition[];
  created_at: Date;
  updated_at: Date;
}

/** POST/PUT echo: `conditions` omitted when empty. */
export interface PermissionEcho {
  id: string;
  entity: string;
  action: PermissionAction;
  roles: string[];
  conditions?: PermissionCondition[];
}

export interface PermissionInput {
  entity: string;
  action: PermissionAction;
  roles: string[];
  conditions: PermissionCondition[];
}

/** What mutations need of an app: its pool and the metadata reload (the policy snapshot is rebuilt). */
export interface PermissionsContext {
  readonly db: Database;
  reload(): Promise<void>;
}

const ROW_COLUMNS = `id, entity, action, COALESCE(roles, '{}') AS roles, COALESCE(conditions, '[]'::jsonb) AS conditions,
  created_at, updated_at`;

export async function listPermissions(db: Database): Promise<PermissionRow[]> {
  const rows = await db.query<PermissionRow>(`SELECT ${ROW_COLUMNS} FROM _permissions ORDER BY entity, action, created_at, id`);
  return rows.map(normalizeRow);
}

export async function getPermission(db: Database, id: string): Promise<PermissionRow> {
  const rows = UUID_RE.test(id) ? await db.query<PermissionRow>(`SELECT ${ROW_COLUMNS} FROM _permissions WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`Permission not found: ${id}`);
  return normalizeRow(rows[0]);
}

export async function createPermission(app: PermissionsContext, body: Record<string, unknown>): Promise<PermissionEcho> {
  const input = parsePermissionInput(body);
  const rows = await app.db.query<{ id: string }>(
    `INSERT INTO _permissions (entity, action, roles, conditions) VALUES ($1, $2, $3::text[], $4::jsonb) RETURNING id`,
    [input.entity, input.action, input.roles, exactJson(input.conditions)],
  );
  await app.reload();
  return echo(rows[0]!.id, input);
}

/** Full replacement; 404 before any validation. */
export async function updatePermission(app: PermissionsContext, id: string, body: Record<string, unknown>): Promise<PermissionEcho> {
  await getPermission(app.db, id);
  const input = parsePermissionInput(body);
  const rows = await app.db.query<{ id: string }>(
    `UPDATE _permissions SET entity = $2, action = $3, roles = $4::text[], conditions = $5::jsonb, updated_at = NOW()
     WHERE id = $1 RETURNING id`,
    [id, input.entity, input.action, input.roles, exactJson(input.conditions)],
  );
  if (!rows[0]) throw notFound(`Permission not found: ${id}`);
  await app.reload();
  return echo(rows[0].id, input);
}

export async function deletePermission(app: PermissionsContext, id: string): Promise<{ id: string; deleted: true }> {
  const rows = UUID_RE.test(id) ? await app.db.query<{ id: string }>('DELETE FROM _permissions WHERE id = $1 RETURNING id', [id]) : [];
  if (!rows[0]) throw notFound(`Permission not found: ${id}`);
  await app.reload();
  return { id: rows[0].id, deleted: true };
}

/**
 * A policy from a request body: 400 for wrong JSON types of the top-level fields, 422 for missing values,
 * an unknown action, and conditions whose operator/value do not fit (improved).
 */
export function parsePermissionInput(body: Record<string, unknown>): PermissionInput {
  const { entity, action, roles, conditions } = body;
  if (entity !== undefined && entity !== null && typeof entity !== 'string') throw invalidPayload();
  if (action !== undefined && action !== null && typeof action !== 'string') throw invalidPayload();
  const parsedRoles = optionalRoles(roles) ?? [];
  if (conditions !== undefined && conditions !== null && !Array.isArray(conditions)) throw invalidPayload();
  const name = typeof entity === 'string' ? entity.trim() : '';
  if (name === '') throw invalid('entity is required');
  if (typeof action !== 'string' || action === '') throw invalid('action is required');
  if (!isPermissionAction(action)) throw invalid('action must be read, create, update, or delete');
  return { entity: name, action, roles: parsedRoles, conditions: validateConditions(conditions ?? []) };
}

/** Checks each condition's field, operator and value (also usable by import). */
export function validateConditions(raw: readonly unknown[]): PermissionCondition[] {
  return raw.map((c, i) => validateCondition(c, `conditions[${i}]`));
}

function validateCondition(c: unknown, at: string): PermissionCondition {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) {
    throw invalid(`${at} must be an object with field, operator and value`);
  }
  const { field, operator, value } = c as Record<string, unknown>;
  if (typeof field !== 'string' || field.trim() === '') throw invalid(`${at}.field is required`);
  if (!isConditionOperator(operator)) {
    throw invalid(`${at}.operator must be one of ${CONDITION_OPERATORS.join(', ')}`);
  }
  const problem = valueProblem(operator, value);
  if (problem) throw invalid(`${at}.value ${problem}`);
  return { field: field.trim(), operator, value };
}

/** A finite number, exactly parsed (an ExactNumber: an int8 beyond 2^53, compared by its digits) or not. */
const isNumber = (v: unknown): v is number | ExactNumber => (typeof v === 'number' || v instanceof ExactNumber) && Number.isFinite(Number(v));

const isScalar = (v: unknown): v is string | number | ExactNumber | boolean => typeof v === 'string' || isNumber(v) || typeof v === 'boolean';

function variableProblem(v: unknown, allowRoles: boolean): string | undefined {
  if (typeof v !== 'string' || !v.startsWith('$user.')) return undefined;
  if (!(USER_VARIABLES as readonly string[]).includes(v)) {
    return `names an unknown variable ${v} (use ${USER_VARIABLES.join(', ')})`;
  }
  if (v === '$user.roles' && !allowRoles) return '$user.roles can only be used with in or not_in';
  return undefined;
}

function valueProblem(operator: PermissionCondition['operator'], value: unknown): string | undefined {
  switch (operator) {
    case 'eq':
    case 'neq':
      if (!isScalar(value)) return `must be a string, number or boolean for operator ${operator}`;
      return variableProblem(value, false);
    case 'in':
    case 'not_in':
      if (value === '$user.roles') return undefined;
      if (!Array.isArray(value)) return `must be an array for operator ${operator}`;
      if (!value.every(isScalar)) return `must be an array of strings, numbers or booleans for operator ${operator}`;
      for (const member of value) {
        const problem = variableProblem(member, false);
        if (problem) return problem;
      }
      return undefined;
    default:
      if (isNumber(value)) return undefined;
      if (instantValue(value) !== undefined) return undefined;
      return `must be a number or a date for operator ${operator}`;
  }
}

function echo(id: string, input: PermissionInput): PermissionEcho {
  const out: PermissionEcho = { id, entity: input.entity, action: input.action, roles: input.roles };
  if (input.conditions.length > 0) out.conditions = input.conditions;
  return out;
}

/** Conditions always come back as an array, even from legacy rows holding a JSON string or NULL. */
function normalizeRow(row: PermissionRow): PermissionRow {
  const conditions = typeof row.conditions === 'string' ? jsonOfText(row.conditions) : row.conditions;
  return { ...row, conditions: Array.isArray(conditions) ? (conditions as PermissionCondition[]) : [] };
}
