import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginPolicy, LoginThrottle } from '../../src/auth/login-throttle.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { Database } from '../../src/db/database.js';
import { startTestServer } from '../support/server.js';

// 3 failures within 4 seconds lock an account for 4 seconds (room for a slow, shared machine).
const MAX_FAILURES = 3;
const LOCK_MS = 4000;

let s: Awaited<ReturnType<typeof startTestServer>>;
let app: { name: string; token: string };

beforeAll(async () => {
  s = await startTestServer({ ROCKET_LOGIN_MAX_FAILURES: String(MAX_FAILURES), ROCKET_LOGIN_LOCK_SECONDS: String(LOCK_MS / 1000) });
  app = await s.createApp();
});
afterAll(async () => {
  await s?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let seq = 0;
async function appUser(): Promise<string> {
  const email = `locked${++seq}@example.com`;
  const res = await s.client.post(`/api/${app.name}/_admin/users`, { token: app.token, body: { email, password: 'right-pw' } });
  expect(res.status).toBe(201);
  return email;
}

const appLogin = (email: string, password: string, name = app.name) => s.client.post(`/api/${name}/auth/login`, { body: { email, password } });
const platformLogin = (email: string, password: string) => s.client.post('/api/_platform/auth/login', { body: { email, password } });

function expectLocked(res: { status: number; body: { error: { code: string; message: string } }; headers: Headers }): void {
  expect(res.status).toBe(429);
  expect(res.body.error.code).toBe('TOO_MANY_REQUESTS');
  expect(res.body.error.message).toMatch(/^Too many (failed )?login attempts/);
  const retry = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retry) && retry >= 1 && retry <= LOCK_MS / 1000).toBe(true);
}

describe('app login', () => {
  it('locks an account after the failures, even for the right password, and unlocks after the window', async () => {
    const email = await appUser();
    for (let i = 0; i < MAX_FAILURES; i++) {
      const res = await appLogin(email, 'wrong');
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('Invalid email or password');
    }
    const lockedAt = Date.now();
    expectLocked(await appLogin(email, 'right-pw'));
    expectLocked(await appLogin(` ${email.toUpperCase()}`, 'right-pw')); // same account, other spelling
    expect((await appLogin('admin@localhost', 'changeme')).status).toBe(200); // other accounts unaffected

    await sleep(Math.max(0, lockedAt + LOCK_MS + 200 - Date.now()));
    const ok = await appLogin(email, 'right-pw');
    expect(ok.status).toBe(200);
    expect(ok.body.data.access_token).toEqual(expect.any(String));
  });

  it('a success clears the count', async () => {
    const email = await appUser();
    for (let i = 0; i < MAX_FAILURES - 1; i++) expect((await appLogin(email, 'wrong')).status).toBe(401);
    expect((await appLogin(email, 'right-pw')).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES - 1; i++) expect((await appLogin(email, 'wrong')).status).toBe(401);
    expect((await appLogin(email, 'right-pw')).status).toBe(200);
  });

  it('unknown emails are throttled the same way (no account enumeration by lock behaviour)', async () => {
    const ghost = `ghost${Date.now()}@example.com`;
    for (let i = 0; i < MAX_FAILURES; i++) expect((await appLogin(ghost, 'x')).status).toBe(401);
    expectLocked(await appLogin(ghost, 'x'));
  });

  it('a burst of parallel guesses cannot exceed the limit', async () => {
    const email = await appUser();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => appLogin(email, `guess-${i}`)));
    const verified = results.filter((r) => r.status === 401).length;
    const refused = results.filter((r) => r.status === 429);
    // attempts still being verified count against the limit, so exactly MAX_FAILURES guesses got checked
    expect(verified).toBe(MAX_FAILURES);
    expect(refused).toHaveLength(12 - MAX_FAILURES);
    for (const r of refused) expectLocked(r);
    expectLocked(await appLogin(email, 'right-pw'));
  });

  it('concurrent logins with the right password are all accepted: only failures lock an account', async () => {
    const email = await appUser();
    const results = await Promise.all(Array.from({ length: MAX_FAILURES * 3 }, () => appLogin(email, 'right-pw')));
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const rows = await s.rocket.services.platform.db.query('SELECT 1 FROM _login_throttle WHERE key LIKE $1', [`%\n${email}`]);
    expect(rows).toEqual([]); // nothing left to remember
  });

  it('locks are per app: the same email in another app is unaffected', async () => {
    const other = await s.createApp();
    for (let i = 0; i < MAX_FAILURES; i++) await appLogin('admin@localhost', 'wrong', other.name);
    expectLocked(await appLogin('admin@localhost', 'changeme', other.name));
    expect((await appLogin('admin@localhost', 'changeme')).status).toBe(200);
  });
});

describe('platform login', () => {
  it('locks the platform account, leaves other platform accounts alone, and unlocks after the window', async () => {
    const second = 'second-operator@localhost';
    await s.rocket.services.platform.db.query(`INSERT INTO _platform_users (email, password_hash, roles) VALUES ($1, $2, '{platform_admin}')`, [
      second,
      await hashPassword('op-pw'),
    ]);
    for (let i = 0; i < MAX_FAILURES; i++) {
      const res = await platformLogin(s.config.platformEmail, 'wrong');
      expect(res.status).toBe(401);
    }
    const lockedAt = Date.now();
    expectLocked(await platformLogin(s.config.platformEmail, s.config.platformPassword));
    expect((await platformLogin(second, 'op-pw')).status).toBe(200);
    // an app user with the platform admin's email is a different account
    expect((await appLogin('admin@localhost', 'changeme')).status).toBe(200);

    await sleep(Math.max(0, lockedAt + LOCK_MS + 200 - Date.now()));
    expect((await platformLogin(s.config.platformEmail, s.config.platformPassword)).status).toBe(200);
  });
});

describe('two instances at the same moment', () => {
  it('concurrent right and wrong logins of one account on both instances never answer 500', async () => {
    // A success on one instance deletes the account's row while an attempt on the other is between
    // creating and locking it: each attempt must still be counted, never fail.
    const other = await startTestServer(
      { ROCKET_LOGIN_MAX_FAILURES: String(MAX_FAILURES), ROCKET_LOGIN_LOCK_SECONDS: String(LOCK_MS / 1000) },
      { managementDb: s.managementDb, dataDir: s.dataDir },
    );
    try {
      const statuses: number[] = [];
      // Waves of attempts started together, and streams of back-to-back logins on both instances, so
      // that checks keep arriving while successes delete the row.
      for (let round = 0; round < 4; round++) {
        const email = await appUser();
        const attempts = Array.from({ length: 8 }, (_, i) => {
          const client = i % 2 === 0 ? s.client : other.client;
          return client.post(`/api/${app.name}/auth/login`, { body: { email, password: i % 3 === 2 ? 'wrong' : 'right-pw' } });
        });
        statuses.push(...(await Promise.all(attempts)).map((r) => r.status));
      }
      const email = await appUser();
      await Promise.all(
        [s.client, other.client, s.client, other.client].map(async (client, n) => {
          for (let i = 0; i < 15; i++) {
            const password = n === 3 && i % 5 === 4 ? 'wrong' : 'right-pw';
            const res = await client.post(`/api/${app.name}/auth/login`, { body: { email, password } });
            statuses.push(res.status);
            if (res.status === 429) expectLocked(res);
          }
        }),
      );
      expect(statuses.filter((st) => ![200, 401, 429].includes(st))).toEqual([]);
      expect(statuses).toContain(200);
    } finally {
      await other.rocket.close();
    }
  });
});

describe('the shared throttle row', () => {
  it('an attempt queued on the row while a success deletes it is still counted, without an error', async () => {
    const db = s.rocket.services.platform.db;
    const throttle = new LoginThrottle(db, new LoginPolicy(MAX_FAILURES, LOCK_MS));
    const key = `race:${Date.now()}`;
    await throttle.check(key); // the row exists, one attempt in flight
    const holder = new Database({ ...db.options, max: 1 });
    try {
      let checking: Promise<void> | undefined;
      // Another instance's success: it holds the row, and deletes it, while this attempt waits for it.
      await holder.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM _login_throttle WHERE key = $1 FOR UPDATE', [key]);
        checking = throttle.check(key);
        await expect
          .poll(async () => {
            const rows = await db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            );
            return rows[0]!.n;
          })
          .toBeGreaterThan(0);
        await tx.query('DELETE FROM _login_throttle WHERE key = $1', [key]);
      });
      await checking;
      const rows = await db.query<{ in_flight: number[] }>('SELECT in_flight FROM _login_throttle WHERE key = $1', [key]);
      expect(rows.map((r) => r.in_flight.length)).toEqual([1]);
    } finally {
      await holder.close();
    }
  });
});
