import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/passwords.js';
import { startTestServer, type TestServer } from '../support/server.js';

// 3 failures within 4 seconds lock an account for 4 seconds (room for a slow, shared machine).
const MAX_FAILURES = 3;
const LOCK_MS = 4000;

let s: TestServer;
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
