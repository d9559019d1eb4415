import { ExprCompileError, RULE_VARIABLES, compileExpr, formatCompileError } from '../expr/index.js';
import { invalid } from '../errors.js';
import { exactNumberOf } from '../db/exact-json.js';
import { ExactNumber } from '../db/exact-number.js';

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
 * compare as 2 (a string threshold would make the rule never fire). One a double
 * would change (9007199254740993, sent as a number or as digits) stays exact.
 */
export function numericThreshold(value: unknown): number | ExactNumber | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const text = value instanceof ExactNumber ? value.digits : typeof value === 'string' ? value.trim().replace(/^\+/, '') : undefined;
  const m = text === undefined ? null : /^-?(\d+\.?\d*|\.\d+)(?:[eE]([-+]?\d+))?$/.exec(text);
  // Far past any column's digits, short of a costly exact comparison.
  if (!m || text!.length > 1000 || Math.abs(Number(m[2] ?? 0)) > 1000 || !Number.isFinite(Number(text))) return undefined;
  return exactNumberOf(text!.replace(/^(-?)\./, '$10.').replace(/\.(?=$|[eE])/, ''));
}
