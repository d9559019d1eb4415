import type { Queryable, SqlParam } from '../db/database.js';

/**
 * Claiming due rows for one worker (DESIGN.md principle 6): one statement
 * locks the candidates with `FOR UPDATE SKIP LOCKED` and marks them (a lease,
 * a claim time), so another pass or server instance never takes the same row.
 */
export interface ClaimSpec {
  /** Quoted table name. */
  table: string;
  /** Key column (quoted), `id` when absent. */
  key?: string;
  /** Condition of a due row, on the unaliased table; may use `params`. */
  where: string;
  /** Order in which due rows are taken. */
  orderBy?: string;
  /** At most this many rows per claim. */
  limit?: number;
  /** The SET list applied to each claimed row (alias `t`), e.g. a lease or a claim time. */
  set: string;
  /** The RETURNING list (alias `t`). */
  returning: string;
  params?: SqlParam[];
}

export function claimSql(spec: ClaimSpec): string {
  const key = spec.key ?? 'id';
  if (spec.limit !== undefined && !(Number.isInteger(spec.limit) && spec.limit > 0)) throw new Error(`bad claim limit: ${spec.limit}`);
  const order = spec.orderBy ? ` ORDER BY ${spec.orderBy}` : '';
  const limit = spec.limit !== undefined ? ` LIMIT ${spec.limit}` : '';
  return `UPDATE ${spec.table} t SET ${spec.set}
      FROM (SELECT ${key} FROM ${spec.table} WHERE ${spec.where}${order}${limit} FOR UPDATE SKIP LOCKED) d
     WHERE t.${key} = d.${key}
     RETURNING ${spec.returning}`;
}

/** Claims the due rows and returns them as RETURNING lists them. */
export function claim<T>(db: Queryable, spec: ClaimSpec): Promise<T[]> {
  return db.query<T>(claimSql(spec), spec.params ?? []);
}
