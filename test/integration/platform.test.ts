import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const json = { 'content-type': 'application/json' };

describe('health and errors', () => {
  it('GET /health answers without auth', async () => {
    const res = await s.client.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('unknown routes answer 404 in the error envelope', async () => {
    const res = await s.client.get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    const patch = await s.client.request('PATCH', '/api/_platform/apps', { token: s.platformToken, body: {} });
    expect(patch.status).toBe(404);
  });
});

describe('platform auth', () => {
  const login = (body: unknown) => s.client.post('/api/_platform/auth/login', { body });

  it('logs in with the seeded admin and returns a token pair', async () => {
    const res = await login({ email: 'Platform@Localhost ', password: 'changeme' });
    expect(res.status).toBe(200);
    expect(typeof res.body.data.access_token).toBe('string');
    expect(res.body.data.refresh_token).toMatch(/^[0-9a-f-]{36}$/);
    const claims = JSON.parse(Buffer.from(res.body.data.access_token.split('.')[1], 'base64url').toString());
    expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'roles', 'sub']);
    expect(claims.exp - claims.iat).toBe(900);
    expect(claims.roles).toEqual(['platform_admin']);
  });

  it('rejects bad credentials and missing fields with 401', async () => {
    const wrong = await login({ email: 'platform@localhost', password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid email or password' });
    const unknown = await login({ email: 'who@localhost', password: 'x' });
    expect(unknown.body.error.message).toBe('Invalid email or password');
    const missing = await login({ email: 'platform@localhost' });
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toBe('Email and password are required');
    // not the expected JSON shape (spec README): 400, like an unparseable body
    const mistyped = await login({ email: 42, password: ['x'] });
    expect(mistyped.status).toBe(400);
    expect(mistyped.body.error.code).toBe('INVALID_PAYLOAD');
  });

  it('rejects unparseable bodies with 400 INVALID_PAYLOAD', async () => {
    for (const raw of ['{"email":', '[1,2]', '"text"', 'null']) {
      const res = await s.client.post('/api/_platform/auth/login', { raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    const wrongType = await s.client.post('/api/_platform/auth/login', {
      raw: 'email=a',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const empty = await s.client.post('/api/_platform/auth/login', { headers: json });
    expect(empty.status).toBe(400);
  });

  it('rejects an oversized body with 413 and the envelope', async () => {
    const res = await s.client.post('/api/_platform/auth/login', {
      raw: JSON.stringify({ email: 'x'.repeat(2 * 1024 * 1024), password: 'x' }),
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('rotates refresh tokens: a used token is dead', async () => {
    const first = await login({ email: 'platform@localhost', password: 'changeme' });
    const refresh = first.body.data.refresh_token;
    const second = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: refresh } });
    expect(second.status).toBe(200);
    expect(second.body.data.refresh_token).not.toBe(refresh);
    const reuse = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: refresh } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.message).toBe('Invalid refresh token');
    const notUuid = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: 'abc' } });
    expect(notUuid.body.error.message).toBe('Invalid refresh token');
    const missing = await s.client.post('/api/_platform/auth/refresh', { body: {} });
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toBe('Refresh token is required');
  });

  it('expired refresh tokens are refused and deleted', async () => {
    const first = await login({ email: 'platform@localhost', password: 'changeme' });
    const token = first.body.data.refresh_token;
    await s.rocket.services.platform.db.query(`UPDATE _platform_refresh_tokens SET expires_at = NOW() - interval '1 minute' WHERE token = $1`, [
      token,
    ]);
    const res = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: token } });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toBe('Refresh token expired');
    const rows = await s.rocket.services.platform.db.query('SELECT 1 FROM _platform_refresh_tokens WHERE token = $1', [token]);
    expect(rows).toHaveLength(0);
  });

  it('a login clears refresh tokens a month past their expiry; recently expired ones still answer "expired"', async () => {
    const db = s.rocket.services.platform.db;
    const token = async () => (await login({ email: 'platform@localhost', password: 'changeme' })).body.data.refresh_token as string;
    const [old, recent] = [await token(), await token()];
    await db.query(`UPDATE _platform_refresh_tokens SET expires_at = NOW() - interval '31 days' WHERE token = $1`, [old]);
    await db.query(`UPDATE _platform_refresh_tokens SET expires_at = NOW() - interval '29 days' WHERE token = $1`, [recent]);
    await token();
    const kept = await db.query<{ token: string }>('SELECT token::text FROM _platform_refresh_tokens WHERE token = ANY($1::uuid[])', [[old, recent]]);
    expect(kept.map((r) => r.token)).toEqual([recent]);
    const res = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: recent } });
    expect([res.status, res.body.error.message]).toEqual([401, 'Refresh token expired']);
  });

  it('logout kills the refresh token and tolerates unknown ones', async () => {
    const first = await login({ email: 'platform@localhost', password: 'changeme' });
    const refresh = first.body.data.refresh_token;
    const out = await s.client.post('/api/_platform/auth/logout', { body: { refresh_token: refresh } });
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ message: 'Logged out' });
    const after = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: refresh } });
    expect(after.status).toBe(401);
    const unknown = await s.client.post('/api/_platform/auth/logout', {
      body: { refresh_token: '00000000-0000-4000-8000-000000000000' },
    });
    expect(unknown.status).toBe(200);
    const missing = await s.client.post('/api/_platform/auth/logout', { body: {} });
    expect(missing.status).toBe(401);
  });
});

describe('apps API', () => {
  it('requires a platform token', async () => {
    const none = await s.client.get('/api/_platform/apps');
    expect(none.status).toBe(401);
    expect(none.body.error.message).toBe('Missing auth token');
    const badFormat = await s.client.get('/api/_platform/apps', { headers: { authorization: 'Token abc' } });
    expect(badFormat.body.error.message).toBe('Invalid auth header format');
    const garbage = await s.client.get('/api/_platform/apps', { token: 'abc.def.ghi' });
    expect(garbage.status).toBe(401);
    expect(garbage.body.error.message).toBe('Invalid or expired token');
    const lower = await s.client.get('/api/_platform/apps', { headers: { authorization: `bearer ${s.platformToken}` } });
    expect(lower.status).toBe(200);
  });

  it('refuses app tokens and non-platform-admin platform tokens', async () => {
    const app = await s.createApp();
    const appToken = await s.client.get('/api/_platform/apps', { token: app.token });
    expect(appToken.status).toBe(401);
    const secret = (await readFile(join(s.config.dataDir, 'platform-jwt-secret'), 'utf8')).trim();
    const weak = await new SignJWT({ roles: ['viewer'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('00000000-0000-4000-8000-000000000001')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    const res = await s.client.get('/api/_platform/apps', { token: weak });
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({ code: 'FORBIDDEN', message: 'Platform admin access required' });
    // Nor is such a token an admin inside apps.
    const inApp = await s.client.get(`/api/${app.name}/_admin/entities`, { token: weak });
    expect(inApp.status).toBe(401);
  });

  it('creates, lists, gets and deletes an app with its own database', async () => {
    const name = uniqueName('my-app-');
    const created = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name } });
    expect(created.status).toBe(201);
    expect(created.body.data).toEqual({
      name,
      display_name: name,
      db_name: `rocket_${name.replace(/-/g, '_')}`,
      db_driver: 'postgres',
      status: 'active',
    });
    const dbName = created.body.data.db_name;
    const exists = () => s.rocket.services.platform.db.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    expect(await exists()).toHaveLength(1);

    const list = await s.client.get('/api/_platform/apps', { token: s.platformToken });
    const row = list.body.data.find((a: { name: string }) => a.name === name);
    expect(row).toMatchObject({ name, status: 'active' });
    expect(row).not.toHaveProperty('jwt_secret');
    expect(new Date(row.created_at).toISOString()).toBe(row.created_at);

    const got = await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(got.status).toBe(200);
    expect(got.body.data.name).toBe(name);

    const login = await s.client.post(`/api/${name}/auth/login`, {
      body: { email: 'admin@localhost', password: 'changeme' },
    });
    expect(login.status).toBe(200);

    const del = await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ message: 'App deleted' });
    expect(await exists()).toHaveLength(0);
    const gone = await s.client.post(`/api/${name}/auth/login`, {
      body: { email: 'admin@localhost', password: 'changeme' },
    });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('APP_NOT_FOUND');
    const again = await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
    // an unknown platform route is an unknown route, not an app called _platform
    const unknown = await s.client.get('/api/_platform/nope', { token: s.platformToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Route not found: GET /api/_platform/nope' } });
  });

  it('seeds a chosen admin when admin_email/admin_password are given', async () => {
    const name = uniqueName('seed');
    const res = await s.client.post('/api/_platform/apps', {
      token: s.platformToken,
      body: { name, display_name: 'Seeded', admin_email: 'Boss@Example.com', admin_password: 's3cret!' },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.display_name).toBe('Seeded');
    const ok = await s.client.post(`/api/${name}/auth/login`, { body: { email: 'boss@example.com', password: 's3cret!' } });
    expect(ok.status).toBe(200);
    const old = await s.client.post(`/api/${name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    expect(old.status).toBe(401);
    await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
  });

  it('validates app names and drivers', async () => {
    const create = (body: unknown) => s.client.post('/api/_platform/apps', { token: s.platformToken, body });
    const missing = await create({});
    expect(missing.status).toBe(422);
    expect(missing.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'App name is required' });
    for (const name of ['Bad', '1abc', 'a b', 'a;drop', 'x'.repeat(57), 42, '_platform']) {
      const res = await create({ name });
      expect(res.status, String(name)).toBe(422);
      expect(res.body.error.message).toBe('App name must be lowercase letters, numbers, hyphens, underscores (start with letter)');
    }
    const ok56 = uniqueName('a').padEnd(56, 'x');
    const long = await create({ name: ok56 });
    expect(long.status).toBe(201);
    await s.client.delete(`/api/_platform/apps/${ok56}`, { token: s.platformToken });
    const mysql = await create({ name: uniqueName(), db_driver: 'mysql' });
    expect(mysql.status).toBe(422);
    expect(mysql.body.error.message).toBe("db_driver must be 'postgres' or 'sqlite'");
    const sqlite = await create({ name: uniqueName(), db_driver: 'sqlite' });
    expect(sqlite.status).toBe(422);
    const badBody = await s.client.post('/api/_platform/apps', { token: s.platformToken, raw: '[]' });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid request body' });
  });

  it('refuses a display_name or admin_email PostgreSQL cannot store with 422, before creating anything', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ display_name: 'Sales\u0000' }, 'display_name must not contain NUL characters'],
      [{ admin_email: 'boss\u0000@example.com', admin_password: 'pw' }, 'admin_email must be an email address'],
    ];
    for (const [extra, message] of cases) {
      const name = uniqueName('nul');
      const res = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name, ...extra } });
      expect(res.status, JSON.stringify(extra)).toBe(422);
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message });
      const db = s.rocket.services.platform.db;
      expect(await db.query('SELECT 1 FROM _apps WHERE name = $1', [name])).toEqual([]);
      expect(await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [`rocket_${name}`])).toEqual([]);
    }
  });

  it('answers 409 for an existing app name or database name', async () => {
    const app = await s.createApp(uniqueName('dup-'));
    const same = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name: app.name } });
    expect(same.status).toBe(409);
    expect(same.body.error).toEqual({ code: 'CONFLICT', message: `App already exists: ${app.name}` });
    const sameDb = await s.client.post('/api/_platform/apps', {
      token: s.platformToken,
      body: { name: app.name.replace('-', '_') },
    });
    expect(sameDb.status).toBe(409);
  });

  describe('deletion that fails can be tried again', () => {
    const mgmt = () => s.rocket.services.platform.db;
    const appRow = async (name: string) =>
      (await mgmt().query<{ status: string; database: string }>('SELECT status, database FROM _apps WHERE name = $1', [name]))[0];
    const dbExists = async (db: string) => (await mgmt().query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).length === 1;
    const del = (name: string) => s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
    const login = (name: string) => s.client.post(`/api/${name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });

    it('a server that cannot be reached answers 503 and keeps the app; a retry deletes it and the name is free again', async () => {
      const t = await startTestServer({ ROCKET_DATABASES: JSON.stringify({ down: 'postgres://postgres@127.0.0.1:1/' }), ROCKET_DB_WAIT_MS: '300' });
      try {
        const { name } = await t.createApp(uniqueName('undrop'));
        const db = dbNameForTest(name);
        const tdb = t.rocket.services.platform.db;
        const row = async () => (await tdb.query('SELECT status, database FROM _apps WHERE name = $1', [name]))[0];
        const exists = async () => (await tdb.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).length === 1;
        const tdel = () => t.client.delete(`/api/_platform/apps/${name}`, { token: t.platformToken });
        // The app's server is down; then it is one this instance has no configuration for (another instance's ROCKET_DATABASES).
        for (const [server, message] of [
          ['down', 'The database cannot be reached; try again shortly'],
          ['elsewhere', 'The app\'s database server "elsewhere" is not configured on this instance (ROCKET_DATABASES)'],
        ]) {
          await tdb.query('UPDATE _apps SET database = $2 WHERE name = $1', [name, server]);
          const failed = await tdel();
          expect(failed.status, server).toBe(503);
          expect(failed.body.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message });
          expect(failed.headers.get('retry-after')).toBe('2');
          expect(await row()).toEqual({ status: 'active', database: server });
          expect(await exists()).toBe(true);
        }
        // Once the server is back the app is served as before, and deleting it succeeds.
        await tdb.query(`UPDATE _apps SET database = 'main' WHERE name = $1`, [name]);
        expect((await t.client.post(`/api/${name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } })).status).toBe(200);
        const retried = await tdel();
        expect([retried.status, retried.body]).toEqual([200, { message: 'App deleted' }]);
        expect(await row()).toBeUndefined();
        expect(await exists()).toBe(false);
        await t.createApp(name);
      } finally {
        await t.close();
      }
    });

    it('a database PostgreSQL refuses to drop answers 404 with the reason and keeps the app until a retry succeeds', async () => {
      const { name } = await s.createApp(uniqueName('undrop'));
      const db = dbNameForTest(name);
      // DROP DATABASE … WITH (FORCE) ends open connections, but never drops a template database.
      await mgmt().query(`ALTER DATABASE "${db}" IS_TEMPLATE true`);
      try {
        const failed = await del(name);
        expect(failed.status).toBe(404);
        expect(failed.body.error).toEqual({ code: 'NOT_FOUND', message: 'App not found or failed to delete: cannot drop a template database' });
        expect(await appRow(name)).toEqual({ status: 'active', database: 'main' });
        expect(await dbExists(db)).toBe(true);
        expect((await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken })).body.data.status).toBe('active');
        expect((await login(name)).status).toBe(200);
        const taken = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name } });
        expect(taken.status).toBe(409);
      } finally {
        await mgmt().query(`ALTER DATABASE "${db}" IS_TEMPLATE false`);
      }
      expect((await del(name)).status).toBe(200);
      expect(await appRow(name)).toBeUndefined();
      expect(await dbExists(db)).toBe(false);
      expect((await del(name)).status).toBe(404);
      await s.createApp(name);
      expect((await login(name)).status).toBe(200);
    });

    it('concurrent deletions of one app: one answers 200, the others 404', async () => {
      const { name } = await s.createApp(uniqueName('race'));
      const answers = await Promise.all(Array.from({ length: 5 }, () => del(name)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 404, 404, 404, 404]);
      for (const a of answers.filter((x) => x.status === 404)) {
        expect(a.body.error.code).toBe('NOT_FOUND');
        expect(a.body.error.message).toMatch(/^App not found or failed to delete: /);
      }
      expect(await appRow(name)).toBeUndefined();
      expect(await dbExists(dbNameForTest(name))).toBe(false);
    });

    it('an app marked as being deleted is not served, cannot be created again, and a second deletion answers 404', async () => {
      const { name, token } = await s.createApp(uniqueName('mid'));
      expect((await s.client.get(`/api/${name}/_admin/entities`, { token })).status).toBe(200);
      // What another instance's deletion in progress leaves in the row.
      await mgmt().query(`UPDATE _apps SET status = 'deleting', updated_at = NOW() WHERE name = $1`, [name]);
      await until(async () => (await s.client.get(`/api/${name}/_admin/entities`, { token })).status === 404);
      const served = await s.client.get(`/api/${name}/_admin/entities`, { token });
      expect(served.body.error).toEqual({ code: 'APP_NOT_FOUND', message: `App not found: ${name}` });
      expect((await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name } })).status).toBe(409);
      const second = await del(name);
      expect(second.status).toBe(404);
      expect(second.body.error.message).toBe('App not found or failed to delete: it is being deleted');
      // A claim its deleter abandoned (the process died) is taken over.
      await mgmt().query(`UPDATE _apps SET updated_at = NOW() - interval '1 hour' WHERE name = $1`, [name]);
      expect((await del(name)).status).toBe(200);
      expect(await appRow(name)).toBeUndefined();
    });
  });

  it('an app whose row stops being active in the database is no longer served, within a second', async () => {
    const { name, token } = await s.createApp(uniqueName('susp'));
    const entities = () => s.client.get(`/api/${name}/_admin/entities`, { token });
    expect((await entities()).status).toBe(200);
    // Changed by hand (or by another instance): no request of this instance said so.
    await s.rocket.services.platform.db.query(`UPDATE _apps SET status = 'suspended' WHERE name = $1`, [name]);
    const started = Date.now();
    await until(async () => (await entities()).status === 404);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await entities()).body.error.code).toBe('APP_NOT_FOUND');
    await s.rocket.services.platform.db.query(`UPDATE _apps SET status = 'active' WHERE name = $1`, [name]);
    expect((await entities()).status).toBe(200);
  });

  it('GET of an unknown app is 404', async () => {
    const res = await s.client.get('/api/_platform/apps/nothere', { token: s.platformToken });
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: 'App not found' });
  });
});

const dbNameForTest = (app: string) => `rocket_${app.replace(/-/g, '_')}`;

/** Polls `check` until it holds, at most 3 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 3 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
