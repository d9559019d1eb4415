/**
 * Static checks on a parsed expression: unknown variables and functions, forbidden names,
 * arrow functions outside function arguments, argument counts, literal regular expressions.
 */
import type { Node, Param } from './ast.js';
import { ExprCompileError } from './errors.js';
import { FUNCTIONS, METHODS } from './functions.js';
import { FORBIDDEN_NAMES } from './limits.js';
import { safeRegex } from './safe-regex.js';

export interface CheckOptions {
  /** Allowed context variables. */
  readonly variables: ReadonlySet<string>;
  /** String expressions evaluated per list element: any bare name is an element key. */
  readonly elementMode: boolean;
}

const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'true',
  'false',
  'null',
  'nil',
  'undefined',
  'new',
  'not',
  'and',
  'or',
  'in',
  'this',
  'function',
  'return',
  'var',
  'let',
  'const',
  'import',
  'typeof',
  'void',
  'delete',
]);

function arity(name: string, count: number, min: number, max: number, pos: number): void {
  if (count >= min && count <= max) return;
  const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
  throw new ExprCompileError(`${name}() takes ${expected} argument${min === 1 && max === 1 ? '' : 's'}, got ${count}`, pos);
}

function checkRegexLiteral(node: Node): void {
  if (node.type !== 'literal' || typeof node.value !== 'string') return;
  try {
    safeRegex(node.value);
  } catch (e) {
    throw new ExprCompileError(e instanceof Error ? e.message : 'invalid regular expression', node.pos);
  }
}

class Checker {
  private readonly scope: string[] = [];

  constructor(private readonly options: CheckOptions) {}

  check(node: Node): void {
    switch (node.type) {
      case 'literal':
        return;
      case 'variable':
        this.variable(node.name, node.pos);
        return;
      case 'array':
        for (const item of node.items) this.check(item);
        return;
      case 'object':
        for (const e of node.entries) {
          if (FORBIDDEN_NAMES.has(e.key)) throw new ExprCompileError(`forbidden key ${e.key}`, e.keyPos);
          this.check(e.value);
        }
        return;
      case 'member':
        if (FORBIDDEN_NAMES.has(node.name)) throw new ExprCompileError(`forbidden member name ${node.name}`, node.namePos);
        this.check(node.object);
        return;
      case 'index':
        if (node.index.type === 'literal' && typeof node.index.value === 'string' && FORBIDDEN_NAMES.has(node.index.value)) {
          throw new ExprCompileError(`forbidden member name ${node.index.value}`, node.index.pos);
        }
        this.check(node.object);
        this.check(node.index);
        return;
      case 'call': {
        const spec = FUNCTIONS.get(node.name);
        if (spec === undefined) {
          if (FORBIDDEN_NAMES.has(node.name)) throw new ExprCompileError(`forbidden name ${node.name}`, node.pos);
          throw new ExprCompileError(`unknown function ${node.name}`, node.pos);
        }
        arity(node.name, node.args.length, spec.min, spec.max, node.pos);
        for (const [k, arg] of node.args.entries()) this.argument(arg, spec.lambdaArgs?.includes(k) === true);
        if (node.name === 'matches' && node.args.length === 2) checkRegexLiteral(node.args[1]);
        return;
      }
      case 'method': {
        // The receiver first, so that `Math.max(a, b)` reports the unknown variable Math.
        this.check(node.object);
        if (FORBIDDEN_NAMES.has(node.name)) throw new ExprCompileError(`forbidden member name ${node.name}`, node.pos);
        const spec = METHODS.get(node.name);
        if (spec === undefined) throw new ExprCompileError(`unknown method ${node.name}`, node.pos);
        arity(node.name, node.args.length, spec.min, spec.max, node.pos);
        for (const [k, arg] of node.args.entries()) this.argument(arg, spec.takesLambda && k === 0);
        return;
      }
      case 'unary':
        this.check(node.arg);
        return;
      case 'binary':
        this.check(node.left);
        this.check(node.right);
        if (node.op === 'matches') checkRegexLiteral(node.right);
        return;
      case 'logical':
        this.check(node.left);
        this.check(node.right);
        return;
      case 'conditional':
        this.check(node.test);
        this.check(node.then);
        this.check(node.otherwise);
        return;
      case 'arrow':
        throw new ExprCompileError('arrow functions are only allowed as the function argument of a list function', node.pos);
    }
  }

  private variable(name: string, pos: number): void {
    if (FORBIDDEN_NAMES.has(name)) throw new ExprCompileError(`forbidden name ${name}`, pos);
    if (this.scope.includes(name)) return;
    if (this.options.elementMode || this.options.variables.has(name)) return;
    throw new ExprCompileError(`unknown variable ${name}`, pos);
  }

  private argument(arg: Node, lambdaAllowed: boolean): void {
    if (arg.type !== 'arrow') {
      this.check(arg);
      return;
    }
    if (!lambdaAllowed) {
      throw new ExprCompileError('arrow functions are only allowed as the function argument of a list function', arg.pos);
    }
    this.arrow(arg.params, arg.body);
  }

  private arrow(params: readonly Param[], body: Node): void {
    if (params.length > 2) throw new ExprCompileError('an arrow function takes at most 2 parameters (element, index)', params[2].pos);
    for (const p of params) {
      if (FORBIDDEN_NAMES.has(p.name)) throw new ExprCompileError(`forbidden name ${p.name}`, p.pos);
      if (RESERVED_PARAMS.has(p.name)) throw new ExprCompileError(`invalid parameter name ${p.name}`, p.pos);
    }
    this.scope.push(...params.map((p) => p.name));
    try {
      this.check(body);
    } finally {
      this.scope.length -= params.length;
    }
  }
}

/** Throws ExprCompileError on the first problem found. */
export function check(node: Node, options: CheckOptions): void {
  new Checker(options).check(node);
}
