import { invalid } from '../errors.js';
import { targetUrlProblem } from '../outbound/target.js';
import { compileRuleExpression } from './rule-expression.js';
import { isObject } from './problems.js';
import { engineWritten, type Registry } from './registry.js';
import { ACTION_TYPES, type ActionType, type StateMachineInput, type Transition, type TransitionAction } from './logic-definitions.js';

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const blank = (v: unknown) => v === undefined || v === null || v === '';

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) throw invalid(`${what} must be an array of strings`);
  return v as string[];
}

/**
 * `from` is a state name or an array of them. `""` is a state too: the one of a record whose field is null
 * (state-machines.md: "a stored null state is `""`"), so a transition from it lets such records enter the machine.
 */
function fromStates(v: unknown, what: string): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalid(`${what} must be a state name or an array of state names`);
  }
  return v as string[];
}

function parseAction(raw: unknown, at: string, registry: Registry): TransitionAction {
  if (!isObject(raw)) throw invalid(`${at} must be an object`);
  const type = raw.type;
  if (!(ACTION_TYPES as readonly unknown[]).includes(type)) {
    throw invalid(`${at}.type must be one of ${ACTION_TYPES.join(', ')}`);
  }
  const action: TransitionAction = { type: type as ActionType };
  switch (type) {
    case 'set_field':
      if (typeof raw.field !== 'string' || raw.field === '') throw invalid(`${at}.field is required for set_field`);
      action.field = raw.field;
      if (raw.value !== undefined) action.value = raw.value;
      break;
    case 'webhook': {
      const problem = targetUrlProblem(raw.url, `${at}.url`);
      if (problem) throw invalid(problem);
      action.url = raw.url as string;
      if (!blank(raw.method)) {
        const method = String(raw.method).toUpperCase();
        if (!HTTP_METHODS.includes(method)) throw invalid(`${at}.method must be one of ${HTTP_METHODS.join(', ')}`);
        action.method = method;
      }
      break;
    }
    case 'send_event':
      if (typeof raw.event !== 'string' || raw.event === '') throw invalid(`${at}.event is required for send_event`);
      action.event = raw.event;
      break;
    case 'create_record': {
      if (typeof raw.entity !== 'string' || !registry.entities.has(raw.entity)) {
        throw invalid(`${at}.entity: entity not found: ${String(raw.entity ?? '')}`);
      }
      if (raw.data !== undefined && !isObject(raw.data)) throw invalid(`${at}.data must be an object`);
      const target = registry.entities.get(raw.entity)!;
      // The created record refuses an unknown key on every transition: refused now, as a field rule's field is.
      for (const key of Object.keys(raw.data ?? {})) {
        const known = target.fields.has(key) || (key === 'deleted_at' && target.softDelete) || registry.resolve(target, key)?.forward;
        if (!known) throw invalid(`${at}.data.${key}: unknown field ${key} of entity ${target.name}`);
      }
      action.entity = raw.entity;
      action.data = (raw.data as Record<string, unknown> | undefined) ?? {};
      break;
    }
  }
  return action;
}

/** Validates a state machine (spec: state-machines.md); guards compile now so a bad one is never stored. */
export function parseStateMachine(body: Record<string, unknown>, registry: Registry): StateMachineInput {
  if (blank(body.entity)) throw invalid('entity is required');
  const entity = typeof body.entity === 'string' ? registry.entities.get(body.entity) : undefined;
  if (!entity) throw invalid(`entity not found: ${String(body.entity)}`);
  if (blank(body.field)) throw invalid('field is required');
  const field = typeof body.field === 'string' ? entity.fields.get(body.field) : undefined;
  if (!field) throw invalid(`field not found: ${String(body.field)} is not a field of ${entity.name}`);
  // No write ever carries such a field, so the machine would never run.
  if (engineWritten(entity, field)) {
    throw invalid(`field ${field.name} is set by the engine, never by a write: no state machine can guard it`);
  }
  const def = body.definition;
  if (!isObject(def)) throw invalid('at least one transition is required');
  if (!Array.isArray(def.transitions) || def.transitions.length === 0) throw invalid('at least one transition is required');

  const states = new Set<string>();
  const transitions: Transition[] = def.transitions.map((raw, i) => {
    const at = `transitions[${i}]`;
    if (!isObject(raw)) throw invalid(`${at} must be an object`);
    const fromList = fromStates(raw.from, `${at}.from`);
    if (fromList.length === 0) throw invalid(`${at}.from must name at least one state`);
    if (typeof raw.to !== 'string' || raw.to === '') throw invalid(`${at}.to is required`);
    const t: Transition = { from: fromList.length === 1 ? fromList[0]! : fromList, to: raw.to };
    for (const s of [...fromList, raw.to]) states.add(s);
    if (!blank(raw.roles)) {
      const roles = stringList(raw.roles, `${at}.roles`);
      if (roles.length) t.roles = roles;
    }
    if (!blank(raw.guard)) {
      // Optional: a guard that is there but not text is the wrong type, not a missing one.
      if (typeof raw.guard !== 'string') throw invalid(`${at}.guard must be an expression string`);
      compileRuleExpression(raw.guard, `${at}.guard`);
      t.guard = raw.guard as string;
    }
    if (!blank(raw.actions)) {
      if (!Array.isArray(raw.actions)) throw invalid(`${at}.actions must be an array`);
      t.actions = raw.actions.map((a, j) => parseAction(a, `${at}.actions[${j}]`, registry));
    }
    return t;
  });

  const definition: StateMachineInput['definition'] = { transitions };
  if (!blank(def.initial)) {
    if (typeof def.initial !== 'string') throw invalid('initial must be a string');
    if (!states.has(def.initial)) throw invalid(`initial state ${def.initial} is not a state of any transition`);
    definition.initial = def.initial;
  }
  // A state outside the field's enum is accepted (the spec's invoice example does this with `void`): a write
  // that tries to reach it gets the enum's own 422, so the transition is inert rather than harmful.
  const active = body.active ?? true;
  if (typeof active !== 'boolean') throw invalid('active must be a boolean');
  return { entity: entity.name, field: field.name, definition, active };
}
