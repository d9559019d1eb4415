import { exactJson, jsonColumns } from '../db/exact-json.js';
import { invalid, objectPayload, notFound } from '../errors.js';
import type { Queryable } from '../db/database.js';
import type { AdminApp } from './admin-app.js';
import { whileEntityExists } from './problems.js';
import { UUID_RE } from '../types/ids.js';
import { parseRule } from './rule-definition.js';
import type { RuleInput } from './logic-definitions.js';

/** Rules admin operations (spec: rules.md §Admin API). */

export type RuleObject = RuleInput & { id: string };
export type RuleRow = RuleObject & { created_at: Date; updated_at: Date };

const COLUMNS = 'id, entity, hook, type, definition, priority, active, created_at, updated_at';
const JSON_COLUMNS = ['definition'] as const;

/**
 * A field rule names a field of its entity, checked against the snapshot; an entity PUT removing a field that an
 * active field rule names is refused (admin.ts). The entity's row is held FOR SHARE while the rule is saved, so a
 * concurrent PUT either waits for it and then finds the rule, or committed first and its definition is read here.
 */
async function lockRuleEntity(tx: Queryable, entity: string, field: string): Promise<void> {
  const rows = await tx.query<{ has: boolean }>(
    `SELECT definition->'fields' @> jsonb_build_array(jsonb_build_object('name', $2::text)) AS has FROM _entities WHERE name = $1 FOR SHARE`,
    [entity, field],
  );
  if (!rows[0]) throw invalid(`entity not found: ${entity}`);
  if (!rows[0].has) throw invalid(`definition.field: unknown field ${field} of entity ${entity}`);
}

/**
 * Runs a rule's write: a field rule's in a transaction holding its entity's row (lockRuleEntity); any other
 * rule's as one statement — its entity deleted meanwhile is answered by whileEntityExists, and nothing else of
 * the entity can change under it (a large import stores many rules: one statement each, not four).
 */
function savingRule<T>(app: AdminApp, rule: RuleInput, write: (q: Queryable) => Promise<T>): Promise<T> {
  const field = rule.type === 'field' ? rule.definition.field : undefined;
  if (field === undefined) return write(app.db);
  return app.db.transaction(async (tx) => {
    await lockRuleEntity(tx, rule.entity, field);
    return write(tx);
  });
}

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
  const rows = await whileEntityExists(rule.entity, () =>
    savingRule(app, rule, (q) =>
      q.query<{ id: string }>(
        'INSERT INTO _rules (entity, hook, type, definition, priority, active) VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING id',
        [rule.entity, rule.hook, rule.type, exactJson(rule.definition), rule.priority, rule.active],
      ),
    ),
  );
  await app.reload();
  return { id: rows[0]!.id, ...rule };
}

export async function updateRule(app: AdminApp, id: string, input: unknown): Promise<RuleObject> {
  await getRule(app, id);
  const rule = parseRule(objectPayload(input), app.registry);
  const rows = await whileEntityExists(rule.entity, () =>
    savingRule(app, rule, (q) =>
      q.query(
        `UPDATE _rules SET entity = $2, hook = $3, type = $4, definition = $5::jsonb, priority = $6, active = $7, updated_at = NOW()
          WHERE id = $1 RETURNING id`,
        [id, rule.entity, rule.hook, rule.type, exactJson(rule.definition), rule.priority, rule.active],
      ),
    ),
  );
  // Deleted since the 404 check above: nothing was updated.
  if (!rows[0]) throw notFound(`Rule not found: ${id}`);
  await app.reload();
  return { id, ...rule };
}

export async function deleteRule(app: AdminApp, id: string): Promise<{ id: string; deleted: true }> {
  await getRule(app, id);
  // Checked again by the DELETE itself: of two deletes at once only one removed the rule (the other is a 404).
  const rows = await app.db.query('DELETE FROM _rules WHERE id = $1 RETURNING id', [id]);
  if (!rows[0]) throw notFound(`Rule not found: ${id}`);
  await app.reload();
  return { id, deleted: true };
}
