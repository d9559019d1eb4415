import type { EntityMeta } from '../../metadata/registry.js';
import type { OpContext } from '../context.js';
import type { Params } from '../../db/params.js';

/**
 * Observers that capture writes in the database (history entries, change
 * events) need not push a plain write off its one-statement fast path: they
 * add a data-modifying CTE to that statement instead, which reads the rows
 * the write returned (and, for an update, the rows as they were). PostgreSQL
 * runs all CTEs of a statement atomically, so the capture commits or rolls
 * back with the write, in the same round trip.
 */

/** One relation of written rows inside a fast-path statement, as a capture sees it. */
export interface InlineWrite {
  readonly ctx: OpContext;
  readonly entity: EntityMeta;
  readonly action: 'create' | 'update';
  /** The write's clock (RFC 3339), the value auto fields got. */
  readonly now: string;
  /** Name of the CTE holding the written rows (the entity's `selectList` columns). */
  readonly rows: string;
  /**
   * Updates of captures with `needsBefore`: name of the CTE holding the same
   * rows as they were before the write (same columns, read locked in the same
   * statement); join it to `rows` on the primary key column.
   */
  readonly before?: string;
  /** Bind parameters of the statement (add values here, never into the SQL text). */
  readonly params: Params;
}

/** What an observer adds to fast-path statements of one entity (decided once per metadata snapshot). */
export interface InlineCapture {
  /** Updates then read the row's before-image in the same statement (one more CTE, the row locked). */
  readonly needsBefore: boolean;
  /** A data-modifying statement (`INSERT … SELECT … FROM <rows>`) run as a CTE of the write's statement. */
  sql(w: InlineWrite): string;
  /**
   * Whether to capture this write at all (absent: always). Asked per write, so a capture that is
   * only sometimes wanted (realtime events while someone subscribes) leaves the statement untouched
   * the rest of the time.
   */
  active?(ctx: OpContext): boolean;
  /** After the statement that carried the capture has committed (the fast paths run without an explicit transaction). */
  committed?(ctx: OpContext): void;
  /**
   * When `active` said no: told at once, and handed back what to call once the statement has finished,
   * committed or not. A capture being switched on waits for such writes (decided before it was on, committing
   * after) to be over, so that every write committing after that point is captured.
   */
  skipped?(ctx: OpContext): () => void;
}

/** Captures of one fast-path write: what they need and the observers' view of the statement. */
export interface Inline {
  readonly ctx: OpContext;
  readonly captures: readonly InlineCapture[];
  /** What the captures left out by `active` want called once the statement has finished (`skipped`). */
  readonly skipped?: ReadonlyArray<() => void>;
}

/** `k<n> AS (<capture>)` CTEs of every capture, for one relation of written rows. */
export function captureCtes(inline: Inline, w: Omit<InlineWrite, 'ctx'>, first: number): string[] {
  return inline.captures.map((c, i) => `k${first + i} AS (${c.sql({ ...w, ctx: inline.ctx })})`);
}

/** Tells every capture of a fast-path write that its statement committed. */
export function inlineCommitted(inlines: Iterable<Inline>): void {
  const told = new Set<InlineCapture>();
  for (const i of inlines) {
    for (const c of i.captures) {
      if (!c.committed || told.has(c)) continue;
      told.add(c);
      c.committed(i.ctx);
    }
  }
}

/** The statement of a fast-path write has finished, committed or failed: tells the captures it skipped. */
export function inlineSettled(inlines: Iterable<Inline>): void {
  for (const i of inlines) if (i.skipped) for (const done of i.skipped) done();
}

export function needsBefore(inline: Inline | undefined): boolean {
  return inline?.captures.some((c) => c.needsBefore) ?? false;
}
