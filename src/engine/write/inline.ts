import type { InlineCapture, InlineWrite, OpContext } from '../context.js';

/**
 * Observers that capture writes in the database (history entries, change
 * events) need not push a plain write off its one-statement fast path: they
 * add a data-modifying CTE to that statement instead, which reads the rows
 * the write returned (and, for an update, the rows as they were). PostgreSQL
 * runs all CTEs of a statement atomically, so the capture commits or rolls
 * back with the write, in the same round trip.
 */

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
