import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let base: string;
let adminId: string;

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  base = `/api/${app.name}`;
  const list = await s.client.get(`${base}/_admin/users`, { token: app.token });
  adminId = list.body.data.find((u: { email: string }) => u.email === 'admin@localhost').id;
});
afterAll(async () => {
  await s?.close();
});

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const INVITE_KEYS = ['accepted_at', 'created_at', 'email', 'expires_at', 'id', 'invited_by', 'roles', 'token'];

async function runtime(): Promise<AppRuntime> {
  const rt = await s.rocket.services.apps.get(app.name);
  if (!rt) throw new Error('no app');
  return rt;
}

async function sql<T = Record<string, unknown>>(text: string, params: string[] = []): Promise<T[]> {
  return (await runtime()).db.query<T>(text, params);
}

async function counts(): Promise<{ users: number; invites: number }> {
  const [row] = await sql<{ users: number; invites: number }>(
    'SELECT (SELECT count(*)::int FROM _users) AS users, (SELECT count(*)::int FROM _invites) AS invites',
  );
  return row!;
}

function expectNoHash(body: unknown): void {
  const text = JSON.stringify(body);
  expect(text).not.toContain('password');
  expect(text).not.toContain('$argon2');
}

const invites = (path = '') => `${base}/_admin/invites${path}`;
const accept = (body: unknown) => s.client.post(`${base}/auth/accept-invite`, { body });

let seq = 0;
const email = (prefix = 'guest') => `${prefix}${++seq}@example.com`;

async function invite(body: Record<string, unknown>, token = app.token) {
  const res = await s.client.post(invites(), { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; email: string; roles: string[]; token: string; expires_at: string };
}

describe('create', () => {
  it('creates a 72-hour invite with a random token, invited_by = caller', async () => {
    const res = await s.client.post(invites(), { token: app.token, body: { email: '  Mixed.Case@Example.com ', roles: ['staff'] } });
    expect(res.status).toBe(201);
    const inv = res.body.data;
    expect(Object.keys(inv).sort()).toEqual(['created_at', 'email', 'expires_at', 'id', 'invited_by', 'roles', 'token']);
    expect(inv).toMatchObject({ email: 'mixed.case@example.com', roles: ['staff'], invited_by: adminId });
    expect(inv.id).toMatch(UUID_RE);
    expect(inv.token).toMatch(UUID_RE);
    const lifetime = new Date(inv.expires_at).getTime() - new Date(inv.created_at).getTime();
    expect(Math.abs(lifetime - 72 * 3600 * 1000)).toBeLessThan(5000);
    const plain = await invite({ email: email() });
    expect(plain.roles).toEqual([]);
  });

  it('records a platform admin as the inviter', async () => {
    const res = await s.client.post(invites(), { token: s.platformToken, body: { email: email('plat') } });
    expect(res.status).toBe(201);
    const [platformUser] = await s.rocket.services.platform.db.query<{ id: string }>('SELECT id FROM _platform_users WHERE email = $1', [
      s.config.platformEmail,
    ]);
    expect(res.body.data.invited_by).toBe(platformUser!.id);
  });

  it('409 for an existing user or a pending invite (any case); an expired invite does not block', async () => {
    const existing = await s.client.post(invites(), { token: app.token, body: { email: 'ADMIN@localhost' } });
    expect(existing.status).toBe(409);
    expect(existing.body.error).toEqual({ code: 'CONFLICT', message: 'A user with this email already exists' });
    const addr = email();
    const first = await invite({ email: addr });
    const before = await counts();
    const again = await s.client.post(invites(), { token: app.token, body: { email: addr.toUpperCase() } });
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({ code: 'CONFLICT', message: 'A pending invite already exists for this email' });
    expect(await counts()).toEqual(before);
    await sql(`UPDATE _invites SET expires_at = NOW() - interval '1 second' WHERE id = $1`, [first.id]);
    const renewed = await invite({ email: addr });
    expect(renewed.token).not.toBe(first.token);
  });

  it('concurrent invites for one email create exactly one', async () => {
    const addr = email('race');
    const results = await Promise.all(Array.from({ length: 6 }, () => s.client.post(invites(), { token: app.token, body: { email: addr } })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await sql('SELECT 1 FROM _invites WHERE email = $1', [addr])).toHaveLength(1);
  });

  it('bad input answers its 4xx and writes nothing', async () => {
    const before = await counts();
    const cases: Array<[unknown, number, string]> = [
      [{}, 422, 'email is required'],
      [{ email: '' }, 422, 'email is required'],
      [{ email: '  ' }, 422, 'email is required'],
      [{ email: null, roles: ['x'] }, 422, 'email is required'],
      [{ email: 'not-an-email' }, 422, 'email must be a valid email address'],
      [{ email: 7 }, 400, 'Invalid request body'],
      [{ email: email(), roles: 'admin' }, 400, 'Invalid request body'],
      [{ email: email(), roles: [1, 2] }, 400, 'Invalid request body'],
    ];
    for (const [body, status, message] of cases) {
      const res = await s.client.post(invites(), { token: app.token, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.message).toBe(message);
    }
    for (const raw of ['[]', '"x"', 'null', '{"email"']) {
      const res = await s.client.post(invites(), { token: app.token, raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    expect(await counts()).toEqual(before);
  });
});

describe('list and revoke', () => {
  it('lists newest first with every field', async () => {
    const a = await invite({ email: email('older') });
    const b = await invite({ email: email('newer') });
    const res = await s.client.get(invites(), { token: app.token });
    expect(res.status).toBe(200);
    const ids = res.body.data.map((i: { id: string }) => i.id);
    expect(ids.indexOf(b.id)).toBeLessThan(ids.indexOf(a.id));
    expect(ids[0]).toBe(b.id);
    for (const row of res.body.data) expect(Object.keys(row).sort()).toEqual(INVITE_KEYS);
    const times = res.body.data.map((i: { created_at: string }) => new Date(i.created_at).getTime());
    expect(times).toEqual([...times].sort((x: number, y: number) => y - x));
    expect(res.body.data[0].accepted_at).toBeNull();
  });

  it('revokes; the token stops working; unknown and non-UUID ids are 404', async () => {
    const inv = await invite({ email: email() });
    const del = await s.client.delete(invites(`/${inv.id}`), { token: app.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { id: inv.id, deleted: true } });
    const again = await s.client.delete(invites(`/${inv.id}`), { token: app.token });
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({ code: 'NOT_FOUND', message: `Invite not found: ${inv.id}` });
    const bad = await s.client.delete(invites('/nope'), { token: app.token });
    expect(bad.status).toBe(404);
    expect(bad.body.error.message).toBe('Invite not found: nope');
    const res = await accept({ token: inv.token, password: 'pw' });
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: 'Invalid invite token' });
  });
});

describe('bulk', () => {
  it('trims, lower-cases, de-duplicates; processes each email independently', async () => {
    const pending = email('pending');
    await invite({ email: pending });
    const a = email('bulk-a');
    const b = email('bulk-b');
    const res = await s.client.post(invites('/bulk'), {
      token: app.token,
      body: { emails: [` ${a.toUpperCase()} `, a, b, 'Admin@Localhost', pending, b], roles: ['staff'] },
    });
    expect(res.status).toBe(200);
    const { created, skipped, summary } = res.body.data;
    expect(summary).toEqual({ total: 4, created: 2, skipped: 2 });
    expect(created.map((c: { email: string }) => c.email)).toEqual([a, b]);
    for (const c of created) {
      expect(Object.keys(c).sort()).toEqual(['email', 'expires_at', 'id', 'token']);
      expect(c.token).toMatch(UUID_RE);
    }
    expect(skipped).toEqual([
      { email: 'admin@localhost', reason: 'A user with this email already exists' },
      { email: pending, reason: 'A pending invite already exists for this email' },
    ]);
    const rows = await sql<{ email: string; roles: string[]; invited_by: string }>(
      'SELECT email, roles, invited_by FROM _invites WHERE email = ANY($1::text[]) ORDER BY email',
      [`{${a},${b}}`],
    );
    expect(rows).toEqual([
      { email: a, roles: ['staff'], invited_by: adminId },
      { email: b, roles: ['staff'], invited_by: adminId },
    ]);
  });

  it('skips malformed addresses with a reason', async () => {
    const ok = email('bulk-ok');
    // over RFC 5321's 254 characters, and too long for the email index: skipped like any malformed address
    const tooLong = `${randomBytes(3000).toString('hex')}@example.com`;
    const res = await s.client.post(invites('/bulk'), { token: app.token, body: { emails: ['not-an-email', ok, tooLong] } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toEqual({ total: 3, created: 1, skipped: 2 });
    expect(res.body.data.skipped).toEqual([
      { email: 'not-an-email', reason: 'Invalid email address' },
      { email: tooLong, reason: 'Invalid email address' },
    ]);
  });

  it('bad input answers its 4xx and writes nothing', async () => {
    const before = await counts();
    const required = 'emails is required and must be a non-empty array';
    const cases: Array<[unknown, number, string]> = [
      [{}, 422, required],
      [{ emails: null }, 422, required],
      [{ emails: [] }, 422, required],
      [{ emails: 'a@b.c' }, 422, required],
      [{ emails: { a: 'a@b.c' } }, 422, required],
      [{ emails: [email(), ''] }, 422, 'emails must not contain blank entries'],
      [{ emails: ['   ', email()] }, 422, 'emails must not contain blank entries'],
      [{ emails: [email(), 5] }, 400, 'Invalid request body'],
      [{ emails: [email(), null] }, 400, 'Invalid request body'],
      [{ emails: [email()], roles: 'staff' }, 400, 'Invalid request body'],
      [{ emails: Array.from({ length: 1001 }, (_, i) => `many${i}@example.com`) }, 422, 'emails must not contain more than 1000 entries'],
    ];
    for (const [body, status, message] of cases) {
      const res = await s.client.post(invites('/bulk'), { token: app.token, body });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(res.body.error.message).toBe(message);
    }
    for (const raw of ['[]', '"x"', 'null', '{']) {
      const res = await s.client.post(invites('/bulk'), { token: app.token, raw });
      expect(res.status, raw).toBe(400);
    }
    expect(await counts()).toEqual(before);
  });
});

describe('accept-invite (public)', () => {
  it("creates an active user with the invite's email and roles, logs them in, marks the invite accepted", async () => {
    const inv = await invite({ email: email('joiner'), roles: ['admin', 'staff'] });
    const res = await accept({ token: inv.token, password: 'chosen-pw' });
    expect(res.status).toBe(201);
    expectNoHash(res.body);
    const { access_token, refresh_token, user } = res.body.data;
    expect(Object.keys(res.body.data).sort()).toEqual(['access_token', 'refresh_token', 'user']);
    expect(Object.keys(user).sort()).toEqual(['email', 'id', 'roles']);
    expect(user).toMatchObject({ email: inv.email, roles: ['admin', 'staff'] });
    expect(user.id).toMatch(UUID_RE);
    expect(refresh_token).toMatch(UUID_RE);
    // the access token works (role admin → admin routes), and so does the refresh token
    const me = await s.client.get(`${base}/_admin/users/${user.id}`, { token: access_token });
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({ email: inv.email, roles: ['admin', 'staff'], active: true });
    const refreshed = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token } });
    expect(refreshed.status).toBe(200);
    const login = await s.client.post(`${base}/auth/login`, { body: { email: inv.email.toUpperCase(), password: 'chosen-pw' } });
    expect(login.status).toBe(200);
    const list = await s.client.get(invites(), { token: app.token });
    const row = list.body.data.find((i: { id: string }) => i.id === inv.id);
    expect(row.accepted_at).not.toBeNull();
    expect(Math.abs(new Date(row.accepted_at).getTime() - Date.now())).toBeLessThan(60_000);
    expectNoHash(list.body);
    // no second acceptance
    const twice = await accept({ token: inv.token, password: 'other' });
    expect(twice.status).toBe(400);
    expect(twice.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Invite has already been accepted' });
    expect(await sql('SELECT 1 FROM _users WHERE email = $1', [inv.email])).toHaveLength(1);
    // and the invitee's password was not changed by the failed second attempt
    expect((await s.client.post(`${base}/auth/login`, { body: { email: inv.email, password: 'chosen-pw' } })).status).toBe(200);
  });

  it('concurrent accepts of one invite create exactly one user', async () => {
    const inv = await invite({ email: email('racer') });
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => accept({ token: inv.token, password: `pw-${i}` })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((x) => x === 201)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(400);
      expect(r.body.error.message).toBe('Invite has already been accepted');
    }
    expect(await sql('SELECT 1 FROM _users WHERE email = $1', [inv.email])).toHaveLength(1);
  });

  it('an expired invite is refused (compared as a timestamp) and creates nothing', async () => {
    const inv = await invite({ email: email('late') });
    await sql(`UPDATE _invites SET expires_at = NOW() - interval '1 minute' WHERE id = $1`, [inv.id]);
    const before = await counts();
    const res = await accept({ token: inv.token, password: 'pw' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Invite has expired' });
    expect(await counts()).toEqual(before);
    const [row] = await sql<{ accepted_at: Date | null }>('SELECT accepted_at FROM _invites WHERE id = $1', [inv.id]);
    expect(row!.accepted_at).toBeNull();
    // just inside the window still works
    await sql(`UPDATE _invites SET expires_at = NOW() + interval '1 minute' WHERE id = $1`, [inv.id]);
    expect((await accept({ token: inv.token, password: 'pw' })).status).toBe(201);
  });

  it('409 when a user with the email was created meanwhile', async () => {
    const inv = await invite({ email: email('taken') });
    const created = await s.client.post(`${base}/_admin/users`, { token: app.token, body: { email: inv.email, password: 'x' } });
    expect(created.status).toBe(201);
    const before = await counts();
    const res = await accept({ token: inv.token, password: 'pw' });
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'A user with this email already exists' });
    expect(await counts()).toEqual(before);
    const [row] = await sql<{ accepted_at: Date | null }>('SELECT accepted_at FROM _invites WHERE id = $1', [inv.id]);
    expect(row!.accepted_at).toBeNull();
  });

  it('bad input answers its 4xx and writes nothing', async () => {
    const inv = await invite({ email: email('careful') });
    const before = await counts();
    const cases: Array<[unknown, number, string, string]> = [
      [{}, 422, 'VALIDATION_FAILED', 'token is required'],
      [{ token: '', password: 'pw' }, 422, 'VALIDATION_FAILED', 'token is required'],
      [{ token: null, password: 'pw' }, 422, 'VALIDATION_FAILED', 'token is required'],
      [{ token: inv.token }, 422, 'VALIDATION_FAILED', 'password is required'],
      [{ token: inv.token, password: '' }, 422, 'VALIDATION_FAILED', 'password is required'],
      [{ token: 123, password: 'pw' }, 400, 'INVALID_PAYLOAD', 'Invalid JSON body'],
      [{ token: inv.token, password: ['pw'] }, 400, 'INVALID_PAYLOAD', 'Invalid JSON body'],
      [{ token: 'not-a-token', password: 'pw' }, 404, 'NOT_FOUND', 'Invalid invite token'],
      [{ token: '00000000-0000-4000-8000-000000000000', password: 'pw' }, 404, 'NOT_FOUND', 'Invalid invite token'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await accept(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error).toEqual({ code, message });
    }
    for (const raw of ['{"token":', '[]', '"x"', 'null', '']) {
      const res = await s.client.post(`${base}/auth/accept-invite`, { raw, headers: { 'content-type': 'application/json' } });
      expect(res.status, raw).toBe(400);
      expect(res.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
    }
    expect(await counts()).toEqual(before);
    const unknownApp = await s.client.post('/api/nosuchapp/auth/accept-invite', { body: { token: inv.token, password: 'pw' } });
    expect(unknownApp.status).toBe(404);
    expect(unknownApp.body.error.code).toBe('APP_NOT_FOUND');
    // the invite is still usable afterwards
    expect((await accept({ token: inv.token, password: 'pw' })).status).toBe(201);
  });

  it('an invite of app A cannot be accepted in app B', async () => {
    const other = await s.createApp();
    const inv = await invite({ email: email('cross') });
    const res = await s.client.post(`/api/${other.name}/auth/accept-invite`, { body: { token: inv.token, password: 'pw' } });
    expect(res.status).toBe(404);
  });
});
