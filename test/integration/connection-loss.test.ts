import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Database, type ConnectionOptions } from '../../src/db/database.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A PostgreSQL connection can end under a running transaction (an administrator's pg_terminate_backend, a
// server restart, a network cut) and connecting can fail while others succeed (max_connections reached).
// Both must end in an error answer or a retried success — never a request waiting forever, never a crash.

function optionsFor(database: string, max: number): ConnectionOptions {
  const url = new URL(inject('pgUrl'));
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database,
    max,
  };
}

/** Settles within ms or says it did not: a hang fails the test instead of timing it out. */
function within<T>(ms: number, p: Promise<T>): Promise<T | 'still waiting'> {
  return Promise.race([p, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms).unref())]);
}

const open: Database[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
});

function pool(max: number, name = 'postgres'): Database {
  const db = new Database(optionsFor(name, max));
  open.push(db);
  return db;
}

async function terminate(admin: Database, marker: string): Promise<number> {
  const rows = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [
    `%${marker}%`,
  ]);
  for (const { pid } of rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  return rows.length;
}

async function waitForStatement(admin: Database, marker: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [`%${marker}%`]);
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`statement ${marker} never started`);
}

describe('a pool whose connection ends under it', () => {
  it('a transaction waiting for the pool runs when the connection it waited for is terminated', async () => {
    const admin = pool(1);
    const db = pool(1);
    const first = db
      .transaction((tx) => tx.query("SELECT pg_sleep(30), 'held-1'"))
      .then(
        () => 'committed',
        (err: Error) => `failed: ${err.message}`,
      );
    await waitForStatement(admin, 'held-1');
    // The pool's one connection is in use: this transaction queues for it.
    const second = db.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 41 + 1 AS n'))[0]!.n);
    await new Promise((r) => setTimeout(r, 100));
    expect(await terminate(admin, 'held-1')).toBe(1);

    expect(await within(10_000, first)).toMatch(/^failed: /);
    expect(await within(10_000, second)).toBe(42);
    // The pool goes on serving, on plain queries and on transactions.
    expect(await within(10_000, db.query<{ n: number }>('SELECT 1 AS n'))).toEqual([{ n: 1 }]);
    expect(
      await within(
        10_000,
        db.transaction((tx) => tx.query<{ n: number }>('SELECT 2 AS n')),
      ),
    ).toEqual([{ n: 2 }]);
  });

  it('a transaction whose connection is terminated fails with an error and the process goes on', async () => {
    const admin = pool(1);
    const db = pool(2);
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.on('uncaughtException', onCrash);
    try {
      for (let round = 0; round < 3; round++) {
        const marker = `held-tx-${round}`;
        const tx = db.transaction((t) => t.query(`SELECT pg_sleep(30), '${marker}'`));
        const outcome = tx.then(
          () => 'committed',
          (err: Error) => `failed: ${err.message}`,
        );
        await waitForStatement(admin, marker);
        expect(await terminate(admin, marker)).toBe(1);
        expect(await within(10_000, outcome)).toMatch(/^failed: /);
        await new Promise((r) => setTimeout(r, 50)); // a write on the dead socket would throw here
        expect(
          await within(
            10_000,
            db.transaction((t) => t.query<{ n: number }>('SELECT $1::int AS n', [round])),
          ),
        ).toEqual([{ n: round }]);
        expect(await within(10_000, db.query<{ n: number }>('SELECT 7 AS n'))).toEqual([{ n: 7 }]);
      }
      expect(crashes).toEqual([]);
    } finally {
      process.off('uncaughtException', onCrash);
    }
  });
});

describe('a server whose database connections are terminated under load', () => {
  let s: TestServer;
  let app: { name: string; token: string };
  beforeAll(async () => {
    s = await startTestServer();
    app = await s.createApp();
    const entity = await s.client.post(`/api/${app.name}/_admin/entities`, {
      token: app.token,
      body: {
        name: 'note',
        table: 'notes',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'title', type: 'string', required: true },
        ],
      },
    });
    expect(entity.status).toBe(201);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers every request (503 with the envelope at worst, never a hang) and serves afterwards', async () => {
    const admin = pool(1);
    const db = `rocket_${app.name}`;
    let writing = true;
    const answers: Array<{ status: number; body: unknown; retryAfter: string | null }> = [];
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const res = await within(15_000, s.client.post(`/api/${app.name}/note`, { token: app.token, body: { title: `w${w}-${i}` } }));
        if (res === 'still waiting') throw new Error('a create got no answer within 15 s');
        answers.push({ status: res.status, body: res.body, retryAfter: res.headers.get('retry-after') });
      }
    });
    let terminated = 0;
    for (let round = 0; round < 20; round++) {
      await new Promise((r) => setTimeout(r, 40));
      const rows = await admin.query<{ t: boolean }>(
        'SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [db],
      );
      terminated += rows.length;
    }
    writing = false;
    await Promise.all(writers);
    expect(terminated).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 201).length).toBeGreaterThan(0);
    // A write cut off by the termination is a 503 with the envelope and Retry-After; every other one succeeds.
    const cut = answers.filter((a) => a.status !== 201);
    for (const a of cut) {
      expect(a.status).toBe(503);
      expect(a.body).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } });
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    const after = await s.client.post(`/api/${app.name}/note`, { token: app.token, body: { title: 'after' } });
    expect(after.status).toBe(201);
    const list = await s.client.get(`/api/${app.name}/note?filter[title]=after`, { token: app.token });
    expect(list.status).toBe(200);
    expect((list.body as { data: unknown[] }).data).toHaveLength(1);
  });
});

describe("a pool's session settings", () => {
  it('run every statement in UTC, named rocket, without JIT', async () => {
    const db = pool(1);
    expect(
      await db.query("SELECT current_setting('TimeZone') AS tz, current_setting('application_name') AS app, current_setting('jit') AS jit"),
    ).toEqual([{ tz: 'UTC', app: 'rocket', jit: 'off' }]);
  });
});
