import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

// Audit 6: black-box checks of auth.md (login, tokens, users, invites, permissions) over HTTP.

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

describe('the public auth/ prefix (auth.md §Endpoints; README route precedence: auth/* before :entity)', () => {
  it('other methods and paths under auth/ are unknown routes: 404 without asking for a token, as under /api/_platform/auth', async () => {
    const cases: Array<[string, string]> = [
      ['GET', '/auth/login'],
      ['PUT', '/auth/refresh'],
      ['DELETE', '/auth/logout'],
      ['GET', '/auth/accept-invite'],
      ['GET', '/auth'],
      ['POST', '/auth'],
      ['POST', '/auth/'],
      ['DELETE', '/auth/login/extra'],
    ];
    for (const [method, path] of cases) {
      const res = await s.client.request(method, `${base}${path}`);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: `Route not found: ${method} ${base}${path}` });
    }
    // The same answer with a token, and whatever body an unknown route is sent.
    const withToken = await s.client.get(`${base}/auth/login`, { token: app.token });
    expect(withToken.status).toBe(404);
    expect(withToken.body.error.code).toBe('NOT_FOUND');
    const badBody = await s.client.post(`${base}/auth/nope`, { raw: '{bad' });
    expect(badBody.status).toBe(404);
    // The platform's auth prefix answers alike.
    const platform = await s.client.get('/api/_platform/auth/login');
    expect(platform.status).toBe(404);
  });

  it('the auth routes themselves, the app check and the authenticated routes are unchanged', async () => {
    const login = await s.client.post(`${base}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    expect(login.status).toBe(200);
    const refresh = await s.client.post(`${base}/auth/refresh?x=1`, { body: { refresh_token: login.body.data.refresh_token } });
    expect(refresh.status).toBe(200);
    expect((await s.client.post(`${base}/auth/logout`, { body: { refresh_token: refresh.body.data.refresh_token } })).body).toEqual({
      message: 'Logged out',
    });
    expect((await s.client.post(`${base}/auth/login`, { raw: '{bad' })).body.error.code).toBe('INVALID_PAYLOAD');
    const unknownApp = await s.client.get('/api/nosuchapp6/auth/login');
    expect(unknownApp.status).toBe(404);
    expect(unknownApp.body.error.code).toBe('APP_NOT_FOUND');
    const records = await s.client.get(`${base}/authors`);
    expect(records.status).toBe(401);
    expect(records.body.error.message).toBe('Missing auth token');
  });
});

describe('a user deleted while logging in (auth.md §Endpoints: login errors are 401)', () => {
  it('the login answers 200 (tokens then refused) or 401 "Invalid email or password", never a 409 from the refresh-token insert', async () => {
    const seen = new Map<string, number>();
    // The deletion lands at every point of the login: before the user is read, while the password is verified
    // (argon2, the widest window), and after the tokens are issued.
    for (let i = 0; i < 16; i++) {
      const email = `gone${i}@example.com`;
      const created = await s.client.post(`${base}/_admin/users`, { token: app.token, body: { email, password: 'pw' } });
      expect(created.status).toBe(201);
      const login = s.client.post(`${base}/auth/login`, { body: { email, password: 'pw' } });
      await new Promise((resolve) => setTimeout(resolve, 2 + i * 3));
      const removed = s.client.delete(`${base}/_admin/users/${created.body.data.id}`, { token: app.token });
      const [res, del] = await Promise.all([login, removed]);
      expect(del.status).toBe(200);
      const key = `${res.status} ${res.body.error?.message ?? ''}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (res.status === 200) {
        // Issued just before the deletion: the access token is refused and the refresh token went with the user.
        expect((await s.client.get(`${base}/_ui/configs`, { token: res.body.data.access_token })).status).toBe(401);
        const refresh = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: res.body.data.refresh_token } });
        expect(refresh.status).toBe(401);
      }
    }
    for (const key of seen.keys()) expect(['200 ', '401 Invalid email or password']).toContain(key);
  }, 90_000);
});

describe('a password change while logging in with the old one (auth.md §User admin API: only the new password works)', () => {
  it('the login either fails or its refresh token dies with the change: no session outlives it', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 16; i++) {
      const email = `repass${i}@example.com`;
      const created = await s.client.post(`${base}/_admin/users`, { token: app.token, body: { email, password: 'old' } });
      expect(created.status).toBe(201);
      const login = s.client.post(`${base}/auth/login`, { body: { email, password: 'old' } });
      await new Promise((resolve) => setTimeout(resolve, 2 + i * 3));
      const changed = s.client.put(`${base}/_admin/users/${created.body.data.id}`, { token: app.token, body: { email, password: 'new' } });
      const [res, put] = await Promise.all([login, changed]);
      expect(put.status).toBe(200);
      let key = `${res.status} ${res.body.error?.message ?? ''}`;
      if (res.status === 200) {
        const refresh = await s.client.post(`${base}/auth/refresh`, { body: { refresh_token: res.body.data.refresh_token } });
        key += ` refresh ${refresh.status}`;
      }
      seen.set(key, (seen.get(key) ?? 0) + 1);
      // The new password works, the old one does not.
      expect((await s.client.post(`${base}/auth/login`, { body: { email, password: 'new' } })).status).toBe(200);
      expect((await s.client.post(`${base}/auth/login`, { body: { email, password: 'old' } })).status).toBe(401);
    }
    for (const key of seen.keys()) expect(['200  refresh 401', '401 Invalid email or password']).toContain(key);
  }, 90_000);
});
