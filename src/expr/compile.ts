/**
 * Compiles a checked AST to closures, once; evaluation then only runs the closures.
 * Every closure spends one step of the evaluation budget.
 */
import type { Node } from './ast.js';
import { check } from './check.js';
import { ExprCompileError, ExprRuntimeError } from './errors.js';
import { FUNCTIONS, METHODS, callMethod, nowOf } from './functions.js';
import { MAX_SOURCE_LENGTH, MAX_STRING_EXPRESSION_DEPTH, SOURCE_CHARS_PER_STEP, STEP_BUDGET } from './limits.js';
import { BINARY, negate } from './operators.js';
import { parse } from './parser.js';
import type { Ctx, Eval, Lambda } from './runtime.js';
import { budgetExhausted, getMember, getNamed, norm, spend, spendString, truthy } from './values.js';

/** A compiled source: its root closure and the number of arrow-parameter slots it needs. */
export interface Unit {
  readonly run: Eval;
  readonly slots: number;
}

interface Env {
  readonly elementMode: boolean;
  /** Arrow parameters in scope → slot. */
  readonly scope: Map<string, number>;
  slots: number;
}

const NO_LOCALS: unknown[] = [];

/** Parse, check and compile. */
export function compileUnit(source: string, variables: ReadonlySet<string>, elementMode: boolean): Unit {
  const ast = parse(source);
  check(ast, { variables, elementMode });
  const env: Env = { elementMode, scope: new Map(), slots: 0 };
  const run = compileNode(ast, env);
  return { run, slots: env.slots };
}

/** Wraps a unit compiled in element mode as a lambda over list elements. */
function elementLambda(unit: Unit): Lambda {
  const { run, slots } = unit;
  return (c, element) => {
    if (c.depth >= MAX_STRING_EXPRESSION_DEPTH) {
      throw new ExprRuntimeError(`expression strings nested too deeply (max ${MAX_STRING_EXPRESSION_DEPTH})`);
    }
    const prevLocals = c.locals;
    const prevElem = c.elem;
    c.locals = slots > 0 ? new Array<unknown>(slots) : NO_LOCALS;
    c.elem = element;
    c.depth++;
    try {
      return run(c);
    } finally {
      c.locals = prevLocals;
      c.elem = prevElem;
      c.depth--;
    }
  };
}

const EMPTY_VARS: ReadonlySet<string> = new Set();
const DYNAMIC_LIMIT = 256;
const dynamicCache = new Map<string, Lambda | ExprRuntimeError>();

function compileDynamic(source: string): Lambda | ExprRuntimeError {
  try {
    return elementLambda(compileUnit(source, EMPTY_VARS, true));
  } catch (e) {
    const msg = e instanceof ExprCompileError ? `${e.message} at ${e.position}` : e instanceof Error ? e.message : String(e);
    return new ExprRuntimeError(`invalid expression '${source.length > 60 ? `${source.slice(0, 60)}…` : source}': ${msg}`);
  }
}

/** An expression string computed at run time, compiled once and cached. */
function dynamicLambda(c: Ctx, source: string): Lambda {
  // Charged whether or not the cache has it, so that what an evaluation may do does not depend
  // on what ran before; a miss compiles, in time proportional to the length. An over-long source
  // is only measured before it is refused, so it pays like any string walk.
  const cacheable = source.length <= MAX_SOURCE_LENGTH;
  if (cacheable) spend(c, 1 + Math.floor(source.length / SOURCE_CHARS_PER_STEP));
  else spendString(c, source);
  let hit = cacheable ? dynamicCache.get(source) : undefined;
  if (hit === undefined) {
    hit = compileDynamic(source);
    if (cacheable) {
      if (dynamicCache.size >= DYNAMIC_LIMIT) dynamicCache.clear();
      dynamicCache.set(source, hit);
    }
  }
  if (hit instanceof ExprRuntimeError) throw new ExprRuntimeError(hit.message);
  return hit;
}

/** A function-position argument: arrow → lambda; string literal → compiled now; other → resolved at run time. */
type LambdaArg = { readonly fixed: Lambda } | { readonly dynamic: Eval };

function compileLambdaArg(node: Node, env: Env): LambdaArg {
  if (node.type === 'arrow') {
    const slots = node.params.map(() => env.slots++);
    const saved = node.params.map((p) => env.scope.get(p.name));
    for (const [k, p] of node.params.entries()) env.scope.set(p.name, slots[k]);
    const body = compileNode(node.body, env);
    node.params.forEach((p, k) => {
      const prev = saved[k];
      if (prev === undefined) env.scope.delete(p.name);
      else env.scope.set(p.name, prev);
    });
    const [s0, s1] = slots;
    if (s0 === undefined) return { fixed: (c) => body(c) };
    if (s1 === undefined)
      return {
        fixed: (c, el) => {
          c.locals[s0] = el;
          return body(c);
        },
      };
    return {
      fixed: (c, el, i) => {
        c.locals[s0] = el;
        c.locals[s1] = i;
        return body(c);
      },
    };
  }
  if (node.type === 'literal' && typeof node.value === 'string') {
    try {
      return { fixed: elementLambda(compileUnit(node.value, EMPTY_VARS, true)) };
    } catch (e) {
      if (e instanceof ExprCompileError) {
        throw new ExprCompileError(`in expression string: ${e.message}`, node.pos + 1 + e.position);
      }
      throw e;
    }
  }
  return { dynamic: compileNode(node, env) };
}

function resolveLambda(c: Ctx, arg: LambdaArg | undefined, fn: string): Lambda | undefined {
  if (arg === undefined) return undefined;
  if ('fixed' in arg) return arg.fixed;
  const v = arg.dynamic(c);
  if (typeof v === 'string') return dynamicLambda(c, v);
  throw new ExprRuntimeError(`${fn}: expected an arrow function or an expression string`);
}

function step(c: Ctx): void {
  if (++c.steps > STEP_BUDGET) throw budgetExhausted();
}

function readVariable(c: Ctx, name: string): unknown {
  const vars = c.vars;
  if (!Object.hasOwn(vars, name)) return null;
  const d = Object.getOwnPropertyDescriptor(vars, name);
  return d !== undefined && 'value' in d ? norm(d.value) : null;
}

function compileNode(node: Node, env: Env): Eval {
  switch (node.type) {
    case 'literal': {
      const value = node.value;
      return (c) => {
        step(c);
        return value;
      };
    }
    case 'variable': {
      const name = node.name;
      const slot = env.scope.get(name);
      if (slot !== undefined)
        return (c) => {
          step(c);
          return c.locals[slot];
        };
      if (env.elementMode)
        return (c) => {
          step(c);
          return getNamed(c.elem, name);
        };
      if (name === 'now') {
        return (c) => {
          step(c);
          return nowOf(c);
        };
      }
      return (c) => {
        step(c);
        return readVariable(c, name);
      };
    }
    case 'array': {
      const items = node.items.map((n) => compileNode(n, env));
      return (c) => {
        step(c);
        return items.map((f) => f(c));
      };
    }
    case 'object': {
      const entries = node.entries.map((e) => [e.key, compileNode(e.value, env)] as const);
      return (c) => {
        step(c);
        const o: Record<string, unknown> = {};
        for (const [k, f] of entries) o[k] = f(c);
        return o;
      };
    }
    case 'member': {
      const object = compileNode(node.object, env);
      const name = node.name;
      if (name === 'length') {
        return (c) => {
          step(c);
          const o = object(c);
          if (typeof o === 'string' || Array.isArray(o)) return o.length;
          return getNamed(o, name);
        };
      }
      return (c) => {
        step(c);
        return getNamed(object(c), name);
      };
    }
    case 'index': {
      const object = compileNode(node.object, env);
      if (node.index.type === 'literal') {
        const key = node.index.value;
        return (c) => {
          step(c);
          return getMember(object(c), key);
        };
      }
      const index = compileNode(node.index, env);
      return (c) => {
        step(c);
        const o = object(c);
        const key = index(c);
        // Looking a key up hashes it.
        spendString(c, key);
        return getMember(o, key);
      };
    }
    case 'call': {
      const spec = FUNCTIONS.get(node.name);
      if (spec === undefined) throw new ExprCompileError(`unknown function ${node.name}`, node.pos);
      const name = node.name;
      const lambdaPositions = spec.lambdaArgs ?? [];
      const values: (Eval | undefined)[] = [];
      const lambdas: (LambdaArg | undefined)[] = [];
      node.args.forEach((arg, k) => {
        if (lambdaPositions.includes(k)) {
          values.push(undefined);
          lambdas[k] = compileLambdaArg(arg, env);
        } else {
          values.push(compileNode(arg, env));
        }
      });
      const hasLambdas = lambdas.length > 0;
      return (c) => {
        step(c);
        const args: unknown[] = new Array<unknown>(values.length);
        for (let k = 0; k < values.length; k++) {
          const f = values[k];
          if (f !== undefined) args[k] = f(c);
        }
        const fns: (Lambda | undefined)[] = hasLambdas ? lambdas.map((l) => resolveLambda(c, l, name)) : [];
        return spec.call(c, args, fns);
      };
    }
    case 'method': {
      const spec = METHODS.get(node.name);
      if (spec === undefined) throw new ExprCompileError(`unknown method ${node.name}`, node.pos);
      const name = node.name;
      const object = compileNode(node.object, env);
      const lambda = spec.takesLambda && node.args.length > 0 ? compileLambdaArg(node.args[0], env) : undefined;
      const values = node.args.map((arg, k) => (lambda !== undefined && k === 0 ? undefined : compileNode(arg, env)));
      return (c) => {
        step(c);
        const self = object(c);
        if (self === null) return null;
        const args = values.map((f) => (f === undefined ? undefined : f(c)));
        return callMethod(c, spec, name, self, args, resolveLambda(c, lambda, name));
      };
    }
    case 'unary': {
      const arg = compileNode(node.arg, env);
      if (node.op === '!')
        return (c) => {
          step(c);
          return !truthy(arg(c));
        };
      return (c) => {
        step(c);
        return negate(c, arg(c));
      };
    }
    case 'binary': {
      const left = compileNode(node.left, env);
      const right = compileNode(node.right, env);
      const impl = BINARY[node.op];
      return (c) => {
        step(c);
        const a = left(c);
        return impl(c, a, right(c));
      };
    }
    case 'logical': {
      const left = compileNode(node.left, env);
      const right = compileNode(node.right, env);
      switch (node.op) {
        case '&&':
          return (c) => {
            step(c);
            const a = left(c);
            return truthy(a) ? right(c) : a;
          };
        case '||':
          return (c) => {
            step(c);
            const a = left(c);
            return truthy(a) ? a : right(c);
          };
        case '??':
          return (c) => {
            step(c);
            const a = left(c);
            return a === null || a === undefined ? right(c) : a;
          };
      }
      break;
    }
    case 'conditional': {
      const test = compileNode(node.test, env);
      const then = compileNode(node.then, env);
      const otherwise = compileNode(node.otherwise, env);
      return (c) => {
        step(c);
        return truthy(test(c)) ? then(c) : otherwise(c);
      };
    }
    case 'arrow':
      break;
  }
  throw new ExprCompileError('arrow functions are only allowed as the function argument of a list function', node.pos);
}
