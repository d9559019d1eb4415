import { invalid } from '../errors.js';
import { ExactNumber } from '../db/exact-number.js';
import { ExprCompileError, WORKFLOW_VARIABLES, compileExpr, formatCompileError } from '../expr/index.js';
import { isObject } from '../metadata/problems.js';
import { targetUrlProblem } from '../outbound/target.js';

/**
 * Workflow definitions (spec: workflows.md §Definition): validation and the
 * normalised form that is stored and echoed. Goto values are normalised to
 * `"end"` or `{"goto": "<step id>"}`; an absent goto stays absent.
 */

export type Goto = 'end' | { goto: string };

export const STEP_TYPES = ['action', 'condition', 'approval'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const GOTO_KEYS = ['then', 'on_true', 'on_false', 'on_approve', 'on_reject', 'on_timeout'] as const;
export type GotoKey = (typeof GOTO_KEYS)[number];

export type StateChangeTrigger = { type: 'state_change'; entity: string; field: string; to: string } & Record<string, unknown>;
export type EventTrigger = { type: 'event'; event: string } & Record<string, unknown>;
export type WorkflowTrigger = StateChangeTrigger | EventTrigger;

export interface Assignee {
  type?: string;
  role?: string;
  user?: string;
  path?: string;
  [key: string]: unknown;
}

/** A step as stored: the keys the engine reads, plus anything else the author kept on it. */
export interface WorkflowStep {
  id: string;
  type: StepType;
  /** action steps */
  actions?: Array<Record<string, unknown>>;
  /** condition steps */
  expression?: string;
  /** approval steps */
  assignee?: Assignee;
  timeout?: string;
  then?: Goto;
  on_true?: Goto;
  on_false?: Goto;
  on_approve?: Goto;
  on_reject?: Goto;
  on_timeout?: Goto;
  [key: string]: unknown;
}

export interface WorkflowInput {
  name: string;
  trigger: WorkflowTrigger;
  context: Record<string, unknown>;
  steps: WorkflowStep[];
  active: boolean;
}

const blank = (v: unknown) => v === undefined || v === null || v === '';

/** `"end"`, `{"goto": "end"}` → "end"; `{"goto": id}` or a bare string → `{goto: id}`; undefined/null → absent. */
function normaliseGoto(raw: unknown, key: GotoKey, stepId: string): Goto | undefined {
  if (raw === undefined || raw === null) return undefined;
  const target = typeof raw === 'string' ? raw : isObject(raw) && typeof raw.goto === 'string' ? raw.goto : undefined;
  if (target === undefined || target === '') {
    throw invalid(`invalid goto in step ${stepId}: ${key} must be "end", a step id or {"goto": "<step id>"}`);
  }
  return target === 'end' ? 'end' : { goto: target };
}

/** The methods a `webhook` action may send, as state-machine `webhook` actions allow (absent: POST). */
const WEBHOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function webhookMethodProblem(method: unknown, key: string): string | undefined {
  if (blank(method)) return undefined;
  return typeof method === 'string' && WEBHOOK_METHODS.includes(method.toUpperCase())
    ? undefined
    : `${key} must be one of ${WEBHOOK_METHODS.join(', ')}`;
}

function compileCondition(source: string) {
  try {
    return compileExpr(source, WORKFLOW_VARIABLES);
  } catch (err) {
    if (err instanceof ExprCompileError) throw invalid(formatCompileError(err));
    throw err;
  }
}

function parseTrigger(raw: unknown): WorkflowTrigger {
  const t = isObject(raw) ? raw : {};
  if (blank(t.type)) throw invalid('trigger type is required');
  if (t.type === 'state_change') {
    if (blank(t.entity)) throw invalid('trigger entity is required');
    if (typeof t.entity !== 'string') throw invalid('trigger entity must be a string');
    if (blank(t.field)) throw invalid('trigger field is required');
    if (typeof t.field !== 'string') throw invalid('trigger field must be a string');
    if (t.to === undefined || t.to === null) throw invalid('trigger to is required');
    // An ExactNumber (a bigint state beyond 2^53, parsed exactly) is a number: its digits are the state.
    if (typeof t.to === 'object' && !(t.to instanceof ExactNumber)) throw invalid('trigger to must be a string');
    return { ...t, type: 'state_change', entity: t.entity, field: t.field, to: String(t.to) };
  }
  if (t.type === 'event') {
    if (blank(t.event)) throw invalid('trigger event is required');
    if (typeof t.event !== 'string') throw invalid('trigger event must be a string');
    return { ...t, type: 'event', event: t.event };
  }
  throw invalid(`invalid trigger type: ${String(t.type)} (must be state_change or event)`);
}

/** `ids` holds the ids of the steps before this one: a duplicate is reported before this step's type (spec order). */
function parseStep(raw: unknown, index: number, ids: Set<string>): WorkflowStep {
  if (!isObject(raw)) throw invalid('step id is required');
  if (blank(raw.id)) throw invalid('step id is required');
  if (typeof raw.id !== 'string') throw invalid(`step ${index}: id must be a string`);
  const id = raw.id;
  if (ids.has(id)) throw invalid(`duplicate step id: ${id}`);
  ids.add(id);
  if (id === 'end') throw invalid('step id "end" is reserved');
  const type = raw.type;
  if (!(STEP_TYPES as readonly unknown[]).includes(type)) {
    throw invalid(`invalid step type: ${blank(type) ? '' : String(type)} (must be action, condition, or approval)`);
  }
  const step: WorkflowStep = { ...raw, id, type: type as StepType };
  for (const key of GOTO_KEYS) {
    delete step[key];
    const g = normaliseGoto(raw[key], key, id);
    if (g !== undefined) step[key] = g;
  }
  if (type === 'action' && raw.actions !== undefined && raw.actions !== null) {
    if (!Array.isArray(raw.actions) || raw.actions.some((a) => !isObject(a))) {
      throw invalid(`step ${id}: actions must be an array of objects`);
    }
    for (const [j, action] of (raw.actions as Array<Record<string, unknown>>).entries()) {
      if (action.type !== 'webhook') continue;
      const problem = targetUrlProblem(action.url, `actions[${j}].url`);
      if (problem) throw invalid(`step ${id}: ${problem}`);
      const method = webhookMethodProblem(action.method, `actions[${j}].method`);
      if (method) throw invalid(`step ${id}: ${method}`);
    }
  }
  if (type === 'condition') {
    if (typeof raw.expression !== 'string' || raw.expression.trim() === '') throw invalid(`step ${id}: condition expression is required`);
    compileCondition(raw.expression);
  }
  if (type === 'approval') {
    if (raw.assignee !== undefined && raw.assignee !== null && !isObject(raw.assignee)) throw invalid(`step ${id}: assignee must be an object`);
    if (raw.timeout !== undefined && raw.timeout !== null && typeof raw.timeout !== 'string')
      throw invalid(`step ${id}: timeout must be a duration string`);
  }
  return step;
}

/** Validates a POST/PUT body (spec: workflows.md §Validation); the first problem is the 422 message. */
export function parseWorkflow(body: Record<string, unknown>): WorkflowInput {
  if (blank(body.name) || typeof body.name !== 'string' || body.name.trim() === '') throw invalid('workflow name is required');
  const trigger = parseTrigger(body.trigger);
  if (!Array.isArray(body.steps) || body.steps.length === 0) throw invalid('at least one step is required');
  const steps: WorkflowStep[] = [];
  const ids = new Set<string>();
  for (const [i, raw] of body.steps.entries()) steps.push(parseStep(raw, i, ids));
  for (const step of steps) {
    for (const key of GOTO_KEYS) {
      const g = step[key];
      if (g && g !== 'end' && !ids.has(g.goto)) throw invalid(`goto target not found: ${g.goto}`);
    }
  }
  if (body.context !== undefined && body.context !== null && !isObject(body.context)) throw invalid('context must be an object');
  if (body.active !== undefined && body.active !== null && typeof body.active !== 'boolean') throw invalid('active must be a boolean');
  return {
    name: body.name,
    trigger,
    context: (body.context as Record<string, unknown> | undefined) ?? {},
    steps,
    active: body.active ?? true,
  };
}

/** A compiled condition, or the reason it cannot run (definitions stored before validation existed). */
export function compileStoredCondition(source: unknown): { ok: true; expr: ReturnType<typeof compileExpr> } | { ok: false; error: string } {
  if (typeof source !== 'string' || source.trim() === '') return { ok: false, error: 'condition step has no expression' };
  try {
    return { ok: true, expr: compileExpr(source, WORKFLOW_VARIABLES) };
  } catch (err) {
    return { ok: false, error: err instanceof ExprCompileError ? formatCompileError(err) : String(err) };
  }
}
