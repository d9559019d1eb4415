import { jsonOfText } from '../db/exact-json.js';
import type { CompiledExpr } from '../expr/index.js';
import type { EngineApp } from '../engine/context.js';
import type { Registry } from '../metadata/registry.js';
import { compileStoredCondition, type WorkflowStep, type WorkflowTrigger } from './definition.js';

/**
 * The workflows of an app, compiled once per metadata snapshot. Every admin
 * change calls `reload()`, which builds a new Registry object (here and, via
 * NOTIFY, on every other server instance), so the cache is keyed on the
 * registry: a new snapshot reads `_workflows` once, on first use.
 */

export interface CompiledWorkflow {
  id: string;
  name: string;
  active: boolean;
  trigger: WorkflowTrigger;
  context: Record<string, unknown>;
  steps: WorkflowStep[];
  stepById: ReadonlyMap<string, WorkflowStep>;
  /** Condition step id → compiled expression, or why it cannot run. */
  conditions: ReadonlyMap<string, { ok: true; expr: CompiledExpr } | { ok: false; error: string }>;
}

export interface WorkflowSet {
  byId: ReadonlyMap<string, CompiledWorkflow>;
  /** Active state_change workflows by `entity`, in name order. */
  byEntity: ReadonlyMap<string, readonly CompiledWorkflow[]>;
  /** Active event workflows by `event`, in name order. */
  byEvent: ReadonlyMap<string, readonly CompiledWorkflow[]>;
}

interface StoredWorkflow {
  id: string;
  name: string;
  active: boolean;
  /** A string: JSON text, as the legacy server could store it (a jsonb string). */
  trigger: WorkflowTrigger | string | null;
  context: Record<string, unknown> | string | null;
  steps: WorkflowStep[] | string | null;
}

/** A JSON column read as the object or array it holds, also when stored as JSON text; null for anything else. */
function stored<T extends object>(value: T | string | null): T | null {
  return typeof value === 'string' ? ((jsonOfText(value) as T | undefined) ?? null) : value;
}

const cache = new WeakMap<Registry, Promise<WorkflowSet>>();

function compile(row: StoredWorkflow): CompiledWorkflow {
  const rawSteps = stored(row.steps);
  const steps = Array.isArray(rawSteps) ? rawSteps : [];
  const conditions = new Map<string, ReturnType<typeof compileStoredCondition>>();
  for (const s of steps) if (s.type === 'condition') conditions.set(s.id, compileStoredCondition(s.expression));
  return {
    id: row.id,
    name: row.name,
    active: row.active,
    trigger: stored(row.trigger) ?? ({} as WorkflowTrigger),
    context: stored(row.context) ?? {},
    steps,
    stepById: new Map(steps.map((s) => [s.id, s])),
    conditions,
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

async function load(app: EngineApp): Promise<WorkflowSet> {
  const rows = await app.db.query<StoredWorkflow>('SELECT id, name, active, trigger, context, steps FROM _workflows ORDER BY name, id');
  const byId = new Map<string, CompiledWorkflow>();
  const byEntity = new Map<string, CompiledWorkflow[]>();
  const byEvent = new Map<string, CompiledWorkflow[]>();
  for (const row of rows) {
    const wf = compile(row);
    byId.set(wf.id, wf);
    if (!wf.active) continue;
    if (wf.trigger.type === 'state_change' && typeof wf.trigger.entity === 'string') push(byEntity, wf.trigger.entity, wf);
    else if (wf.trigger.type === 'event' && typeof wf.trigger.event === 'string') push(byEvent, wf.trigger.event, wf);
  }
  return { byId, byEntity, byEvent };
}

/** The app's workflows for its current metadata snapshot. */
export function workflowsOf(app: EngineApp): Promise<WorkflowSet> {
  const registry = app.registry;
  let hit = cache.get(registry);
  if (!hit) {
    hit = load(app);
    cache.set(registry, hit);
    hit.catch(() => cache.delete(registry));
  }
  return hit;
}
