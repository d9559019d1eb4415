/**
 * The stored shapes of rules and state machines, as the registry compiles them and the admin API parses
 * them: plain types and constants that import nothing, so the registry can name them without importing the
 * parsers (which import the registry).
 */

export const RULE_HOOKS = ['before_write', 'before_delete'] as const;
export const RULE_TYPES = ['field', 'expression', 'computed'] as const;
export const FIELD_RULE_OPERATORS = ['min', 'max', 'min_length', 'max_length', 'pattern'] as const;
export type RuleHook = (typeof RULE_HOOKS)[number];
export type RuleType = (typeof RULE_TYPES)[number];

export interface RelatedLoad {
  relation: string;
  filter?: Record<string, unknown>;
}

export interface RuleDefinition {
  field?: string;
  operator?: string;
  value?: unknown;
  expression?: string;
  message?: string;
  stop_on_fail?: boolean;
  related_load?: RelatedLoad[];
}

export interface RuleInput {
  entity: string;
  hook: RuleHook;
  type: RuleType;
  definition: RuleDefinition;
  priority: number;
  active: boolean;
}

export const ACTION_TYPES = ['set_field', 'webhook', 'create_record', 'send_event'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export interface TransitionAction {
  type: ActionType;
  field?: string;
  value?: unknown;
  url?: string;
  method?: string;
  event?: string;
  entity?: string;
  data?: Record<string, unknown>;
}

export interface Transition {
  from: string | string[];
  to: string;
  roles?: string[];
  guard?: string;
  actions?: TransitionAction[];
}

export interface StateMachineInput {
  entity: string;
  field: string;
  definition: { initial?: string; transitions: Transition[] };
  active: boolean;
}
