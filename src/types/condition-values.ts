import { type Decimal, ExactNumber, compareDecimals, decimalOf } from '../db/exact-number.js';
import type { FieldType, TypedField } from './field-types.js';
import { CANONICAL_UUID_RE } from './ids.js';

/**
 * How permission conditions read values (spec: auth.md §Evaluation). The update/delete check applies these
 * rules to a stored row as the database driver decodes it; the read filter (metadata/sql/conditions.ts)
 * states the same rules in SQL, so a row is listed exactly when that check would pass it. The patterns
 * below are written in the syntax JavaScript and PostgreSQL regular expressions share, for that reason.
 */

/** json and file values are documents, not scalars: no condition on such a field holds, like one on a missing field. */
export function comparableField(field: TypedField | undefined): boolean {
  return field !== undefined && field.type !== 'json' && field.type !== 'file';
}

const ZERO: Decimal = { m: 0n, e: 0 };

/**
 * A string is a number when it is a plain decimal literal — no spaces, hex or "Infinity", an exponent of at
 * most four digits, at most NUMBER_TEXT_MAX characters — so that PostgreSQL's NUMERIC always reads it.
 */
export const NUMBER_TEXT_MAX = 256;
export const NUMBER_TEXT_PATTERN = '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,4})?$';
const NUMBER_TEXT_RE = new RegExp(NUMBER_TEXT_PATTERN);

/** A JSON number's decimal value is the shortest one that reads back as the same double (what JSON writes). */
function numberDecimal(value: unknown): Decimal | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? decimalOf(String(value)) : undefined;
  if (value instanceof ExactNumber) return decimalOf(value.digits) ?? numberDecimal(Number(value));
  return undefined;
}

/**
 * The number gt/gte/lt/lte compare, exactly: a stored or policy number, or a string that is a number
 * literal; undefined for anything else, which counts as 0.
 */
export function conditionNumber(value: unknown): Decimal | undefined {
  if (typeof value === 'string') return value.length <= NUMBER_TEXT_MAX && NUMBER_TEXT_RE.test(value) ? decimalOf(value) : undefined;
  return numberDecimal(value);
}

/** The largest integer not above d. */
export function floorDecimal(d: Decimal): bigint {
  if (d.e >= 0) return d.m * 10n ** BigInt(d.e);
  const scale = 10n ** BigInt(-d.e);
  const q = d.m / scale;
  return d.m < 0n && q * scale !== d.m ? q - 1n : q;
}

export function ceilDecimal(d: Decimal): bigint {
  return -floorDecimal({ m: -d.m, e: d.e });
}

/** Text PostgreSQL's NUMERIC reads as exactly d. */
export function decimalParam(d: Decimal): string {
  return `${d.m}e${d.e}`;
}

/** d in plain notation without trailing zeros: 1.5, 0.0000001, 1000000000000000000000. */
function plainText(d: Decimal): string {
  const digits = (d.m < 0n ? -d.m : d.m).toString();
  const sign = d.m < 0n ? '-' : '';
  if (d.m === 0n) return '0';
  if (d.e >= 0) return `${sign}${digits}${'0'.repeat(d.e)}`;
  const point = digits.length + d.e;
  const text = point > 0 ? `${digits.slice(0, point)}.${digits.slice(point)}` : `0.${'0'.repeat(-point)}${digits}`;
  return sign + text.replace(/0+$/, '').replace(/[.]$/, '');
}

/**
 * The string eq/neq/in/not_in compare (of a stored value, or a policy value compared with a field of
 * `type`): a value's text as JSON writes it — a timestamp in RFC 3339 with milliseconds, an int8 with all
 * its digits — except that decimals, exact by nature, are written plainly (1.50 → "1.5", 1e-7 → "0.0000001").
 */
export function conditionText(value: unknown, type?: FieldType): string {
  if (type === 'decimal') {
    const d = numberDecimal(value);
    if (d) return plainText(d);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Number) return value.toString(); // ExactNumber: its digits, not a JSON string
  if (value instanceof Date) return value.toISOString();
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

const YEAR = '(000[1-9]|00[1-9][0-9]|0[1-9][0-9][0-9]|[1-9][0-9][0-9][0-9])';
const MONTH_DAY = '((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)';
const LEAP_YEAR = '([0-9][0-9](0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)';
const DATE = `(${YEAR}-${MONTH_DAY}|${LEAP_YEAR}-02-29)`;
const TIME = '([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?([Zz]|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)?)?';
/**
 * A date or date-time (RFC 3339 / ISO 8601) naming a real instant: a day the month has, hours 00–23,
 * offsets within PostgreSQL's ±15:59; no offset means UTC, as in the database's sessions.
 */
export const INSTANT_PATTERN = `^${DATE}${TIME}$`;
const INSTANT_RE = new RegExp(INSTANT_PATTERN);
const INSTANT_PARTS = /^(\d{4})-(\d{2})-(\d{2})(?:.(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:[Zz]|([+-])(\d{2}):?(\d{2})?)?)?$/;

/** Milliseconds since the epoch of a Date or an instant string (a fraction truncated to ms, as Date does), else undefined. */
export function instantValue(value: unknown): number | undefined {
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isNaN(t) ? undefined : t;
  }
  if (typeof value !== 'string' || !INSTANT_RE.test(value)) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', sign, oh = '0', om = '0'] = INSTANT_PARTS.exec(value)!;
  const at = new Date(0);
  at.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // also years 1–99, which Date.UTC maps to 19xx
  at.setUTCHours(Number(h), Number(mi), Number(s), Number(frac.slice(0, 3).padEnd(3, '0')));
  const offset = (Number(oh) * 60 + Number(om)) * 60_000;
  return at.getTime() + (sign === '+' ? -offset : sign === '-' ? offset : 0);
}

export type OrderingBound = { kind: 'number'; d: Decimal } | { kind: 'instant'; ms: number };

/** What an ordering condition's value compares against: a number, else a date, else 0 (non-numeric). */
export function orderingBound(expected: unknown): OrderingBound {
  const d = conditionNumber(expected);
  if (d !== undefined) return { kind: 'number', d };
  const ms = instantValue(expected);
  return ms === undefined ? { kind: 'number', d: ZERO } : { kind: 'instant', ms };
}

/** Sign of actual − bound for an ordering condition; undefined when a date bound meets a value that is no date. */
export function compareOrdered(actual: unknown, bound: OrderingBound): number | undefined {
  if (bound.kind === 'number') return compareDecimals(conditionNumber(actual) ?? ZERO, bound.d);
  const at = instantValue(actual);
  return at === undefined ? undefined : Math.sign(at - bound.ms);
}

/** An instant as PostgreSQL reads it in every year (ISO year 0 is 1 BC there, and "0000" is refused). */
export function pgInstantText(ms: number): string {
  const iso = new Date(ms).toISOString(); // '2024-…Z', '0000-…Z', '-000001-…Z', '+010000-…Z'
  const year = new Date(ms).getUTCFullYear();
  const rest = iso.slice(iso.indexOf('-', 1)).replace('T', ' ').replace('Z', '+00');
  return year > 0 ? `${String(year).padStart(4, '0')}${rest}` : `${String(1 - year).padStart(4, '0')}${rest} BC`;
}

const INT4_MAX = 2147483647n;
export const INT8_MAX = 9223372036854775807n;
const CANONICAL_INTEGER_RE = /^(0|-?[1-9][0-9]*)$/;
const CANONICAL_DECIMAL_RE = /^(0|-?[1-9][0-9]*([.][0-9]*[1-9])?|-?0[.][0-9]*[1-9])$/;
const DATE_TEXT_RE = new RegExp(`^${DATE}$`);
const ISO_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The text, as a bind parameter of the column type, of the one stored value of that type whose condition
 * text is `text`; undefined when no stored value has it ("1.50" for a decimal, "5.0" for an int, an
 * upper-case UUID, a timestamp without milliseconds). A timestamp's text (`Date.toISOString`) stands for
 * its whole millisecond, which callers compare as a range.
 */
export function storedValueWithText(type: FieldType, text: string): string | undefined {
  switch (type) {
    case 'string':
    case 'text':
      return text.includes('\u0000') ? undefined : text;
    case 'int':
    case 'integer':
    case 'bigint': {
      if (!CANONICAL_INTEGER_RE.test(text)) return undefined;
      const n = BigInt(text);
      const max = type === 'bigint' ? INT8_MAX : INT4_MAX;
      return n <= max && n >= -max - 1n ? text : undefined;
    }
    case 'float':
      return String(Number(text)) === text ? text : undefined;
    case 'decimal':
      return CANONICAL_DECIMAL_RE.test(text) ? text : undefined;
    case 'boolean':
      return text === 'true' || text === 'false' ? text : undefined;
    case 'uuid':
      return CANONICAL_UUID_RE.test(text) ? text : undefined;
    case 'timestamp': {
      if (!ISO_MS_RE.test(text)) return undefined;
      const ms = Date.parse(text);
      return !Number.isNaN(ms) && new Date(ms).toISOString() === text ? text : undefined;
    }
    case 'date':
      return DATE_TEXT_RE.test(text) ? text : undefined;
    case 'json':
    case 'file':
      return undefined;
  }
}
