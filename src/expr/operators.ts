/** Unary and binary operators on runtime values. */
import type { BinaryOp } from './ast.js';
import { ExprRuntimeError } from './errors.js';
import { containsValue, inValue, matchesValue, startsOrEnds } from './functions.js';
import type { Ctx } from './runtime.js';
import { asNumber, checkLength, compare, equals, typeName } from './values.js';

function finite(n: number, op: string): number {
  if (!Number.isFinite(n)) throw new ExprRuntimeError(`'${op}': number out of range`);
  return n;
}

function bad(op: string, a: unknown, b: unknown): never {
  throw new ExprRuntimeError(`cannot apply '${op}' to ${typeName(a)} and ${typeName(b)}`);
}

/** `+`: numbers (and numeric strings) add; strings join; date ± milliseconds; null → null. */
export function add(a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return finite(a + b, '+');
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === 'string' && typeof b === 'string') return checkLength(a + b, "'+'");
  if (a instanceof Date && typeof b === 'number') return new Date(a.getTime() + b);
  if (typeof a === 'number' && b instanceof Date) return new Date(a + b.getTime());
  const x = asNumber(a);
  const y = asNumber(b);
  if (x !== undefined && y !== undefined) return finite(x + y, '+');
  if (typeof a === 'string' && (typeof b === 'number' || typeof b === 'boolean')) return checkLength(a + String(b), "'+'");
  if (typeof b === 'string' && (typeof a === 'number' || typeof a === 'boolean')) return checkLength(String(a) + b, "'+'");
  return bad('+', a, b);
}

/** `- * / %` on numbers or numeric strings; date - date → milliseconds, date - number → date; null → null. */
export function arithmetic(op: '-' | '*' | '/' | '%', a: unknown, b: unknown): unknown {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (op === '-' && a instanceof Date) {
    if (b instanceof Date) return a.getTime() - b.getTime();
    if (typeof b === 'number') return new Date(a.getTime() - b);
  }
  const x = asNumber(a);
  const y = asNumber(b);
  if (x === undefined || y === undefined || typeof a === 'boolean' || typeof b === 'boolean') return bad(op, a, b);
  switch (op) {
    case '-':
      return finite(x - y, op);
    case '*':
      return finite(x * y, op);
    case '/':
      if (y === 0) throw new ExprRuntimeError('division by zero');
      return finite(x / y, op);
    case '%':
      if (y === 0) throw new ExprRuntimeError('division by zero');
      return finite(x % y, op);
  }
}

export function negate(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const n = asNumber(v);
  if (n === undefined) throw new ExprRuntimeError(`cannot negate ${typeName(v)}`);
  return -n;
}

export type BinaryImpl = (c: Ctx, a: unknown, b: unknown) => unknown;

export const BINARY: Readonly<Record<BinaryOp, BinaryImpl>> = {
  '==': (c, a, b) => equals(a, b, c),
  '!=': (c, a, b) => !equals(a, b, c),
  '<': (_c, a, b) => {
    const d = compare(a, b);
    return d !== undefined && d < 0;
  },
  '<=': (_c, a, b) => {
    const d = compare(a, b);
    return d !== undefined && d <= 0;
  },
  '>': (_c, a, b) => {
    const d = compare(a, b);
    return d !== undefined && d > 0;
  },
  '>=': (_c, a, b) => {
    const d = compare(a, b);
    return d !== undefined && d >= 0;
  },
  in: (c, a, b) => inValue(c, a, b),
  'not in': (c, a, b) => !inValue(c, a, b),
  contains: (c, a, b) => containsValue(c, 'contains', a, b),
  startsWith: (_c, a, b) => startsOrEnds('startsWith', a, b),
  endsWith: (_c, a, b) => startsOrEnds('endsWith', a, b),
  matches: (c, a, b) => matchesValue(c, a, b),
  '+': (_c, a, b) => add(a, b),
  '-': (_c, a, b) => arithmetic('-', a, b),
  '*': (_c, a, b) => arithmetic('*', a, b),
  '/': (_c, a, b) => arithmetic('/', a, b),
  '%': (_c, a, b) => arithmetic('%', a, b),
};
