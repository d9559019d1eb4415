import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let userToken: string;

const admin = (method: 'post' | 'put' | 'get' | 'delete', path: string, body?: unknown) =>
  s.client[method](`/api/${app.name}/_admin/ui-configs${path}`, { token: app.token, body });
const ui = (path: string, token = userToken) => s.client.get(`/api/${app.name}/_ui/${path}`, { token });
const uuid = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const timestamp = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
const create = async (body: unknown) => {
  const res = await admin('post', '', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
};

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  for (const name of ['customer', 'order', 'invoice']) {
    const res = await s.client.post(`/api/${app.name}/_admin/entities`, {
      token: app.token,
      body: { name, table: `${name}s`, primary_key: { field: 'id', type: 'uuid', generated: true }, fields: [{ name: 'id', type: 'uuid' }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  const email = `${uniqueName('u')}@x.io`;
  const created = await s.client.post(`/api/${app.name}/_admin/users`, {
    token: app.token,
    body: { email, password: 'pw-123456', roles: ['staff'] },
  });
  expect(created.status).toBe(201);
  userToken = await s.client.login(`/api/${app.name}/auth/login`, email, 'pw-123456');
});
afterAll(async () => {
  await s?.close();
});

describe('UI config admin API', () => {
  it('creates with defaults (scope default, config {}), gets, replaces and deletes', async () => {
    const created = await create({ entity: 'customer' });
    expect(created).toEqual({ id: uuid, entity: 'customer', scope: 'default', config: {}, created_at: timestamp, updated_at: timestamp });
    const got = await admin('get', `/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual(created);

    const config = { columns: ['name', 'email'], form: { layout: 'two-column', sections: [{ title: 'Main', fields: ['name'] }] } };
    const updated = await admin('put', `/${created.id}`, { entity: 'customer', scope: 'mobile', config });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toEqual({ ...created, scope: 'mobile', config, updated_at: timestamp });
    expect(Date.parse(updated.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));
    expect((await admin('get', `/${created.id}`)).body.data.config).toEqual(config);

    // PUT replaces: omitted scope and config take their defaults again
    const reset = await admin('put', `/${created.id}`, { entity: 'customer' });
    expect(reset.body.data).toMatchObject({ scope: 'default', config: {} });

    const deleted = await admin('delete', `/${created.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ data: { id: created.id, deleted: true } });
    const gone = await admin('get', `/${created.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ error: { code: 'NOT_FOUND', message: `UI config not found: ${created.id}` } });
  });

  it('keeps any JSON config as a JSON value', async () => {
    for (const config of [[1, 'two', { three: 3 }], 'compact', 42, true, { 'a.b': { '': null } }]) {
      const c = await create({ entity: '_free', scope: `s${JSON.stringify(config).length}${typeof config}`, config });
      expect(c.config).toEqual(config);
      expect((await admin('get', `/${c.id}`)).body.data.config).toEqual(config);
      await admin('delete', `/${c.id}`);
    }
    const nulled = await create({ entity: '_free', scope: null, config: null });
    expect(nulled).toMatchObject({ scope: 'default', config: {} });
    await admin('delete', `/${nulled.id}`);
  });

  it('refuses invalid bodies with the spec messages and stores nothing', async () => {
    const before = (await admin('get', '')).body.data.length;
    const cases: Array<[unknown, number, string, string]> = [
      [{}, 422, 'VALIDATION_FAILED', 'entity is required'],
      [{ entity: '' }, 422, 'VALIDATION_FAILED', 'entity is required'],
      [{ entity: null, config: {} }, 422, 'VALIDATION_FAILED', 'entity is required'],
      [{ entity: 'ghost' }, 422, 'VALIDATION_FAILED', 'entity not found: ghost'],
      [{ entity: 'Customer' }, 422, 'VALIDATION_FAILED', 'entity not found: Customer'],
      [{ entity: 7 }, 422, 'VALIDATION_FAILED', 'entity must be a string'],
      [{ entity: 'customer', scope: 5 }, 422, 'VALIDATION_FAILED', 'scope must be a string'],
      [{ entity: 'customer', config: { bad: 'nul\u0000' } }, 422, 'VALIDATION_FAILED', 'config must not contain NUL characters'],
      [[{ entity: 'customer' }], 400, 'INVALID_PAYLOAD', 'Invalid request body'],
      ['customer', 400, 'INVALID_PAYLOAD', 'Invalid request body'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await admin('post', '', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body, JSON.stringify(body)).toMatchObject({ error: { code, message } });
    }
    const unparsable = await s.client.post(`/api/${app.name}/_admin/ui-configs`, { token: app.token, raw: '{"entity":' });
    expect(unparsable.status).toBe(400);
    expect(unparsable.body.error.code).toBe('INVALID_PAYLOAD');
    expect((await admin('get', '')).body.data.length).toBe(before);
  });

  it('accepts entity names starting with _ that are no entity', async () => {
    const c = await create({ entity: '_dashboard', config: { widgets: [] } });
    expect(c).toMatchObject({ entity: '_dashboard', scope: 'default' });
    await admin('delete', `/${c.id}`);
  });

  it('answers 409 CONFLICT for a duplicate (entity, scope), on create and update', async () => {
    const a = await create({ entity: 'order', scope: 'default' });
    const b = await create({ entity: 'order', scope: 'compact' });
    const dup = await admin('post', '', { entity: 'order' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    const clash = await admin('put', `/${b.id}`, { entity: 'order', scope: 'default' });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('CONFLICT');
    expect((await admin('get', `/${b.id}`)).body.data.scope).toBe('compact');
    await admin('delete', `/${a.id}`);
    await admin('delete', `/${b.id}`);
  });

  it('checks the entity on create only; update needs an entity but not an existing one', async () => {
    const c = await create({ entity: 'invoice' });
    const moved = await admin('put', `/${c.id}`, { entity: 'archived_thing', config: { x: 1 } });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ entity: 'archived_thing', config: { x: 1 } });
    const noEntity = await admin('put', `/${c.id}`, { config: {} });
    expect(noEntity.status).toBe(422);
    expect(noEntity.body.error.message).toBe('entity is required');
    await admin('delete', `/${c.id}`);
  });

  it('answers 404 "UI config not found: <id>" for unknown and non-UUID ids', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope']) {
      const expected = { error: { code: 'NOT_FOUND', message: `UI config not found: ${id}` } };
      expect((await admin('get', `/${id}`)).body).toEqual(expected);
      const put = await admin('put', `/${id}`, { entity: 'customer' });
      expect(put.status).toBe(404);
      expect(put.body).toEqual(expected);
      const del = await admin('delete', `/${id}`);
      expect(del.status).toBe(404);
      expect(del.body).toEqual(expected);
    }
  });

  it('lists every row ordered by entity, scope; admin only', async () => {
    const made = [
      await create({ entity: 'order', scope: 'mobile' }),
      await create({ entity: 'customer', scope: 'mobile' }),
      await create({ entity: 'order', scope: 'default' }),
      await create({ entity: 'invoice', scope: 'default' }),
      await create({ entity: 'customer', scope: 'default' }),
    ];
    const list = await admin('get', '');
    expect(list.status).toBe(200);
    expect(list.body.meta).toBeUndefined();
    expect(list.body.data.map((c: any) => `${c.entity}/${c.scope}`)).toEqual([
      'customer/default',
      'customer/mobile',
      'invoice/default',
      'order/default',
      'order/mobile',
    ]);
    const denied = await s.client.get(`/api/${app.name}/_admin/ui-configs`, { token: userToken });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    expect((await s.client.post(`/api/${app.name}/_admin/ui-configs`, { token: userToken, body: { entity: 'order' } })).status).toBe(403);
    for (const c of made) await admin('delete', `/${c.id}`);
  });
});

describe('UI config reads for any user', () => {
  it('GET /_ui/configs lists only default-scope rows, by entity', async () => {
    const made = [
      await create({ entity: 'order', config: { o: 1 } }),
      await create({ entity: 'order', scope: 'mobile' }),
      await create({ entity: 'customer', config: { c: 1 } }),
      await create({ entity: 'invoice', scope: 'print' }),
    ];
    const res = await ui('configs');
    expect(res.status).toBe(200);
    expect(res.body.data.map((c: any) => [c.entity, c.scope, c.config])).toEqual([
      ['customer', 'default', { c: 1 }],
      ['order', 'default', { o: 1 }],
    ]);
    expect(res.body.data[0]).toEqual({
      id: made[2].id,
      entity: 'customer',
      scope: 'default',
      config: { c: 1 },
      created_at: timestamp,
      updated_at: timestamp,
    });
    expect((await ui('configs', app.token)).status).toBe(200);
    expect((await ui('configs', s.platformToken)).status).toBe(200);
    const anonymous = await s.client.get(`/api/${app.name}/_ui/configs`);
    expect(anonymous.status).toBe(401);
    for (const c of made) await admin('delete', `/${c.id}`);
  });

  it('GET /_ui/config/:entity answers the default-scope row or {"data": null}', async () => {
    const def = await create({ entity: 'customer', config: { list: ['name'] } });
    const mobile = await create({ entity: 'invoice', scope: 'mobile' });
    const hit = await ui('config/customer');
    expect(hit.status).toBe(200);
    expect(hit.body).toEqual({ data: def });
    for (const entity of ['invoice', 'ghost', '_nothing']) {
      const miss = await ui(`config/${entity}`);
      expect(miss.status, entity).toBe(200);
      expect(miss.body, entity).toEqual({ data: null });
    }
    expect((await s.client.get(`/api/${app.name}/_ui/config/customer`)).status).toBe(401);
    await admin('delete', `/${def.id}`);
    await admin('delete', `/${mobile.id}`);
  });
});
