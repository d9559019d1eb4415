import type { Database } from '../db/database.js';
import type { Job } from '../jobs/runner.js';

/**
 * Retention (spec: history.md §Retention): with ROCKET_HISTORY_RETENTION_DAYS
 * set, entries older than that are deleted about every hour, in batches. Each
 * batch claims its rows with `FOR UPDATE SKIP LOCKED`, so server instances
 * sharing an app database never delete (or wait on) the same rows. A batch takes
 * any expired rows, not the oldest first: every one of them goes before the run
 * ends, and without an order the BRIN index on `at` finds them without a sort.
 */

export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;
const BATCH = 5_000;

/** Deletes the entries older than `days` days; how many. */
export async function pruneHistory(db: Database, days: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const rows = await db.query<{ n: number }>(
      `WITH gone AS (DELETE FROM _history WHERE id IN (
         SELECT id FROM _history WHERE at < NOW() - make_interval(days => $1) LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      [days],
    );
    const n = rows[0]?.n ?? 0;
    deleted += n;
    if (n < BATCH) return deleted;
  }
}

/** The retention job of the job runner (only added when a retention is configured). */
export function historyRetentionJob(days: number, intervalMs = RETENTION_INTERVAL_MS): Job {
  return { name: 'history-retention', intervalMs, run: (app) => pruneHistory(app.db, days) };
}
