import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

// Two instances of one platform: same management database, same data directory.
const MAX_FAILURES = 5;
let a: TestServer;
let b: TestServer;
let managementDb: string;

beforeAll(async () => {
  managementDb = `rocketmgmt_${uniqueName('')}`;
  const share = { managementDb, dataDir: await mkdtemp(join(tmpdir(), 'rocket-test-data-')) };
  const env = { ROCKET_LOGIN_MAX_FAILURES: String(MAX_FAILURES), ROCKET_LOGIN_LOCK_SECONDS: '60' };
  // Started at the same moment against a management database that does not exist yet.
  [a, b] = await Promise.all([startTestServer(env, share), startTestServer(env, share)]);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await a?.rocket.dbServer.dropDatabase(managementDb).catch(() => undefined);
});

describe('instances started at the same moment on a fresh management database', () => {
  it('both start, serve and share one platform (tokens of one are valid on the other)', async () => {
    expect((await a.client.get('/health')).status).toBe(200);
    expect((await b.client.get('/health')).status).toBe(200);
    const listed = await b.client.get('/api/_platform/apps', { token: a.platformToken });
    expect(listed.status).toBe(200);
    const users = await a.rocket.services.platform.db.query('SELECT email FROM _platform_users');
    expect(users).toEqual([{ email: a.config.platformEmail }]);
  });

  it('a third and fourth instance racing on another fresh database also both start', async () => {
    const share = { managementDb: `rocketmgmt_${uniqueName('')}`, dataDir: await mkdtemp(join(tmpdir(), 'rocket-test-data-')) };
    const [c, d] = await Promise.all([startTestServer({}, share), startTestServer({}, share)]);
    try {
      expect((await c.client.get('/api/_platform/apps', { token: d.platformToken })).status).toBe(200);
    } finally {
      await c.close();
      await d.close();
      await c.rocket.dbServer.dropDatabase(share.managementDb).catch(() => undefined);
    }
  }, 120_000);
});

describe('login brute-force protection across instances', () => {
  it('app logins: failures on both instances add up to one lock, which both enforce', async () => {
    const app = await a.createApp();
    const email = 'victim@example.com';
    expect((await a.client.post(`/api/${app.name}/_admin/users`, { token: app.token, body: { email, password: 'right-pw' } })).status).toBe(201);
    for (let i = 0; i < MAX_FAILURES; i++) {
      const s = i % 2 === 0 ? a : b;
      const res = await s.client.post(`/api/${app.name}/auth/login`, { body: { email, password: `wrong-${i}` } });
      expect(res.status).toBe(401);
    }
    for (const s of [a, b]) {
      const res = await s.client.post(`/api/${app.name}/auth/login`, { body: { email, password: 'right-pw' } });
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('TOO_MANY_REQUESTS');
      const retry = Number(res.headers.get('retry-after'));
      expect(retry >= 1 && retry <= 60).toBe(true);
    }
    // other accounts of the app are unaffected
    expect((await b.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } })).status).toBe(200);
  });

  it('platform logins: a burst split over both instances verifies at most the limit', async () => {
    const email = a.config.platformEmail;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? a : b).client.post('/api/_platform/auth/login', { body: { email, password: `guess-${i}` } }),
      ),
    );
    expect(results.filter((r) => r.status === 401)).toHaveLength(MAX_FAILURES);
    expect(results.filter((r) => r.status === 429)).toHaveLength(12 - MAX_FAILURES);
    for (const s of [a, b]) {
      const res = await s.client.post('/api/_platform/auth/login', { body: { email, password: a.config.platformPassword } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    const rows = await a.rocket.services.platform.db.query<{ failures: number }>(
      'SELECT failures FROM _login_throttle WHERE key = $1',
      [`platform\n${email}`],
    );
    expect(rows).toEqual([{ failures: MAX_FAILURES }]);
  });
});
