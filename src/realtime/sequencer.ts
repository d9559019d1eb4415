import type { Database } from '../db/database.js';

/**
 * Event ids. Captured changes sit in `_realtime_pending` (committed ones only
 * are visible to anybody else); a sequencer run moves every committed one into
 * `_realtime_log`, numbering them from `_realtime_event_id` in capture order,
 * all in one autocommit statement holding the app's sequencer lock (a transaction
 * advisory lock: one run at a time per app database, from any instance).
 *
 * Why nothing is lost and ids follow commit order:
 * - a change becomes visible to a run only once its write committed; a rolled
 *   back write never reaches the log;
 * - runs are serialized by the lock and each takes its ids after acquiring it,
 *   so every id of a run is greater than every id of the runs before it, and a
 *   run's rows become visible all at once, at its commit. Readers therefore
 *   only ever see a gap-free prefix of the log: reading `id > last seen` never
 *   skips a row that appears later;
 * - within a run rows are numbered in capture order; two writes of one record
 *   are captured under that row's lock, i.e. in their commit order, and a write
 *   acknowledged before another one started was captured before it.
 */

/** Key of the sequencer's advisory lock (advisory locks are per database, so one constant serves every app). */
const SEQUENCER_LOCK = 0x52_54_53_51; // 'RTSQ'

/** What a sequencer run gave ids to: its ids (first through last, every one of them), and the entities of its events. */
export interface Sequenced {
  first: number;
  last: number;
  entities: string[];
}

/**
 * Moves the committed captures into the log; what it numbered, or null when there was nothing.
 * One autocommit statement: the lock is taken by a gate evaluated before the DELETE reads a row
 * and before any id is drawn, and held until the statement commits. Rows the statement's snapshot
 * still shows but an earlier run already moved are skipped by the DELETE (they are gone once the
 * lock is ours); rows committed after its snapshot are left for the next run, which their own
 * writer's kick (or the sweep) starts. Once it returns, every id up to `last` is visible to
 * every reader (the runs before it committed before it took the lock).
 */
export async function sequence(db: Database): Promise<Sequenced | null> {
  const rows = await db.query<{ first: string | null; last: string | null; entities: string[] | null }>(
    `WITH gate AS (SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK}) IS NOT NULL AS ok),
          moved AS (DELETE FROM _realtime_pending WHERE (SELECT ok FROM gate) RETURNING *),
          logged AS (
            INSERT INTO _realtime_log (id, entity, action, record_id, row, changed, at, by, sequenced_at)
            SELECT nextval('_realtime_event_id'), m.entity, m.action, m.record_id, m.row, m.changed, m.at, m.by, clock_timestamp()
              FROM (SELECT * FROM moved ORDER BY seq) m
            RETURNING id, entity)
     SELECT min(id)::text AS first, max(id)::text AS last, array_agg(DISTINCT entity) AS entities FROM logged`,
  );
  const row = rows[0];
  if (!row || row.last === null) return null;
  return { first: Number(row.first), last: Number(row.last), entities: row.entities ?? [] };
}

/** Whether committed captures wait for a run (cheap: one index probe). */
export async function hasPending(db: Database): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM _realtime_pending LIMIT 1');
  return rows.length > 0;
}

/** The highest id a reader can see now: every id up to it is in the log or was pruned. */
export async function visibleLast(db: Database): Promise<{ last: number; prunedThrough: number }> {
  const rows = await db.query<{ last: string; pruned: string }>(
    `SELECT GREATEST(COALESCE((SELECT max(id) FROM _realtime_log), 0), s.pruned_through)::text AS last, s.pruned_through::text AS pruned
       FROM _realtime_state s`,
  );
  const row = rows[0];
  return { last: Number(row?.last ?? 0), prunedThrough: Number(row?.pruned ?? 0) };
}

/**
 * Writes went uncaptured (no stream of the app anywhere for a while, so no lease): the log has a hole that
 * no reader can see. An id is burnt as its marker and counts as pruned, so a Last-Event-ID from before the
 * hole gets `reset` rather than a replay that silently misses those writes; events captured from now on
 * take ids after it. Under the sequencer's lock, so no run numbers events around it.
 */
export async function markCaptureGap(db: Database): Promise<void> {
  await db.query(
    `WITH gate AS (SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK}) IS NOT NULL AS ok)
     UPDATE _realtime_state SET pruned_through = GREATEST(pruned_through, nextval('_realtime_event_id')) WHERE (SELECT ok FROM gate)`,
  );
}
