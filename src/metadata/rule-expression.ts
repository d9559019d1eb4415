import { ExprCompileError, RULE_VARIABLES, compileExpr, formatCompileError } from '../expr/index.js';
import { invalid } from '../errors.js';

/**
 * Rule expressions and thresholds as the compiled snapshots and the admin validation both read them
 * (apart from rule-definition.ts, which needs the SQL conditions module that the registry imports).
 */

/** Compiles an expression for rules and guards; a failure is the spec's 422 with its position. */
export function compileRuleExpression(source: unknown, what = 'expression') {
  if (typeof source !== 'string' || source.trim() === '') throw invalid(`${what} is required`);
  try {
    return compileExpr(source, RULE_VARIABLES);
  } catch (err) {
    if (err instanceof ExprCompileError) throw invalid(formatCompileError(err));
    throw err;
  }
}

/**
 * A numeric threshold as stored: form-based clients send `"2"`, which must
 * compare as 2 (a string threshold would make the rule never fire).
 */
export function numericThreshold(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}
