import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '../../src/auth/tokens.js';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let base: string;

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  base = `/api/${app.name}`;
});
afterAll(async () => {
  await s?.close();
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const USER_KEYS = ['active', 'created_at', 'email', 'id', 'roles', 'updated_at'];

async function runtime(name = app.name): Promise<AppRuntime> {
  const rt = await s.rocket.services.apps.get(name);
  if (!rt) throw new Error(`no app ${name}`);
  return rt;
}

async function sql<T = Record<string, unknown>>(text: string, params: Array<string | null> = []): Promise<T[]> {
  return (await runtime()).db.query<T>(text, params);
}

async function userCount(): Promise<number> {
  const rows = await sql<{ n: number }>('SELECT count(*)::int AS n FROM _users');
  return rows[0]!.n;
}

/** No response may carry a password hash, under any name. */
function expectNoHash(body: unknown): void {
  const text = JSON.stringify(body);
  expect(text).not.toContain('password');
  expect(text).not.toContain('$argon2');
}

const users = (path = '') => `${base}/_admin/users${path}`;
const login = (email: string, password: string, appName = app.name) => s.client.post(`/api/${appName}/auth/login`, { body: { email, password } });

async function createUser(body: Record<string, unknown>) {
  const res = await s.client.post(users(), { token: app.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; email: string; roles: string[]; active: boolean };
}

let seq = 0;
const email = (prefix = 'user') => `${prefix}${++seq}@example.com`;

describe('list and get', () => {
  it('lists users ordered by email, without password hashes', async () => {
    await createUser({ email: 'zz-last@example.com', password: 'pw' });
    await createUser({ email: 'aa-first@example.com', password: 'pw' });
    const res = await s.client.get(users(), { token: app.token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['data']);
    const emails = res.body.data.map((u: { email: string }) => u.email);
    expect(emails).toEqual([...emails].sort());
    expect(emails).toContain('admin@localhost');
    for (const u of res.body.data) expect(Object.keys(u).sort()).toEqual(USER_KEYS);
    const seeded = res.body.data.find((u: { email: string }) => u.email === 'admin@localhost');
    expect(seeded).toMatchObject({ roles: ['admin'], active: true });
    expect(new Date(seeded.created_at).toISOString()).toBe(seeded.created_at);
    expectNoHash(res.body);
  });

  it('gets one user; unknown and non-UUID ids are 404 "User not found: <id>"', async () => {
    const u = await createUser({ email: email(), password: 'pw', roles: ['staff'] });
    const res = await s.client.get(users(`/${u.id}`), { token: app.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: u.id, email: u.email, roles: ['staff'], active: true });
    expectNoHash(res.body);
    for (const id of [UNKNOWN_ID, 'abc', '1', "x'; drop table _users; --"]) {
      const missing = await s.client.get(users(`/${encodeURIComponent(id)}`), { token: app.token });
      expect(missing.status, id).toBe(404);
      expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: `User not found: ${id}` });
    }
  });
});

describe('create', () => {
  it('creates with defaults, normalises the email, and the user can log in', async () => {
    const res = await s.client.post(users(), {
      token: app.token,
      body: { email: '  New.Person@Example.COM ', password: 'secret-1' },
    });
    expect(res.status).toBe(201);
    const u = res.body.data;
    expect(Object.keys(u).sort()).toEqual(USER_KEYS);
    expect(u).toMatchObject({ email: 'new.person@example.com', roles: [], active: true });
    expect(u.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expectNoHash(res.body);
    const rows = await sql<{ password_hash: string }>('SELECT password_hash FROM _users WHERE id = $1', [u.id]);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
    expect((await login('NEW.PERSON@example.com', 'secret-1')).status).toBe(200);
  });

  it('an email of the longest allowed length is stored and logs in; a longer one at login is just unknown (401)', async () => {
    const longest = `${'a'.repeat(254 - '@example.com'.length)}@example.com`;
    const user = await createUser({ email: longest.toUpperCase(), password: 'pw' });
    expect(user.email).toBe(longest);
    expect((await login(` ${longest.toUpperCase()}`, 'pw')).status).toBe(200);
    for (const platform of [false, true]) {
      const path = platform ? '/api/_platform/auth/login' : `${base}/auth/login`;
      const res = await s.client.post(path, { body: { email: `${randomBytes(3000).toString('hex')}@example.com`, password: 'pw' } });
      expect(res.status, path).toBe(401);
      expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid email or password' });
    }
  });

  it('stores roles and active as given; an inactive user cannot log in', async () => {
    const u = await createUser({ email: email(), password: 'pw', roles: ['staff', 'Manager'], active: false });
    expect(u).toMatchObject({ roles: ['staff', 'Manager'], active: false });
    const res = await login(u.email, 'pw');
    expect(res.status).toBe(401);
    expect(res.body.error.message).toBe('Account is disabled');
  });

  it('409 on a duplicate email, whatever its case, and nothing is written', async () => {
    const addr = email('dup');
    await createUser({ email: addr, password: 'pw' });
    const before = await userCount();
    const res = await s.client.post(users(), { token: app.token, body: { email: ` ${addr.toUpperCase()}`, password: 'x' } });
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'A user with this email already exists' });
    expect(await userCount()).toBe(before);
  });

  it('every bad input answers its 4xx and writes nothing', async () => {
    const before = await userCount();
    const cases: Array<[unknown, number, string]> = [
      [{ password: 'pw' }, 422, 'email is required'],
      [{ email: '', password: 'pw' }, 422, 'email is required'],
      [{ email: '   ', password: 'pw' }, 422, 'email is required'],
      [{ email: null, password: 'pw' }, 422, 'email is required'],
      [{ email: 'no-at-sign', password: 'pw' }, 422, 'email must be a valid email address'],
      [{ email: 'a b@c.d', password: 'pw' }, 422, 'email must be a valid email address'],
      // longer than an email may be (RFC 5321), of characters that do not compress into an index entry
      [{ email: `${randomBytes(3000).toString('hex')}@example.com`, password: 'pw' }, 422, 'email must be a valid email address'],
      [{ email: email() }, 422, 'password is required'],
      [{ email: email(), password: '' }, 422, 'password is required'],
      [{ email: 42, password: 'pw' }, 400, 'Invalid request body'],
      [{ email: ['a@b.c'], password: 'pw' }, 400, 'Invalid request body'],
      [{ email: email(), password: 12345 }, 400, 'Invalid request body'],
      [{ email: email(), password: 'pw', roles: 'admin' }, 400, 'Invalid request body'],
      [{ email: email(), password: 'pw', roles: ['ok', 1] }, 400, 'Invalid request body'],
      [{ email: email(), password: 'pw', roles: { admin: true } }, 400, 'Invalid request body'],
      [{ email: email(), password: 'pw', active: 'yes' }, 400, 'Invalid request body'],
      [{ email: email(), password: 'pw', active: 1 }, 400, 'Invalid request body'],
    ];
    for (const [body, status, message] of cases) {
      const res = await s.client.post(users(), { token: app.token, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.message, JSON.stringify(body)).toBe(message);
      expect(res.body.error.code).toBe(status === 400 ? 'INVALID_PAYLOAD' : 'VALIDATION_FAILED');
    }
    for (const raw of ['[]', '"text"', 'null', '42', '{"email":', '']) {
      const res = await s.client.post(users(), { token: app.token, raw, headers: { 'content-type': 'application/json' } });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    expect(await userCount()).toBe(before);
  });
});

describe('update (PUT)', () => {
  it('404 is checked first, also for non-UUID ids', async () => {
    for (const id of [UNKNOWN_ID, 'not-a-uuid']) {
      for (const body of [{}, { email: 42 }, { email: email(), password: 'x' }]) {
        const res = await s.client.put(users(`/${id}`), { token: app.token, body });
        expect(res.status).toBe(404);
        expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: `User not found: ${id}` });
      }
      const raw = await s.client.put(users(`/${id}`), { token: app.token, raw: '[]' });
      expect(raw.status).toBe(404);
    }
  });

  it('without password keeps the old one; absent roles → []; absent active keeps the current value', async () => {
    const u = await createUser({ email: email(), password: 'old-pw', roles: ['staff'], active: false });
    const res = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: ` ${u.email.toUpperCase()} ` } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(USER_KEYS);
    expect(res.body.data).toMatchObject({ id: u.id, email: u.email, roles: [], active: false });
    expectNoHash(res.body);
    const enable = await s.client.put(users(`/${u.id}`), {
      token: app.token,
      body: { email: u.email, password: '', roles: ['a', 'b'], active: true },
    });
    expect(enable.body.data).toMatchObject({ roles: ['a', 'b'], active: true });
    expect(new Date(enable.body.data.updated_at) >= new Date(enable.body.data.created_at)).toBe(true);
    expect((await login(u.email, 'old-pw')).status).toBe(200);
    // active absent on an active user keeps it active
    const again = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, roles: ['a'] } });
    expect(again.body.data.active).toBe(true);
    expect((await login(u.email, 'old-pw')).status).toBe(200);
  });

  it('with a new password only the new one works, and old sessions end', async () => {
    const u = await createUser({ email: email(), password: 'old-pw' });
    const session = await login(u.email, 'old-pw');
    const res = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, password: 'new-pw' } });
    expect(res.status).toBe(200);
    expectNoHash(res.body);
    const old = await login(u.email, 'old-pw');
    expect(old.status).toBe(401);
    expect(old.body.error.message).toBe('Invalid email or password');
    expect((await login(u.email, 'new-pw')).status).toBe(200);
    const refresh = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: session.body.data.refresh_token } });
    expect(refresh.status).toBe(401);
  });

  it('changes the email (normalised); the new address logs in', async () => {
    const u = await createUser({ email: email(), password: 'pw' });
    const next = email('renamed');
    const res = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: next.toUpperCase() } });
    expect(res.body.data.email).toBe(next);
    expect((await login(next, 'pw')).status).toBe(200);
    expect((await login(u.email, 'pw')).status).toBe(401);
  });

  it("409 on another user's email, 422 without email, 400 on wrong types; nothing changes", async () => {
    const other = await createUser({ email: email(), password: 'pw' });
    const u = await createUser({ email: email(), password: 'pw', roles: ['keep'] });
    const [before] = await sql('SELECT * FROM _users WHERE id = $1', [u.id]);
    const dup = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: other.email.toUpperCase() } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toEqual({ code: 'CONFLICT', message: 'A user with this email already exists' });
    const cases: Array<[unknown, number]> = [
      [{}, 422],
      [{ email: '' }, 422],
      [{ email: 'nope' }, 422],
      [{ password: 'x', roles: [] }, 422],
      [{ email: 5 }, 400],
      [{ email: u.email, roles: 'admin' }, 400],
      [{ email: u.email, roles: [null] }, 400],
      [{ email: u.email, active: 'false' }, 400],
      [{ email: u.email, password: 99 }, 400],
    ];
    for (const [body, status] of cases) {
      const res = await s.client.put(users(`/${u.id}`), { token: app.token, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      if (status === 422 && !('email' in (body as object))) expect(res.body.error.message).toBe('email is required');
    }
    for (const raw of ['[]', '"x"', 'null', '{']) {
      const res = await s.client.put(users(`/${u.id}`), { token: app.token, raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    const [after] = await sql('SELECT * FROM _users WHERE id = $1', [u.id]);
    expect(after).toEqual(before);
  });
});

describe('disabling and deleting revoke access', () => {
  async function adminUser() {
    const u = await createUser({ email: email('ops'), password: 'pw', roles: ['admin'] });
    const session = await login(u.email, 'pw');
    expect(session.status).toBe(200);
    const { access_token: token, refresh_token: refresh } = session.body.data;
    expect((await s.client.get(users(), { token })).status).toBe(200);
    return { ...u, token, refresh };
  }

  it('a disabled user: token refused on the next request, no refresh, login says disabled only after a correct password', async () => {
    const u = await adminUser();
    const second = (await login(u.email, 'pw')).body.data.refresh_token as string;
    const off = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, roles: ['admin'], active: false } });
    expect(off.status).toBe(200);
    const res = await s.client.get(users(), { token: u.token });
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
    const refresh = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: u.refresh } });
    expect(refresh.status).toBe(401);
    expect(refresh.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Account is disabled' });
    const wrong = await login(u.email, 'not-the-password');
    expect(wrong.body.error.message).toBe('Invalid email or password');
    const right = await login(u.email, 'pw');
    expect(right.status).toBe(401);
    expect(right.body.error.message).toBe('Account is disabled');
    // re-enabled: logs in again, and the token issued before the disabling stays revoked
    await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, roles: ['admin'], active: true } });
    const back = await login(u.email, 'pw');
    expect(back.status).toBe(200);
    expect((await s.client.get(users(), { token: back.body.data.access_token })).status).toBe(200);
    expect((await s.client.get(users(), { token: u.token })).status).toBe(401);
    // a refresh token from before the disabling: revoked for good
    const stale = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: second } });
    expect(stale.status).toBe(401);
    expect(stale.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid refresh token' });
    // the new session refreshes
    expect((await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: back.body.data.refresh_token } })).status).toBe(200);
  });

  it('a password change revokes the access tokens already issued; a login with the new password works at once', async () => {
    const u = await adminUser();
    const other = (await login(u.email, 'pw')).body.data.access_token as string;
    const changed = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, roles: ['admin'], password: 'pw2' } });
    expect(changed.status).toBe(200);
    for (const token of [u.token, other]) {
      const res = await s.client.get(users(), { token });
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
    }
    const fresh = await login(u.email, 'pw2');
    expect(fresh.status).toBe(200);
    expect((await s.client.get(users(), { token: fresh.body.data.access_token })).status).toBe(200);
    // a PUT that keeps the password (and the account active) revokes nothing
    const kept = await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, roles: ['admin'] } });
    expect(kept.status).toBe(200);
    expect((await s.client.get(users(), { token: fresh.body.data.access_token })).status).toBe(200);
  });

  it('a deleted user: hard delete, refresh tokens removed, token refused, login fails', async () => {
    const u = await adminUser();
    const del = await s.client.delete(users(`/${u.id}`), { token: app.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { id: u.id, deleted: true } });
    expect(await sql('SELECT 1 FROM _users WHERE id = $1', [u.id])).toHaveLength(0);
    expect(await sql('SELECT 1 FROM _refresh_tokens WHERE user_id = $1', [u.id])).toHaveLength(0);
    const res = await s.client.get(users(), { token: u.token });
    expect(res.status).toBe(401);
    const refresh = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: u.refresh } });
    expect(refresh.status).toBe(401);
    expect((await login(u.email, 'pw')).body.error.message).toBe('Invalid email or password');
    const again = await s.client.delete(users(`/${u.id}`), { token: app.token });
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({ code: 'NOT_FOUND', message: `User not found: ${u.id}` });
    const bad = await s.client.delete(users('/xyz'), { token: app.token });
    expect(bad.status).toBe(404);
    expect(bad.body.error.message).toBe('User not found: xyz');
  });

  it('a role change applies at the next refresh', async () => {
    const u = await adminUser();
    await s.client.put(users(`/${u.id}`), { token: app.token, body: { email: u.email, roles: ['staff'] } });
    const refreshed = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: u.refresh } });
    expect(refreshed.status).toBe(200);
    const res = await s.client.get(users(), { token: refreshed.body.data.access_token });
    expect(res.status).toBe(403);
  });
});

describe('admin guard and token acceptance', () => {
  async function adminRoutes(): Promise<Array<[string, string, unknown?]>> {
    const u = await createUser({ email: email('target'), password: 'pw' });
    const inv = await s.client.post(`${base}/_admin/invites`, { token: app.token, body: { email: email('inv') } });
    const perm = await s.client.post(`${base}/_admin/permissions`, {
      token: app.token,
      body: { entity: 'thing', action: 'read', roles: ['staff'] },
    });
    return [
      ['GET', users()],
      ['POST', users(), { email: email('x'), password: 'pw' }],
      ['GET', users(`/${u.id}`)],
      ['PUT', users(`/${u.id}`), { email: u.email, roles: ['admin'] }],
      ['DELETE', users(`/${u.id}`)],
      ['GET', `${base}/_admin/invites`],
      ['POST', `${base}/_admin/invites`, { email: email('y') }],
      ['POST', `${base}/_admin/invites/bulk`, { emails: [email('z')] }],
      ['DELETE', `${base}/_admin/invites/${inv.body.data.id}`],
      ['GET', `${base}/_admin/permissions`],
      ['POST', `${base}/_admin/permissions`, { entity: 'thing', action: 'create', roles: ['staff'] }],
      ['GET', `${base}/_admin/permissions/${perm.body.data.id}`],
      ['PUT', `${base}/_admin/permissions/${perm.body.data.id}`, { entity: 'thing', action: 'delete', roles: ['staff'] }],
      ['DELETE', `${base}/_admin/permissions/${perm.body.data.id}`],
    ];
  }

  async function snapshot() {
    return sql<{ t: string }>(
      `SELECT (SELECT json_agg(u ORDER BY id) FROM _users u)::text || (SELECT coalesce(json_agg(i ORDER BY id), '[]') FROM _invites i)::text
              || (SELECT coalesce(json_agg(p ORDER BY id), '[]') FROM _permissions p)::text AS t`,
    );
  }

  it('non-admins get 403 "Admin access required" on every admin route, and nothing is written', async () => {
    const routes = await adminRoutes();
    const staff = await createUser({ email: email('staff'), password: 'pw', roles: ['staff', 'Admin', 'administrator'] });
    const token = (await login(staff.email, 'pw')).body.data.access_token;
    const before = await snapshot();
    for (const [method, path, body] of routes) {
      const res = await s.client.request(method, path, { token, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error).toEqual({ code: 'FORBIDDEN', message: 'Admin access required' });
      const anon = await s.client.request(method, path, { body });
      expect(anon.status, `${method} ${path}`).toBe(401);
      expect(anon.body.error.message).toBe('Missing auth token');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('tokens of app A are refused by app B; platform tokens are admin everywhere', async () => {
    const other = await s.createApp();
    const res = await s.client.get(`/api/${other.name}/_admin/users`, { token: app.token });
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
    const back = await s.client.get(users(), { token: other.token });
    expect(back.status).toBe(401);
    const plat = await s.client.get(`/api/${other.name}/_admin/users`, { token: s.platformToken });
    expect(plat.status).toBe(200);
    expect(plat.body.data.map((u: { email: string }) => u.email)).toEqual(['admin@localhost']);
    expectNoHash(plat.body);
    // a user of app A with the same email as B's admin is still a different user
    const appUsers = await s.client.get(users(), { token: app.token });
    const mine = appUsers.body.data.find((u: { email: string }) => u.email === 'admin@localhost');
    expect(mine.id).not.toBe(plat.body.data[0].id);
  });

  it("a token signed with the app's secret whose sub is not a user id (not a UUID) → 401, no database error", async () => {
    const key = (await runtime()).key;
    for (const sub of ['not-a-uuid', 'admin', '', "1' OR '1'='1"]) {
      const token = await signAccessToken(key, sub, ['admin']);
      for (const path of [users(), `${base}/_realtime/tickets`]) {
        const method = path === users() ? 'GET' : 'POST';
        const res = await s.client.request(method, path, { token });
        expect(res.status, `${sub} ${method} ${path}`).toBe(401);
        expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
      }
    }
    // the same secret with a real user id is accepted: only the sub made the difference
    const admin = (await sql<{ id: string }>(`SELECT id::text FROM _users WHERE email = 'admin@localhost'`))[0]!;
    expect((await s.client.get(users(), { token: await signAccessToken(key, admin.id, ['admin']) })).status).toBe(200);
  });

  it('unknown app → 404 APP_NOT_FOUND before authentication', async () => {
    const res = await s.client.get('/api/no-such-app/_admin/users');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'APP_NOT_FOUND', message: 'App not found: no-such-app' });
  });
});
