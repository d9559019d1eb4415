import { randomBytes } from 'node:crypto';
import { ExactNumber } from '../db/exact-number.js';

// Marks an exact integer inside the JSON text; random per process, so no client string can forge it.
const MARK = `~int8:${randomBytes(12).toString('hex')}:`;
const MARKED = new RegExp(`"${MARK}(-?\\d+)"`, 'g');

/**
 * JSON text in which ExactNumber values are bare numbers with their exact digits
 * (JSON.stringify alone would write them as strings). Slower than JSON.stringify,
 * so it is used only for apps whose metadata has a bigint field.
 */
export function exactJson(payload: unknown): string {
  const text = JSON.stringify(payload, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof ExactNumber ? MARK + raw.digits : value;
  });
  return text.includes(MARK) ? text.replace(MARKED, '$1') : text;
}

/**
 * JSON.parse, except that integers beyond ±2^53 become ExactNumber values with their exact digits (JSON.parse
 * alone would round them): for stored JSON holding int8 values, e.g. history entries.
 */
export function parseExactJson(text: string): unknown {
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
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))!;
    const token = m[0];
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(Number(token))) {
      out += `${text.slice(from, i)}"${MARK}${token}"`;
      from = i + token.length;
    }
    i += token.length - 1;
  }
  if (from === 0) return JSON.parse(text);
  return JSON.parse(out + text.slice(from), (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(MARK) ? new ExactNumber(value.slice(MARK.length)) : value,
  );
}
