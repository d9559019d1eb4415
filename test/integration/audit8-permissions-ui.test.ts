import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let base: string;
let userToken: string;
const email = `${uniqueName('u')}@x.io`;

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  base = `/api/${app.name}`;
  const res = await s.client.post(`${base}/_admin/entities`, {
    token: app.token,
    body: {
      name: 'doc',
      table: 'docs',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'owner', type: 'string' },
        { name: 'n', type: 'integer' },
        { name: 'ok', type: 'boolean' },
        { name: 'tags', type: 'string' },
      ],
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const u = await s.client.post(`${base}/_admin/users`, { token: app.token, body: { email, password: 'pw-123456', roles: ['Staff'] } });
  expect(u.status).toBe(201);
  userToken = await s.client.login(`${base}/auth/login`, email, 'pw-123456');
});
afterAll(async () => {
  await s?.close();
});

const P = (path = '') => `${base}/_admin/permissions${path}`;

describe('policy changes take effect on the next request', () => {
  it('a policy created among concurrent admin writes is enforced as soon as its POST answers', async () => {
    const t = app.token;
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await s.client.post(`${base}/doc`, { token: t, body: { owner: 'race', n: 100 + i } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      ids.push(r.body.data.id);
    }
    // Each POST reloads the policy snapshot; a reload superseded by a newer one must not answer before the
    // newer snapshot (which holds its policy) is swapped in.
    const statuses = await Promise.all(
      ids.map(async (recordId, k) => {
        const created = await s.client.post(P(), {
          token: t,
          body: { entity: 'doc', action: 'read', roles: ['staff'], conditions: [{ field: 'n', operator: 'eq', value: 100 + k }] },
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        return (await s.client.get(`${base}/doc/${recordId}`, { token: userToken })).status;
      }),
    );
    expect(statuses).toEqual(ids.map(() => 200));
  });
});
