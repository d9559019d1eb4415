/**
 * Rocket's expression language (spec/expressions.md): a small, side-effect-free language
 * interpreted by our own evaluator — never eval, new Function, vm or any other JS engine.
 *
 * source → lexer → parser (AST with positions) → static check → closures → evaluate with a step budget.
 */
import { compileUnit } from './compile.js';
import { ExprCompileError, ExprRuntimeError, formatCompileError, toRuntimeError } from './errors.js';
import type { Ctx } from './runtime.js';
import { truthy } from './values.js';

export { ExprCompileError, ExprRuntimeError, formatCompileError, truthy };
export { safeRegex } from './safe-regex.js';

export interface CompiledExpr {
  readonly source: string;
  /** Evaluates against JSON context values (plus `now` as a Date). Throws ExprRuntimeError only. */
  evaluate(vars: Readonly<Record<string, unknown>>): unknown;
}

/** Variables of expression rules, computed fields and state-machine guards. */
export const RULE_VARIABLES: readonly string[] = Object.freeze(['record', 'old', 'action', 'user', 'entity', 'related', 'now']);
/** Variables of workflow condition steps. */
export const WORKFLOW_VARIABLES: readonly string[] = Object.freeze(['context', 'trigger', 'record', 'now']);
/** Variables of webhook conditions. */
export const WEBHOOK_VARIABLES: readonly string[] = Object.freeze(['record', 'old', 'changes', 'action', 'entity', 'event', 'user', 'now']);

const NO_LOCALS: unknown[] = [];

/** Compiles `source` for the given context variables. Throws ExprCompileError. */
export function compileExpr(source: string, variables: readonly string[]): CompiledExpr {
  if (typeof source !== 'string') throw new ExprCompileError('expression must be a string', 0);
  let unit: ReturnType<typeof compileUnit>;
  try {
    unit = compileUnit(source, new Set(variables), false);
  } catch (e) {
    if (e instanceof ExprCompileError) throw e;
    if (e instanceof RangeError) throw new ExprCompileError('expression nested too deeply', 0);
    throw new ExprCompileError(e instanceof Error ? e.message : 'cannot compile expression', 0);
  }
  const { run, slots } = unit;
  return Object.freeze({
    source,
    evaluate(vars: Readonly<Record<string, unknown>>): unknown {
      const c: Ctx = {
        steps: 0,
        built: 0,
        depth: 0,
        vars: typeof vars === 'object' && vars !== null ? vars : {},
        elem: null,
        locals: slots > 0 ? new Array<unknown>(slots) : NO_LOCALS,
        now: undefined,
      };
      try {
        const v = run(c);
        return v === undefined ? null : v;
      } catch (e) {
        throw toRuntimeError(e);
      }
    },
  });
}
