import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCalls } from '../support/app-calls.js';
import { startTestServer, type TestServer, uniqueName } from '../support/server.js';

// Audit 11: the legacy admin app's own calls, end to end, with the exact shapes the spec gives.

let s: TestServer;
let app: { name: string; token: string };
const { admin, rec } = appCalls(() => ({ server: s, app }));
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const keys = (o: object) => Object.keys(o).sort();
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
});
afterAll(async () => {
  await s?.close();
});

describe('platform session of the admin app', () => {
  it('logs in, refreshes, lists apps and logs out with the documented bodies', async () => {
    const login = await s.client.post('/api/_platform/auth/login', {
      body: { email: s.config.platformEmail, password: s.config.platformPassword },
    });
    expect(login.status).toBe(200);
    expect(keys(login.body)).toEqual(['data']);
    expect(keys(login.body.data)).toEqual(['access_token', 'refresh_token']);
    const refreshed = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: login.body.data.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(keys(refreshed.body.data)).toEqual(['access_token', 'refresh_token']);
    const reused = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: login.body.data.refresh_token } });
    expect([reused.status, reused.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Invalid refresh token' }]);

    const token = refreshed.body.data.access_token;
    // The app reads who is signed in from the token itself (there is no "me" route): claims as multi-app.md lists them.
    const claims = claimsOf(token);
    expect(keys(claims)).toEqual(['exp', 'iat', 'roles', 'sub']);
    expect(claims.roles).toEqual(['platform_admin']);
    expect(claims.exp - claims.iat).toBe(15 * 60);
    expect((await s.client.get(`/api/_platform/auth/me`, { token })).status).toBe(404);
    const name = uniqueName('legacy');
    const created = await s.client.post('/api/_platform/apps', { token, body: { name } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      data: { name, display_name: name, db_name: `rocket_${name}`, db_driver: 'postgres', status: 'active' },
    });
    const list = await s.client.get('/api/_platform/apps', { token });
    expect(list.status).toBe(200);
    expect(keys(list.body)).toEqual(['data']);
    const row = list.body.data.find((a: { name: string }) => a.name === name);
    // operations.md adds `database` (the server the app is placed on) to the App object.
    expect(keys(row)).toEqual(['created_at', 'database', 'db_driver', 'db_name', 'display_name', 'name', 'status', 'updated_at']);
    const one = await s.client.get(`/api/_platform/apps/${name}`, { token });
    expect(one.body.data).toEqual(row);
    const missing = await s.client.get('/api/_platform/apps/nope', { token });
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: 'App not found' }]);
    const del = await s.client.delete(`/api/_platform/apps/${name}`, { token });
    expect([del.status, del.body]).toEqual([200, { message: 'App deleted' }]);

    const out = await s.client.post('/api/_platform/auth/logout', { body: { refresh_token: refreshed.body.data.refresh_token } });
    expect([out.status, out.body]).toEqual([200, { message: 'Logged out' }]);
    const after = await s.client.post('/api/_platform/auth/refresh', { body: { refresh_token: refreshed.body.data.refresh_token } });
    expect(after.status).toBe(401);
    const outUnknown = await s.client.post('/api/_platform/auth/logout', { body: { refresh_token: UNKNOWN } });
    expect([outUnknown.status, outUnknown.body]).toEqual([200, { message: 'Logged out' }]);
    const outEmpty = await s.client.post('/api/_platform/auth/logout', { body: {} });
    expect([outEmpty.status, outEmpty.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Refresh token is required' }]);
  });
});

describe('app session of the admin app', () => {
  it('logs in, refreshes and logs out with the documented bodies and messages', async () => {
    const base = `/api/${app.name}/auth`;
    const empty = await s.client.post(`${base}/login`, { body: { email: '', password: 'x' } });
    expect([empty.status, empty.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Email and password are required' }]);
    const wrong = await s.client.post(`${base}/login`, { body: { email: 'admin@localhost', password: 'nope' } });
    expect([wrong.status, wrong.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Invalid email or password' }]);
    const login = await s.client.post(`${base}/login`, { body: { email: ' ADMIN@localhost ', password: 'changeme' } });
    expect(login.status).toBe(200);
    expect(keys(login.body.data)).toEqual(['access_token', 'refresh_token']);
    const noToken = await s.client.post(`${base}/refresh`, { body: {} });
    expect([noToken.status, noToken.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Refresh token is required' }]);
    const notUuid = await s.client.post(`${base}/refresh`, { body: { refresh_token: 'abc' } });
    expect([notUuid.status, notUuid.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Invalid refresh token' }]);
    const pair = await s.client.post(`${base}/refresh`, { body: { refresh_token: login.body.data.refresh_token } });
    expect(pair.status).toBe(200);
    expect(keys(pair.body.data)).toEqual(['access_token', 'refresh_token']);
    const claims = claimsOf(pair.body.data.access_token);
    expect(keys(claims)).toEqual(['exp', 'iat', 'roles', 'sub']);
    expect(claims.roles).toEqual(['admin']);
    expect(claims.exp - claims.iat).toBe(15 * 60);
    const me = await s.client.get(`${base}/me`, { token: pair.body.data.access_token });
    expect([me.status, me.body.error.code]).toEqual([404, 'NOT_FOUND']);
    // Lower-case scheme, as some clients send it.
    const entities = await s.client.get(`/api/${app.name}/_admin/entities`, {
      headers: { authorization: `bearer ${pair.body.data.access_token}` },
    });
    expect(entities.status).toBe(200);
    const out = await s.client.post(`${base}/logout`, { body: { refresh_token: pair.body.data.refresh_token } });
    expect([out.status, out.body]).toEqual([200, { message: 'Logged out' }]);
    const bad = await s.client.post(`${base}/login`, { raw: '{', headers: { 'content-type': 'application/json' } });
    expect([bad.status, bad.body.error.code, bad.body.error.message]).toEqual([400, 'INVALID_PAYLOAD', 'Invalid request body']);
  });

  it('answers the documented auth header errors', async () => {
    const path = `/api/${app.name}/_admin/entities`;
    const none = await s.client.get(path);
    expect([none.status, none.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Missing auth token' }]);
    const basic = await s.client.get(path, { headers: { authorization: 'Basic abc' } });
    expect([basic.status, basic.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Invalid auth header format' }]);
    const junk = await s.client.get(path, { headers: { authorization: 'Bearer abc' } });
    expect([junk.status, junk.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Invalid or expired token' }]);
    const unknownApp = await s.client.get('/api/nosuchapp/_admin/entities', { token: app.token });
    expect([unknownApp.status, unknownApp.body.error]).toEqual([404, { code: 'APP_NOT_FOUND', message: 'App not found: nosuchapp' }]);
  });
});

const customer = {
  name: 'customer',
  table: 'customers',
  primary_key: { field: 'id', type: 'uuid', generated: true },
  soft_delete: true,
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 'name', type: 'string', required: true },
    { name: 'tier', type: 'string', enum: ['a', 'b'], default: 'a' },
    { name: 'credit', type: 'decimal', precision: 2 },
  ],
};
const order = {
  name: 'order',
  table: 'orders',
  primary_key: { field: 'id', type: 'int', generated: true },
  fields: [
    { name: 'id', type: 'int' },
    { name: 'customer_id', type: 'uuid' },
    { name: 'status', type: 'string' },
    { name: 'total', type: 'float' },
  ],
};

describe('entity and relation admin', () => {
  it('answers rows, definitions and deletions in the documented shapes', async () => {
    const created = await admin('post', 'entities', customer);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ data: customer });
    expect((await admin('post', 'entities', order)).status).toBe(201);
    const dup = await admin('post', 'entities', customer);
    expect([dup.status, dup.body.error]).toEqual([409, { code: 'CONFLICT', message: 'Entity already exists: customer' }]);

    const list = await admin('get', 'entities');
    expect(list.status).toBe(200);
    expect(keys(list.body)).toEqual(['data']);
    expect(list.body.data.map((e: { name: string }) => e.name)).toEqual(['customer', 'order']);
    expect(keys(list.body.data[0])).toEqual(['created_at', 'definition', 'name', 'table_name', 'updated_at']);
    expect(list.body.data[0].table_name).toBe('customers');
    expect(list.body.data[0].definition).toEqual(customer);
    const one = await admin('get', 'entities/customer');
    expect(one.body.data).toEqual(list.body.data[0]);
    const missing = await admin('get', 'entities/nope');
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: 'Entity not found: nope' }]);

    const rel = {
      name: 'orders',
      type: 'one_to_many',
      source: 'customer',
      target: 'order',
      source_key: 'id',
      target_key: 'customer_id',
      ownership: 'source',
      on_delete: 'cascade',
      fetch: 'lazy',
      write_mode: 'diff',
    };
    const relCreated = await admin('post', 'relations', rel);
    expect(relCreated.status).toBe(201);
    expect(relCreated.body).toEqual({ data: rel });
    const relRows = await admin('get', 'relations');
    expect(keys(relRows.body.data[0])).toEqual(['created_at', 'definition', 'name', 'source', 'target', 'updated_at']);
    const relPut = await admin('put', 'relations/orders', { ...rel, name: 'ignored', on_delete: 'restrict' });
    expect(relPut.status).toBe(200);
    expect(relPut.body.data).toMatchObject({ name: 'orders', on_delete: 'restrict' });
    const relMissing = await admin('get', 'relations/nope');
    expect([relMissing.status, relMissing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: 'Relation not found: nope' }]);

    const put = await admin('put', 'entities/order', { ...order, name: 'other', fields: [...order.fields, { name: 'note', type: 'text' }] });
    expect(put.status).toBe(200);
    expect(put.body.data.name).toBe('order');
    expect(put.body.data.fields.at(-1)).toEqual({ name: 'note', type: 'text' });
  });
});

describe('records as the data browser reads and writes them', () => {
  it('lists with meta, gets, creates 201, updates and deletes with {id}', async () => {
    const c = await rec('post', 'customer', { name: 'Acme', credit: '12.50' });
    expect(c.status).toBe(201);
    expect(c.body.data).toEqual({ id: c.body.data.id, name: 'Acme', tier: 'a', credit: 12.5, deleted_at: null });
    const o = await rec('post', 'order', { customer_id: c.body.data.id, status: 'new', total: '3' });
    expect(o.status).toBe(201);
    expect(o.body.data).toEqual({ id: 1, customer_id: c.body.data.id, status: 'new', total: 3, note: null });

    const list = await rec('get', 'order?page=abc&per_page=0');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [o.body.data], meta: { page: 1, per_page: 25, total: 1, next_cursor: null } });
    const big = await rec('get', 'order?per_page=500&filter%5Bstatus%5D=new&sort=-id&include=%20customer%20');
    expect(big.status, JSON.stringify(big.body)).toBe(200);
    expect(big.body.meta).toEqual({ page: 1, per_page: 100, total: 1, next_cursor: null });
    expect(big.body.data[0].customer).toEqual({ id: c.body.data.id, name: 'Acme', tier: 'a', credit: 12.5 });

    const put = await rec('put', 'order/1', { status: 'paid' });
    expect([put.status, put.body.data.status]).toEqual([200, 'paid']);
    const del = await rec('delete', 'order/1');
    expect([del.status, del.body]).toEqual([200, { data: { id: '1' } }]);
    const gone = await rec('get', 'order/1');
    expect([gone.status, gone.body.error]).toEqual([404, { code: 'NOT_FOUND', message: 'order with id 1 not found' }]);
    const unknown = await rec('get', 'nope');
    expect([unknown.status, unknown.body.error]).toEqual([404, { code: 'UNKNOWN_ENTITY', message: 'Unknown entity: nope' }]);
  });
});

describe('logic metadata as the admin app edits it', () => {
  it('rules: 201 object without timestamps, rows with them, {id, deleted:true}', async () => {
    const body = { entity: 'customer', hook: 'before_write', type: 'field', definition: { field: 'credit', operator: 'min', value: 0 } };
    const created = await admin('post', 'rules', body);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ data: { id: created.body.data.id, ...body, priority: 0, active: true } });
    const id = created.body.data.id;
    const list = await admin('get', 'rules');
    expect(keys(list.body.data[0])).toEqual(['active', 'created_at', 'definition', 'entity', 'hook', 'id', 'priority', 'type', 'updated_at']);
    const put = await admin('put', `rules/${id}`, { ...body, priority: 5, active: false, definition: { ...body.definition, message: '' } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ data: { id, ...body, priority: 5, active: false } });
    const missing = await admin('get', `rules/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `Rule not found: ${UNKNOWN}` }]);
    const bad = await admin('post', 'rules', { ...body, hook: 'after_write' });
    expect([bad.status, bad.body.error]).toEqual([
      422,
      { code: 'VALIDATION_FAILED', message: 'invalid hook: after_write (must be before_write or before_delete)' },
    ]);
    const del = await admin('delete', `rules/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
    expect((await admin('delete', `rules/${id}`)).status).toBe(404);
  });

  it('state machines: from echoed as a string for one state, as an array for several', async () => {
    const body = {
      entity: 'order',
      field: 'status',
      definition: {
        initial: 'new',
        transitions: [
          { from: ['new'], to: 'paid' },
          { from: ['new', 'paid'], to: 'void' },
        ],
      },
    };
    const created = await admin('post', 'state-machines', body);
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect(created.body).toEqual({
      data: {
        id,
        entity: 'order',
        field: 'status',
        active: true,
        definition: {
          initial: 'new',
          transitions: [
            { from: 'new', to: 'paid' },
            { from: ['new', 'paid'], to: 'void' },
          ],
        },
      },
    });
    const row = (await admin('get', `state-machines/${id}`)).body.data;
    expect(keys(row)).toEqual(['active', 'created_at', 'definition', 'entity', 'field', 'id', 'updated_at']);
    const missing = await admin('get', `state-machines/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `State machine not found: ${UNKNOWN}` }]);
    const del = await admin('delete', `state-machines/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
  });

  it('workflows: gotos echoed as "end" or {goto}, 409 on a duplicate name', async () => {
    const body = {
      name: 'legacy_flow',
      trigger: { type: 'state_change', entity: 'order', field: 'status', to: 'paid' },
      context: { record_id: 'trigger.record_id' },
      steps: [
        { id: 'check', type: 'condition', expression: 'true', on_true: 'ok', on_false: { goto: 'end' } },
        { id: 'ok', type: 'action', actions: [], then: { goto: 'end' } },
      ],
    };
    const created = await admin('post', 'workflows', body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.data.id;
    expect(keys(created.body.data)).toEqual(['active', 'context', 'id', 'name', 'steps', 'trigger']);
    expect(created.body.data.steps[0]).toMatchObject({ on_true: { goto: 'ok' }, on_false: 'end' });
    expect(created.body.data.steps[1]).toMatchObject({ then: 'end' });
    const dup = await admin('post', 'workflows', body);
    expect([dup.status, dup.body.error.code]).toEqual([409, 'CONFLICT']);
    const row = (await admin('get', `workflows/${id}`)).body.data;
    expect(keys(row)).toEqual(['active', 'context', 'created_at', 'id', 'name', 'steps', 'trigger', 'updated_at']);
    const missing = await admin('get', `workflows/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `Workflow not found: ${UNKNOWN}` }]);
    const del = await admin('delete', `workflows/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
  });

  it('webhooks: full row with defaults on create and on PUT', async () => {
    const created = await admin('post', 'webhooks', { entity: 'order', url: 'http://127.0.0.1:9/hook' });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect(created.body.data).toEqual({
      id,
      entity: 'order',
      hook: 'after_write',
      url: 'http://127.0.0.1:9/hook',
      method: 'POST',
      headers: {},
      condition: '',
      async: true,
      retry: { max_attempts: 3, backoff: 'exponential' },
      active: true,
      created_at: created.body.data.created_at,
      updated_at: created.body.data.updated_at,
    });
    const put = await admin('put', `webhooks/${id}`, { entity: 'order', url: 'http://127.0.0.1:9/other' });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ hook: 'after_write', method: 'POST', async: true, active: true, headers: {}, condition: '' });
    const missing = await admin('get', `webhooks/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `Webhook not found: ${UNKNOWN}` }]);
    const logs = await admin('get', 'webhook-logs?status=failed');
    expect([logs.status, logs.body]).toEqual([200, { data: [] }]);
    const logMissing = await admin('get', `webhook-logs/${UNKNOWN}`);
    expect([logMissing.status, logMissing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `Webhook log not found: ${UNKNOWN}` }]);
    const del = await admin('delete', `webhooks/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
  });

  it('permissions: conditions omitted from the 201 when empty, rows carry them', async () => {
    const created = await admin('post', 'permissions', { entity: 'order', action: 'read' });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect(created.body).toEqual({ data: { id, entity: 'order', action: 'read', roles: [] } });
    const row = (await admin('get', `permissions/${id}`)).body.data;
    expect(keys(row)).toEqual(['action', 'conditions', 'created_at', 'entity', 'id', 'roles', 'updated_at']);
    expect(row.conditions).toEqual([]);
    const cond = [{ field: 'status', operator: 'in', value: ['new'] }];
    const put = await admin('put', `permissions/${id}`, { entity: 'order', action: 'update', roles: ['clerk'], conditions: cond });
    expect(put.body).toEqual({ data: { id, entity: 'order', action: 'update', roles: ['clerk'], conditions: cond } });
    const bad = await admin('post', 'permissions', { entity: 'order', action: 'write' });
    expect([bad.status, bad.body.error]).toEqual([422, { code: 'VALIDATION_FAILED', message: 'action must be read, create, update, or delete' }]);
    const missing = await admin('get', `permissions/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `Permission not found: ${UNKNOWN}` }]);
    const del = await admin('delete', `permissions/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
  });

  it('ui configs: defaults, 409 on a duplicate, and the reader routes', async () => {
    const created = await admin('post', 'ui-configs', { entity: 'order' });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect(keys(created.body.data)).toEqual(['config', 'created_at', 'entity', 'id', 'scope', 'updated_at']);
    expect(created.body.data).toMatchObject({ entity: 'order', scope: 'default', config: {} });
    const dup = await admin('post', 'ui-configs', { entity: 'order', scope: 'default' });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'CONFLICT']);
    const none = await admin('post', 'ui-configs', { entity: 'nope' });
    expect([none.status, none.body.error]).toEqual([422, { code: 'VALIDATION_FAILED', message: 'entity not found: nope' }]);
    const one = await s.client.get(`/api/${app.name}/_ui/config/order`, { token: app.token });
    expect(one.body).toEqual({ data: created.body.data });
    const nothing = await s.client.get(`/api/${app.name}/_ui/config/customer`, { token: app.token });
    expect([nothing.status, nothing.body]).toEqual([200, { data: null }]);
    const missing = await admin('get', `ui-configs/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `UI config not found: ${UNKNOWN}` }]);
    const del = await admin('delete', `ui-configs/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
  });
});

describe('users and invites as the access pages manage them', () => {
  it('users: exact User object, PUT keeps the password and active', async () => {
    const created = await admin('post', 'users', { email: ' Clerk@Example.com ', password: 'pw1' });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect(keys(created.body.data)).toEqual(['active', 'created_at', 'email', 'id', 'roles', 'updated_at']);
    expect(created.body.data).toMatchObject({ email: 'clerk@example.com', roles: [], active: true });
    const dup = await admin('post', 'users', { email: 'clerk@example.com', password: 'x' });
    expect([dup.status, dup.body.error]).toEqual([409, { code: 'CONFLICT', message: 'A user with this email already exists' }]);
    const put = await admin('put', `users/${id}`, { email: 'clerk@example.com', roles: ['clerk'] });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ id, roles: ['clerk'], active: true });
    const login = await s.client.post(`/api/${app.name}/auth/login`, { body: { email: 'CLERK@example.com', password: 'pw1' } });
    expect(login.status).toBe(200);
    const noEmail = await admin('put', `users/${id}`, { roles: [] });
    expect([noEmail.status, noEmail.body.error]).toEqual([422, { code: 'VALIDATION_FAILED', message: 'email is required' }]);
    const missing = await admin('get', `users/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `User not found: ${UNKNOWN}` }]);
    const del = await admin('delete', `users/${id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id, deleted: true } }]);
  });

  it('invites: 201 without accepted_at, list with it, bulk 200, accept 201', async () => {
    const created = await admin('post', 'invites', { email: 'New@Example.com', roles: ['clerk'] });
    expect(created.status).toBe(201);
    expect(keys(created.body.data)).toEqual(['created_at', 'email', 'expires_at', 'id', 'invited_by', 'roles', 'token']);
    expect(created.body.data).toMatchObject({ email: 'new@example.com', roles: ['clerk'] });
    const list = await admin('get', 'invites');
    expect(keys(list.body.data[0])).toEqual(['accepted_at', 'created_at', 'email', 'expires_at', 'id', 'invited_by', 'roles', 'token']);
    expect(list.body.data[0].accepted_at).toBeNull();
    const pending = await admin('post', 'invites', { email: 'new@example.com' });
    expect([pending.status, pending.body.error]).toEqual([409, { code: 'CONFLICT', message: 'A pending invite already exists for this email' }]);
    const bulk = await admin('post', 'invites/bulk', { emails: ['a@x.io', ' A@x.io', 'new@example.com'] });
    expect(bulk.status).toBe(200);
    expect(keys(bulk.body.data)).toEqual(['created', 'skipped', 'summary']);
    expect(keys(bulk.body.data.created[0])).toEqual(['email', 'expires_at', 'id', 'token']);
    expect(bulk.body.data.skipped).toEqual([{ email: 'new@example.com', reason: 'A pending invite already exists for this email' }]);
    expect(bulk.body.data.summary).toEqual({ total: 2, created: 1, skipped: 1 });
    const accepted = await s.client.post(`/api/${app.name}/auth/accept-invite`, {
      body: { token: created.body.data.token, password: 'pw' },
    });
    expect(accepted.status).toBe(201);
    expect(keys(accepted.body.data)).toEqual(['access_token', 'refresh_token', 'user']);
    expect(keys(accepted.body.data.user)).toEqual(['email', 'id', 'roles']);
    const again = await s.client.post(`/api/${app.name}/auth/accept-invite`, { body: { token: created.body.data.token, password: 'pw' } });
    expect([again.status, again.body.error]).toEqual([400, { code: 'VALIDATION_FAILED', message: 'Invite has already been accepted' }]);
    const del = await admin('delete', `invites/${created.body.data.id}`);
    expect([del.status, del.body]).toEqual([200, { data: { id: created.body.data.id, deleted: true } }]);
    const missing = await admin('delete', `invites/${UNKNOWN}`);
    expect([missing.status, missing.body.error]).toEqual([404, { code: 'NOT_FOUND', message: `Invite not found: ${UNKNOWN}` }]);
  });
});

describe('entity and relation definitions a legacy server stored as JSON text', () => {
  // README: JSON columns (entity `definition`, …) are always answered as JSON values, never as JSON-encoded
  // strings; export-import.md: entities and relations are exported as objects. The engine already reads such
  // rows (metadata.md §9); the admin app reads and edits them through the admin API.
  const author = {
    name: 'author',
    table: 'authors',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    soft_delete: false,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string' },
    ],
  };
  const book = {
    name: 'book',
    table: 'books',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    soft_delete: false,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'author_id', type: 'uuid' },
    ],
  };
  const books = {
    name: 'books',
    type: 'one_to_many',
    source: 'author',
    target: 'book',
    source_key: 'id',
    target_key: 'author_id',
    ownership: 'none',
    on_delete: 'cascade',
    fetch: 'lazy',
    write_mode: 'diff',
  };

  it('are answered, exported and edited as the objects they hold', async () => {
    for (const e of [author, book]) expect((await admin('post', 'entities', e)).status).toBe(201);
    expect((await admin('post', 'relations', books)).status).toBe(201);
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    await runtime.db.query(`UPDATE _entities SET definition = to_jsonb(definition::text) WHERE name IN ('author', 'book')`);
    await runtime.db.query(`UPDATE _relations SET definition = to_jsonb(definition::text) WHERE name = 'books'`);
    await runtime.reload();

    expect((await admin('get', 'entities/author')).body.data.definition).toEqual(author);
    const listed = (await admin('get', 'entities')).body.data.find((e: { name: string }) => e.name === 'book');
    expect(listed.definition).toEqual(book);
    expect((await admin('get', 'relations/books')).body.data.definition).toEqual(books);
    expect((await admin('get', 'relations')).body.data.find((r: { name: string }) => r.name === 'books').definition).toEqual(books);
    const exported = (await admin('get', 'export')).body.data;
    expect(exported.entities).toContainEqual(author);
    expect(exported.relations).toContainEqual(books);

    // The designer saves the entity it read: the table is migrated from the stored definition.
    const withBio = { ...author, fields: [...author.fields, { name: 'bio', type: 'text' }] };
    const put = await admin('put', 'entities/author', withBio);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.data).toEqual(withBio);
    const history = (await admin('get', 'history?filter[entity]=_entities')).body.data;
    const update = history.find((h: { record_id: string; action: string }) => h.record_id === 'author' && h.action === 'update');
    expect(update?.changes.definition.from).toEqual(author);
    const created = await rec('post', 'author', { name: 'Ann', bio: 'x', books: { data: [{}] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data).toEqual({ id: created.body.data.id, name: 'Ann', bio: 'x' });

    const relPut = await admin('put', 'relations/books', { ...books, on_delete: 'restrict' });
    expect([relPut.status, relPut.body.data]).toEqual([200, { ...books, on_delete: 'restrict' }]);
    const restricted = await rec('delete', `author/${created.body.data.id}`);
    expect([restricted.status, restricted.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await admin('delete', 'relations/books')).body).toEqual({ data: { name: 'books', deleted: true } });
    expect((await admin('delete', 'entities/book')).body).toEqual({ data: { name: 'book', deleted: true } });
    expect((await admin('delete', 'entities/author')).body).toEqual({ data: { name: 'author', deleted: true } });
  });
});

describe('UI configs as JSON text', () => {
  it('a config a legacy server stored as JSON text is answered as the object it holds', async () => {
    const created = await admin('post', 'ui-configs', { entity: 'customer', config: { columns: ['name'], big: 9007199254740993n.toString() } });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    const config = { columns: ['name'], big: '9007199254740993' };
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    await runtime.db.query('UPDATE _ui_configs SET config = to_jsonb(config::text) WHERE id = $1', [id]);

    expect((await admin('get', `ui-configs/${id}`)).body.data.config).toEqual(config);
    expect((await admin('get', 'ui-configs')).body.data.find((c: { id: string }) => c.id === id).config).toEqual(config);
    const reader = await s.client.get(`/api/${app.name}/_ui/config/customer`, { token: app.token });
    expect(reader.body.data.config).toEqual(config);
    const all = await s.client.get(`/api/${app.name}/_ui/configs`, { token: app.token });
    expect(all.body.data.find((c: { id: string }) => c.id === id).config).toEqual(config);
    expect((await admin('get', 'export')).body.data.ui_configs).toContainEqual({ entity: 'customer', scope: 'default', config });
    expect((await admin('delete', `ui-configs/${id}`)).status).toBe(200);
  });

  it('a config sent as JSON text of an object is stored as that object; other strings stay strings', async () => {
    // Spec-silent on input: the legacy admin app's config editor sends the text it edits.
    const created = await admin('post', 'ui-configs', { entity: 'customer', scope: 'legacy', config: '{"labels":{"name":"Name"}}' });
    expect(created.status).toBe(201);
    expect(created.body.data.config).toEqual({ labels: { name: 'Name' } });
    const id = created.body.data.id;
    const put = await admin('put', `ui-configs/${id}`, { entity: 'customer', scope: 'legacy', config: ' [1, 2] ' });
    expect(put.body.data.config).toEqual([1, 2]);
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    const [row] = await runtime.db.query<{ kind: string }>('SELECT jsonb_typeof(config) AS kind FROM _ui_configs WHERE id = $1', [id]);
    expect(row!.kind).toBe('array');
    const plain = await admin('put', `ui-configs/${id}`, { entity: 'customer', scope: 'legacy', config: 'compact' });
    expect(plain.body.data.config).toBe('compact');
    expect((await admin('delete', `ui-configs/${id}`)).status).toBe(200);
  });
});

describe('webhook delivery logs a legacy server stored with JSON text', () => {
  it('are answered with headers and body as objects, and a retry sends the body it holds', async () => {
    const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
    let answer = 500;
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(answer).end('x');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      expect(
        (
          await admin('post', 'entities', {
            name: 'ticket',
            table: 'tickets',
            primary_key: { field: 'id', type: 'uuid', generated: true },
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'subject', type: 'string' },
            ],
          })
        ).status,
      ).toBe(201);
      const hook = await admin('post', 'webhooks', { entity: 'ticket', url, headers: { 'X-Tag': 'legacy' }, retry: { max_attempts: 1 } });
      expect(hook.status).toBe(201);
      const written = await rec('post', 'ticket', { subject: 'help' });
      expect(written.status).toBe(201);
      const logsOf = async () => (await admin('get', `webhook-logs?webhook_id=${hook.body.data.id}`)).body.data;
      await expect.poll(async () => (await logsOf())[0]?.status, { timeout: 10_000 }).toBe('failed');
      const [log] = await logsOf();
      const runtime = (await s.rocket.services.apps.get(app.name))!;
      await runtime.db.query(
        'UPDATE _webhook_logs SET request_headers = to_jsonb(request_headers::text), request_body = to_jsonb(request_body::text) WHERE id = $1',
        [log.id],
      );

      const one = (await admin('get', `webhook-logs/${log.id}`)).body.data;
      expect(one.request_headers).toEqual({ 'X-Tag': 'legacy' });
      expect(one.request_body).toEqual(log.request_body);
      expect(one.request_body).toMatchObject({ event: 'after_write', action: 'create', record: { subject: 'help' } });
      expect((await logsOf())[0]).toEqual(one);

      answer = 200;
      const retried = await admin('post', `webhook-logs/${log.id}/retry`);
      expect([retried.status, retried.body.data.status]).toEqual([200, 'retrying']);
      expect(keys(retried.body.data)).toEqual([
        'attempt',
        'entity',
        'hook',
        'id',
        'max_attempts',
        'method',
        'next_retry_at',
        'status',
        'updated_at',
        'url',
        'webhook_id',
      ]);
      await s.rocket.jobs.runNow('webhook-retries');
      await expect.poll(async () => (await admin('get', `webhook-logs/${log.id}`)).body.data.status, { timeout: 10_000 }).toBe('delivered');
      const resent = received.at(-1)!;
      expect(resent.headers['x-tag']).toBe('legacy');
      expect(JSON.parse(resent.body)).toEqual(log.request_body);
    } finally {
      receiver.close();
    }
  });
});

describe('workflow instances a legacy server stored with JSON text', () => {
  it('are answered as objects, approved, and timed out like any other', async () => {
    expect(
      (
        await admin('post', 'entities', {
          name: 'claim',
          table: 'claims',
          primary_key: { field: 'id', type: 'uuid', generated: true },
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'status', type: 'string' },
            { name: 'amount', type: 'int' },
            { name: 'approved', type: 'boolean' },
          ],
        })
      ).status,
    ).toBe(201);
    const flow = await admin('post', 'workflows', {
      name: 'claim_review',
      trigger: { type: 'state_change', entity: 'claim', field: 'status', to: 'filed' },
      context: { record_id: 'trigger.record_id', amount: 'record.amount' },
      steps: [
        { id: 'check', type: 'condition', expression: 'context.amount > 5', on_true: { goto: 'review' }, on_false: 'end' },
        { id: 'review', type: 'approval', timeout: '1h', on_approve: { goto: 'done' }, on_timeout: 'end' },
        {
          id: 'done',
          type: 'action',
          actions: [{ type: 'set_field', entity: 'claim', record_id: 'context.record_id', field: 'approved', value: true }],
        },
      ],
    });
    expect(flow.status, JSON.stringify(flow.body)).toBe(201);
    const file = async () => {
      const claim = await rec('post', 'claim', { status: 'new', amount: 10 });
      expect((await rec('put', `claim/${claim.body.data.id}`, { status: 'filed' })).status).toBe(200);
      return claim.body.data.id as string;
    };
    const approvedId = await file();
    const timedOutId = await file();
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    await runtime.db.query(
      `UPDATE _workflow_instances SET context = to_jsonb(context::text), history = to_jsonb(history::text), trigger = to_jsonb(trigger::text)
        WHERE workflow_id = $1`,
      [flow.body.data.id],
    );

    const path = `/api/${app.name}/_workflows`;
    const pending = (await s.client.get(`${path}/pending`, { token: app.token })).body.data;
    expect(pending).toHaveLength(2);
    const byRecord = (id: string) => pending.find((i: { context: { record_id: string } }) => i.context.record_id === id);
    const toApprove = byRecord(approvedId);
    expect(toApprove).toMatchObject({
      status: 'running',
      current_step: 'review',
      context: { record_id: approvedId, amount: 10 },
      history: [{ step: 'check', status: 'on_true' }],
    });
    expect(keys(toApprove)).toEqual([
      'context',
      'created_at',
      'current_step',
      'current_step_deadline',
      'history',
      'id',
      'status',
      'updated_at',
      'workflow_id',
      'workflow_name',
    ]);
    expect((await s.client.get(`${path}/${toApprove.id}`, { token: app.token })).body.data).toEqual(toApprove);
    // A read writes nothing: the instance is stored back as values only when it is moved on.
    const storedKinds = async (id: string) =>
      (
        await runtime.db.query<{ kinds: string }>(
          `SELECT concat_ws(',', jsonb_typeof(context), jsonb_typeof(history), jsonb_typeof(trigger)) AS kinds FROM _workflow_instances WHERE id = $1`,
          [id],
        )
      )[0]!.kinds;
    expect(await storedKinds(toApprove.id)).toBe('string,string,string');

    const approved = await s.client.post(`${path}/${toApprove.id}/approve`, { token: app.token });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.data).toMatchObject({ status: 'completed', current_step: '', context: { record_id: approvedId, amount: 10 } });
    expect(approved.body.data.history.map((h: { step: string; status: string }) => [h.step, h.status])).toEqual([
      ['check', 'on_true'],
      ['review', 'approved'],
      ['done', 'completed'],
    ]);
    expect((await rec('get', `claim/${approvedId}`)).body.data.approved).toBe(true);
    expect(await storedKinds(toApprove.id)).toBe('object,array,object');

    const toTimeOut = byRecord(timedOutId);
    await runtime.db.query(`UPDATE _workflow_instances SET current_step_deadline = NOW() - interval '1 minute' WHERE id = $1`, [toTimeOut.id]);
    await s.rocket.jobs.runNow('workflow-deadlines');
    const timedOut = (await s.client.get(`${path}/${toTimeOut.id}`, { token: app.token })).body.data;
    expect(timedOut).toMatchObject({ status: 'completed', context: { record_id: timedOutId, amount: 10 } });
    expect(timedOut.history.map((h: { step: string; status: string }) => [h.step, h.status])).toEqual([
      ['check', 'on_true'],
      ['review', 'timed_out'],
    ]);
    expect(keys(timedOut)).not.toContain('current_step_deadline');
    const removed = await s.client.delete(`${path}/${toTimeOut.id}`, { token: app.token });
    expect([removed.status, removed.body]).toEqual([200, { data: { deleted: true } }]);
  });
});

describe('a webhook whose retry policy a legacy server stored as JSON text', () => {
  it('retries with the backoff it names', async () => {
    // webhooks.md: linear → 30 s × attempt; exponential (the default) → 30 s × 2^attempt.
    const receiver = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      expect(
        (
          await admin('post', 'entities', {
            name: 'alert',
            table: 'alerts',
            primary_key: { field: 'id', type: 'uuid', generated: true },
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'level', type: 'string' },
            ],
          })
        ).status,
      ).toBe(201);
      const hook = await admin('post', 'webhooks', { entity: 'alert', url, retry: { max_attempts: 3, backoff: 'linear' } });
      expect(hook.status).toBe(201);
      const runtime = (await s.rocket.services.apps.get(app.name))!;
      await runtime.db.query('UPDATE _webhooks SET retry = to_jsonb(retry::text) WHERE id = $1', [hook.body.data.id]);
      await runtime.reload();
      expect((await admin('get', `webhooks/${hook.body.data.id}`)).body.data.retry).toEqual({ max_attempts: 3, backoff: 'linear' });

      expect((await rec('post', 'alert', { level: 'high' })).status).toBe(201);
      const logOf = async () => (await admin('get', `webhook-logs?webhook_id=${hook.body.data.id}`)).body.data[0];
      await expect.poll(async () => (await logOf())?.attempt, { timeout: 10_000 }).toBe(1);
      const first = await logOf();
      expect([first.status, first.max_attempts]).toEqual(['retrying', 3]);
      await runtime.db.query(`UPDATE _webhook_logs SET next_retry_at = NOW() - interval '1 second' WHERE id = $1`, [first.id]);
      await s.rocket.jobs.runNow('webhook-retries');
      await expect.poll(async () => (await logOf()).attempt, { timeout: 10_000 }).toBe(2);
      const [row] = await runtime.db.query<{ delay: number }>(
        'SELECT EXTRACT(EPOCH FROM next_retry_at - updated_at)::int AS delay FROM _webhook_logs WHERE id = $1',
        [first.id],
      );
      expect((await logOf()).status).toBe('retrying');
      expect(row!.delay).toBe(60); // linear after attempt 2; exponential would be 120
    } finally {
      receiver.close();
    }
  });
});

describe('users whose passwords a legacy server hashed with bcrypt', () => {
  // metadata.md: `password_hash` holds a "bcrypt or argon2id hash". Vectors made with libxcrypt's crypt(3).
  const vectors: Array<[string, string]> = [
    ['changeme', '$2b$10$abcdefghijklmnopqrstuuNoxnDJvT28ksylHU.AJnr1SrNy0Vb9u'],
    ['U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'],
    ['pässwörd✓', '$2a$06$0123456789ABCDEFGHIJK.sMGfGAIWBPxpmuBNSZWJNaE73HUFbRq'],
    ['x', '$2y$04$......................8QPuF36SqwZ1d9QO3taNcRXHOtLxpvS'],
    ['a'.repeat(71), '$2b$04$abcdefghijklmnopqrstuuMCu.k1vM/ywQwiONaEn3oEMlZoCVBd6'],
    // Only the first 72 bytes count.
    ['a'.repeat(100), '$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe'],
    ['a'.repeat(72), '$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe'],
  ];

  it('sign in to their app with their password, and only with it', async () => {
    const created = await admin('post', 'users', { email: 'old-timer@example.com', password: 'replaced', roles: ['clerk'] });
    expect(created.status).toBe(201);
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    const login = (password: string) => s.client.post(`/api/${app.name}/auth/login`, { body: { email: 'old-timer@example.com', password } });
    for (const [password, hash] of vectors) {
      await runtime.db.query('UPDATE _users SET password_hash = $2 WHERE id = $1', [created.body.data.id, hash]);
      const ok = await login(password);
      expect(ok.status, `${password} ${JSON.stringify(ok.body)}`).toBe(200);
      expect(claimsOf(ok.body.data.access_token)).toMatchObject({ sub: created.body.data.id, roles: ['clerk'] });
    }
    const wrong = await login('a'.repeat(71));
    expect([wrong.status, wrong.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'Invalid email or password' }]);
    // A disabled account is still reported only after the right password (auth.md).
    await runtime.db.query('UPDATE _users SET active = false WHERE id = $1', [created.body.data.id]);
    const disabled = await login('a'.repeat(72));
    expect([disabled.status, disabled.body.error.message]).toEqual([401, 'Account is disabled']);
    // An admin setting a new password replaces the bcrypt hash.
    const put = await admin('put', `users/${created.body.data.id}`, { email: 'old-timer@example.com', password: 'fresh', active: true });
    expect(put.status).toBe(200);
    expect((await login('fresh')).status).toBe(200);
    expect((await login('a'.repeat(72))).status).toBe(401);
  });

  it('sign in to the platform too', async () => {
    const mgmt = s.rocket.services.platform;
    const email = `legacy-${uniqueName()}@example.com`;
    await mgmt.db.query(`INSERT INTO _platform_users (email, password_hash, roles) VALUES ($1, $2, '{platform_admin}')`, [email, vectors[0]![1]]);
    const ok = await s.client.post('/api/_platform/auth/login', { body: { email, password: 'changeme' } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await s.client.get('/api/_platform/apps', { token: ok.body.data.access_token })).status).toBe(200);
    const wrong = await s.client.post('/api/_platform/auth/login', { body: { email, password: 'changemE' } });
    expect(wrong.status).toBe(401);
  });
});
