import { ExprCompileError, formatCompileError, safeRegex, type CompiledExpr } from '../expr/index.js';
import type { RuleDefinition, RuleHook, RuleType } from './logic-definitions.js';
import { compileRuleExpression, numericThreshold } from './rule-expression.js';

/** A stored rule, compiled once per registry snapshot. */
export interface CompiledRule {
  id: string;
  hook: RuleHook;
  type: RuleType;
  priority: number;
  def: RuleDefinition;
  expr?: CompiledExpr;
  compileError?: string;
  pattern?: RegExp | null;
}

/** An entity's active rules by hook and type, each list in priority order. */
export interface EntityRules {
  field: CompiledRule[];
  expression: CompiledRule[];
  computed: CompiledRule[];
  deleteField: CompiledRule[];
  deleteExpression: CompiledRule[];
  /** Relations any rule of a hook wants loaded. */
  writeLoads: NonNullable<RuleDefinition['related_load']>;
  deleteLoads: NonNullable<RuleDefinition['related_load']>;
}

export const NO_RULES: EntityRules = Object.freeze({
  field: [],
  expression: [],
  computed: [],
  deleteField: [],
  deleteExpression: [],
  writeLoads: [],
  deleteLoads: [],
}) as EntityRules;

export function compileRule(row: { id: string; hook: RuleHook; type: RuleType; priority: number; definition: RuleDefinition }): CompiledRule {
  const rule: CompiledRule = { id: row.id, hook: row.hook, type: row.type, priority: row.priority, def: row.definition };
  // Rules stored before thresholds were checked may hold "2" for 2; they are read as numbers.
  if (row.type === 'field' && row.definition.operator !== 'pattern' && typeof row.definition.value === 'string') {
    const n = numericThreshold(row.definition.value);
    if (n !== undefined) rule.def = { ...row.definition, value: n };
  }
  if (row.type !== 'field') {
    try {
      rule.expr = compileRuleExpression(row.definition.expression, 'definition.expression');
    } catch (err) {
      rule.compileError = err instanceof ExprCompileError ? formatCompileError(err) : (err as Error).message;
    }
  } else if (row.definition.operator === 'pattern' && typeof row.definition.value === 'string') {
    try {
      rule.pattern = safeRegex(row.definition.value);
    } catch {
      rule.pattern = null; // an invalid pattern fails (spec)
    }
  }
  return rule;
}

/** Identity of one related_load: its relation and its filter. */
export const loadKey = (l: NonNullable<RuleDefinition['related_load']>[number]) => `${l.relation}\u0000${JSON.stringify(l.filter ?? {})}`;

export function groupRules(rules: CompiledRule[]): EntityRules {
  const by = (hook: RuleHook, type: RuleType) => rules.filter((r) => r.hook === hook && r.type === type).sort((a, b) => a.priority - b.priority);
  // One query per distinct (relation, filter): two rules may load one relation with different filters.
  const loads = (hook: RuleHook) => {
    const seen = new Map<string, NonNullable<RuleDefinition['related_load']>[number]>();
    for (const r of rules) if (r.hook === hook) for (const l of r.def.related_load ?? []) if (!seen.has(loadKey(l))) seen.set(loadKey(l), l);
    return [...seen.values()];
  };
  return {
    field: by('before_write', 'field'),
    expression: by('before_write', 'expression'),
    computed: by('before_write', 'computed'),
    deleteField: by('before_delete', 'field'),
    deleteExpression: by('before_delete', 'expression'),
    writeLoads: loads('before_write'),
    deleteLoads: loads('before_delete'),
  };
}
