import { exactJson, jsonColumns } from '../db/exact-json.js';
import { RocketError, conflict, objectPayload, notFound } from '../errors.js';
import { UUID_RE } from '../types/ids.js';
import type { AdminApp } from '../metadata/admin-app.js';
import { parseWorkflow, type WorkflowInput } from './definition.js';

/**
 * Workflow admin operations (spec: workflows.md §Admin API). Stored with exactJson: an action value beyond a
 * double's digits (set_field 9007199254740993 on a bigint) stays that number.
 */

export type WorkflowObject = WorkflowInput & { id: string };
export type WorkflowRow = WorkflowObject & { created_at: Date; updated_at: Date };

const COLUMNS = 'id, name, trigger, context, steps, active, created_at, updated_at';
const JSON_COLUMNS = ['trigger', 'context', 'steps'] as const;

/** 409 for a duplicate name, whether found first or raced into the unique index. */
async function uniquely<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RocketError && err.code === 'CONFLICT') throw conflict(`Workflow already exists: ${name}`);
    throw err;
  }
}

async function nameTaken(app: AdminApp, name: string, except?: string): Promise<boolean> {
  const rows = await app.db.query('SELECT 1 FROM _workflows WHERE name = $1 AND id IS DISTINCT FROM $2::uuid', [name, except ?? null]);
  return rows.length > 0;
}

export async function listWorkflows(app: AdminApp): Promise<WorkflowRow[]> {
  const rows = await app.db.query<WorkflowRow>(`SELECT ${COLUMNS} FROM _workflows ORDER BY name`);
  return rows.map((r) => jsonColumns(r, JSON_COLUMNS));
}

export async function getWorkflow(app: AdminApp, id: string): Promise<WorkflowRow> {
  const rows = UUID_RE.test(id) ? await app.db.query<WorkflowRow>(`SELECT ${COLUMNS} FROM _workflows WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`Workflow not found: ${id}`);
  return jsonColumns(rows[0], JSON_COLUMNS);
}

export async function createWorkflow(app: AdminApp, input: unknown): Promise<WorkflowObject> {
  const wf = parseWorkflow(objectPayload(input));
  if (await nameTaken(app, wf.name)) throw conflict(`Workflow already exists: ${wf.name}`);
  const rows = await uniquely(wf.name, () =>
    app.db.query<{ id: string }>(
      'INSERT INTO _workflows (name, trigger, context, steps, active) VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, $5) RETURNING id',
      [wf.name, exactJson(wf.trigger), exactJson(wf.context), exactJson(wf.steps), wf.active],
    ),
  );
  await app.reload();
  return { id: rows[0]!.id, ...wf };
}

export async function updateWorkflow(app: AdminApp, id: string, input: unknown): Promise<WorkflowObject> {
  await getWorkflow(app, id);
  const wf = parseWorkflow(objectPayload(input));
  if (await nameTaken(app, wf.name, id)) throw conflict(`Workflow already exists: ${wf.name}`);
  const rows = await uniquely(wf.name, () =>
    app.db.query(
      `UPDATE _workflows SET name = $2, trigger = $3::jsonb, context = $4::jsonb, steps = $5::jsonb, active = $6, updated_at = NOW()
        WHERE id = $1 RETURNING id`,
      [id, wf.name, exactJson(wf.trigger), exactJson(wf.context), exactJson(wf.steps), wf.active],
    ),
  );
  if (!rows[0]) throw notFound(`Workflow not found: ${id}`);
  await app.reload();
  return { id, ...wf };
}

/** Deletes the workflow; its instances go with it (ON DELETE CASCADE). */
export async function deleteWorkflow(app: AdminApp, id: string): Promise<{ id: string; deleted: true }> {
  const rows = UUID_RE.test(id) ? await app.db.query('DELETE FROM _workflows WHERE id = $1 RETURNING id', [id]) : [];
  if (!rows[0]) throw notFound(`Workflow not found: ${id}`);
  await app.reload();
  return { id, deleted: true };
}
