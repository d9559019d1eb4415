import type { Logger } from 'pino';
import type { Database } from '../db/database.js';

/**
 * Retention (spec: history.md §Retention): with ROCKET_HISTORY_RETENTION_DAYS
 * set, entries older than that are deleted about every hour, in batches. A
 * pass over an app runs under a transaction-scoped advisory lock taken with
 * `pg_try_advisory_xact_lock`, so when several instances share the app's
 * database one of them prunes and the others skip it.
 */

export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;
const BATCH = 5_000;

/** One pass for one app database; how many entries were deleted (0 when another instance holds the claim). */
export async function pruneHistory(db: Database, days: number): Promise<number> {
  return db.transaction(async (tx) => {
    const claim = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(hashtext('rocket-history-retention')) AS ok`);
    if (!claim[0]?.ok) return 0;
    let deleted = 0;
    for (;;) {
      const rows = await tx.query<{ n: number }>(
        `WITH gone AS (DELETE FROM _history WHERE id IN (
           SELECT id FROM _history WHERE at < NOW() - make_interval(days => $1) ORDER BY at LIMIT ${BATCH})
         RETURNING 1) SELECT count(*)::int AS n FROM gone`,
        [days],
      );
      const n = rows[0]?.n ?? 0;
      deleted += n;
      if (n < BATCH) return deleted;
    }
  });
}

export interface RetentionJob {
  /** Runs one pass over every live app now. */
  runNow(): Promise<number>;
  stop(): Promise<void>;
}

/** Prunes every live app's history every `intervalMs`; errors are logged per app. */
export function startRetentionJob(
  apps: () => ReadonlyArray<{ name: string; db: Database }>,
  days: number,
  log: Logger,
  intervalMs = RETENTION_INTERVAL_MS,
): RetentionJob {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();

  const pass = async (): Promise<number> => {
    let total = 0;
    for (const app of apps()) {
      if (stopped) break;
      try {
        total += await pruneHistory(app.db, days);
      } catch (err) {
        log.error({ err, app: app.name }, 'history retention pass failed');
      }
    }
    return total;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = pass().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runNow() {
      const run = current.then(pass);
      current = run.catch(() => undefined);
      return run;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
