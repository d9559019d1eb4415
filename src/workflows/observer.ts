import type { ActingFor, EngineApp, OpContext, EventSink, WriteEvent, WriteObserver, StageContext } from '../engine/context.js';
import { recordOf } from '../engine/read.js';
import { dispatchEvents } from './events.js';
import type { TriggerData, WorkflowOpContext } from './instances.js';
import { toJson } from './paths.js';
import { startWorkflows } from './runtime.js';
import { workflowsOf, type CompiledWorkflow } from './store.js';

/**
 * The write pipeline's hooks into workflows (spec: workflows.md §Triggers):
 * - before COMMIT, event rows of state-machine `send_event` actions are
 *   stamped with the chain depth (and instance) of the write, so the bound on
 *   workflow chains survives the outbox;
 * - after COMMIT, event rows start event workflows (through the outbox's
 *   event sink) and changed fields start state_change workflows.
 * Writes with origin 'workflow' (set_field actions) start no state_change workflows; records their
 * state-machine `create_record` actions created do.
 * The composition root plugs `workflowObserver` and `workflowEventSink` into every app.
 */

/** Starts the event workflows of a committed write's `event` outbox rows. */
export const workflowEventSink: EventSink = async (app: EngineApp, events) => {
  try {
    await dispatchEvents(app, events);
  } catch (err) {
    app.log.error({ err, app: app.name }, 'event dispatch failed');
  }
};

/** A value's string form for change detection: null → "", timestamps as RFC 3339, objects as JSON. */
function stringOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  // An int8/decimal a double cannot hold is an ExactNumber (a Number object): its digits, not JSON's quoted string.
  if (v instanceof Number) return String(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Whether a stored value is the trigger's `to`: timestamps as instants (a Date prints with milliseconds), the rest by string form. */
function isTarget(value: unknown, to: string): boolean {
  if (value instanceof Date) return Date.parse(to) === value.getTime();
  return stringOf(value) === to;
}

/**
 * Active state_change workflows this written row starts, in name order. A create writes its defaults too
 * (a `status` defaulting to `pending` starts the workflow on `pending`), so its whole new row is read; an
 * update, the fields it wrote. Values are compared as stored, so a value sent again in another spelling
 * (`…05Z` for a stored `…05.000Z`) is no change.
 */
function matching(candidates: readonly CompiledWorkflow[], w: WriteEvent): CompiledWorkflow[] {
  const written = w.action === 'create' ? w.record : w.values;
  return candidates.filter((wf) => {
    if (wf.trigger.type !== 'state_change') return false;
    const field = wf.trigger.field;
    if (!Object.hasOwn(written, field)) return false;
    const value = w.record[field];
    if (value === null || value === undefined) return false;
    const before = w.action === 'create' ? '' : stringOf(w.old?.[field]);
    return stringOf(value) !== before && isTarget(value, String(wf.trigger.to));
  });
}

/** The user a write was made by or for: the instances it starts act for them. */
function actingFor(ctx: OpContext): ActingFor | null {
  return ctx.actingFor !== undefined ? ctx.actingFor : { id: ctx.caller.id, email: ctx.caller.email };
}

export const workflowObserver: WriteObserver = {
  name: 'workflows',

  async involves(app, entity) {
    return (await workflowsOf(app)).byEntity.has(entity.name);
  },

  async beforeCommit(sc: StageContext) {
    if (sc.outbox.length === 0) return;
    const source = (sc as StageContext & WorkflowOpContext).workflowInstance;
    for (const entry of sc.outbox) {
      if (entry.kind === 'event')
        Object.assign(entry.payload, { depth: sc.depth ?? 0, ...(source ? { source_instance: source } : {}), by: actingFor(sc) });
    }
  },

  async afterCommit(ctx: OpContext, writes: readonly WriteEvent[]) {
    // A set_field write starts nothing (no loops), but a record its state-machine actions created is a normal
    // write of its entity that may start workflows (state-machines.md create_record), one hop deeper.
    const triggering = ctx.origin === 'workflow' ? writes.filter((w) => w.cause === 'action') : writes;
    if (triggering.length === 0) return;
    const set = await workflowsOf(ctx.app);
    if (set.byEntity.size === 0) return;
    const origin = { depth: ctx.depth ?? 0, source: (ctx as WorkflowOpContext).workflowInstance, by: actingFor(ctx) };
    for (const w of triggering) {
      if (w.action === 'delete') continue;
      const candidates = set.byEntity.get(w.entity.name);
      if (!candidates) continue;
      const started = matching(candidates, w);
      if (started.length === 0) continue;
      const trigger: TriggerData = {
        entity: w.entity.name,
        record_id: toJson(w.record[w.entity.pk.name] ?? null),
        record: toJson(recordOf(w.entity, w.record)),
        old: w.old ? toJson(recordOf(w.entity, w.old)) : null,
        action: w.action,
      };
      await startWorkflows(ctx.app, started, trigger, origin);
    }
  },
};
