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
 * Drops the events outside the retained window and the expired tickets. A batch
 * goes, with its events, only when it is both older than `seconds` and wholly
 * before the last `events` ids; the newest batch always stays (the next run
 * starts from its snapshot). `pruned_through` then records the highest id gone,
 * in the same transaction, so a resume from an id below it gets a reset. Ids
 * grow with `sequenced_at` (runs are serialized), so the window is a suffix.
 * The events of the batches gone are exactly those their newest snapshot saw
 * finished (sequencer.ts): one range of the `txid` index.
 */
export async function pruneRealtime(db: Database, keep: Retention): Promise<number> {
  return db.transaction(async (tx) => {
    const locked = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK}) AS ok`);
    if (!locked[0]?.ok) return 0;
    await tx.query('DELETE FROM _realtime_tickets WHERE expires_at < now()');
    const rows = await tx.query<{ n: number }>(
      `WITH newest AS (SELECT max(first) AS first, max(last) AS last FROM _realtime_batches),
       bound AS (
         SELECT LEAST(
           (SELECT last FROM newest) - $1::bigint,
           (SELECT max(last) FROM _realtime_batches WHERE sequenced_at < now() - make_interval(secs => $2::int))) AS upto),
       gone AS (DELETE FROM _realtime_batches
                 WHERE last <= (SELECT upto FROM bound) AND first < (SELECT first FROM newest) RETURNING last, snap),
       through AS (SELECT last, snap FROM gone ORDER BY last DESC LIMIT 1),
       dropped AS (DELETE FROM _realtime_events e USING through t
                    WHERE e.txid < pg_snapshot_xmax(t.snap) AND pg_visible_in_snapshot(e.txid, t.snap) RETURNING 1),
       marked AS (UPDATE _realtime_state SET pruned_through = GREATEST(pruned_through, (SELECT last FROM through))
                   WHERE EXISTS (SELECT 1 FROM through) RETURNING 1)
       SELECT (SELECT count(*) FROM dropped)::int AS n, (SELECT count(*) FROM marked) AS m`,
      [keep.events, keep.seconds],
    );
    return rows[0]?.n ?? 0;
  });
}
