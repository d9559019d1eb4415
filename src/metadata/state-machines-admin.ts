import { exactJson, jsonColumns } from '../db/exact-json.js';
import { objectPayload, notFound } from '../errors.js';
import type { AdminApp } from './admin-app.js';
import { whileEntityExists } from './problems.js';
import { UUID_RE } from '../types/ids.js';
import { parseStateMachine } from './state-machine-definition.js';
import type { StateMachineInput } from './logic-definitions.js';

/**
 * State machine admin operations (spec: state-machines.md §Admin API). Definitions are stored with exactJson: a
 * set_field value beyond a double's digits (a bigint's 9007199254740993) stays that number.
 */

export type StateMachineObject = StateMachineInput & { id: string };
export type StateMachineRow = StateMachineObject & { created_at: Date; updated_at: Date };

const COLUMNS = 'id, entity, field, definition, active, created_at, updated_at';
const JSON_COLUMNS = ['definition'] as const;

export async function listStateMachines(app: AdminApp): Promise<StateMachineRow[]> {
  const rows = await app.db.query<StateMachineRow>(`SELECT ${COLUMNS} FROM _state_machines ORDER BY entity, created_at`);
  return rows.map((r) => jsonColumns(r, JSON_COLUMNS));
}

export async function getStateMachine(app: AdminApp, id: string): Promise<StateMachineRow> {
  const rows = UUID_RE.test(id) ? await app.db.query<StateMachineRow>(`SELECT ${COLUMNS} FROM _state_machines WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`State machine not found: ${id}`);
  return jsonColumns(rows[0], JSON_COLUMNS);
}

export async function createStateMachine(app: AdminApp, input: unknown): Promise<StateMachineObject> {
  const sm = parseStateMachine(objectPayload(input), app.registry);
  const rows = await whileEntityExists(sm.entity, () =>
    app.db.query<{ id: string }>('INSERT INTO _state_machines (entity, field, definition, active) VALUES ($1, $2, $3::jsonb, $4) RETURNING id', [
      sm.entity,
      sm.field,
      exactJson(sm.definition),
      sm.active,
    ]),
  );
  await app.reload();
  return { id: rows[0]!.id, ...sm };
}

export async function updateStateMachine(app: AdminApp, id: string, input: unknown): Promise<StateMachineObject> {
  await getStateMachine(app, id);
  const sm = parseStateMachine(objectPayload(input), app.registry);
  await whileEntityExists(sm.entity, () =>
    app.db.query('UPDATE _state_machines SET entity = $2, field = $3, definition = $4::jsonb, active = $5, updated_at = NOW() WHERE id = $1', [
      id,
      sm.entity,
      sm.field,
      exactJson(sm.definition),
      sm.active,
    ]),
  );
  await app.reload();
  return { id, ...sm };
}

export async function deleteStateMachine(app: AdminApp, id: string): Promise<{ id: string; deleted: true }> {
  await getStateMachine(app, id);
  // Checked again by the DELETE itself: of two deletes at once only one removed the machine (the other is a 404).
  const rows = await app.db.query('DELETE FROM _state_machines WHERE id = $1 RETURNING id', [id]);
  if (!rows[0]) throw notFound(`State machine not found: ${id}`);
  await app.reload();
  return { id, deleted: true };
}
