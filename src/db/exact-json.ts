import { randomBytes } from 'node:crypto';
import { ExactNumber, decimalOf, stringifyMarked } from './exact-number.js';

// Marks an exact number inside JSON text; random per process, so no client string can forge it.
const MARK = `~exact:${randomBytes(12).toString('hex')}:`;
const NUMBER = '-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const MARKED = new RegExp(`"${MARK}(${NUMBER})"`, 'g');
const NUMBER_TOKEN = new RegExp(NUMBER, 'y');
const INTEGER = /^-?\d+$/;
/**
 * A number a double may not keep needs 16 or more significant digits, so 16 digits and points in a row
 * somewhere in the text: without such a run (nearly every text) there is nothing to keep exact.
 */
const LONG_NUMBER = /[\d.]{16}/;

/**
 * JSON text in which ExactNumber values are bare numbers with their exact digits (JSON.stringify alone
 * would write them as strings). As fast as JSON.stringify when there are none.
 */
export function exactJson(payload: unknown): string {
  const text = stringifyMarked(payload, MARK);
  return text.includes(MARK) ? text.replace(MARKED, '$1') : text;
}

/** `exactJson` indented by two spaces, for people to read (the command line's export document). */
export function exactJsonIndented(payload: unknown): string {
  const text = stringifyMarked(payload, MARK, 2);
  return text.includes(MARK) ? text.replace(MARKED, '$1') : text;
}

/** A JSON number token as sign, significant digits and the power of ten of their end ("0" for zero). */
function canonical(token: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(token);
  if (!m) return token; // Infinity: no token equals it
  const all = `${m[2]}${m[3] ?? ''}`;
  const digits = all.replace(/^0+/, '');
  const significant = digits.replace(/0+$/, '');
  if (significant === '') return '0';
  const power = Number(m[4] ?? 0) - (m[3]?.length ?? 0) + (digits.length - significant.length);
  return `${m[1]}${significant}e${power}`;
}

/** Beyond it no int8 lies: larger integers written as 1e30 stay plain numbers, as before. */
const INT8_BOUND = 2 ** 63;

/**
 * Whether a JSON number token reads back from a double as the value it wrote. An integer beyond 2^53 never
 * counts as one, even when a double holds it (9007199254740994): as a plain number it could not be told from a
 * rounded one, so the bigint coercion (which refuses those) would refuse a valid int8. That holds however the
 * integer is written: 1e18 and 9007199254740994.0 are int8 values as much as 1000000000000000000 is.
 */
function roundTrips(token: string): boolean {
  const n = Number(token);
  if (INTEGER.test(token) ? !Number.isSafeInteger(n) : Number.isInteger(n) && !Number.isSafeInteger(n) && Math.abs(n) <= INT8_BOUND) return false;
  return canonical(String(n)) === canonical(token);
}

/**
 * An int8-sized integer token as its plain digits (1e18 → 1000000000000000000, 9007199254740994.0 →
 * 9007199254740994), so that it reads, echoes and stores as the digits it stands for; any other token as written.
 */
function integerText(token: string): string {
  const n = Number(token);
  if (INTEGER.test(token) || !Number.isInteger(n) || Math.abs(n) > INT8_BOUND) return token;
  const d = decimalOf(token);
  if (!d || d.e < -1000) return token;
  if (d.e >= 0) return (d.m * 10n ** BigInt(d.e)).toString();
  const scale = 10n ** BigInt(-d.e);
  return d.m % scale === 0n ? (d.m / scale).toString() : token;
}

/**
 * A number token with an exponent (`1e18`): such an integer may lie beyond 2^53 with fewer than 16 digits
 * written. Only request bodies look for it; PostgreSQL never writes one in the JSON it returns. A token starts
 * after `:`, `,` or `[`, so digits inside strings (a UUID's `4e5f`) do not set off the scan.
 */
const EXPONENT = /[:,[]\s*-?\d+(?:\.\d*)?[eE]\+?\d/;

/**
 * The JSON text with every number a double would change (9007199254740993, 99999999999999.99,
 * 1.000000000000000000001, 1e400) replaced by a marked string of its digits, for `reviveExact` to turn into an
 * ExactNumber; undefined when there is none. `exponents`: also look where only an exponent may make one (bodies).
 */
export function markInexactNumbers(text: string, exponents = false): string | undefined {
  if (!LONG_NUMBER.test(text) && !(exponents && EXPONENT.test(text))) return undefined;
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: the next character is escaped
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    if (c !== 45 && (c < 48 || c > 57)) continue;
    NUMBER_TOKEN.lastIndex = i;
    const token = NUMBER_TOKEN.exec(text)?.[0];
    if (token === undefined) continue; // not JSON; the parser will say so
    if (!roundTrips(token)) {
      out += `${text.slice(from, i)}"${MARK}${integerText(token)}"`;
      from = i + token.length;
    }
    i += token.length - 1;
  }
  return from === 0 ? undefined : out + text.slice(from);
}

/** JSON.parse reviver of `markInexactNumbers` text. */
export function reviveExact(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.startsWith(MARK) ? new ExactNumber(value.slice(MARK.length)) : value;
}

/**
 * JSON.parse, except that numbers a double would change become ExactNumber values with their exact digits
 * (JSON.parse alone would round them): for stored JSON holding int8 and decimal values, e.g. history entries.
 */
export function parseExactJson(text: string): unknown {
  const marked = markInexactNumbers(text);
  return marked === undefined ? JSON.parse(text) : JSON.parse(marked, reviveExact);
}

/**
 * A JSON number token (trimmed, no `+`) as a number, or an ExactNumber when a double would change it; an
 * int8-sized integer as its plain digits, as every ExactNumber holds one.
 */
export function exactNumberOf(token: string): number | ExactNumber {
  return roundTrips(token) ? Number(token) : new ExactNumber(integerText(token));
}

/**
 * The object or array a JSON text holds, read exactly; undefined when it holds anything else or is no JSON. The
 * legacy server stored some jsonb values (definitions, conditions, headers) as JSON text, a jsonb string: every
 * reader of such a column goes through here.
 */
export function jsonOfText(text: string): object | undefined {
  let value: unknown;
  try {
    value = parseExactJson(text);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !(value instanceof ExactNumber) ? value : undefined;
}

/**
 * A row whose JSON columns `keys` hold objects or arrays, also where the legacy server stored them as JSON text:
 * such text is read as the value it holds, so the row is answered as documented. Other text stays as it is.
 */
export function jsonColumns<R extends object>(row: R, keys: readonly (keyof R)[]): R {
  if (!keys.some((k) => typeof row[k] === 'string')) return row;
  const out = { ...row };
  for (const k of keys) {
    const text = row[k];
    const parsed = typeof text === 'string' ? jsonOfText(text) : undefined;
    if (parsed) out[k] = parsed as R[keyof R];
  }
  return out;
}
