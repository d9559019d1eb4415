/** The whitelisted functions and methods. Nothing else can be called. */
import { ExprRuntimeError } from './errors.js';
import type { Ctx, Lambda } from './runtime.js';
import { type SafeRegExp, safeRegex } from './safe-regex.js';
import { FORBIDDEN_NAMES, MAX_STRING_LENGTH, REGEX_INSTS_PER_STEP, REGEX_WORK_PER_STEP, STEP_BUDGET } from './limits.js';
import {
  asNumber,
  budgetExhausted,
  built,
  compare,
  equals,
  getNamed,
  isPlainObject,
  norm,
  parseIsoDate,
  spend,
  spendString,
  toDate,
  truthy,
  typeName,
} from './values.js';

export interface FunctionSpec {
  readonly min: number;
  readonly max: number;
  /** Argument positions that take an arrow function or an expression string. */
  readonly lambdaArgs?: readonly number[];
  /** `fns[i]` is the lambda for positions in lambdaArgs (undefined if the argument was omitted). */
  call(c: Ctx, args: readonly unknown[], fns: readonly (Lambda | undefined)[]): unknown;
}

// ---------------------------------------------------------------- helpers

function fail(fn: string, message: string): never {
  throw new ExprRuntimeError(`${fn}: ${message}`);
}

function expectString(fn: string, v: unknown): string {
  if (typeof v !== 'string') fail(fn, `expected a string, got ${typeName(v)}`);
  return v;
}

function expectNumber(c: Ctx, fn: string, v: unknown): number {
  spendString(c, v);
  const n = asNumber(v);
  if (n === undefined) fail(fn, `expected a number, got ${typeName(v)}`);
  return n;
}

/** The list argument of a list function: null → [], array → itself, else an error. */
function expectList(fn: string, v: unknown): readonly unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) fail(fn, `expected an array, got ${typeName(v)}`);
  return v;
}

function lambdaOf(fn: string, f: Lambda | undefined): Lambda {
  if (f === undefined) fail(fn, 'expected a function argument');
  return f;
}

/** Applies `f` (or identity) to each element, spending one step per element. */
function each(c: Ctx, list: readonly unknown[], f: Lambda | undefined, visit: (value: unknown, element: unknown) => boolean): void {
  for (let i = 0; i < list.length; i++) {
    spend(c, 1);
    const el = norm(list[i]);
    if (!visit(f === undefined ? el : f(c, el, i), el)) return;
  }
}

/** Number of Unicode code points. */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xdc00 && u <= 0xdfff && i > 0) {
      const h = s.charCodeAt(i - 1);
      if (h >= 0xd800 && h <= 0xdbff) n--;
    }
  }
  return n;
}

export function nowOf(c: Ctx): Date {
  if (c.now !== undefined) return c.now;
  let v: unknown = null;
  const d = Object.getOwnPropertyDescriptor(c.vars, 'now');
  if (d !== undefined && 'value' in d) v = d.value;
  let now: Date | undefined;
  if (v instanceof Date && !Number.isNaN(v.getTime())) now = v;
  else if (typeof v === 'string') now = parseIsoDate(v);
  c.now = now ?? new Date();
  return c.now;
}

/** x times 10^by, exact in decimal: its digits with the exponent moved (1.005 → 100.5, not 100.49999999999999). */
function shiftDecimal(x: number, by: number): number {
  // String(x) has an exponent of its own below 1e-6 and from 1e21 on ("1e-7", "1e+21"): the two are added.
  const [mantissa, exponent = '0'] = String(x).split('e');
  return Number(`${mantissa}e${Number(exponent) + by}`);
}

function roundTo(x: number, digits: number): number {
  if (digits === 0) return Math.sign(x) * Math.round(Math.abs(x));
  const shifted = Math.round(shiftDecimal(Math.abs(x), digits));
  if (!Number.isFinite(shifted)) return x; // 1e300 to 15 places: far past any fraction a double holds
  return Math.sign(x) * shiftDecimal(shifted, -digits);
}

/** Spec `contains`: substring, array element, or object key. */
export function containsValue(c: Ctx, fn: string, a: unknown, b: unknown): boolean {
  if (a === null || a === undefined) return false;
  if (typeof a === 'string') {
    if (b === null || b === undefined) return false;
    if (typeof b !== 'string') fail(fn, `cannot look for ${typeName(b)} in a string`);
    spendString(c, a);
    spendString(c, b);
    return a.includes(b);
  }
  if (Array.isArray(a)) {
    spend(c, a.length);
    for (const x of a) if (equals(norm(x), b, c)) return true;
    return false;
  }
  if (isPlainObject(a)) {
    if (typeof b !== 'string' && typeof b !== 'number') return false;
    // Looking a key up hashes it.
    spendString(c, b);
    const key = String(b);
    return !FORBIDDEN_NAMES.has(key) && Object.hasOwn(a, key);
  }
  return fail(fn, `expected a string, array or object, got ${typeName(a)}`);
}

/** `x in y`: element of an array, key of an object, substring of a string. */
export function inValue(c: Ctx, x: unknown, y: unknown): boolean {
  return containsValue(c, 'in', y, x);
}

export function startsOrEnds(c: Ctx, fn: 'startsWith' | 'endsWith', s: unknown, t: unknown): boolean {
  if (s === null || s === undefined || t === null || t === undefined) return false;
  const a = expectString(fn, s);
  const b = expectString(fn, t);
  spendString(c, a);
  spendString(c, b);
  return fn === 'startsWith' ? a.startsWith(b) : a.endsWith(b);
}

export function matchesValue(c: Ctx, s: unknown, re: unknown): boolean {
  if (s === null || s === undefined) return false;
  const str = expectString('matches', s);
  const pattern = expectString('matches', re);
  spendString(c, pattern);
  let regex: SafeRegExp;
  try {
    regex = safeRegex(pattern);
  } catch (e) {
    return fail('matches', e instanceof Error ? e.message : 'invalid pattern');
  }
  spend(c, Math.floor(regex.programSize / REGEX_INSTS_PER_STEP));
  // The search may use what is left of the budget, no more; its work is then charged, so that a
  // large pattern on a long input costs what it really takes (input length × live states).
  const r = regex.searchWithin(str, (STEP_BUDGET - c.steps) * REGEX_WORK_PER_STEP);
  if (r.exhausted) throw budgetExhausted();
  spend(c, Math.ceil(r.work / REGEX_WORK_PER_STEP));
  return r.matched;
}

/** `string(x)`: JSON for arrays and objects, ISO for dates, bounded in size and steps. */
export function stringOf(c: Ctx, v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  const parts: string[] = [];
  let size = 0;
  const tooLarge = (): never => fail('string', `result too large (max ${MAX_STRING_LENGTH} characters)`);
  const push = (s: string): void => {
    size += s.length;
    if (size > MAX_STRING_LENGTH) tooLarge();
    parts.push(s);
  };
  const write = (x: unknown): void => {
    spend(c, 1);
    x = norm(x);
    if (x === null) push('null');
    else if (typeof x === 'string') {
      // Refuse before quoting, which would copy a long string only to throw it away.
      if (size + x.length > MAX_STRING_LENGTH) tooLarge();
      push(JSON.stringify(x));
    } else if (typeof x === 'number') push(Number.isFinite(x) ? String(x) : 'null');
    else if (typeof x === 'boolean') push(String(x));
    else if (x instanceof Date) push(JSON.stringify(x.toISOString()));
    else if (Array.isArray(x)) {
      push('[');
      x.forEach((y, i) => {
        if (i > 0) push(',');
        write(y);
      });
      push(']');
    } else if (isPlainObject(x)) {
      push('{');
      let first = true;
      for (const k of Object.keys(x)) {
        if (!first) push(',');
        first = false;
        push(JSON.stringify(k));
        push(':');
        write(getNamed(x, k));
      }
      push('}');
    } else push('null');
  };
  write(v);
  return built(c, parts.join(''), 'string');
}

function toInt(c: Ctx, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  spendString(c, v);
  const n = asNumber(v);
  if (n === undefined) fail('int', `cannot convert ${typeof v === 'string' ? `'${v.slice(0, 40)}'` : typeName(v)} to a number`);
  return Math.trunc(n);
}

function toFloat(c: Ctx, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  spendString(c, v);
  const n = asNumber(v);
  if (n === undefined) fail('float', `cannot convert ${typeof v === 'string' ? `'${v.slice(0, 40)}'` : typeName(v)} to a number`);
  return n;
}

function extreme(fn: 'min' | 'max', c: Ctx, args: readonly unknown[]): unknown {
  const list = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
  let best: unknown = null;
  each(c, list, undefined, (v) => {
    if (v === null) return true;
    if (best === null) {
      best = v;
      return true;
    }
    const d = compare(v, best, c);
    if (d === undefined) fail(fn, `cannot compare ${typeName(v)} with ${typeName(best)}`);
    if (fn === 'min' ? d < 0 : d > 0) best = v;
    return true;
  });
  return best;
}

function numberFn(fn: string, f: (x: number) => number): FunctionSpec {
  return {
    min: 1,
    max: 1,
    call: (c, [x]) => (x === null || x === undefined ? null : f(expectNumber(c, fn, x))),
  };
}

/** Applies a string → string operation, paying for the walk over its input and for its result. */
function mapString(c: Ctx, fn: string, s: string, f: (s: string) => string): string {
  spendString(c, s);
  return built(c, f(s), fn);
}

function stringFn(fn: string, f: (s: string) => string): FunctionSpec {
  return {
    min: 1,
    max: 1,
    call: (c, [x]) => (x === null || x === undefined ? null : mapString(c, fn, expectString(fn, x), f)),
  };
}

function len(c: Ctx, v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') {
    spendString(c, v);
    return codePoints(v);
  }
  if (Array.isArray(v)) return v.length;
  if (isPlainObject(v)) return Object.keys(v).length;
  return fail('len', `expected a string, array or object, got ${typeName(v)}`);
}

function objectOf(fn: string, v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  if (!isPlainObject(v)) fail(fn, `expected an object, got ${typeName(v)}`);
  return v;
}

const LIST_FN = [1] as const;

export const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map<string, FunctionSpec>([
  ['len', { min: 1, max: 1, call: (c, [x]) => len(c, x) }],
  ['size', { min: 1, max: 1, call: (c, [x]) => len(c, x) }],
  ['lower', stringFn('lower', (s) => s.toLowerCase())],
  ['upper', stringFn('upper', (s) => s.toUpperCase())],
  ['trim', stringFn('trim', (s) => s.trim())],
  ['now', { min: 0, max: 0, call: (c) => nowOf(c) }],
  [
    'date',
    {
      min: 0,
      max: 1,
      call: (c, args) => {
        if (args.length === 0) return nowOf(c);
        spendString(c, args[0]);
        return toDate(args[0]);
      },
    },
  ],
  ['abs', numberFn('abs', Math.abs)],
  ['floor', numberFn('floor', Math.floor)],
  ['ceil', numberFn('ceil', Math.ceil)],
  [
    'round',
    {
      min: 1,
      max: 2,
      call: (c, [x, d]) => {
        if (x === null || x === undefined) return null;
        const digits = d === undefined || d === null ? 0 : expectNumber(c, 'round', d);
        if (!Number.isInteger(digits) || digits < -15 || digits > 15) fail('round', 'digits must be an integer from -15 to 15');
        return roundTo(expectNumber(c, 'round', x), digits);
      },
    },
  ],
  ['min', { min: 1, max: Infinity, call: (c, args) => extreme('min', c, args) }],
  ['max', { min: 1, max: Infinity, call: (c, args) => extreme('max', c, args) }],
  [
    'sum',
    {
      min: 1,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        let total = 0;
        each(c, expectList('sum', list), f, (v) => {
          if (v === null || v === undefined) return true;
          total += expectNumber(c, 'sum', v);
          return true;
        });
        // Like '+': an overflow is an error, never Infinity (not JSON, no column takes it).
        if (!Number.isFinite(total)) throw new ExprRuntimeError('sum: number out of range');
        return total;
      },
    },
  ],
  [
    'count',
    {
      min: 1,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        let n = 0;
        each(c, expectList('count', list), f, (v) => {
          if (truthy(v)) n++;
          return true;
        });
        return n;
      },
    },
  ],
  [
    'any',
    {
      min: 1,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        let found = false;
        each(c, expectList('any', list), f, (v) => {
          found = truthy(v);
          return !found;
        });
        return found;
      },
    },
  ],
  [
    'all',
    {
      min: 1,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        let ok = true;
        each(c, expectList('all', list), f, (v) => (ok = truthy(v)));
        return ok;
      },
    },
  ],
  [
    'none',
    {
      min: 1,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        let ok = true;
        each(c, expectList('none', list), f, (v) => (ok = !truthy(v)));
        return ok;
      },
    },
  ],
  [
    'filter',
    {
      min: 2,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        const out: unknown[] = [];
        each(c, expectList('filter', list), lambdaOf('filter', f), (v, el) => {
          if (truthy(v)) out.push(el);
          return true;
        });
        return out;
      },
    },
  ],
  [
    'map',
    {
      min: 2,
      max: 2,
      lambdaArgs: LIST_FN,
      call: (c, [list], [, f]) => {
        const out: unknown[] = [];
        each(c, expectList('map', list), lambdaOf('map', f), (v) => {
          out.push(v);
          return true;
        });
        return out;
      },
    },
  ],
  [
    'first',
    {
      min: 1,
      max: 1,
      call: (_c, [list]) => {
        const l = expectList('first', list);
        return l.length > 0 ? norm(l[0]) : null;
      },
    },
  ],
  [
    'last',
    {
      min: 1,
      max: 1,
      call: (_c, [list]) => {
        const l = expectList('last', list);
        return l.length > 0 ? norm(l[l.length - 1]) : null;
      },
    },
  ],
  [
    'keys',
    {
      min: 1,
      max: 1,
      call: (c, [x]) => {
        const o = objectOf('keys', x);
        if (o === null) return [];
        const ks = Object.keys(o);
        spend(c, ks.length);
        return ks;
      },
    },
  ],
  [
    'values',
    {
      min: 1,
      max: 1,
      call: (c, [x]) => {
        const o = objectOf('values', x);
        if (o === null) return [];
        const ks = Object.keys(o);
        spend(c, ks.length);
        return ks.map((k) => getNamed(o, k));
      },
    },
  ],
  ['contains', { min: 2, max: 2, call: (c, [a, b]) => containsValue(c, 'contains', a, b) }],
  ['startsWith', { min: 2, max: 2, call: (c, [s, t]) => startsOrEnds(c, 'startsWith', s, t) }],
  ['endsWith', { min: 2, max: 2, call: (c, [s, t]) => startsOrEnds(c, 'endsWith', s, t) }],
  ['matches', { min: 2, max: 2, call: (c, [s, re]) => matchesValue(c, s, re) }],
  ['int', { min: 1, max: 1, call: (c, [x]) => toInt(c, x) }],
  ['float', { min: 1, max: 1, call: (c, [x]) => toFloat(c, x) }],
  ['string', { min: 1, max: 1, call: (c, [x]) => stringOf(c, x) }],
  [
    'days',
    {
      min: 2,
      max: 2,
      call: (c, [a, b]) => {
        spendString(c, a);
        spendString(c, b);
        const d1 = toDate(a, 'days');
        const d2 = toDate(b, 'days');
        if (d1 === null || d2 === null) return null;
        return Math.trunc((d2.getTime() - d1.getTime()) / 86_400_000);
      },
    },
  ],
]);

// ---------------------------------------------------------------- methods

type MethodImpl<T> = (c: Ctx, self: T, args: readonly unknown[], fn: Lambda | undefined) => unknown;

export interface MethodSpec {
  readonly min: number;
  readonly max: number;
  /** Whether argument 0 is an arrow function / expression string. */
  readonly takesLambda: boolean;
  readonly string?: MethodImpl<string>;
  readonly array?: MethodImpl<readonly unknown[]>;
  readonly date?: MethodImpl<Date>;
}

function arrayLambda(name: string, run: (c: Ctx, list: readonly unknown[], f: Lambda) => unknown): MethodSpec {
  return { min: 1, max: 1, takesLambda: true, array: (c, self, _args, f) => run(c, self, lambdaOf(name, f)) };
}

export const METHODS: ReadonlyMap<string, MethodSpec> = new Map<string, MethodSpec>([
  [
    'includes',
    {
      min: 1,
      max: 1,
      takesLambda: false,
      string: (c, s, [t]) => containsValue(c, 'includes', s, t),
      array: (c, a, [x]) => containsValue(c, 'includes', a, x),
    },
  ],
  ['startsWith', { min: 1, max: 1, takesLambda: false, string: (c, s, [t]) => startsOrEnds(c, 'startsWith', s, t) }],
  ['endsWith', { min: 1, max: 1, takesLambda: false, string: (c, s, [t]) => startsOrEnds(c, 'endsWith', s, t) }],
  ['toLowerCase', { min: 0, max: 0, takesLambda: false, string: (c, s) => mapString(c, 'toLowerCase', s, (x) => x.toLowerCase()) }],
  ['toUpperCase', { min: 0, max: 0, takesLambda: false, string: (c, s) => mapString(c, 'toUpperCase', s, (x) => x.toUpperCase()) }],
  ['trim', { min: 0, max: 0, takesLambda: false, string: (c, s) => mapString(c, 'trim', s, (x) => x.trim()) }],
  [
    'some',
    arrayLambda('some', (c, list, f) => {
      let found = false;
      each(c, list, f, (v) => {
        found = truthy(v);
        return !found;
      });
      return found;
    }),
  ],
  [
    'every',
    arrayLambda('every', (c, list, f) => {
      let ok = true;
      each(c, list, f, (v) => (ok = truthy(v)));
      return ok;
    }),
  ],
  [
    'filter',
    arrayLambda('filter', (c, list, f) => {
      const out: unknown[] = [];
      each(c, list, f, (v, el) => {
        if (truthy(v)) out.push(el);
        return true;
      });
      return out;
    }),
  ],
  [
    'map',
    arrayLambda('map', (c, list, f) => {
      const out: unknown[] = [];
      each(c, list, f, (v) => {
        out.push(v);
        return true;
      });
      return out;
    }),
  ],
  [
    'find',
    arrayLambda('find', (c, list, f) => {
      let found: unknown = null;
      each(c, list, f, (v, el) => {
        if (!truthy(v)) return true;
        found = el;
        return false;
      });
      return found;
    }),
  ],
  ['getTime', { min: 0, max: 0, takesLambda: false, date: (_c, d) => d.getTime() }],
]);

/** Calls a method on a runtime value: null receiver → null; wrong receiver type → runtime error. */
export function callMethod(c: Ctx, spec: MethodSpec, name: string, self: unknown, args: readonly unknown[], fn: Lambda | undefined): unknown {
  if (self === null || self === undefined) return null;
  if (typeof self === 'string' && spec.string !== undefined) return spec.string(c, self, args, fn);
  if (Array.isArray(self) && spec.array !== undefined) return spec.array(c, self, args, fn);
  if (self instanceof Date && spec.date !== undefined) return spec.date(c, self, args, fn);
  throw new ExprRuntimeError(`${name}() is not a method of ${typeName(self)}`);
}
