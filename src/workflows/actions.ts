import { exactJson } from '../db/exact-json.js';
import { SYSTEM_ACTOR } from '../auth/caller.js';
import type { ActingFor, EngineApp, StoredEffect } from '../engine/context.js';
import { createRecord, updateRecord } from '../engine/write/pipeline.js';
import { RocketError } from '../errors.js';
import { isObject } from '../metadata/problems.js';
import type { TriggerData, WorkflowOpContext } from './instances.js';
import { resolvePath, toJson } from './paths.js';
import { isoSeconds } from '../types/time.js';
import { DEFAULT_CALL_OUT } from '../outbound/delivery.js';

/**
 * Actions of `action` steps (spec: workflows.md §Actions). A throw is an
 * action error: the instance fails. Writes go through the write pipeline as
 * the system actor; `set_field` writes carry origin 'workflow' so they start
 * no workflows, `create_record` writes may (one hop deeper).
 */

/** The parts of a running instance an action reads or changes. */
export interface ActionRun {
  id: string;
  context: Record<string, unknown>;
  trigger: TriggerData;
  depth: number;
  /** Whose request advances the instance (null: background work): the writes are made on their behalf. */
  actingFor: ActingFor | null;
}

export class ActionError extends Error {}

/** Dot-path strings under `context.` resolve against the instance context; "now" is the time; the rest is literal. */
function dataValue(value: unknown, run: ActionRun): unknown {
  if (value === 'now') return isoSeconds();
  if (typeof value === 'string' && value.startsWith('context.')) return resolvePath({ context: run.context }, value);
  return value;
}

function describe(err: unknown): string {
  if (err instanceof RocketError) {
    const details = err.details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
    return details.length ? `${err.message} (${details.join('; ')})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function opContext(app: EngineApp, run: ActionRun, origin?: 'workflow'): WorkflowOpContext {
  return { app, caller: SYSTEM_ACTOR, ...(origin ? { origin } : {}), depth: run.depth, workflowInstance: run.id, actingFor: run.actingFor };
}

async function setField(app: EngineApp, run: ActionRun, a: Record<string, unknown>): Promise<void> {
  const entity = typeof a.entity === 'string' ? app.registry.entities.get(a.entity) : undefined;
  if (!entity) throw new ActionError(`entity not found: ${String(a.entity ?? '')}`);
  if (typeof a.field !== 'string' || !entity.fields.has(a.field)) throw new ActionError(`field not found: ${entity.name}.${String(a.field ?? '')}`);
  const id = resolvePath({ context: run.context }, a.record_id);
  if (id === null || id === '' || typeof id === 'object')
    throw new ActionError(`record_id ${JSON.stringify(a.record_id ?? null)} resolved to no value`);
  const value = a.value === 'now' ? isoSeconds() : (a.value ?? null);
  try {
    await updateRecord(opContext(app, run, 'workflow'), entity.name, String(id), { [a.field]: value });
  } catch (err) {
    throw new ActionError(describe(err));
  }
}

async function webhook(app: EngineApp, run: ActionRun, a: Record<string, unknown>): Promise<void> {
  if (typeof a.url !== 'string' || !/^https?:\/\//i.test(a.url)) throw new ActionError(`invalid webhook url: ${String(a.url ?? '')}`);
  const method = typeof a.method === 'string' && a.method !== '' ? a.method.toUpperCase() : 'POST';
  const callOut = app.extensions.callOut ?? DEFAULT_CALL_OUT;
  // exactJson: an int8 beyond 2^53 in the context is sent as that number, not as a string of its digits.
  const body = method === 'GET' || method === 'HEAD' ? '' : exactJson(run.context);
  const res = await callOut({ url: a.url, method, headers: {}, body });
  if (res.status === 0) throw new ActionError(`webhook ${method} ${a.url} failed: ${res.error}`);
  if (!res.ok) throw new ActionError(`webhook ${method} ${a.url} answered ${res.status}`);
}

async function createRecordAction(app: EngineApp, run: ActionRun, a: Record<string, unknown>): Promise<void> {
  const entity = typeof a.entity === 'string' ? app.registry.entities.get(a.entity) : undefined;
  if (!entity) throw new ActionError(`entity not found: ${String(a.entity ?? '')}`);
  if (a.data !== undefined && a.data !== null && !isObject(a.data)) throw new ActionError('create_record data must be an object');
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((a.data as Record<string, unknown> | undefined) ?? {})) data[k] = dataValue(v, run);
  let created: Record<string, unknown>;
  try {
    created = await createRecord(opContext(app, run), entity.name, data);
  } catch (err) {
    throw new ActionError(describe(err));
  }
  if (typeof a.as === 'string' && a.as !== '') run.context[a.as] = toJson(created[entity.pk.name] ?? null);
}

/** Emits an event like a state machine does: an `_outbox` row, dispatched at once (the sweep job retries leftovers). */
async function sendEvent(app: EngineApp, run: ActionRun, a: Record<string, unknown>): Promise<void> {
  if (typeof a.event !== 'string' || a.event === '') throw new ActionError('send_event needs an event name');
  const data: Record<string, unknown> = {};
  if (isObject(a.data)) for (const [k, v] of Object.entries(a.data)) data[k] = dataValue(v, run);
  const payload = {
    event: a.event,
    entity: run.trigger.entity,
    record_id: run.trigger.record_id ?? null,
    record: run.trigger.record,
    old: null,
    data,
    depth: run.depth,
    source_instance: run.id,
    by: run.actingFor,
  };
  const rows = await app.db.query<StoredEffect>(`INSERT INTO _outbox (kind, payload) VALUES ('event', $1::jsonb) RETURNING id, kind, payload`, [
    exactJson(payload),
  ]);
  // Through the app's event sink, as every committed event: the row is durable, and the sweep delivers it if this fails.
  await app.extensions.eventSink?.(app, rows);
}

/** Runs one action; unknown types are skipped (spec). */
export async function runAction(app: EngineApp, run: ActionRun, action: Record<string, unknown>): Promise<void> {
  switch (action.type) {
    case 'set_field':
      return setField(app, run, action);
    case 'webhook':
      return webhook(app, run, action);
    case 'create_record':
      return createRecordAction(app, run, action);
    case 'send_event':
      return sendEvent(app, run, action);
    default:
      return;
  }
}
