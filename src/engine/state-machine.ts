import { RocketError, forbidden, type ErrorDetail } from '../errors.js';
import { ExprRuntimeError, truthy } from '../expr/index.js';
import type { CompiledTransition } from '../metadata/compiled-machine.js';
import type { TransitionAction } from '../metadata/logic-definitions.js';
import type { Record_, StageContext } from './context.js';
import { envRecordOf } from './context.js';
import { userOf, type RuleEnv } from './rules.js';
import { fieldValue } from './field-value.js';
import { setFileValue } from './write/file-value.js';
import { at, prefixDetails, type RowPlan } from './write/plan.js';
import { isoSeconds } from '../types/time.js';
import { timestampMillis } from '../types/coerce.js';
import { engineWritten, type FieldMeta } from '../metadata/registry.js';
import { PROTO_KEY } from '../metadata/types.js';

/** A state as compared (spec: "as strings"; a stored null is ''); a stored timestamp reads as its RFC 3339 output. */
const state = (v: unknown) => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v));

/**
 * Whether two states are the same: equal text, or on a timestamp field the same instant. A timestamp is read
 * back as an instant and may be sent or named in a definition in any offset or precision.
 */
function sameState(f: FieldMeta | undefined, a: string, b: string): boolean {
  if (a === b) return true;
  if (f?.type !== 'timestamp' || a === '' || b === '') return false;
  const instant = timestampMillis(a);
  return !Number.isNaN(instant) && instant === timestampMillis(b);
}

/** A create_record data value: `record.x` / `old.x` paths, "now", or a literal. */
function resolveData(value: unknown, record: Record_, old: Record_ | null, now: string): unknown {
  if (value === 'now') return isoSeconds(now);
  if (typeof value !== 'string') return value;
  const from = value.startsWith('record.') ? record : value.startsWith('old.') ? old : undefined;
  if (from === undefined) return value;
  let cur: unknown = from;
  for (const key of value.split('.').slice(1)) {
    cur = cur !== null && typeof cur === 'object' && Object.hasOwn(cur, key) ? (cur as Record_)[key] : null;
  }
  return cur instanceof Date ? cur.toISOString() : (cur ?? null);
}

/**
 * State machines of the row's entity (spec: state-machines.md): initial state
 * on create; on update a change must follow a transition allowed for the
 * caller's roles and its guard; then the transition's actions run.
 */
export async function runStateMachines(sc: StageContext, row: RowPlan): Promise<void> {
  const machines = row.entity.machines;
  if (machines.length === 0) return;
  const details: ErrorDetail[] = [];
  for (const m of machines) {
    if (!Object.hasOwn(row.values, m.field)) continue;
    const next = state(row.values[m.field]);
    if (row.op === 'insert') {
      if (m.initial && next !== m.initial) {
        details.push({ field: m.field, rule: 'state_machine', message: `Initial state must be '${m.initial}', got '${next}'` });
      }
      continue;
    }
    const prev = state(row.current?.[m.field]);
    const f = row.entity.fields.get(m.field);
    if (sameState(f, next, prev)) continue;
    const t = m.transitions.find(
      (x: CompiledTransition) =>
        sameState(f, x.to, next) && (x.from.has(prev) || (f?.type === 'timestamp' && [...x.from].some((s) => sameState(f, s, prev)))),
    );
    // Workflow writes may move a record to any state (spec: workflows.md set_field); a matching
    // transition still runs its actions, without role or guard checks.
    if (sc.origin === 'workflow') {
      if (t) await runActions(sc, row, t.actions, row.current ? envRecordOf(row.entity, row.current) : null, details);
      continue;
    }
    if (!t) {
      details.push({ field: m.field, rule: 'state_machine', message: `Invalid transition from '${prev}' to '${next}'` });
      continue;
    }
    if (t.roles.length && !sc.caller.isAdmin && !sc.caller.roles.some((r) => t.roles.includes(r.toLowerCase()))) {
      const message = `Transition from '${prev}' to '${next}' not allowed for your roles`;
      throw row.path
        ? new RocketError('FORBIDDEN', `${message} (${row.path})`, [{ field: at(row.path, m.field), rule: 'state_machine', message }])
        : forbidden(message);
    }
    const old = row.current ? envRecordOf(row.entity, row.current) : null;
    if (t.guard) {
      const env: RuleEnv = {
        record: row.record,
        old,
        action: 'update',
        user: userOf(sc.caller),
        entity: row.entity.name,
        related: {},
        now: new Date(sc.now),
      };
      try {
        if (!truthy(t.guard.evaluate(env))) {
          details.push({ field: m.field, rule: 'state_machine', message: `Transition from '${prev}' to '${next}' blocked by guard` });
          continue;
        }
      } catch (err) {
        const msg = err instanceof ExprRuntimeError ? err.message : String(err);
        details.push({ field: m.field, rule: 'state_machine', message: `Guard evaluation error: ${msg}` });
        continue;
      }
    }
    await runActions(sc, row, t.actions, old, details);
  }
  sc.details.push(...prefixDetails(row.path, details));
}

async function runActions(sc: StageContext, row: RowPlan, actions: TransitionAction[], old: Record_ | null, details: ErrorDetail[]): Promise<void> {
  for (const [n, action] of actions.entries()) {
    switch (action.type) {
      case 'set_field': {
        const value = action.value === 'now' ? isoSeconds(sc.now) : (action.value ?? null);
        const f = row.entity.fields.get(action.field!);
        // A non-entity field only shows in `record`; `__proto__` would replace its prototype instead.
        if (action.field !== PROTO_KEY) row.record[action.field!] = value;
        // Ignored by the write (spec), as a sent value is: the soft-delete marker too, or an update would delete the row.
        if (!f || engineWritten(row.entity, f) || f.name === row.entity.pk.name) break;
        if (f.type === 'file') {
          // As if sent (files.md): a file id is resolved after the state machines, an object stored as given.
          const problem = setFileValue(f, value, f.name, row);
          if (problem) details.push(problem);
          break;
        }
        const checked = fieldValue(f, value, f.name);
        if (checked.ok) row.values[f.name] = checked.value;
        else details.push(checked.detail);
        break;
      }
      case 'create_record': {
        const data: Record_ = {};
        for (const [k, v] of Object.entries(action.data ?? {})) data[k] = resolveData(v, row.record, old, sc.now);
        await sc.createRecord(action.entity!, data, at(row.path, `actions[${n}]`));
        break;
      }
      case 'webhook':
        // The row's own values, not a copy: the body is "the final payload" (state-machines.md), so it must
        // also hold what the actions after this one set. It is read when the outbox is stored, after them all.
        sc.outbox.push({ kind: 'webhook', payload: { url: action.url!, method: action.method ?? 'POST', body: row.values } });
        break;
      case 'send_event':
        sc.outbox.push({
          kind: 'event',
          payload: { event: action.event!, entity: row.entity.name, record_id: row.current?.[row.entity.pk.name] ?? null, record: row.record, old },
        });
        break;
    }
  }
}
