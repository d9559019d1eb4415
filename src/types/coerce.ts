import type { SqlParam } from '../db/database.js';
import { ExactNumber, int8Value } from '../db/exact-number.js';
import { exactJson } from '../db/exact-json.js';
import type { FieldType, TypedField } from './field-types.js';
import { UUID_RE } from './ids.js';
import { hasNul } from './text.js';

/**
 * Value encoding per field type (spec: rest-api.md §Value encoding): what a
 * request may send, what is bound as a parameter, and what a response holds.
 */

const INT_RE = /^[+-]?\d+$/;
const NUMERIC_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})/;
// RFC 3339 / ISO-8601 date-time, or a bare date.
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$/;
// The time of day and offset of a TIMESTAMP_RE text with a time: hours, minutes, seconds, fraction, offset h, m.
const CLOCK_RE = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:[Zz]|[+-](\d{2}):?(\d{2})?)?$/;

const INT4_MAX = 2147483647;
const INT4_MIN = -2147483648;
const INT8_MAX = 9223372036854775807n;
const INT8_MIN = -9223372036854775808n;

export const TYPE_NAMES: Record<FieldType, string> = {
  string: 'a string',
  text: 'a string',
  int: 'an integer',
  integer: 'an integer',
  bigint: 'an integer',
  float: 'a number',
  decimal: 'a number',
  boolean: 'a boolean',
  uuid: 'a UUID',
  timestamp: 'an RFC 3339 timestamp',
  date: 'a date (YYYY-MM-DD)',
  json: 'JSON',
  file: 'a file reference',
};

export type Coerced = { ok: true; value: unknown } | { ok: false };
const FAIL: Coerced = { ok: false };
const ok = (value: unknown): Coerced => ({ ok: true, value });

function validDateParts(y: number, m: number, d: number): boolean {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(y, m, 0);
  return d <= lastDay.getUTCDate();
}

/**
 * Whether the time of day and offset of a TIMESTAMP_RE text (if it has them) are ones PostgreSQL reads: hours to
 * 23 (24:00:00 is the next midnight), minutes and seconds to 59, offsets to ±15:59. 25:00 is a type error.
 */
function validClock(text: string): boolean {
  if (text.length === 10) return true;
  const m = CLOCK_RE.exec(text.slice(11));
  if (!m) return false;
  const [hours, minutes, seconds] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const clock = hours < 24 ? minutes <= 59 && seconds <= 59 : hours === 24 && minutes === 0 && seconds === 0 && !/[1-9]/.test(m[4] ?? '');
  return clock && (m[5] === undefined || (Number(m[5]) <= 15 && Number(m[6] ?? 0) <= 59));
}

/** The instant a timestamp text names, in epoch milliseconds; NaN for text that is no timestamp. */
export function timestampMillis(text: string): number {
  const t = text.trim();
  return TIMESTAMP_RE.test(t) ? Date.parse(isoInstant(t)) : Number.NaN;
}

/** A timestamp as PostgreSQL reads it (no offset = UTC, the session zone), in the form Date.parse reads exactly. */
function isoInstant(text: string): string {
  if (text.length === 10) return `${text}T00:00:00Z`;
  const iso = `${text.slice(0, 10)}T${text.slice(11)}`.replace(/z$/, 'Z');
  const offset = /([+-]\d{2}):?(\d{2})?$/.exec(iso);
  if (offset) return `${iso.slice(0, offset.index)}${offset[1]}:${offset[2] ?? '00'}`;
  return iso.endsWith('Z') ? iso : `${iso}Z`;
}

/** A decimal literal as sign, integer digits and fraction digits, its exponent applied (no leading or trailing zeros). */
interface PlainDecimal {
  negative: boolean;
  int: string;
  frac: string;
}

/** Longest decimal accepted, in digits: far beyond any NUMERIC column's use, short of a costly expansion. */
const MAX_DECIMAL_DIGITS = 1000;

function plainDecimal(text: string): PlainDecimal | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const exp = Number(m[4] ?? 0);
  let digits = `${m[2]}${m[3] ?? ''}`;
  let point = m[2]!.length + exp;
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, '');
  if (digits === '') return { negative: false, int: '', frac: '' };
  if (point > MAX_DECIMAL_DIGITS || digits.length - point > MAX_DECIMAL_DIGITS) return undefined;
  const int = point <= 0 ? '' : point >= digits.length ? digits + '0'.repeat(point - digits.length) : digits.slice(0, point);
  const frac = point >= digits.length ? '' : point <= 0 ? '0'.repeat(-point) + digits : digits.slice(point);
  return { negative: m[1] === '-', int, frac };
}

/**
 * Whether the value fits NUMERIC(18, precision) once PostgreSQL has rounded it to `precision` places
 * (a carry can add an integer digit: 9.995 → 10.00).
 */
function decimalFits(d: PlainDecimal, precision: number | undefined): boolean {
  if (!precision || precision <= 0) return true;
  let intDigits = d.int.length;
  const kept = d.int + d.frac.slice(0, precision).padEnd(precision, '0');
  if ((d.frac[precision] ?? '0') >= '5' && /^9+$/.test(kept)) intDigits += 1;
  return intDigits <= 18 - precision;
}

/**
 * The value to bind for a decimal: a plain number when a double holds it exactly (15 significant digits or
 * fewer), else its exact digits, which a double would round (999999999999999.99 → 1000000000000000).
 */
function decimalValue(d: PlainDecimal): number | ExactNumber {
  const text = `${d.negative ? '-' : ''}${d.int || '0'}${d.frac ? `.${d.frac}` : ''}`;
  const significant = (d.int + d.frac).replace(/^0+/, '').length;
  if (significant > 15) return new ExactNumber(text);
  const n = Number(text);
  // Few digits, but beyond a double's normal range (1e400 → Infinity, 1e-400 → 0): only the digits keep the value.
  return significant === 0 || (Number.isFinite(n) && Math.abs(n) >= MIN_NORMAL_DOUBLE) ? n : new ExactNumber(text);
}

/** Below it a double loses digits (subnormal) or becomes 0. */
const MIN_NORMAL_DOUBLE = 2.2250738585072014e-308;

/** A decimal from a JSON number (exact or not) or a numeric string; undefined when it is neither or absurdly long. */
function parseDecimal(value: unknown): PlainDecimal | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? plainDecimal(String(value)) : undefined;
  if (value instanceof ExactNumber) return plainDecimal(value.digits);
  if (typeof value === 'string' && NUMERIC_RE.test(value.trim())) return plainDecimal(value.trim());
  return undefined;
}

/**
 * Coerces a JSON value from a request into the parameter to bind (not null-checked:
 * `null` passes through). Failure means a `type` violation.
 */
export function coerceInput(field: TypedField, value: unknown): Coerced {
  if (value === null) return ok(null);
  switch (field.type) {
    case 'string':
    case 'text':
      if (typeof value === 'string') return hasNul(value) ? FAIL : ok(value);
      if (typeof value === 'number' && Number.isFinite(value)) return ok(String(value));
      if (value instanceof ExactNumber) return ok(value.digits);
      if (typeof value === 'boolean') return ok(String(value));
      return FAIL;
    case 'int':
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && INT_RE.test(value.trim()) ? Number(value) : NaN;
      return Number.isInteger(n) && n >= INT4_MIN && n <= INT4_MAX ? ok(n) : FAIL;
    }
    case 'bigint': {
      // A JSON number beyond 2^53 from a body is an ExactNumber (its digits); a plain one was computed, so rounded.
      if (typeof value === 'number') return Number.isSafeInteger(value) ? ok(value) : FAIL;
      const text = value instanceof ExactNumber ? value.digits : typeof value === 'string' ? value.trim() : undefined;
      if (text !== undefined && INT_RE.test(text)) {
        const b = BigInt(text);
        return b >= INT8_MIN && b <= INT8_MAX ? ok(int8Value(b.toString())) : FAIL;
      }
      return FAIL;
    }
    case 'float': {
      const numeric = typeof value === 'number' || value instanceof ExactNumber || (typeof value === 'string' && NUMERIC_RE.test(value.trim()));
      const n = numeric ? Number(value) : NaN;
      return Number.isFinite(n) ? ok(n) : FAIL;
    }
    case 'decimal': {
      const d = parseDecimal(value);
      return d !== undefined && decimalFits(d, field.precision) ? ok(decimalValue(d)) : FAIL;
    }
    case 'boolean':
      return typeof value === 'boolean' ? ok(value) : FAIL;
    case 'uuid':
      return typeof value === 'string' && UUID_RE.test(value) ? ok(value.toLowerCase()) : FAIL;
    case 'timestamp': {
      if (typeof value !== 'string' || !TIMESTAMP_RE.test(value.trim())) return FAIL;
      const text = value.trim();
      const m = DATE_RE.exec(text)!;
      if (!validDateParts(Number(m[1]), Number(m[2]), Number(m[3])) || !validClock(text)) return FAIL;
      const t = Date.parse(isoInstant(text));
      // The instant itself (after its offset) must have a four-digit year, or it cannot be returned as RFC 3339.
      if (Number.isNaN(t)) return FAIL;
      const year = new Date(t).getUTCFullYear();
      return year >= 1 && year <= 9999 ? ok(text) : FAIL;
    }
    case 'date': {
      if (typeof value !== 'string') return FAIL;
      const m = DATE_RE.exec(value.trim());
      if (!m || !TIMESTAMP_RE.test(value.trim())) return FAIL;
      // Only the date part is stored, but a datetime with an impossible time (25:00) is no date either.
      if (!validDateParts(Number(m[1]), Number(m[2]), Number(m[3])) || !validClock(value.trim())) return FAIL;
      return ok(`${m[1]}-${m[2]}-${m[3]}`);
    }
    case 'json':
      // 1e400 parses as Infinity, which JSON.stringify would store as null: refused rather than lost.
      if (value === undefined || hasNul(value) || hasNonFinite(value)) return FAIL;
      return ok(value);
    case 'file':
      return FAIL; // resolved by the files stage, never coerced blindly
  }
}

/**
 * Whether a JSON value holds a number beyond double range (1e400): JSON.parse reads it back as ±Infinity, which
 * JSON.stringify writes as null.
 */
function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number' || value instanceof ExactNumber) return !Number.isFinite(Number(value));
  if (Array.isArray(value)) return value.some(hasNonFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasNonFinite);
  return false;
}

/**
 * The text two values of a field's type share exactly when they are the same value, for comparing a written
 * value with `enum` members: "1.50" and 1.5 are one decimal, an upper- and a lower-case UUID one uuid, "05" and
 * 5 one integer. Undefined for json and file values, which are documents.
 */
function valueKey(field: TypedField, coerced: unknown): string | undefined {
  switch (field.type) {
    case 'decimal': {
      const d = plainDecimal(String(coerced));
      return d === undefined ? undefined : `${d.negative ? '-' : ''}${d.int || '0'}${d.frac ? `.${d.frac}` : ''}`;
    }
    case 'timestamp':
      return String(timestampMillis(String(coerced)));
    case 'json':
    case 'file':
      return undefined;
    default:
      return String(coerced);
  }
}

/** The value keys of the members of an `enum` that are values of the field's type. */
export function enumKeys(field: TypedField, members: readonly string[]): ReadonlySet<string> {
  const keys = new Set<string>();
  for (const m of members) {
    const c = coerceInput(field, m);
    const key = c.ok && c.value !== null ? valueKey(field, c.value) : undefined;
    if (key !== undefined) keys.add(key);
  }
  return keys;
}

/**
 * Whether a coerced value is a member of an `enum` (metadata.md: the value, stringified, is one of the list): as
 * its text, or as the same value of the field's type (`keys`, from enumKeys), so that a member sent back as
 * listed ("1.50" of a decimal, an upper-case UUID) is not refused for the form coercion gave it.
 */
export function isEnumMember(field: TypedField, members: readonly string[], value: unknown, keys: ReadonlySet<string>): boolean {
  if (members.includes(String(value))) return true;
  const key = valueKey(field, value);
  return key !== undefined && keys.has(key);
}

/** Coerces one filter value from a query string (spec: rest-api.md §List value coercion). */
export function coerceFilter(field: TypedField, raw: string): Coerced {
  switch (field.type) {
    case 'int':
    case 'integer':
    case 'bigint':
      return INT_RE.test(raw.trim()) ? coerceInput(field, raw.trim()) : FAIL;
    case 'float':
      // A decimal literal, as in a body: Number() alone would also read '0x10', '0b1' and '0o7'.
      return coerceInput(field, raw);
    case 'decimal': {
      // Compared exactly: no column range applies to a filter value (one beyond it matches nothing).
      const d = parseDecimal(raw);
      return d === undefined ? FAIL : ok(decimalValue(d));
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1' || v === 't') return ok(true);
      if (v === 'false' || v === '0' || v === 'f') return ok(false);
      return FAIL;
    }
    case 'uuid':
    case 'timestamp':
    case 'date':
      return coerceInput(field, raw);
    case 'string':
    case 'text':
      return raw.includes('\u0000') ? FAIL : ok(raw);
    case 'json':
    case 'file':
      return FAIL;
  }
}

/** The bind parameter for a coerced value (JSON columns travel as JSON text, their exact numbers as sent). */
export function toParam(field: Pick<TypedField, 'type'>, value: unknown): SqlParam {
  if (value === null || value === undefined) return null;
  if (value instanceof ExactNumber) return value.digits;
  if (field.type === 'json' || field.type === 'file') return exactJson(value);
  if (typeof value === 'object' && !(value instanceof Date)) return exactJson(value);
  return value as SqlParam;
}

/** A response value from a database value. */
export function encodeOutput(type: FieldType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  return value;
}
