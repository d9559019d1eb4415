import { exactJson, jsonColumns } from '../db/exact-json.js';
import type { Queryable } from '../db/database.js';
import type { OpContext } from '../engine/context.js';
import { UUID_RE } from '../types/ids.js';
import { notFound } from '../errors.js';

/** Workflow instances as stored in `_workflow_instances` and as the API returns them (spec: workflows.md §Instance shape). */

export type InstanceStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface HistoryEntry {
  step: string;
  /** completed | on_true | on_false | approved | rejected | timed_out | skipped */
  status: string;
  by?: string;
  at: string;
  [key: string]: unknown;
}

/** What started an instance: the written record or the event (`trigger` of conditions and send_event). */
export interface TriggerData {
  entity: string | null;
  record_id: unknown;
  record: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
  action: string;
  event?: string;
  data?: unknown;
}

export interface InstanceRow {
  id: string;
  workflow_id: string;
  workflow_name: string;
  status: InstanceStatus;
  current_step: string | null;
  current_step_deadline: Date | null;
  context: Record<string, unknown>;
  history: HistoryEntry[];
  trigger: TriggerData;
  /** 1 for an instance started by a client's write; +1 per workflow hop. */
  depth: number;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface WorkflowInstance {
  id: string;
  workflow_id: string;
  workflow_name: string;
  status: InstanceStatus;
  current_step: string;
  current_step_deadline?: Date;
  context: Record<string, unknown>;
  history: HistoryEntry[];
  /** Why a failed instance failed (not in the legacy shape; present only on failed instances). */
  error?: string;
  created_at: Date;
  updated_at: Date;
}

/** Extra context the workflow engine passes to the writes it makes: the instance behind them. */
export interface WorkflowOpContext extends OpContext {
  workflowInstance?: string;
}

export const INSTANCE_COLUMNS =
  'id, workflow_id, workflow_name, status, current_step, current_step_deadline, context, history, trigger, depth, error, created_at, updated_at';

export function instanceView(row: InstanceRow): WorkflowInstance {
  return {
    id: row.id,
    workflow_id: row.workflow_id,
    workflow_name: row.workflow_name,
    status: row.status,
    current_step: row.current_step ?? '',
    ...(row.current_step_deadline ? { current_step_deadline: row.current_step_deadline } : {}),
    context: row.context ?? {},
    history: Array.isArray(row.history) ? row.history : [],
    ...(row.status === 'failed' && row.error ? { error: row.error } : {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The JSON columns of an instance, which the legacy server could store as JSON text (a jsonb string). */
const JSON_COLUMNS = ['context', 'history', 'trigger'] as const;

/** An instance row with its JSON columns read as the values they hold, also where stored as JSON text. */
export const storedInstance = (row: InstanceRow): InstanceRow => jsonColumns(row, JSON_COLUMNS);

/**
 * A row as storedInstance reads it; one holding JSON text is also stored back as the values it holds, so the
 * statements that move an instance on (`history || …`, `jsonb_array_length(history)`) apply to it.
 */
export async function upgradedInstance(db: Queryable, row: InstanceRow): Promise<InstanceRow> {
  const read = storedInstance(row);
  if (read === row) return row;
  await db.query(
    `UPDATE _workflow_instances SET
       context = CASE WHEN jsonb_typeof(context) = 'string' THEN $2::jsonb ELSE context END,
       history = CASE WHEN jsonb_typeof(history) = 'string' THEN $3::jsonb ELSE history END,
       trigger = CASE WHEN jsonb_typeof(trigger) = 'string' THEN $4::jsonb ELSE trigger END
     WHERE id = $1`,
    [row.id, json(read.context), json(read.history), json(read.trigger)],
  );
  return read;
}

async function instanceRow(db: Queryable, id: string): Promise<InstanceRow | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const rows = await db.query<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM _workflow_instances WHERE id = $1`, [id]);
  return rows[0];
}

/** An instance as it reads; a read writes nothing, whatever form the legacy server stored it in. */
export async function findInstance(db: Queryable, id: string): Promise<InstanceRow | undefined> {
  const row = await instanceRow(db, id);
  return row && storedInstance(row);
}

/** An instance about to be moved on (decided, noted), stored back as values first where it holds JSON text. */
export async function findMovableInstance(db: Queryable, id: string): Promise<InstanceRow | undefined> {
  const row = await instanceRow(db, id);
  return row && upgradedInstance(db, row);
}

export async function loadInstance(db: Queryable, id: string, find = findInstance): Promise<InstanceRow> {
  const row = await find(db, id);
  if (!row) throw notFound(`Workflow instance not found: ${id}`);
  return row;
}

/** JSON text for a jsonb column; exact numbers (an int8 beyond 2^53 in a context) keep their digits. */
export const json = (v: unknown): string => exactJson(v ?? null);
