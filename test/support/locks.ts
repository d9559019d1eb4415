import type { Database, Queryable } from '../../src/db/database.js';

/**
 * Concurrency tests park one write behind another: a transaction of the app database holds rows or
 * tables (`holdTransaction`) while a request is sent, and the test waits until PostgreSQL shows that
 * request waiting on a lock (`untilLockWaiters`) before letting the holder go.
 */

/**
 * Holds a transaction open on its own connection once `work` has run, until `release` is called; it then
 * commits, or rolls back with `commit: false`. A failure of the holder is the test's to see in its effects.
 */
export async function holdTransaction(
  db: Database,
  work: (tx: Queryable) => Promise<void>,
  commit = true,
): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let ready!: () => void;
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const done = db
    .transaction(async (tx) => {
      await work(tx);
      ready();
      await gate;
      if (!commit) throw new Error('rolled back on purpose');
    })
    .catch(() => undefined);
  await started;
  return {
    release: async () => {
      release();
      await done;
    },
  };
}

/**
 * Waits until at least `n` sessions of the database `q` runs on wait on a lock — only those running a
 * statement that starts with `prefix`, when given; throws after about 5 s.
 */
export async function untilLockWaiters(q: (sql: string, params?: unknown[]) => Promise<unknown[]>, n = 1, prefix?: string): Promise<void> {
  const sql = `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'${prefix === undefined ? '' : ' AND query LIKE $1'}`;
  for (let i = 0; i < 200; i++) {
    if ((await q(sql, prefix === undefined ? [] : [`${prefix}%`])).length >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fewer than ${n} sessions wait on a lock${prefix === undefined ? '' : ` running ${prefix}…`}`);
}
