/** Unary and binary operators on runtime values. */
import type { BinaryOp } from './ast.js';
import { ExprRuntimeError } from './errors.js';
import { containsValue, inValue, matchesValue, startsOrEnds } from './functions.js';
import type { Ctx } from './runtime.js';
import { asNumber, built, compare, equals, spendString, typeName } from './values.js';

function finite(n: number, op: string): number {
  if (!Number.isFinite(n)) throw new ExprRuntimeError(`'${op}': number out of range`);
  return n;
}

/** date ± milliseconds; past ±8.64e15 ms JavaScript gives an Invalid Date, which no column or comparison can use. */
function shiftedDate(ms: number, op: string): Date {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new ExprRuntimeError(`'${op}': date out of range`);
  return d;
}

function bad(op: string, a: unknown, b: unknown): never {
  throw new ExprRuntimeError(`cannot apply '${op}' to ${typeName(a)} and ${typeName(b)}`);
}

/** `+`: numbers (and numeric strings) add; strings join; date ± milliseconds; null → null. */
export function add(c: Ctx, a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return finite(a + b, '+');
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === 'string' && typeof b === 'string') return built(c, a + b, "'+'");
  // Parsing a numeric string walks it.
  spendString(c, a);
  spendString(c, b);
  if (a instanceof Date && typeof b === 'number') return shiftedDate(a.getTime() + b, '+');
  if (typeof a === 'number' && b instanceof Date) return shiftedDate(a + b.getTime(), '+');
  const x = asNumber(a);
  const y = asNumber(b);
  if (x !== undefined && y !== undefined) return finite(x + y, '+');
  if (typeof a === 'string' && (typeof b === 'number' || typeof b === 'boolean')) return built(c, a + String(b), "'+'");
  if (typeof b === 'string' && (typeof a === 'number' || typeof a === 'boolean')) return built(c, String(a) + b, "'+'");
  return bad('+', a, b);
}

/** `- * / %` on numbers or numeric strings; date - date → milliseconds, date - number → date; null → null. */
export function arithmetic(c: Ctx, op: '-' | '*' | '/' | '%', a: unknown, b: unknown): unknown {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  spendString(c, a);
  spendString(c, b);
  if (op === '-' && a instanceof Date) {
    if (b instanceof Date) return a.getTime() - b.getTime();
    if (typeof b === 'number') return shiftedDate(a.getTime() - b, '-');
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

export function negate(c: Ctx, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  spendString(c, v);
  const n = asNumber(v);
  if (n === undefined) throw new ExprRuntimeError(`cannot negate ${typeName(v)}`);
  return -n;
}

export type BinaryImpl = (c: Ctx, a: unknown, b: unknown) => unknown;

export const BINARY: Readonly<Record<BinaryOp, BinaryImpl>> = {
  '==': (c, a, b) => equals(a, b, c),
  '!=': (c, a, b) => !equals(a, b, c),
  '<': (c, a, b) => {
    const d = compare(a, b, c);
    return d !== undefined && d < 0;
  },
  '<=': (c, a, b) => {
    const d = compare(a, b, c);
    return d !== undefined && d <= 0;
  },
  '>': (c, a, b) => {
    const d = compare(a, b, c);
    return d !== undefined && d > 0;
  },
  '>=': (c, a, b) => {
    const d = compare(a, b, c);
    return d !== undefined && d >= 0;
  },
  in: (c, a, b) => inValue(c, a, b),
  'not in': (c, a, b) => !inValue(c, a, b),
  contains: (c, a, b) => containsValue(c, 'contains', a, b),
  startsWith: (c, a, b) => startsOrEnds(c, 'startsWith', a, b),
  endsWith: (c, a, b) => startsOrEnds(c, 'endsWith', a, b),
  matches: (c, a, b) => matchesValue(c, a, b),
  '+': (c, a, b) => add(c, a, b),
  '-': (c, a, b) => arithmetic(c, '-', a, b),
  '*': (c, a, b) => arithmetic(c, '*', a, b),
  '/': (c, a, b) => arithmetic(c, '/', a, b),
  '%': (c, a, b) => arithmetic(c, '%', a, b),
};
