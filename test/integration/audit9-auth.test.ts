import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

// Audit 9: black-box checks of auth.md (users, invites, login throttle) over HTTP.

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

const login = (email: string, password: string) => s.client.post(`${base}/auth/login`, { body: { email, password } });
const admin = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown) =>
  s.client[method](`${base}/_admin/${path}`, { token: app.token, body });

describe('an admin resetting a locked-out user (auth.md §User admin API: after PUT with a new password only the new one works)', () => {
  it('PUT with a new password lifts the login lock, as `rocket users reset-password` does; a PUT without one leaves it', async () => {
    const created = await admin('post', 'users', { email: 'locked@example.com', password: 'forgotten' });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    // The user guesses until the account locks.
    for (let i = 0; i < s.config.loginMaxFailures; i++) expect((await login('locked@example.com', `guess${i}`)).status).toBe(401);
    expect((await login('locked@example.com', 'forgotten')).status).toBe(429);

    // A change that sets no password (roles) does not lift the lock: it is the brute-force protection.
    expect((await admin('put', `users/${id}`, { email: 'locked@example.com', roles: ['staff'] })).status).toBe(200);
    expect((await login('locked@example.com', 'forgotten')).status).toBe(429);

    // The admin sets a new password: the user logs in with it at once, not after the lock window.
    expect((await admin('put', `users/${id}`, { email: 'Locked@Example.com ', password: 'fresh-pw', roles: ['staff'] })).status).toBe(200);
    const res = await login('LOCKED@example.com', 'fresh-pw');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(['access_token', 'refresh_token']);
    expect((await login('locked@example.com', 'forgotten')).status).toBe(401);
  });

  it('an account created by an admin or through an invite is not born locked by failures counted against its email before', async () => {
    // Unknown emails are throttled like known ones: these lock before the account exists.
    for (const email of ['early@example.com', 'invitee@example.com']) {
      for (let i = 0; i < s.config.loginMaxFailures; i++) expect((await login(email, `guess${i}`)).status).toBe(401);
      expect((await login(email, 'whatever')).status).toBe(429);
    }
    expect((await admin('post', 'users', { email: 'Early@example.com', password: 'given-pw' })).status).toBe(201);
    expect((await login('early@example.com', 'given-pw')).status).toBe(200);

    const invite = await admin('post', 'invites', { email: 'invitee@example.com' });
    const accepted = await s.client.post(`${base}/auth/accept-invite`, { body: { token: invite.body.data.token, password: 'chosen-pw' } });
    expect(accepted.status).toBe(201);
    expect((await login('invitee@example.com', 'chosen-pw')).status).toBe(200);
  });
});

describe('invite tokens are UUIDs (auth.md §Invites: `token` is a random UUID)', () => {
  it('an invite token sent in upper case is the same token, as refresh tokens are: accepted once, then "already accepted"', async () => {
    const invite = await admin('post', 'invites', { email: 'upper@example.com', roles: ['staff'] });
    expect(invite.status).toBe(201);
    const token = invite.body.data.token as string;
    expect(token).toMatch(/^[0-9a-f-]{36}$/);

    const accepted = await s.client.post(`${base}/auth/accept-invite`, { body: { token: token.toUpperCase(), password: 'pw-upper' } });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    expect(accepted.body.data.user).toMatchObject({ email: 'upper@example.com', roles: ['staff'] });
    expect((await login('upper@example.com', 'pw-upper')).status).toBe(200);

    // Single use, whatever the spelling.
    for (const again of [token, token.toUpperCase()]) {
      const res = await s.client.post(`${base}/auth/accept-invite`, { body: { token: again, password: 'other' } });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Invite has already been accepted' });
    }
    const listed = (await admin('get', 'invites')).body.data.find((i: { id: string }) => i.id === invite.body.data.id);
    expect(listed.accepted_at).not.toBeNull();
    // Not a UUID, or another one: still unknown.
    for (const other of [`${token}x`, token.replace(/^./, (c) => (c === '0' ? '1' : '0'))]) {
      const res = await s.client.post(`${base}/auth/accept-invite`, { body: { token: other, password: 'pw' } });
      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: 'Invalid invite token' });
    }
  });
});

describe('token algorithms (auth.md §Request authentication: a token is refused for its signature, HMAC algorithm or expiry)', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const sign = (key: Uint8Array, alg: string, sub: string, roles: string[], exp = '5m') =>
    new SignJWT({ roles }).setProtectedHeader({ alg, typ: 'JWT' }).setSubject(sub).setIssuedAt().setExpirationTime(exp).sign(key);

  it('access tokens are HS256 (auth.md table): the same secret under HS384/HS512, an unsigned token, another secret or an expired one → 401', async () => {
    const rt = (await s.rocket.services.apps.get(app.name))!;
    const adminId = (await rt.db.query<{ id: string }>(`SELECT id::text FROM _users WHERE email = 'admin@localhost'`))[0]!.id;
    const users = `${base}/_admin/users`;
    expect((await s.client.get(users, { token: await sign(rt.key, 'HS256', adminId, ['admin']) })).status).toBe(200);
    const refused = [
      await sign(rt.key, 'HS384', adminId, ['admin']),
      await sign(rt.key, 'HS512', adminId, ['admin']),
      await sign(rt.key, 'HS256', adminId, ['admin'], '-1m'),
      await sign(new TextEncoder().encode('x'.repeat(64)), 'HS256', adminId, ['admin']),
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: adminId, roles: ['admin'], iat: 1, exp: 4102444800 })}.`,
    ];
    for (const token of refused) {
      const res = await s.client.get(users, { token });
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
    }
  });
});
