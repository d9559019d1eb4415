import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
const uuid = { field: 'id', type: 'uuid', generated: true };
const users: Record<string, { token: string; id: string }> = {};

const admin = (method: 'post' | 'put' | 'get' | 'delete', path: string, body?: unknown) =>
  s.client[method](`/api/${app.name}/_admin/${path}`, { token: app.token, body });
const as = (who: string, method: 'post' | 'put' | 'get' | 'delete', path: string, body?: unknown) =>
  s.client[method](`/api/${app.name}/${path}`, { token: who === 'admin' ? app.token : users[who]!.token, body });
const policy = async (body: unknown) => expect((await admin('post', 'permissions', body)).status).toBe(201);

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  for (const e of [
    {
      name: 'lead',
      table: 'leads',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'department', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'owner_id', type: 'uuid' },
        { name: 'score', type: 'int' },
      ],
    },
    {
      name: 'note',
      table: 'notes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'lead_id', type: 'uuid' },
        { name: 'body', type: 'string' },
        { name: 'private', type: 'boolean' },
      ],
    },
    {
      name: 'secret',
      table: 'secrets',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'lead_id', type: 'uuid' },
      ],
    },
  ])
    expect((await admin('post', 'entities', e)).status).toBe(201);
  for (const r of [
    { name: 'notes', type: 'one_to_many', source: 'lead', target: 'note', target_key: 'lead_id' },
    { name: 'secrets', type: 'one_to_many', source: 'lead', target: 'secret', target_key: 'lead_id' },
  ])
    expect((await admin('post', 'relations', r)).status).toBe(201);
  for (const [name, roles] of [
    ['sales', ['sales']],
    ['rep', ['Rep']],
    ['rep2', ['rep']],
    ['nobody', ['guest']],
  ] as const) {
    const created = await admin('post', 'users', { email: `${name}@x.io`, password: 'pw-123456', roles });
    const token = await s.client.login(`/api/${app.name}/auth/login`, `${name}@x.io`, 'pw-123456');
    users[name] = { token, id: created.body.data.id };
  }
  await policy({ entity: 'lead', action: 'read', roles: ['sales'], conditions: [{ field: 'department', operator: 'eq', value: 'sales' }] });
  await policy({ entity: 'lead', action: 'update', roles: ['sales'], conditions: [{ field: 'status', operator: 'eq', value: 'draft' }] });
  await policy({ entity: 'lead', action: 'create', roles: ['sales', 'rep'] });
  await policy({ entity: 'lead', action: 'read', roles: ['rep'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
  await policy({ entity: 'lead', action: 'update', roles: ['rep'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
  await policy({ entity: 'lead', action: 'delete', roles: ['rep'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
  await policy({ entity: 'note', action: 'read', roles: ['sales'], conditions: [{ field: 'private', operator: 'eq', value: false }] });
  await policy({ entity: 'note', action: 'read', roles: ['sales'], conditions: [{ field: 'body', operator: 'eq', value: 'shared' }] });
  await policy({ entity: 'note', action: 'create', roles: ['sales'] });

  const rows = [
    ['a', 'sales', 'draft'],
    ['b', 'sales', 'published'],
    ['c', 'sales', 'draft'],
    ['d', 'support', 'draft'],
    ['e', 'hr', 'draft'],
  ];
  for (const [name, department, status] of rows) {
    const res = await as('admin', 'post', 'lead', {
      name,
      department,
      status,
      owner_id: name === 'd' ? users.rep!.id : null,
      notes: {
        data: [
          { body: 'open', private: false },
          { body: 'hidden', private: true },
          { body: 'shared', private: true },
        ],
      },
      secrets: { data: [{}] },
    });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await s?.close();
});

const leadId = async (name: string) => {
  const res = await as('admin', 'get', `lead?filter[name]=${name}`);
  return res.body.data[0].id as string;
};

describe('row-level read filters', () => {
  it('list shows only permitted rows and counts only them', async () => {
    const mine = await as('sales', 'get', 'lead?sort=name');
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((l: any) => l.name)).toEqual(['a', 'b', 'c']);
    expect(mine.body.meta.total).toBe(3);
    const all = await as('admin', 'get', 'lead');
    expect(all.body.meta.total).toBe(5);
    const filtered = await as('sales', 'get', 'lead?filter[status]=draft');
    expect(filtered.body.meta.total).toBe(2);
  });

  it('get of an invisible row is 404, a visible one 200', async () => {
    expect((await as('sales', 'get', `lead/${await leadId('d')}`)).status).toBe(404);
    expect((await as('sales', 'get', `lead/${await leadId('a')}`)).status).toBe(200);
  });

  it('includes return only permitted related rows (OR of policies), and nothing for entities without a read policy', async () => {
    const res = await as('sales', 'get', `lead/${await leadId('a')}?include=notes,secrets`);
    expect(res.status).toBe(200);
    expect(res.body.data.notes.map((n: any) => n.body).sort()).toEqual(['open', 'shared']);
    expect(res.body.data.secrets).toEqual([]);
    const admins = await as('admin', 'get', `lead/${await leadId('a')}?include=notes,secrets`);
    expect(admins.body.data.notes).toHaveLength(3);
    expect(admins.body.data.secrets).toHaveLength(1);
  });

  it('$user.id policies: each user sees and edits only their own rows', async () => {
    const list = await as('rep', 'get', 'lead');
    expect(list.body.data.map((l: any) => l.name)).toEqual(['d']);
    const other = await as('rep2', 'get', 'lead');
    expect(other.body.data).toEqual([]);
    const d = await leadId('d');
    expect((await as('rep', 'put', `lead/${d}`, { score: 5 })).status).toBe(200);
    const stolen = await as('rep2', 'put', `lead/${d}`, { score: 6 });
    expect(stolen.status).toBe(403);
    expect((await as('rep2', 'delete', `lead/${d}`)).status).toBe(403);
    expect((await as('admin', 'get', `lead/${d}`)).body.data.score).toBe(5);
  });
});

describe('ordering conditions', () => {
  it('a fractional bound on an int field compares numerically on read, as on update', async () => {
    const gauge = {
      name: 'gauge',
      table: 'gauges',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'n', type: 'int' },
      ],
    };
    expect((await admin('post', 'entities', gauge)).status).toBe(201);
    const low = (await as('admin', 'post', 'gauge', { n: 5 })).body.data.id as string;
    const high = (await as('admin', 'post', 'gauge', { n: 50 })).body.data.id as string;
    await admin('post', 'users', { email: 'gauger@x.io', password: 'pw-123456', roles: ['gauger'] });
    const token = await s.client.login(`/api/${app.name}/auth/login`, 'gauger@x.io', 'pw-123456');
    const get = (path: string) => s.client.get(`/api/${app.name}/${path}`, { token });
    await policy({ entity: 'gauge', action: 'read', roles: ['gauger'], conditions: [{ field: 'n', operator: 'lt', value: 10.5 }] });
    await policy({ entity: 'gauge', action: 'update', roles: ['gauger'], conditions: [{ field: 'n', operator: 'lt', value: 10.5 }] });
    const list = await get('gauge');
    expect(list.body.data.map((g: { id: string }) => g.id)).toEqual([low]);
    expect(list.body.meta.total).toBe(1);
    expect((await get(`gauge/${low}`)).status).toBe(200);
    expect((await get(`gauge/${high}`)).status).toBe(404);
    expect((await s.client.put(`/api/${app.name}/gauge/${low}`, { token, body: { n: 6 } })).status).toBe(200);
    expect((await s.client.put(`/api/${app.name}/gauge/${high}`, { token, body: { n: 7 } })).status).toBe(403);
    await policy({ entity: 'gauge', action: 'read', roles: ['gauger'], conditions: [{ field: 'n', operator: 'gte', value: 49.9 }] });
    expect((await get('gauge?sort=n')).body.data.map((g: { id: string }) => g.id)).toEqual([low, high]);
  });
});

describe('write policies', () => {
  it('update conditions are checked against the stored row', async () => {
    const draft = await as('sales', 'put', `lead/${await leadId('a')}`, { score: 1 });
    expect(draft.status).toBe(200);
    const published = await as('sales', 'put', `lead/${await leadId('b')}`, { score: 1 });
    expect(published.status).toBe(403);
    expect(published.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied for update on lead' });
    expect((await as('admin', 'get', `lead/${await leadId('b')}`)).body.data.score).toBeNull();
  });

  it('no policy means 403 on list, get, create, update and delete', async () => {
    const list = await as('nobody', 'get', 'lead');
    expect(list.status).toBe(403);
    expect(list.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied for read on lead' });
    expect((await as('nobody', 'post', 'lead', { name: 'z' })).status).toBe(403);
    expect((await as('sales', 'delete', `lead/${await leadId('a')}`)).status).toBe(403);
    const none = await as('sales', 'get', 'secret');
    expect(none.status).toBe(403);
    expect(none.body.error.message).toBe('No permission for read on secret');
  });

  it('nested writes check the child entity policy and name the row', async () => {
    const ok = await as('sales', 'post', 'lead', { name: 'n1', department: 'sales', notes: { data: [{ body: 'x' }] } });
    expect(ok.status).toBe(201);
    const denied = await as('sales', 'post', 'lead', { name: 'n2', department: 'sales', secrets: { data: [{}] } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('secrets[0]');
    expect((await as('admin', 'get', 'lead?filter[name]=n2')).body.meta.total).toBe(0);
  });

  it('an admin needs no policy', async () => {
    expect((await as('admin', 'put', `lead/${await leadId('e')}`, { score: 2 })).status).toBe(200);
  });
});
