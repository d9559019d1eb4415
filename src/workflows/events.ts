import type { ActingFor, EngineApp, Record_, StoredEffect } from '../engine/context.js';
import { findRecord, recordOf } from '../engine/read.js';
import type { TriggerData } from './instances.js';
import { toJson } from './paths.js';
import { startWorkflows } from './runtime.js';
import { workflowsOf } from './store.js';
import { claim } from '../jobs/claim.js';

/**
 * Named events (spec: workflows.md §Triggers, state-machines.md §send_event):
 * `_outbox` rows of kind 'event', written in the emitting write's transaction
 * (or by a workflow's send_event action). Right after COMMIT the emitting
 * process claims them and starts the matching workflows; rows a crash left
 * pending are claimed by the sweep job. A claim is a conditional UPDATE, so
 * every row is processed once however many servers share the database.
 */

interface EventPayload {
  event?: unknown;
  entity?: unknown;
  record_id?: unknown;
  record?: unknown;
  old?: unknown;
  data?: unknown;
  /** Chain depth of the write or instance that emitted the event (0 = a client's write). */
  depth?: unknown;
  /** The workflow instance behind the emitting write, if any. */
  source_instance?: unknown;
  /** The user behind the emitting write (null: background work). */
  by?: unknown;
}

function actingFor(by: unknown): ActingFor | null {
  if (by === null || typeof by !== 'object') return null;
  const { id, email } = by as { id?: unknown; email?: unknown };
  return typeof id === 'string' ? { id, email: typeof email === 'string' ? email : null } : null;
}

/** The record as it is now (re-read after the emitting commit), else as the event carried it. */
async function currentRecord(app: EngineApp, p: EventPayload): Promise<Record_ | null> {
  const entity = typeof p.entity === 'string' ? app.registry.entities.get(p.entity) : undefined;
  // A Number object is an int8 key beyond 2^53 (an ExactNumber): a key like any other.
  const key = p.record_id;
  if (entity && key !== null && key !== undefined && (typeof key !== 'object' || key instanceof Number)) {
    const row = await findRecord(app.db, entity, String(key));
    if (row) return toJson(recordOf(entity, row));
  }
  return p.record !== null && typeof p.record === 'object' ? (p.record as Record_) : null;
}

/** Starts the workflows of one event (active, trigger `{type:"event", event}`, in name order). */
async function startForEvent(app: EngineApp, p: EventPayload): Promise<void> {
  if (typeof p.event !== 'string') return;
  const workflows = (await workflowsOf(app)).byEvent.get(p.event);
  if (!workflows?.length) return;
  const trigger: TriggerData = {
    entity: typeof p.entity === 'string' ? p.entity : null,
    record_id: p.record_id ?? null,
    record: await currentRecord(app, p),
    old: p.old !== null && typeof p.old === 'object' ? (p.old as Record_) : null,
    action: 'event',
    event: p.event,
    ...(p.data !== undefined ? { data: p.data } : {}),
  };
  const depth = typeof p.depth === 'number' && Number.isInteger(p.depth) && p.depth >= 0 ? p.depth : 0;
  const source = typeof p.source_instance === 'string' ? p.source_instance : undefined;
  await startWorkflows(app, workflows, trigger, { depth, source, by: actingFor(p.by) });
}

async function processClaimed(app: EngineApp, rows: readonly StoredEffect[]): Promise<void> {
  for (const row of rows) {
    let error: string | null = null;
    try {
      await startForEvent(app, row.payload as EventPayload);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      app.log.error({ err, app: app.name, outbox: row.id }, 'event dispatch failed');
    }
    await app.db.query('UPDATE _outbox SET processed_at = NOW(), error = $2 WHERE id = $1', [row.id, error]);
  }
}

/** Post-commit dispatch of the event rows a write (or a send_event action) just stored. */
export async function dispatchEvents(app: EngineApp, effects: readonly StoredEffect[]): Promise<void> {
  const ids = effects.filter((e) => e.kind === 'event').map((e) => e.id);
  if (ids.length === 0) return;
  const claimed = await app.db.query<StoredEffect>(
    `UPDATE _outbox SET claimed_at = NOW() WHERE id = ANY($1::uuid[]) AND kind = 'event' AND claimed_at IS NULL RETURNING id, kind, payload`,
    [ids],
  );
  const order = new Map(ids.map((id, i) => [id, i]));
  claimed.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  await processClaimed(app, claimed);
}

/**
 * One pass of the event sweep: event rows still unprocessed after `graceSeconds`
 * (never claimed: the process died between COMMIT and dispatch) or claimed more
 * than `staleSeconds` ago and never finished (it died while dispatching).
 * Returns how many rows it processed.
 */
export async function sweepEvents(app: EngineApp, opts: { graceSeconds?: number; staleSeconds?: number; limit?: number } = {}): Promise<number> {
  const { graceSeconds = 30, staleSeconds = 900, limit = 100 } = opts;
  const rows = await claim<StoredEffect & { created_at: Date }>(app.db, {
    table: '_outbox',
    where: `kind = 'event' AND processed_at IS NULL AND created_at <= NOW() - make_interval(secs => $1)
      AND (claimed_at IS NULL OR claimed_at <= NOW() - make_interval(secs => $2))`,
    orderBy: 'created_at',
    limit,
    set: 'claimed_at = NOW()',
    returning: 't.id, t.kind, t.payload, t.created_at',
    params: [graceSeconds, staleSeconds],
  });
  rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
  await processClaimed(app, rows);
  return rows.length;
}
