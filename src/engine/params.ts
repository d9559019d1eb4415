import type { SqlParam } from '../db/database.js';

/** Bind parameters of one statement; every value in SQL text is a `$n` from here. */
export class Params {
  readonly list: SqlParam[] = [];

  /** `$n::cast` for a value. */
  add(value: SqlParam, cast?: string): string {
    this.list.push(value);
    return cast ? `$${this.list.length}::${cast}` : `$${this.list.length}`;
  }
}
