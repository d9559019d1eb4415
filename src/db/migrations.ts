import type { Database, Queryable } from './database.js';

/** One schema step; versions only ever grow, a step never changes once released. */
export interface Migration {
  version: number;
  name: string;
  up: (tx: Queryable) => Promise<void>;
}

/**
 * Applies the steps of `scope` newer than the database's recorded version,
 * each in its own transaction, under an advisory lock so concurrent server
 * instances migrate one at a time.
 */
export async function migrate(db: Database, scope: string, steps: readonly Migration[]): Promise<void> {
  await db.transaction(async (tx) => {
    // Under the lock from the first statement on: concurrent CREATE TABLE IF NOT EXISTS can
    // still collide on the catalog (23505), so even the bookkeeping table is made one at a time.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['rocket-migrate']);
    await tx.query(`CREATE TABLE IF NOT EXISTS _rocket_migrations (
      scope TEXT NOT NULL, version INT NOT NULL, name TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), PRIMARY KEY (scope, version))`);
    const rows = await tx.query<{ v: number | null }>('SELECT MAX(version) AS v FROM _rocket_migrations WHERE scope = $1', [scope]);
    const current = rows[0]?.v ?? 0;
    for (const step of steps) {
      if (step.version <= current) continue;
      await step.up(tx);
      await tx.query('INSERT INTO _rocket_migrations (scope, version, name) VALUES ($1, $2, $3)', [scope, step.version, step.name]);
    }
  });
}
