import type { SqlParam } from './database.js';
import { ExactNumber } from './exact-number.js';

/** Exact int8 values travel as their digits. */
function bindable(value: SqlParam | ExactNumber): SqlParam {
  if (value instanceof ExactNumber) return value.digits;
  if (Array.isArray(value) && value.some((v) => v instanceof ExactNumber))
    return value.map((v) => (v instanceof ExactNumber ? v.digits : v)) as SqlParam;
  return value as SqlParam;
}

/** Bind parameters of one statement; every value in SQL text is a `$n` from here. */
export class Params {
  readonly list: SqlParam[] = [];

  /** `$n::cast` for a value. */
  add(value: SqlParam, cast?: string): string {
    this.list.push(bindable(value));
    return cast ? `$${this.list.length}::${cast}` : `$${this.list.length}`;
  }
}
