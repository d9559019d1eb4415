import type { Database, Queryable } from '../db/database.js';

/**
 * Event ids. A change is written once, where it is captured: a row of `_realtime_events`, stamped with
 * its writer's transaction id (`txid`). A sequencer run numbers every change committed since the run
 * before it as one batch: a row of `_realtime_batches` holding the run's snapshot (`snap`), where the batch
 * starts — the previous batch's snapshot, as its xmax (`since`) and the transactions it lists as running
 * (`running`) — and the ids it gave (`first`…`last`). The events of a batch are the rows whose writer had not
 * finished at its start and had at `snap`; they take the batch's ids in capture order (`seq`).
 * Nothing is copied or deleted to number an event: a run writes one row whatever the number of events.
 *
 * Why nothing is lost and ids follow commit order:
 * - a run's snapshot sees exactly the changes committed before it; a rolled back write is seen by
 *   nobody, and a change committed after the snapshot — its writer still running then, listed in the
 *   snapshot — falls to a later batch, however old its transaction id;
 * - runs are serialized by an advisory lock (one run at a time per app database, from any instance),
 *   taken before the run's snapshot, so each run's snapshot follows the previous run's commit: every
 *   batch's ids are greater than those of the batches before it, and a batch becomes visible with all
 *   its ids at once. Readers therefore only ever see a gap-free prefix of the numbering: reading
 *   `id > last seen` never skips an event that appears later;
 * - within a batch events are numbered in capture order; two writes of one record are captured under
 *   that row's lock, i.e. in their commit order, and a write acknowledged before another one started
 *   was captured before it.
 * Readers number a batch's events again from what its row holds (`numberedEventsSql`), the same way.
 */

/** Key of the sequencer's advisory lock (advisory locks are per database, so one constant serves every app). */
const SEQUENCER_LOCK = 0x52_54_53_51; // 'RTSQ'

/**
 * Where the next batch starts: the newest batch's snapshot as the transaction ids at or past its xmax (`since`)
 * and those it lists as running (`running`), or every id when there is no batch yet. Stored with each batch as
 * plain columns, so that reading a batch's events is a range and a few probes of the `txid` index with no
 * set-returning function evaluated per row.
 */
const NEXT_START = `SELECT COALESCE(pg_snapshot_xmax(s.snap), '1'::xid8) AS since,
       COALESCE(ARRAY(SELECT pg_snapshot_xip(s.snap)), '{}'::xid8[]) AS running
  FROM (SELECT (SELECT snap FROM _realtime_batches ORDER BY first DESC LIMIT 1) AS snap) s`;

/**
 * Events of relation alias `e` a batch starting at `start` (alias with `since`, `running`) would take. The upper
 * bound changes nothing (no committed transaction is at or past the statement's xmax) but makes the range
 * narrow in the planner's eyes, which then reads it off the index whatever the table's size.
 */
const SNAPSHOT_END = 'pg_snapshot_xmax(pg_current_snapshot())';
const notBefore = (e: string, start: string) => `(${e}.txid >= ${start}.since AND ${e}.txid < ${SNAPSHOT_END}) OR ${e}.txid = ANY(${start}.running)`;

/**
 * The events of batch alias `b` in relation alias `e`: written by a transaction that was still running where the
 * batch starts and had finished at its `snap`.
 */
const inBatch = (e: string, b: string) =>
  `((${e}.txid >= ${b}.since AND ${e}.txid < pg_snapshot_xmax(${b}.snap)) OR ${e}.txid = ANY(${b}.running)) ` +
  `AND pg_visible_in_snapshot(${e}.txid, ${b}.snap)`;

/**
 * A relation of the events with ids in (`after`, `upto`] (SQL expressions, e.g. bind parameters), at most
 * `limit` batches of them: `id` and every column of `_realtime_events`. Only batches that reach past `after`
 * are read — from the one holding it, found by the primary key — and each is numbered whole (an id depends on
 * the events captured before it in its batch).
 */
export function numberedEventsSql(after: string, upto: string | undefined, limit: string): string {
  const batches =
    `SELECT * FROM _realtime_batches WHERE first >= COALESCE((SELECT max(first) FROM _realtime_batches WHERE first <= ${after}), 0) ` +
    `AND last > ${after}${upto === undefined ? '' : ` AND first <= ${upto}`} ORDER BY first LIMIT ${limit}`;
  return (
    `(SELECT n.* FROM (SELECT b.first + row_number() OVER (PARTITION BY b.first ORDER BY e.seq) - 1 AS id, e.* ` +
    `FROM (${batches}) b JOIN _realtime_events e ON ${inBatch('e', 'b')}) n ` +
    `WHERE n.id > ${after}${upto === undefined ? '' : ` AND n.id <= ${upto}`})`
  );
}

/** What a sequencer run gave ids to: its ids (first through last, every one of them), and the entities of its events. */
export interface Sequenced {
  first: number;
  last: number;
  entities: string[];
}

/**
 * Numbers the changes committed since the last run as one batch; what it numbered, or null when there was
 * nothing. The lock is taken by a statement of its own, so the numbering statement's snapshot is taken once
 * the run before has committed; that statement counts what it sees and records its own snapshot
 * (`pg_current_snapshot()` is the statement's), so the batch holds exactly what it counted. Rows committed
 * after that snapshot are left for the next run, which their own writer's kick (or the sweep) starts. Once it
 * returns, every id up to `last` is visible to every reader.
 */
export async function sequence(db: Database): Promise<Sequenced | null> {
  return db.transaction(async (tx) => {
    const [gate] = await tx.query<{ rewound: boolean | null }>(
      `SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK})::text AS locked,
              (SELECT since FROM (${NEXT_START}) n) > pg_snapshot_xmax(pg_current_snapshot()) AS rewound`,
    );
    if (gate?.rewound) await forgetOtherXidSpace(tx);
    const rows = await tx.query<{ first: string; last: string; entities: string[] }>(
      `WITH start AS (${NEXT_START}),
            fresh AS (SELECT count(*) AS n, array_agg(DISTINCT e.entity) AS entities FROM _realtime_events e, start s
                       WHERE ${notBefore('e', 's')}),
            ids AS (SELECT nextval('_realtime_event_id') AS first, n, entities FROM fresh WHERE n > 0)
       INSERT INTO _realtime_batches (first, last, snap, since, running, entities)
       SELECT i.first, setval('_realtime_event_id', i.first + i.n - 1), pg_current_snapshot(), s.since, s.running, i.entities
         FROM ids i, start s
       RETURNING first::text, last::text, entities`,
    );
    const row = rows[0];
    if (!row) return null;
    return { first: Number(row.first), last: Number(row.last), entities: row.entities };
  });
}

/**
 * The newest batch's snapshot is ahead of the database's transaction ids: the app database was restored into
 * another server by a logical copy (pg_dump), where ids start again. The batches, and the events written before
 * the newest of them was numbered, belong to the other id space, where they cannot be told apart from new ones:
 * they are dropped, and an id is burnt as a gap marker, so a Last-Event-ID from before gets `reset` (see
 * markCaptureGap). Events written since the restore stay and are numbered afresh. Under the lock.
 */
async function forgetOtherXidSpace(tx: Queryable): Promise<void> {
  await tx.query('DELETE FROM _realtime_events WHERE at <= (SELECT max(sequenced_at) FROM _realtime_batches)');
  await tx.query('DELETE FROM _realtime_batches');
  await tx.query(`UPDATE _realtime_state SET pruned_through = GREATEST(pruned_through, nextval('_realtime_event_id'))`);
}

/** Whether committed captures wait for a run (cheap: probes of the `txid` index, each condition on its own). */
export async function hasPending(db: Database): Promise<boolean> {
  const rows = await db.query<{ pending: boolean }>(
    `WITH s AS (${NEXT_START})
     SELECT EXISTS (SELECT 1 FROM _realtime_events e WHERE e.txid >= (SELECT since FROM s) AND e.txid < ${SNAPSHOT_END})
         OR EXISTS (SELECT 1 FROM _realtime_events e WHERE e.txid = ANY((SELECT running FROM s)::xid8[])) AS pending`,
  );
  return rows[0]?.pending === true;
}

/** The highest id a reader can see now: every id up to it is numbered or was pruned. */
export async function visibleLast(db: Database): Promise<{ last: number; prunedThrough: number }> {
  const rows = await db.query<{ last: string; pruned: string }>(
    `SELECT GREATEST(COALESCE((SELECT max(last) FROM _realtime_batches), 0), s.pruned_through)::text AS last, s.pruned_through::text AS pruned
       FROM _realtime_state s`,
  );
  const row = rows[0];
  return { last: Number(row?.last ?? 0), prunedThrough: Number(row?.pruned ?? 0) };
}

/**
 * Writes went uncaptured (no stream of the app anywhere for a while, so no lease): the numbering has a hole
 * that no reader can see. An id is burnt as its marker and counts as pruned, so a Last-Event-ID from before the
 * hole gets `reset` rather than a replay that silently misses those writes; events captured from now on
 * take ids after it. Under the sequencer's lock, so no run numbers events around it.
 */
export async function markCaptureGap(db: Database): Promise<void> {
  await db.query(
    `WITH gate AS (SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK}) IS NOT NULL AS ok)
     UPDATE _realtime_state SET pruned_through = GREATEST(pruned_through, nextval('_realtime_event_id')) WHERE (SELECT ok FROM gate)`,
  );
}
