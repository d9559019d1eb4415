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
