import { randomBytes } from 'node:crypto';
import { ExactNumber, stringifyMarked } from './exact-number.js';

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

/**
 * Whether a JSON number token reads back from a double as the value it wrote. An integer beyond 2^53 never
 * counts as one, even when a double holds it (9007199254740994): as a plain number it could not be told from a
 * rounded one, so the bigint coercion (which refuses those) would refuse a valid int8.
 */
function roundTrips(token: string): boolean {
  if (INTEGER.test(token) && !Number.isSafeInteger(Number(token))) return false;
  return canonical(String(Number(token))) === canonical(token);
}

/**
 * The JSON text with every number a double would change (9007199254740993, 99999999999999.99,
 * 1.000000000000000000001, 1e400) replaced by a marked string of its digits, for `reviveExact` to turn into an
 * ExactNumber; undefined when there is none.
 */
export function markInexactNumbers(text: string): string | undefined {
  if (!LONG_NUMBER.test(text)) return undefined;
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
      out += `${text.slice(from, i)}"${MARK}${token}"`;
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

/** A JSON number token (trimmed, no `+`) as a number, or an ExactNumber when a double would change it. */
export function exactNumberOf(token: string): number | ExactNumber {
  return roundTrips(token) ? Number(token) : new ExactNumber(token);
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
