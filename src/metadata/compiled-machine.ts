import type { CompiledExpr } from '../expr/index.js';
import { compileRuleExpression } from './rule-expression.js';
import type { StateMachineInput, TransitionAction } from './logic-definitions.js';

/** A stored state machine, compiled once per registry snapshot. */
export interface CompiledTransition {
  from: ReadonlySet<string>;
  to: string;
  roles: string[];
  guard?: CompiledExpr;
  actions: TransitionAction[];
}

export interface CompiledMachine {
  id: string;
  field: string;
  initial?: string;
  transitions: CompiledTransition[];
}

export function compileMachine(id: string, input: Pick<StateMachineInput, 'field' | 'definition'>): CompiledMachine {
  return {
    id,
    field: input.field,
    initial: input.definition.initial,
    transitions: input.definition.transitions.map((t) => ({
      from: new Set(Array.isArray(t.from) ? t.from : [t.from]),
      to: t.to,
      roles: (t.roles ?? []).map((r) => r.toLowerCase()),
      guard: t.guard ? compileRuleExpression(t.guard) : undefined,
      actions: t.actions ?? [],
    })),
  };
}
