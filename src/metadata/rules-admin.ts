import { exactJson, jsonColumns } from '../db/exact-json.js';
import { objectPayload, notFound } from '../errors.js';
import type { AdminApp } from './admin-app.js';
import { UUID_RE } from '../types/ids.js';
import { parseRule, type RuleInput } from './rule-definition.js';

/** Rules admin operations (spec: rules.md §Admin API). */

export type RuleObject = RuleInput & { id: string };
export type RuleRow = RuleObject & { created_at: Date; updated_at: Date };

const COLUMNS = 'id, entity, hook, type, definition, priority, active, created_at, updated_at';
const JSON_COLUMNS = ['definition'] as const;

export async function listRules(app: AdminApp): Promise<RuleRow[]> {
  const rows = await app.db.query<RuleRow>(`SELECT ${COLUMNS} FROM _rules ORDER BY entity, priority, created_at`);
  return rows.map((r) => jsonColumns(r, JSON_COLUMNS));
}

export async function getRule(app: AdminApp, id: string): Promise<RuleRow> {
  const rows = UUID_RE.test(id) ? await app.db.query<RuleRow>(`SELECT ${COLUMNS} FROM _rules WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`Rule not found: ${id}`);
  return jsonColumns(rows[0], JSON_COLUMNS);
}

export async function createRule(app: AdminApp, input: unknown): Promise<RuleObject> {
  const rule = parseRule(objectPayload(input), app.registry);
  const rows = await app.db.query<{ id: string }>(
    'INSERT INTO _rules (entity, hook, type, definition, priority, active) VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING id',
    [rule.entity, rule.hook, rule.type, exactJson(rule.definition), rule.priority, rule.active],
  );
  await app.reload();
  return { id: rows[0]!.id, ...rule };
}

export async function updateRule(app: AdminApp, id: string, input: unknown): Promise<RuleObject> {
  await getRule(app, id);
  const rule = parseRule(objectPayload(input), app.registry);
  await app.db.query(
    `UPDATE _rules SET entity = $2, hook = $3, type = $4, definition = $5::jsonb, priority = $6, active = $7, updated_at = NOW()
      WHERE id = $1`,
    [id, rule.entity, rule.hook, rule.type, exactJson(rule.definition), rule.priority, rule.active],
  );
  await app.reload();
  return { id, ...rule };
}

export async function deleteRule(app: AdminApp, id: string): Promise<{ id: string; deleted: true }> {
  await getRule(app, id);
  await app.db.query('DELETE FROM _rules WHERE id = $1', [id]);
  await app.reload();
  return { id, deleted: true };
}
