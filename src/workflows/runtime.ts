import { randomUUID } from 'node:crypto';
import type { Caller } from '../auth/caller.js';
import type { ActingFor, EngineApp } from '../engine/context.js';
import { RocketError, conflict, forbidden, invalid, notFound } from '../errors.js';
import { ExprRuntimeError, truthy } from '../expr/index.js';
import { isObject } from '../metadata/problems.js';
import { ActionError, runAction } from './actions.js';
import type { Goto, WorkflowStep } from './definition.js';
import { parseDuration } from './duration.js';
import {
  INSTANCE_COLUMNS,
  findInstance,
  findMovableInstance,
  instanceView,
  json,
  loadInstance,
  storedInstance,
  upgradedInstance,
  type HistoryEntry,
  type InstanceRow,
  type InstanceStatus,
  type TriggerData,
  type WorkflowInstance,
} from './instances.js';
import { resolvePath, toJson } from './paths.js';
import { workflowsOf, type CompiledWorkflow } from './store.js';
import { nowIso } from '../types/time.js';
import { claim as claimRows } from '../jobs/claim.js';

/**
 * The workflow runtime (spec: workflows.md §Execution): instances start on a
 * trigger and advance synchronously until they complete, fail or pause at an
 * approval step; approvals, rejections and timeouts resume them. An instance
 * row is written when the instance pauses, completes or fails.
 */

/** Instances started by a client's write have depth 1; a start that would exceed this is skipped. */
export const MAX_DEPTH = 8;
/** Steps one advance may run before the instance fails (a cycle without an approval). */
export const MAX_STEPS = 1000;

/** An instance being advanced in this process. */
interface Run {
  id: string;
  wf: CompiledWorkflow;
  isNew: boolean;
  /** History length of the row as claimed (resumed runs persist only if nobody moved it since). */
  claimedLength: number;
  status: InstanceStatus;
  current: string;
  deadline: Date | null;
  context: Record<string, unknown>;
  history: HistoryEntry[];
  trigger: TriggerData;
  depth: number;
  error: string | null;
  /** The user whose request is advancing the instance (null: background work); its writes are made for them. */
  actingFor: ActingFor | null;
}

/** Who caused a start: the chain depth of the write or event, the instance behind it (if any), and the user behind it. */
export interface StartOrigin {
  depth: number;
  source?: string;
  by: ActingFor | null;
}

/** Runs being advanced right now in this process, so a skipped start can be noted in its source's history. */
const advancing = new Map<string, Run>();

/** Context map → values, against `{trigger, record, record_id}` (spec: workflows.md §Definition). */
function resolveContext(map: Record<string, unknown>, trigger: TriggerData): Record<string, unknown> {
  const root = { trigger, record: trigger.record, record_id: trigger.record_id };
  const out: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(map)) out[name] = toJson(resolvePath(root, path));
  return out;
}

function follow(run: Run, target: Goto | undefined): void {
  if (target === undefined || target === 'end' || (isObject(target) && target.goto === 'end')) {
    run.status = 'completed';
    run.current = '';
    run.deadline = null;
    return;
  }
  run.current = typeof target === 'string' ? target : target.goto;
}

function fail(run: Run, error: string): void {
  run.status = 'failed';
  run.deadline = null;
  run.error = error;
}

/** Records a start skipped by the depth bound in the history of the instance that caused it. */
async function noteSkipped(app: EngineApp, source: string | undefined, workflow: string): Promise<void> {
  app.log.warn({ app: app.name, workflow, source }, `workflow start skipped: chain depth ${MAX_DEPTH} reached`);
  if (!source) return;
  const running = advancing.get(source);
  const entry: HistoryEntry = {
    step: running?.current ?? '',
    status: 'skipped',
    workflow,
    reason: `workflow chain depth limit (${MAX_DEPTH}) reached`,
    at: nowIso(),
  };
  if (running) {
    running.history.push(entry);
    return;
  }
  const stored = await findMovableInstance(app.db, source);
  if (!stored) return;
  entry.step = stored.current_step ?? '';
  await app.db.query(`UPDATE _workflow_instances SET history = history || $2::jsonb WHERE id = $1`, [source, json([entry])]);
}

async function runCondition(run: Run, step: WorkflowStep): Promise<boolean> {
  const compiled = run.wf.conditions.get(step.id);
  if (!compiled?.ok) {
    fail(run, `step ${step.id}: ${compiled && !compiled.ok ? compiled.error : 'condition step has no expression'}`);
    return false;
  }
  let value: unknown;
  try {
    value = compiled.expr.evaluate({ context: run.context, trigger: run.trigger, record: run.trigger.record, now: new Date() });
  } catch (err) {
    fail(run, `step ${step.id}: condition error: ${err instanceof ExprRuntimeError ? err.message : String(err)}`);
    return false;
  }
  const branch = truthy(value) ? 'on_true' : 'on_false';
  run.history.push({ step: step.id, status: branch, at: nowIso() });
  follow(run, step[branch]);
  return true;
}

async function runActionStep(app: EngineApp, run: Run, step: WorkflowStep): Promise<boolean> {
  const actions = Array.isArray(step.actions) ? step.actions : [];
  for (const [i, action] of actions.entries()) {
    if (!isObject(action)) continue;
    try {
      await runAction(app, run, action);
    } catch (err) {
      const message = err instanceof ActionError || err instanceof RocketError ? err.message : String(err);
      if (!(err instanceof ActionError)) app.log.error({ err, app: app.name, instance: run.id }, 'workflow action failed');
      fail(run, `step ${step.id}: action ${i} (${String(action.type)}): ${message}`);
      return false;
    }
  }
  run.history.push({ step: step.id, status: 'completed', at: nowIso() });
  follow(run, step.then);
  return true;
}

/** Advances until the instance pauses, completes or fails, then writes it. */
async function advance(app: EngineApp, run: Run): Promise<void> {
  advancing.set(run.id, run);
  try {
    let steps = 0;
    while (run.status === 'running') {
      if (++steps > MAX_STEPS) {
        fail(run, `more than ${MAX_STEPS} steps in one advance (a cycle without an approval step?)`);
        break;
      }
      const step = run.wf.stepById.get(run.current);
      if (!step) {
        fail(run, `step not found: ${run.current}`);
        break;
      }
      if (step.type === 'approval') {
        const ms = parseDuration(step.timeout);
        run.deadline = ms === undefined ? null : new Date(Date.now() + Math.max(ms, MIN_APPROVAL_TIMEOUT_MS));
        break;
      }
      if (step.type === 'condition') await runCondition(run, step);
      else if (step.type === 'action') await runActionStep(app, run, step);
      else fail(run, `step ${step.id}: unknown step type ${String(step.type)}`);
    }
  } finally {
    advancing.delete(run.id);
  }
  if (run.status === 'failed') app.log.warn({ app: app.name, workflow: run.wf.name, instance: run.id, error: run.error }, 'workflow instance failed');
  await persist(app, run);
}

async function persist(app: EngineApp, run: Run): Promise<void> {
  await store(app, run);
  // The deadline fires on time from this instance's timer; the job's periodic pass is only the safety net.
  if (run.status === 'running' && run.deadline) app.extensions.wakeJob?.(WORKFLOW_DEADLINE_JOB, run.deadline, app.name);
}

async function store(app: EngineApp, run: Run): Promise<void> {
  const state = [run.status, run.current, run.deadline, json(run.context), json(run.history), run.error] as const;
  if (run.isNew) {
    await app.db.query(
      `INSERT INTO _workflow_instances (id, workflow_id, workflow_name, status, current_step, current_step_deadline, context, history, trigger, depth, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11)`,
      [
        run.id,
        run.wf.id,
        run.wf.name,
        run.status,
        run.current,
        run.deadline,
        json(run.context),
        json(run.history),
        json(run.trigger),
        run.depth,
        run.error,
      ],
    );
    run.isNew = false;
    return;
  }
  // A resumed instance: written only if nobody decided on it meanwhile (possible once it paused at the next approval).
  await app.db.query(
    `UPDATE _workflow_instances SET status = $2, current_step = $3, current_step_deadline = $4, context = $5::jsonb,
       history = $6::jsonb, error = $7, updated_at = NOW()
     WHERE id = $1 AND jsonb_array_length(history) = $8`,
    [run.id, ...state, run.claimedLength],
  );
}

/**
 * Starts the given workflows (already in name order) for one trigger. Errors
 * are logged, never thrown: the triggering request must not fail.
 */
export async function startWorkflows(
  app: EngineApp,
  workflows: readonly CompiledWorkflow[],
  trigger: TriggerData,
  origin: StartOrigin,
): Promise<void> {
  for (const wf of workflows) {
    try {
      if (origin.depth >= MAX_DEPTH) {
        await noteSkipped(app, origin.source, wf.name);
        continue;
      }
      const first = wf.steps[0];
      const run: Run = {
        id: randomUUID(),
        wf,
        isNew: true,
        claimedLength: 0,
        status: 'running',
        current: first?.id ?? '',
        deadline: null,
        context: resolveContext(wf.context, trigger),
        history: [],
        trigger,
        depth: origin.depth + 1,
        error: null,
        actingFor: origin.by,
      };
      await advance(app, run);
    } catch (err) {
      app.log.error({ err, app: app.name, workflow: wf.name }, 'starting a workflow failed');
    }
  }
}

function runOf(wf: CompiledWorkflow, row: InstanceRow, actingFor: ActingFor | null): Run {
  return {
    id: row.id,
    wf,
    isNew: false,
    claimedLength: row.history.length,
    status: row.status,
    current: row.current_step ?? '',
    deadline: row.current_step_deadline,
    context: row.context ?? {},
    history: row.history,
    trigger: row.trigger ?? { entity: null, record_id: null, record: null, old: null, action: '' },
    depth: row.depth ?? 1,
    error: row.error,
    actingFor,
  };
}

/** Where a decision at `step` leads, as the column values of the claim. */
function decided(
  step: WorkflowStep,
  target: Goto | undefined,
  onAbsent: 'completed' | 'failed',
): { status: InstanceStatus; current: string; error: string | null } {
  if (target === undefined) {
    return onAbsent === 'completed'
      ? { status: 'completed', current: '', error: null }
      : { status: 'failed', current: step.id, error: `step ${step.id}: timed out with no on_timeout` };
  }
  if (target === 'end' || target.goto === 'end') return { status: 'completed', current: '', error: null };
  return { status: 'running', current: target.goto, error: null };
}

/**
 * Moves a paused instance past its approval step in one conditional UPDATE,
 * so two deciders (or a decider and the deadline job, on any server) cannot
 * both resume it. Undefined when someone else moved it first.
 */
async function claim(
  app: EngineApp,
  row: InstanceRow,
  step: WorkflowStep,
  entry: HistoryEntry,
  target: Goto | undefined,
  onAbsent: 'completed' | 'failed',
): Promise<InstanceRow | undefined> {
  const next = decided(step, target, onAbsent);
  const rows = await app.db.query<InstanceRow>(
    `UPDATE _workflow_instances SET history = history || $4::jsonb, current_step_deadline = NULL, status = $5, current_step = $6,
       error = $7, updated_at = NOW()
     WHERE id = $1 AND status = 'running' AND current_step = $2 AND jsonb_array_length(history) = $3
     RETURNING ${INSTANCE_COLUMNS}`,
    [row.id, step.id, row.history.length, json([entry]), next.status, next.current, next.error],
  );
  return rows[0];
}

/** A user id as written in a definition or a record names the caller in any case (ids are UUIDs; the caller's is lower case). */
const isCaller = (id: string, caller: Caller): boolean => id.toLowerCase() === caller.id.toLowerCase();

/**
 * Shortest wait before an approval times out. Deadlines fire on time from a timer (the spec's job passes only
 * every minute or so), so a step whose `on_timeout` leads back to itself with `0s` would otherwise time out
 * dozens of times a second, each appending to the instance's history, for as long as nobody decides it.
 */
const MIN_APPROVAL_TIMEOUT_MS = 1000;

/** Assignee rules (spec: workflows.md §Runtime endpoints, approve/reject step 3). */
export function mayDecide(caller: Caller, step: WorkflowStep, context: Record<string, unknown>): boolean {
  if (caller.isAdmin) return true;
  const a = step.assignee;
  if (!isObject(a) || a.type === undefined || a.type === null || a.type === '') return true;
  switch (a.type) {
    case 'role':
      return typeof a.role === 'string' && caller.roles.some((r) => r.toLowerCase() === (a.role as string).toLowerCase());
    case 'fixed':
      return typeof a.user === 'string' && isCaller(a.user, caller);
    case 'relation': {
      if (typeof a.path !== 'string' || a.path === '') return false;
      const value = resolvePath(context, a.path.replace(/^context\./, ''));
      return value !== null && typeof value !== 'object' && isCaller(String(value), caller);
    }
    default:
      return false;
  }
}

/**
 * Whether the instance moved past the step this request found it at: its history grew by more than
 * skipped-start notes (the only entries appended without deciding or advancing it).
 */
const movedSince = (history: readonly HistoryEntry[], seen: number): boolean => history.slice(seen).some((e) => e.status !== 'skipped');

/** POST /_workflows/:id/approve | reject */
export async function decide(app: EngineApp, caller: Caller, id: string, decision: 'approved' | 'rejected'): Promise<WorkflowInstance> {
  let seen: number | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await loadInstance(app.db, id, findMovableInstance);
    if (row.status !== 'running') throw invalid(`workflow instance is not running (status: ${row.status})`);
    // A request that lost the race for a step must not decide the next one (a double-submitted approval
    // would otherwise approve two steps); only a skipped-start note appended meanwhile warrants another try.
    if (seen !== undefined && movedSince(row.history, seen)) {
      throw conflict(`Workflow instance ${id} was decided by another request meanwhile`);
    }
    seen ??= row.history.length;
    const wf = (await workflowsOf(app)).byId.get(row.workflow_id);
    if (!wf) throw invalid(`workflow definition not found: ${row.workflow_name}`);
    const step = wf.stepById.get(row.current_step ?? '');
    if (!step) throw invalid(`current step not found: ${row.current_step ?? ''}`);
    if (step.type !== 'approval') throw invalid('current step is not an approval step');
    if (!mayDecide(caller, step, row.context ?? {})) throw forbidden('You are not an assignee of this approval step');
    const entry: HistoryEntry = { step: step.id, status: decision, by: caller.id, at: nowIso() };
    const claimed = await claim(app, row, step, entry, decision === 'approved' ? step.on_approve : step.on_reject, 'completed');
    if (!claimed) continue; // moved by someone else: look again
    await advance(app, runOf(wf, claimed, { id: caller.id, email: caller.email }));
    const reloaded = await findInstance(app.db, id);
    if (!reloaded) throw notFound(`Workflow instance not found: ${id}`);
    return instanceView(reloaded);
  }
  throw conflict('Workflow instance is being changed concurrently; try again');
}

export async function getInstance(app: EngineApp, id: string): Promise<WorkflowInstance> {
  return instanceView(await loadInstance(app.db, id));
}

/** GET /_workflows/pending: running instances paused at an approval step the caller may decide, newest first. */
export async function pendingInstances(app: EngineApp, caller: Caller): Promise<WorkflowInstance[]> {
  const rows = await app.db.query<InstanceRow>(
    `SELECT ${INSTANCE_COLUMNS} FROM _workflow_instances WHERE status = 'running' ORDER BY created_at DESC, id`,
  );
  if (rows.length === 0) return [];
  const set = await workflowsOf(app);
  const out: WorkflowInstance[] = [];
  for (const row of rows.map(storedInstance)) {
    const step = set.byId.get(row.workflow_id)?.stepById.get(row.current_step ?? '');
    if (step?.type !== 'approval') continue;
    if (mayDecide(caller, step, row.context ?? {})) out.push(instanceView(row));
  }
  return out;
}

/** DELETE /_workflows/:id (admin). */
export async function deleteInstance(app: EngineApp, id: string): Promise<{ deleted: true }> {
  const row = await findInstance(app.db, id);
  if (!row) throw notFound(`Workflow instance not found: ${id}`);
  await app.db.query('DELETE FROM _workflow_instances WHERE id = $1', [id]);
  return { deleted: true };
}

/**
 * One pass of the deadline job (spec: workflows.md §Timeouts): due instances
 * are leased with FOR UPDATE SKIP LOCKED (their deadline moves 10 minutes on,
 * so a crash only delays them), then each is moved past its approval step by
 * the same conditional claim approvals use, and advanced. Returns how many timed out.
 */
/** The name of the job that times out approvals (spec: workflows.md §Timeouts). */
export const WORKFLOW_DEADLINE_JOB = 'workflow-deadlines';

/** The earliest deadline of a running instance's approval, or null: when the deadline job must run next. */
export async function nextDeadline(app: EngineApp): Promise<Date | null> {
  const [row] = await app.db.query<{ at: Date | null }>(
    `SELECT min(current_step_deadline) AS at FROM _workflow_instances WHERE status = 'running' AND current_step_deadline IS NOT NULL`,
  );
  return row?.at ?? null;
}

export async function processDeadlines(app: EngineApp, limit = 100): Promise<number> {
  const due = await claimRows<InstanceRow>(app.db, {
    table: '_workflow_instances',
    where: `status = 'running' AND current_step_deadline IS NOT NULL AND current_step_deadline <= NOW()`,
    orderBy: 'current_step_deadline',
    limit,
    set: `current_step_deadline = NOW() + interval '10 minutes'`,
    returning: INSTANCE_COLUMNS.split(', ')
      .map((c) => `t.${c}`)
      .join(', '),
  });
  if (due.length === 0) return 0;
  const set = await workflowsOf(app);
  let timedOut = 0;
  for (const leased of due) {
    try {
      const row = await upgradedInstance(app.db, leased);
      const wf = set.byId.get(row.workflow_id);
      const step = wf?.stepById.get(row.current_step ?? '');
      if (!wf || step?.type !== 'approval') {
        // Not an approval any more (definition changed): no deadline applies.
        await app.db.query('UPDATE _workflow_instances SET current_step_deadline = NULL WHERE id = $1 AND jsonb_array_length(history) = $2', [
          row.id,
          row.history.length,
        ]);
        continue;
      }
      const claimed = await claim(app, row, step, { step: step.id, status: 'timed_out', at: nowIso() }, step.on_timeout, 'failed');
      if (!claimed) continue;
      timedOut++;
      await advance(app, runOf(wf, claimed, null));
    } catch (err) {
      app.log.error({ err, app: app.name, instance: leased.id }, 'workflow timeout failed');
    }
  }
  return timedOut;
}
