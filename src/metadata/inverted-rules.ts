import { compileExpr, RULE_VARIABLES, truthy } from '../expr/index.js';
import { isObject } from './problems.js';

/**
 * Import's check of an expression rule against the document's own sample rows (export-import.md §Import,
 * whose example is the employee-management rule `new Date(record.end_date) >= new Date(record.start_date)`).
 * A rule is violated when its expression is truthy (rules.md); schemas written for the legacy server
 * sometimes state what must hold instead, and such a rule, stored, refuses every valid write of its entity.
 * When every sample row the document brings for the entity violates an active `before_write` expression
 * rule, the rule is taken to be written the other way round: the reason is returned, and the import reports
 * it and stores nothing. A rule the sample rows satisfy at least once, or that cannot be judged on them
 * (no rows, related data, an evaluation error), is left to the admin API's validation.
 */
export function invertedRuleReason(rule: Record<string, unknown>, sampleData: unknown, now: Date): string | undefined {
  if (rule.type !== 'expression' || (rule.hook ?? 'before_write') !== 'before_write' || rule.active === false) return undefined;
  const def = rule.definition;
  if (!isObject(def) || typeof def.expression !== 'string' || def.related_load !== undefined) return undefined;
  const entity = String(rule.entity);
  const rows = isObject(sampleData) ? sampleData[entity] : undefined;
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every(isObject)) return undefined;
  let expr: ReturnType<typeof compileExpr>;
  try {
    expr = compileExpr(def.expression, RULE_VARIABLES);
  } catch {
    return undefined; // the admin API's validation reports it
  }
  const user = { id: null, email: null, roles: [] };
  for (const record of rows) {
    try {
      if (!truthy(expr.evaluate({ record, old: null, action: 'create', user, entity, related: {}, now }))) return undefined;
    } catch {
      return undefined;
    }
  }
  return (
    `expression is truthy for every sample row of ${entity} (${rows.length}), so it would refuse them all: ` +
    'a rule is violated when its expression is truthy (write the condition that must not hold); not stored'
  );
}
