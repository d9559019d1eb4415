/**
 * Value semantics: truthiness, equality, ordering, numeric strings, dates and safe data access.
 * Values are JSON values (null, boolean, number, string, array, plain object) plus Date.
 */
import { ExprRuntimeError } from './errors.js';
import { CHARS_PER_STEP, FORBIDDEN_NAMES, MAX_BUILT_CHARS, MAX_STRING_LENGTH, STEP_BUDGET } from './limits.js';

/** Spec truthiness: false, null, 0, '' (and undefined, NaN) are false; everything else, [] and {} included, is true. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (typeof v === 'number' && Number.isNaN(v)) return false;
  return true;
}

/** A non-null object whose prototype is Object.prototype or null (what JSON.parse and DB drivers produce). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isDate(v: unknown): v is Date {
  return v instanceof Date;
}

/** Type name for error messages. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (typeof v === 'object') return isPlainObject(v) ? 'object' : 'unsupported value';
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return typeof v;
  return 'unsupported value';
}

/**
 * Normalises a value read from the context data: undefined → null; functions, symbols and other
 * host objects are opaque and never exposed (→ null); bigint and Number objects (the host's exact int8
 * values are ones) → number.
 */
export function norm(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return v;
    case 'object':
      return v instanceof Number ? v.valueOf() : v;
    case 'bigint':
      return Number(v);
    default:
      return null;
  }
}

/** Reads an own data property (never a getter, never the prototype chain). */
function ownData(o: object, key: string): unknown {
  const d = Object.getOwnPropertyDescriptor(o, key);
  if (d === undefined || !('value' in d)) return null;
  return norm(d.value);
}

/** `array[i]` with negative indexes counting from the end. */
function arrayAt(a: readonly unknown[], i: number): unknown {
  if (!Number.isInteger(i)) return null;
  const k = i < 0 ? a.length + i : i;
  if (k < 0 || k >= a.length) return null;
  return norm(a[k]);
}

/** Canonical non-negative or negative integer string → number; else undefined. */
function integerKey(key: string): number | undefined {
  if (!/^-?(0|[1-9][0-9]{0,15})$/.test(key)) return undefined;
  return Number(key);
}

/**
 * Member lookup as data: an own key of a plain object, an index of an array (negative from the end)
 * or of a string. Anything else — including the forbidden names — is null.
 */
export function getMember(obj: unknown, key: unknown): unknown {
  if (obj === null || typeof obj !== 'object') {
    if (typeof obj === 'string') {
      const i = typeof key === 'number' ? key : typeof key === 'string' ? integerKey(key) : undefined;
      if (i === undefined || !Number.isInteger(i)) return null;
      const k = i < 0 ? obj.length + i : i;
      return k >= 0 && k < obj.length ? obj[k] : null;
    }
    return null;
  }
  if (Array.isArray(obj)) {
    if (typeof key === 'number') return arrayAt(obj, key);
    if (typeof key === 'string') {
      const i = integerKey(key);
      return i === undefined ? null : arrayAt(obj, i);
    }
    return null;
  }
  if (!isPlainObject(obj)) return null;
  let k: string;
  if (typeof key === 'string') k = key;
  else if (typeof key === 'number' && Number.isFinite(key)) k = String(key);
  else return null;
  if (FORBIDDEN_NAMES.has(k)) return null;
  return ownData(obj, k);
}

/** Fast path for `obj.name` with a name already known not to be forbidden. */
export function getNamed(obj: unknown, name: string): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return null;
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return null;
  return ownData(obj, name);
}

// ---------------------------------------------------------------- numbers

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/** A number, or a numeric string as a number; otherwise undefined. */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------- dates

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** Parses an ISO-8601 / RFC 3339 date or date-time. Date-times without an offset are UTC. */
export function parseIsoDate(s: string): Date | undefined {
  const m = ISO_DATE.exec(s.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, sec, frac, off] = m;
  const month = Number(mo);
  const day = Number(d);
  // Checked here, not after parsing: Date.parse rolls 2025-02-29T10:00Z over into March.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(Number(y), month)) return undefined;
  let iso = `${y}-${mo}-${d}`;
  if (h !== undefined) {
    if (Number(h) > 23 || Number(mi) > 59 || (sec !== undefined && Number(sec) > 60)) return undefined;
    const ms = frac === undefined ? '' : frac.slice(0, 4).padEnd(4, '0');
    let zone = off === undefined || off === 'z' ? 'Z' : off;
    // ISO-8601 offsets may be ±hh (PostgreSQL's own text form), ±hhmm or ±hh:mm.
    if (zone.length === 3) zone = `${zone}:00`;
    else if (zone.length === 5) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    iso += `T${h}:${mi}:${sec ?? '00'}${ms}${zone}`;
  } else {
    iso += 'T00:00:00Z';
  }
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  return new Date(t);
}

/** `date(x)`: ISO string, epoch milliseconds or date → date; null or '' → null. */
export function toDate(v: unknown, fn = 'date'): Date | null {
  if (v === null || v === undefined || v === '') return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v;
  if (typeof v === 'number') {
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new ExprRuntimeError(`${fn}: ${v} is not a valid timestamp`);
    return d;
  }
  if (typeof v === 'string') {
    const d = parseIsoDate(v);
    if (d === undefined) throw new ExprRuntimeError(`${fn}: '${v.length > 40 ? `${v.slice(0, 40)}…` : v}' is not an ISO-8601 date`);
    return d;
  }
  throw new ExprRuntimeError(`${fn}: cannot convert ${typeName(v)} to a date`);
}

/** Milliseconds of a date or ISO string (for comparisons); undefined if not a date. */
function dateMillis(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') return parseIsoDate(v)?.getTime();
  return undefined;
}

// ---------------------------------------------------------------- equality & ordering

/** Step accounting for operations that walk structures or strings. */
export interface StepCounter {
  steps: number;
  /** Total length of the strings built so far (see MAX_BUILT_CHARS). */
  built: number;
}

/** Charges `n` evaluation steps; throws when the budget is exhausted. */
export function spend(c: StepCounter, n: number): void {
  c.steps += n;
  if (c.steps > STEP_BUDGET) throw budgetExhausted();
}

export function budgetExhausted(): ExprRuntimeError {
  return new ExprRuntimeError(`evaluation step budget exhausted (${STEP_BUDGET} steps)`);
}

/** Charges an operation that walks `v` when it is a string (see CHARS_PER_STEP); free for short strings. */
export function spendString(c: StepCounter, v: unknown): void {
  if (typeof v === 'string' && v.length >= CHARS_PER_STEP) spend(c, Math.floor(v.length / CHARS_PER_STEP));
}

/**
 * Accounts for a string the evaluator built: over MAX_STRING_LENGTH, or past MAX_BUILT_CHARS in
 * total for the evaluation, it is a runtime error; otherwise it is charged as a walk over it.
 */
export function built(c: StepCounter, s: string, what: string): string {
  if (s.length > MAX_STRING_LENGTH) {
    throw new ExprRuntimeError(`${what}: string result too large (max ${MAX_STRING_LENGTH} characters)`);
  }
  c.built += s.length;
  if (c.built > MAX_BUILT_CHARS) {
    throw new ExprRuntimeError(`${what}: evaluation built too much text (max ${MAX_BUILT_CHARS} characters in total)`);
  }
  spendString(c, s);
  return s;
}

/** Spec equality (`==`, `===`): numbers with numeric strings, dates with ISO strings, arrays/objects structurally. */
export function equals(a: unknown, b: unknown, c: StepCounter): boolean {
  // Comparing, parsing as a number or as a date all walk a string operand.
  spendString(c, a);
  spendString(c, b);
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' || tb === 'number') {
    if (ta === 'boolean' || tb === 'boolean') return false;
    const x = asNumber(a);
    const y = asNumber(b);
    return x !== undefined && y !== undefined && x === y;
  }
  if (a instanceof Date || b instanceof Date) {
    const x = dateMillis(a);
    const y = dateMillis(b);
    return x !== undefined && y !== undefined && x === y;
  }
  if (ta !== 'object' || tb !== 'object') return false;
  spend(c, 1);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    spend(c, a.length);
    for (let i = 0; i < a.length; i++) if (!equals(norm(a[i]), norm(b[i]), c)) return false;
    return true;
  }
  if (Array.isArray(b) || !isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  spend(c, ka.length);
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!equals(norm(a[k]), norm(b[k]), c)) return false;
  }
  return true;
}

/**
 * Ordering: negative / zero / positive, or undefined when the values are not comparable
 * (null, unrelated types) — an ordering comparison is then false.
 */
export function compare(a: unknown, b: unknown, c: StepCounter): number | undefined {
  if (a === null || a === undefined || b === null || b === undefined) return undefined;
  spendString(c, a);
  spendString(c, b);
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'number') return (a as number) - (b as number);
  if (ta === 'string' && tb === 'string') {
    return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  }
  if (ta === 'number' || tb === 'number') {
    const x = asNumber(a);
    const y = asNumber(b);
    return x === undefined || y === undefined ? undefined : x - y;
  }
  if (a instanceof Date || b instanceof Date) {
    const x = dateMillis(a);
    const y = dateMillis(b);
    return x === undefined || y === undefined ? undefined : x - y;
  }
  return undefined;
}
