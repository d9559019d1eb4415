import type { Database } from '../db/database.js';

/** Key of the pruning lock: one instance prunes an app at a time, the others skip their pass. */
const PRUNE_LOCK = 0x52_54_50_52; // 'RTPR'

export interface Retention {
  /** At least the last this-many events are kept… */
  events: number;
  /** …and every event younger than this many seconds (whichever keeps more). */
  seconds: number;
}

/**
 * Drops the events outside the retained window and the expired tickets. An
 * event goes only when it is both older than `seconds` and not among the last
 * `events`; `pruned_through` then records the highest id gone, in the same
 * transaction, so a resume from an id below it gets a reset. Ids grow with
 * `sequenced_at` (runs are serialized), so the window is a suffix of the log.
 */
export async function pruneRealtime(db: Database, keep: Retention): Promise<number> {
  return db.transaction(async (tx) => {
    const locked = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK}) AS ok`);
    if (!locked[0]?.ok) return 0;
    await tx.query('DELETE FROM _realtime_tickets WHERE expires_at < now()');
    const rows = await tx.query<{ n: number }>(
      `WITH bound AS (
         SELECT LEAST(
           (SELECT max(id) FROM _realtime_log) - $1::bigint,
           (SELECT max(id) FROM _realtime_log WHERE sequenced_at < now() - make_interval(secs => $2::int))) AS upto),
       gone AS (DELETE FROM _realtime_log WHERE id <= (SELECT upto FROM bound) RETURNING id),
       marked AS (UPDATE _realtime_state SET pruned_through = GREATEST(pruned_through, (SELECT max(id) FROM gone))
                   WHERE EXISTS (SELECT 1 FROM gone) RETURNING 1)
       SELECT (SELECT count(*) FROM gone)::int AS n, (SELECT count(*) FROM marked) AS m`,
      [keep.events, keep.seconds],
    );
    return rows[0]?.n ?? 0;
  });
}
