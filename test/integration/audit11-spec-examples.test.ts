import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from '../support/client.js';
import { RFC3339, UUID_V4 } from '../support/engine.js';
import { startTestServer, type TestServer, uniqueName } from '../support/server.js';
import { SseReader } from '../support/sse.js';

/**
 * Every concrete example of the spec (request and answer written out in shared/spec/*.md), reproduced literally
 * over HTTP and compared key by key: status, the exact key set of the body, value types and formats, headers.
 * Each test names the spec lines it reproduces.
 */

type Method = 'get' | 'post' | 'put' | 'delete';
type Call = (method: Method, path: string, body?: unknown) => Promise<Response<any>>;

let s: TestServer;
let app: { name: string; token: string };
let admin: Call;
const SECONDS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

const sorted = (o: object) => Object.keys(o).sort();

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  admin = (method, path, body) => s.client[method](`/api/${app.name}${path}`, { token: app.token, body });
});
afterAll(async () => {
  await s?.close();
});

async function entity(def: Record<string, unknown>) {
  const res = await admin('post', '/_admin/entities', def);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

async function userWith(roles: string[]): Promise<{ id: string; token: string; email: string; call: Call }> {
  const email = `${uniqueName('u')}@example.org`;
  const created = await admin('post', '/_admin/users', { email, password: 'secret-pw-1', roles });
  expect(created.status).toBe(201);
  const token = await s.client.login(`/api/${app.name}/auth/login`, email, 'secret-pw-1');
  return { id: created.body.data.id, token, email, call: (m, p, b) => s.client[m](`/api/${app.name}${p}`, { token, body: b }) };
}

describe('README.md global conventions and route table', () => {
  it('README:36,92 GET /health → 200 {"status":"ok"} with no envelope', async () => {
    const res = await s.client.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('README:43-44,95,103 logout answers {"message":"Logged out"}; app deletion {"message":"App deleted"}', async () => {
    const login = await s.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    expect(sorted(login.body.data)).toEqual(['access_token', 'refresh_token']);
    const out = await s.client.post(`/api/${app.name}/auth/logout`, { body: { refresh_token: login.body.data.refresh_token } });
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ message: 'Logged out' });
    const plogin = await s.client.post('/api/_platform/auth/login', { body: { email: s.config.platformEmail, password: s.config.platformPassword } });
    expect(sorted(plogin.body.data)).toEqual(['access_token', 'refresh_token']);
    const pout = await s.client.post('/api/_platform/auth/logout', { body: { refresh_token: plogin.body.data.refresh_token } });
    expect(pout.body).toEqual({ message: 'Logged out' });

    const name = uniqueName('del');
    expect((await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name } })).status).toBe(201);
    const del = await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ message: 'App deleted' });
  });

  it('README:57-59 the error envelope example: VALIDATION_FAILED with a total/min detail', async () => {
    await entity({
      name: 'env_invoice',
      table: 'env_invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'total', type: 'decimal', precision: 2 },
      ],
    });
    const rule = await admin('post', '/_admin/rules', {
      entity: 'env_invoice',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'total', operator: 'min', value: 0, message: 'Total must be non-negative' },
      priority: 10,
      active: true,
    });
    expect(rule.status).toBe(201);
    const res = await admin('post', '/env_invoice', { total: -1 });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Validation failed',
        details: [{ field: 'total', rule: 'min', message: 'Total must be non-negative' }],
      },
    });
    // README:62 details absent when empty
    const notFound = await admin('get', '/env_invoice/00000000-0000-4000-8000-000000000000');
    expect(sorted(notFound.body.error)).toEqual(['code', 'message']);
  });

  it('README:97,296,301 POST /api/_platform/apps → 201 with exactly {name, display_name, db_name, db_driver, status}', async () => {
    const name = `hr-${uniqueName('p')}`;
    const res = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name } });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      name,
      display_name: name,
      db_name: `rocket_${name.replace(/-/g, '_')}`,
      db_driver: 'postgres',
      status: 'active',
    });
    const got = await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(got.status).toBe(200);
    for (const k of ['name', 'display_name', 'db_name', 'db_driver', 'status', 'created_at', 'updated_at']) expect(got.body.data).toHaveProperty(k);
    expect(got.body.data).not.toHaveProperty('jwt_secret');
    expect(got.body.data.created_at).toMatch(RFC3339);
    const list = await s.client.get('/api/_platform/apps', { token: s.platformToken });
    expect(Object.keys(list.body)).toEqual(['data']);
    expect(list.body.data.find((a: { name: string }) => a.name === name)).toEqual(got.body.data);
    await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
  });

  it('README:100,134 ai/status answers {configured:false, model:""}', async () => {
    const res = await admin('get', '/_admin/ai/status');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { configured: false, model: '' } });
    const p = await s.client.get('/api/_platform/ai/status', { token: s.platformToken });
    expect(p.status).toBe(200);
    expect(sorted(p.body.data)).toEqual(['configured', 'model']);
  });

  it('README:137 GET /_ui/config/:entity without a row → {"data": null}', async () => {
    await entity({
      name: 'ui_thing',
      table: 'ui_things',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [{ name: 'id', type: 'uuid' }],
    });
    const res = await admin('get', '/_ui/config/ui_thing');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });
  });

  it('README:147 POST /_events → 200 {status:"ok"}', async () => {
    const res = await admin('post', '/_events', { event_type: 'x' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { status: 'ok' } });
  });
});

describe('rest-api.md', () => {
  beforeAll(async () => {
    await entity({
      name: 'customer',
      table: 'customers',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      soft_delete: true,
      slug: { field: 'slug', source: 'name' },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
        { name: 'slug', type: 'string', unique: true },
        { name: 'tier', type: 'string', enum: ['a', 'b'] },
        { name: 'age', type: 'int' },
        { name: 'score', type: 'decimal', precision: 2 },
        { name: 'born', type: 'date' },
        { name: 'seen_at', type: 'timestamp' },
        { name: 'vip', type: 'boolean' },
        { name: 'extra', type: 'json' },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
      ],
    });
    await entity({
      name: 'cust_order',
      table: 'cust_orders',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'customer_id', type: 'uuid' },
        { name: 'quantity', type: 'int', required: true },
      ],
    });
    const rel = await admin('post', '/_admin/relations', {
      name: 'orders',
      type: 'one_to_many',
      source: 'customer',
      target: 'cust_order',
      target_key: 'customer_id',
      on_delete: 'restrict',
    });
    expect(rel.status).toBe(201);
  });

  it('rest-api:5 unknown entity → 404 UNKNOWN_ENTITY "Unknown entity: <name>"', async () => {
    const res = await admin('get', '/nothing_here');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'UNKNOWN_ENTITY', message: 'Unknown entity: nothing_here' });
  });

  it('rest-api:9-29 value encoding and record shape (deleted_at null, numbers, date, RFC 3339)', async () => {
    const res = await admin('post', '/customer', {
      name: 'Héllo, World!',
      age: '42',
      score: '12.5',
      born: '2024-03-05T10:00:00Z',
      seen_at: '2024-03-05T10:00:00+02:00',
      vip: true,
      extra: { a: [1] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const d = res.body.data;
    expect(sorted(d)).toEqual(['age', 'born', 'created_at', 'deleted_at', 'extra', 'id', 'name', 'score', 'seen_at', 'slug', 'tier', 'vip']);
    expect(d).toMatchObject({
      age: 42,
      score: 12.5,
      born: '2024-03-05',
      vip: true,
      extra: { a: [1] },
      deleted_at: null,
      tier: null,
      slug: 'hello-world',
    });
    expect(d.id).toMatch(UUID_V4);
    expect(d.seen_at).toMatch(RFC3339);
    expect(new Date(d.seen_at).toISOString()).toBe('2024-03-05T08:00:00.000Z');
    expect(d.created_at).toMatch(RFC3339);
    // rest-api:24 type message
    const bad = await admin('post', '/customer', { name: 'x', age: 'old' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'age', rule: 'type', message: expect.stringMatching(/^age must be /) }]);
  });

  it('rest-api:242-248 list response: data + meta {page, per_page, total, next_cursor}', async () => {
    for (const name of ['L1', 'L2', 'L3']) expect((await admin('post', '/customer', { name, tier: 'b' })).status).toBe(201);
    const res = await admin('get', '/customer?filter[tier]=b&per_page=200');
    expect(res.status).toBe(200);
    expect(sorted(res.body)).toEqual(['data', 'meta']);
    expect(res.body.meta).toEqual({ page: 1, per_page: 100, total: 3, next_cursor: null });
    expect(res.body.data[0]).toHaveProperty('deleted_at', null);
    const out = await admin('get', '/customer?filter[tier]=b&page=9');
    expect(out.body.data).toEqual([]);
    expect(out.body.meta.total).toBe(3);
    const none = await admin('get', '/customer?count=none');
    expect(none.body.meta).not.toHaveProperty('total');
  });

  it('rest-api:213,214,217,218,232,236 list error messages written in the spec', async () => {
    const cases: Array<[string, number, string, string | RegExp]> = [
      ['filter[nope]=1', 400, 'UNKNOWN_FIELD', 'Unknown filter field: nope'],
      ['sort=nope', 400, 'UNKNOWN_FIELD', 'Unknown sort field: nope'],
      ['include=nope', 400, 'UNKNOWN_FIELD', 'Unknown include: nope'],
      ['filter[age.foo]=1', 400, 'INVALID_PAYLOAD', 'Unknown filter operator: foo'],
      ['filter[age]=x', 400, 'INVALID_PAYLOAD', /^Invalid filter value for age: /],
      ['count=maybe', 400, 'INVALID_PAYLOAD', /./],
    ];
    for (const [q, status, code, message] of cases) {
      const res = await admin('get', `/customer?${q}`);
      expect(res.status, q).toBe(status);
      expect(res.body.error.code, q).toBe(code);
      if (typeof message === 'string') expect(res.body.error.message, q).toBe(message);
      else expect(res.body.error.message, q).toMatch(message);
    }
  });

  it('rest-api:257,266,270,273,275 get/create messages', async () => {
    const missing = await admin('get', '/customer/not-a-uuid-or-slug');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'customer with id not-a-uuid-or-slug not found' });
    const badJson = await s.client.post(`/api/${app.name}/customer`, { token: app.token, raw: '{nope' });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
    const unknown = await admin('post', '/customer', { name: 'x', colour: 'red' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details).toEqual([{ field: 'colour', rule: 'unknown', message: 'Unknown field or relation: colour' }]);
    const required = await admin('post', '/customer', { tier: 'c' });
    expect(required.status).toBe(422);
    // the spec fixes no order between details
    expect(required.body.error.details).toHaveLength(2);
    expect(required.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'name', rule: 'required', message: 'name is required' },
        { field: 'tier', rule: 'enum', message: 'tier must be one of: a, b' },
      ]),
    );
  });

  it('rest-api:311,324,372 delete answers the :id as sent; restrict message; nested path', async () => {
    const c = await admin('post', '/customer', { name: 'Restricted One' });
    const slug = c.body.data.slug;
    const nested = await admin('put', `/customer/${c.body.data.id}`, { orders: { data: [{ quantity: 1 }, { quantity: 2 }, {}] } });
    expect(nested.status).toBe(422);
    expect(nested.body.error.details).toEqual([{ field: 'orders[2].quantity', rule: 'required', message: 'quantity is required' }]);
    expect((await admin('put', `/customer/${slug}`, { orders: { data: [{ quantity: 1 }, { quantity: 2 }] } })).status).toBe(200);
    const restricted = await admin('delete', `/customer/${slug}`);
    expect(restricted.status).toBe(409);
    expect(restricted.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 2 related cust_order records exist' });
    const free = await admin('post', '/customer', { name: 'Free One' });
    const del = await admin('delete', `/customer/${free.body.data.slug}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { id: free.body.data.slug } });
  });

  it('rest-api:289,355 unique violation → 409 "A record with this value already exists"', async () => {
    const a = await admin('post', '/customer', { name: 'Dup', slug: 'dup-slug' });
    expect(a.status).toBe(201);
    const b = await admin('post', '/customer', { name: 'Dup', slug: 'dup-slug' });
    expect(b.status).toBe(409);
    expect(b.body.error).toEqual({ code: 'CONFLICT', message: 'A record with this value already exists' });
  });
});

describe('metadata.md', () => {
  it('metadata:33-44 the invoice entity example is echoed in its normalised form', async () => {
    // The example names slug field "slug" and source "title" without declaring them; as written it is refused
    // (metadata:135), so the two fields are added here and everything else is the example's.
    const def = {
      name: 'invoice',
      table: 'invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      soft_delete: true,
      slug: { field: 'slug', source: 'title', regenerate_on_update: false },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'number', type: 'string', required: true, unique: true },
        { name: 'status', type: 'string', default: 'draft', enum: ['draft', 'sent', 'paid'] },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
        { name: 'title', type: 'string' },
        { name: 'slug', type: 'string', unique: true },
        { name: 'sent_at', type: 'string' },
        { name: 'payment_date', type: 'date' },
      ],
    };
    const created = await admin('post', '/_admin/entities', def);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The example also shows slug.regenerate_on_update:false; the echo omits false flags as it does for fields
    // (metadata:63), which the project pins (entities-admin.test.ts) — reported, left alone.
    const { regenerate_on_update: _off, ...slugEcho } = def.slug;
    expect(created.body.data).toEqual({ ...def, slug: slugEcho });
    const row = await admin('get', '/_admin/entities/invoice');
    expect(sorted(row.body.data)).toEqual(['created_at', 'definition', 'name', 'table_name', 'updated_at']);
    expect(row.body.data).toMatchObject({ name: 'invoice', table_name: 'invoices', definition: { ...def, slug: slugEcho } });
    expect(row.body.data.created_at).toMatch(RFC3339);

    const asWritten = { ...def, name: 'invoice_as_written', table: 'invoices_as_written', fields: def.fields.slice(0, 6) };
    const refused = await admin('post', '/_admin/entities', asWritten);
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toBe('slug field "slug" not found in fields');
  });

  it('metadata:106-112 both relation examples are stored and echoed as written', async () => {
    await entity({
      name: 'invoice_item',
      table: 'invoice_items',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid' },
        { name: 'quantity', type: 'int' },
        { name: 'unit_price', type: 'decimal', precision: 2 },
      ],
    });
    for (const n of ['post', 'tag']) {
      await entity({
        name: n,
        table: `${n}s`,
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'title', type: 'string' },
        ],
      });
    }
    const items = {
      name: 'items',
      type: 'one_to_many',
      source: 'invoice',
      target: 'invoice_item',
      source_key: 'id',
      target_key: 'invoice_id',
      ownership: 'source',
      on_delete: 'cascade',
      fetch: 'lazy',
      write_mode: 'diff',
    };
    const tags = {
      name: 'tags',
      type: 'many_to_many',
      source: 'post',
      target: 'tag',
      source_key: 'id',
      join_table: 'post_tags',
      source_join_key: 'post_id',
      target_join_key: 'tag_id',
      ownership: 'none',
      on_delete: 'detach',
    };
    for (const rel of [items, tags]) {
      const res = await admin('post', '/_admin/relations', rel);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.data).toMatchObject(rel);
      const row = await admin('get', `/_admin/relations/${rel.name}`);
      expect(sorted(row.body.data)).toEqual(['created_at', 'definition', 'name', 'source', 'target', 'updated_at']);
      expect(row.body.data.definition).toMatchObject(rel);
    }
    const dup = await admin('post', '/_admin/relations', items);
    expect(dup.body.error).toEqual({ code: 'CONFLICT', message: 'Relation already exists: items' });
    // rest-api:341-347 include shapes: forward one_to_many [] when none, forward many_to_many [], reverse null
    const inv = (await admin('post', '/invoice', { number: 'INC-1' })).body.data;
    expect((await admin('get', `/invoice/${inv.id}?include=items`)).body.data.items).toEqual([]);
    const orphan = (await admin('post', '/invoice_item', { quantity: 1 })).body.data;
    const rev = await admin('get', `/invoice_item/${orphan.id}?include=items`);
    expect(rev.body.data).toHaveProperty('items', null);
    const p1 = (await admin('post', '/post', { title: 'p' })).body.data;
    expect((await admin('get', `/post/${p1.id}?include=tags`)).body.data.tags).toEqual([]);
    const gone = await admin('get', '/_admin/relations/nope');
    expect(gone.body.error).toEqual({ code: 'NOT_FOUND', message: 'Relation not found: nope' });
  });

  it('metadata:176-180 entity admin shapes and messages', async () => {
    const gone = await admin('get', '/_admin/entities/nope');
    expect(gone.status).toBe(404);
    expect(gone.body.error).toEqual({ code: 'NOT_FOUND', message: 'Entity not found: nope' });
    const dup = await admin('post', '/_admin/entities', {
      name: 'post',
      table: 'posts_again',
      primary_key: { field: 'id', type: 'uuid' },
      fields: [{ name: 'id', type: 'uuid' }],
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toEqual({ code: 'CONFLICT', message: 'Entity already exists: post' });
    const noFields = await admin('post', '/_admin/entities', { name: 'empty_one', table: 'empty_ones', primary_key: { field: 'id' }, fields: [] });
    expect(noFields.status).toBe(422);
    // metadata:178 says "message only, no details"; the project adds details with paths (console.md:377 shows
    // them next to the inputs) — reported, left alone. The message is the spec's.
    expect(noFields.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'entity must have at least one field' });
    await entity({
      name: 'doomed',
      table: 'dooms',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [{ name: 'id', type: 'uuid' }],
    });
    const del = await admin('delete', '/_admin/entities/doomed');
    expect(del.body).toEqual({ data: { name: 'doomed', deleted: true } });
    const list = await admin('get', '/_admin/entities');
    expect(Object.keys(list.body)).toEqual(['data']);
    const names = list.body.data.map((e: { name: string }) => e.name);
    expect(names).toEqual([...names].sort());
  });

  it('metadata:208-214 UI config rows and messages', async () => {
    const created = await admin('post', '/_admin/ui-configs', { entity: 'post', config: { columns: ['title'] } });
    expect(created.status).toBe(201);
    expect(sorted(created.body.data)).toEqual(['config', 'created_at', 'entity', 'id', 'scope', 'updated_at']);
    expect(created.body.data).toMatchObject({ entity: 'post', scope: 'default', config: { columns: ['title'] } });
    expect((await admin('post', '/_admin/ui-configs', { config: {} })).body.error.message).toBe('entity is required');
    expect((await admin('post', '/_admin/ui-configs', { entity: 'ghost' })).body.error.message).toBe('entity not found: ghost');
    expect((await admin('post', '/_admin/ui-configs', { entity: 'post' })).status).toBe(409);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/ui-configs/${missing}`)).body.error.message).toBe(`UI config not found: ${missing}`);
    const mine = await admin('get', '/_ui/config/post');
    expect(mine.body.data).toEqual(created.body.data);
    const extra = await admin('post', '/_admin/ui-configs', { entity: 'post', scope: 'mobile' });
    expect((await admin('delete', `/_admin/ui-configs/${extra.body.data.id}`)).body).toEqual({ data: { id: extra.body.data.id, deleted: true } });
    const rel = await admin('post', '/_admin/relations', {
      name: 'tmp_rel',
      type: 'one_to_many',
      source: 'post',
      target: 'tag',
      target_key: 'title',
    });
    expect(rel.status).toBe(201);
    expect((await admin('delete', '/_admin/relations/tmp_rel')).body).toEqual({ data: { name: 'tmp_rel', deleted: true } });
  });
});

describe('rules.md', () => {
  it('rules:229-233,256-260 the rule object example: 201 with id and no timestamps; row has timestamps', async () => {
    const body = {
      entity: 'invoice',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'total', operator: 'min', value: 0, message: 'Total must be non-negative' },
      priority: 10,
      active: true,
    };
    const res = await admin('post', '/_admin/rules', body);
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ id: expect.stringMatching(UUID_V4), ...body });
    const row = await admin('get', `/_admin/rules/${res.body.data.id}`);
    expect(sorted(row.body.data)).toEqual(['active', 'created_at', 'definition', 'entity', 'hook', 'id', 'priority', 'type', 'updated_at']);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/rules/${missing}`)).body.error.message).toBe(`Rule not found: ${missing}`);
    const put = await admin('put', `/_admin/rules/${res.body.data.id}`, { ...body, priority: 11 });
    expect(put.body.data).toEqual({ id: res.body.data.id, ...body, priority: 11 });
    expect((await admin('post', '/_admin/rules', { ...body, hook: 'after' })).body.error.message).toBe(
      'invalid hook: after (must be before_write or before_delete)',
    );
    expect((await admin('post', '/_admin/rules', { ...body, type: 'magic' })).body.error.message).toBe(
      'invalid rule type: magic (must be field, expression, or computed)',
    );
    expect((await admin('post', '/_admin/rules', { ...body, entity: 'ghost' })).body.error.message).toBe('entity not found: ghost');
    const n = await s.client.post(`/api/${app.name}/invoice`, { token: app.token, body: { number: 'R-1', total: -1 } });
    expect(n.status).toBe(422);
    expect(n.body.error.details[0]).toEqual({ field: 'total', rule: 'min', message: 'Total must be non-negative' });
    const ok = await admin('post', '/invoice', { number: 'R-2', total: 100 });
    expect(ok.status).toBe(201);
    const del = await admin('delete', `/_admin/rules/${res.body.data.id}`);
    expect(del.body).toEqual({ data: { id: res.body.data.id, deleted: true } });
  });

  it('rules:303,308,323,327 default messages and pinned expression examples', async () => {
    await entity({
      name: 'person',
      table: 'persons',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'first_name', type: 'string' },
        { name: 'last_name', type: 'string' },
        { name: 'full_name', type: 'string' },
        { name: 'code', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'payment_date', type: 'date' },
      ],
    });
    const rules = [
      { entity: 'person', hook: 'before_write', type: 'field', definition: { field: 'code', operator: 'min_length', value: 3 } },
      {
        entity: 'person',
        hook: 'before_write',
        type: 'expression',
        definition: { expression: "record.status == 'paid' && record.payment_date == nil" },
      },
      {
        entity: 'person',
        hook: 'before_write',
        type: 'computed',
        definition: { field: 'full_name', expression: "record.first_name + ' ' + record.last_name" },
      },
    ];
    for (const r of rules) expect((await admin('post', '/_admin/rules', r)).status).toBe(201);
    const bad = await admin('post', '/person', { code: 'ab', status: 'paid' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([
      { field: 'code', rule: 'min_length', message: 'field code failed min_length validation' },
      { rule: 'expression', message: 'Expression rule violated' },
    ]);
    const good = await admin('post', '/person', { first_name: 'John', last_name: 'Doe', status: 'paid', payment_date: '2025-01-15' });
    expect(good.status).toBe(201);
    expect(good.body.data.full_name).toBe('John Doe');
  });

  it('rules:348-350 the related_load example refuses deleting a customer with open invoices', async () => {
    await entity({
      name: 'rl_customer',
      table: 'rl_customers',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await entity({
      name: 'rl_invoice',
      table: 'rl_invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'customer_id', type: 'uuid' },
        { name: 'status', type: 'string' },
      ],
    });
    expect(
      (
        await admin('post', '/_admin/relations', {
          name: 'invoices',
          type: 'one_to_many',
          source: 'rl_customer',
          target: 'rl_invoice',
          target_key: 'customer_id',
        })
      ).status,
    ).toBe(201);
    const rule = await admin('post', '/_admin/rules', {
      entity: 'rl_customer',
      hook: 'before_delete',
      type: 'expression',
      definition: {
        expression: 'len(related.invoices) > 0',
        message: 'Cannot delete customer with existing invoices',
        related_load: [{ relation: 'invoices', filter: { 'status.in': ['draft', 'sent'] } }],
      },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const c = (await admin('post', '/rl_customer', { name: 'Acme', invoices: { data: [{ status: 'sent' }] } })).body.data;
    const refused = await admin('delete', `/rl_customer/${c.id}`);
    expect(refused.status).toBe(422);
    expect(refused.body.error.details).toEqual([{ rule: 'expression', message: 'Cannot delete customer with existing invoices' }]);
    const d = (await admin('post', '/rl_customer', { name: 'Paid', invoices: { data: [{ status: 'paid' }] } })).body.data;
    expect((await admin('delete', `/rl_customer/${d.id}`)).status).toBe(200);
  });
});

describe('state-machines.md', () => {
  it('state-machines:122-129 the object example is stored and echoed; from echoed as string or array', async () => {
    const body = {
      entity: 'invoice',
      field: 'status',
      active: true,
      definition: {
        initial: 'draft',
        transitions: [
          {
            from: 'draft',
            to: 'sent',
            roles: ['accountant'],
            guard: 'record.total > 0',
            actions: [{ type: 'set_field', field: 'sent_at', value: 'now' }],
          },
          { from: ['draft', 'sent'], to: 'void' },
        ],
      },
    };
    const res = await admin('post', '/_admin/state-machines', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toEqual({ id: expect.stringMatching(UUID_V4), ...body });
    const row = await admin('get', `/_admin/state-machines/${res.body.data.id}`);
    expect(sorted(row.body.data)).toEqual(['active', 'created_at', 'definition', 'entity', 'field', 'id', 'updated_at']);
    expect(row.body.data.definition).toEqual(body.definition);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/state-machines/${missing}`)).body.error.message).toBe(`State machine not found: ${missing}`);

    // state-machines:164,169,171,174,184
    const early = await admin('post', '/invoice', { number: 'S-0', status: 'sent' });
    expect(early.body.error.details).toEqual([{ field: 'status', rule: 'state_machine', message: "Initial state must be 'draft', got 'sent'" }]);
    const inv = (await admin('post', '/invoice', { number: 'S-1', status: 'draft', total: 0 })).body.data;
    const jump = await admin('put', `/invoice/${inv.id}`, { status: 'paid' });
    expect(jump.body.error.details).toEqual([{ field: 'status', rule: 'state_machine', message: "Invalid transition from 'draft' to 'paid'" }]);
    const clerk = await userWith(['clerk']);
    const grant = await admin('post', '/_admin/permissions', { entity: 'invoice', action: 'update', roles: ['clerk', 'accountant'] });
    const denied = await clerk.call('put', `/invoice/${inv.id}`, { status: 'sent' });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({ code: 'FORBIDDEN', message: "Transition from 'draft' to 'sent' not allowed for your roles" });
    const accountant = await userWith(['accountant']);
    const blocked = await accountant.call('put', `/invoice/${inv.id}`, { status: 'sent' });
    expect(blocked.body.error.details).toEqual([
      { field: 'status', rule: 'state_machine', message: "Transition from 'draft' to 'sent' blocked by guard" },
    ]);
    const sent = await accountant.call('put', `/invoice/${inv.id}`, { status: 'sent', total: 5 });
    expect(sent.status).toBe(200);
    expect(sent.body.data.sent_at).toMatch(SECONDS_Z);
    await admin('delete', `/_admin/state-machines/${res.body.data.id}`);
    await admin('delete', `/_admin/permissions/${grant.body.data.id}`);
  });
});

describe('workflows.md', () => {
  const definition = {
    name: 'po_approval',
    active: true,
    trigger: { type: 'state_change', entity: 'purchase_order', field: 'status', to: 'pending_approval' },
    context: { record_id: 'trigger.record_id', amount: 'trigger.record.amount' },
    steps: [
      { id: 'check', type: 'condition', expression: 'context.amount > 10000', on_true: { goto: 'mgr' }, on_false: { goto: 'approve' } },
      {
        id: 'mgr',
        type: 'approval',
        assignee: { type: 'role', role: 'manager' },
        timeout: '72h',
        on_approve: { goto: 'approve' },
        on_reject: { goto: 'reject' },
        on_timeout: 'end',
      },
      {
        id: 'approve',
        type: 'action',
        then: 'end',
        actions: [{ type: 'set_field', entity: 'purchase_order', record_id: 'context.record_id', field: 'status', value: 'approved' }],
      },
      {
        id: 'reject',
        type: 'action',
        then: { goto: 'end' },
        actions: [{ type: 'webhook', url: 'https://hooks.example.com/rejected', method: 'POST' }],
      },
    ],
  };
  let workflowId: string;

  beforeAll(async () => {
    await entity({
      name: 'purchase_order',
      table: 'purchase_orders',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'amount', type: 'decimal', precision: 2 },
      ],
    });
  });

  it('workflows:216-234,253-257 the definition example is stored; gotos echoed as "end" or {goto}', async () => {
    const res = await admin('post', '/_admin/workflows', definition);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    workflowId = res.body.data.id;
    const echoedSteps = structuredClone(definition.steps) as Array<Record<string, unknown>>;
    echoedSteps[3]!.then = 'end';
    expect(res.body.data).toEqual({ id: expect.stringMatching(UUID_V4), ...definition, steps: echoedSteps });
    const row = await admin('get', `/_admin/workflows/${workflowId}`);
    expect(sorted(row.body.data)).toEqual(['active', 'context', 'created_at', 'id', 'name', 'steps', 'trigger', 'updated_at']);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/workflows/${missing}`)).body.error.message).toBe(`Workflow not found: ${missing}`);
    expect((await admin('post', '/_admin/workflows', definition)).status).toBe(409);
  });

  it('workflows:307-320,327-344 the instance shape while paused and once completed', async () => {
    const manager = await userWith(['manager']);
    const po = (await admin('post', '/purchase_order', { status: 'draft', amount: 25000 })).body.data;
    expect((await admin('put', `/purchase_order/${po.id}`, { status: 'pending_approval' })).status).toBe(200);
    const pending = await manager.call('get', '/_workflows/pending');
    expect(pending.status).toBe(200);
    const inst = pending.body.data.find((i: { context: { record_id: string } }) => i.context.record_id === po.id);
    expect(sorted(inst)).toEqual([
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
    expect(inst).toMatchObject({
      workflow_id: workflowId,
      workflow_name: 'po_approval',
      status: 'running',
      current_step: 'mgr',
      context: { record_id: po.id, amount: 25000 },
    });
    expect(inst.current_step_deadline).toMatch(RFC3339);
    const hours = (Date.parse(inst.current_step_deadline) - Date.parse(inst.created_at)) / 3_600_000;
    expect(Math.round(hours)).toBe(72);
    expect(inst.history).toEqual([{ step: 'check', status: 'on_true', at: expect.stringMatching(RFC3339) }]);
    expect(inst.created_at).toMatch(RFC3339);

    const outsider = await userWith(['clerk']);
    expect((await outsider.call('post', `/_workflows/${inst.id}/approve`)).status).toBe(403);
    const approved = await manager.call('post', `/_workflows/${inst.id}/approve`);
    expect(approved.status).toBe(200);
    const done = approved.body.data;
    expect(sorted(done)).toEqual(['context', 'created_at', 'current_step', 'history', 'id', 'status', 'updated_at', 'workflow_id', 'workflow_name']);
    expect(done).toMatchObject({ status: 'completed', current_step: '' });
    expect(done.history).toEqual([
      { step: 'check', status: 'on_true', at: expect.stringMatching(RFC3339) },
      { step: 'mgr', status: 'approved', by: manager.id, at: expect.stringMatching(RFC3339) },
      { step: 'approve', status: 'completed', at: expect.stringMatching(RFC3339) },
    ]);
    expect((await admin('get', `/purchase_order/${po.id}`)).body.data.status).toBe('approved');
    expect((await manager.call('get', `/_workflows/${inst.id}`)).body.data).toEqual(done);

    const again = await manager.call('post', `/_workflows/${inst.id}/approve`);
    expect(again.status).toBe(422);
    expect(again.body.error.message).toBe('workflow instance is not running (status: completed)');
    const missing = '00000000-0000-4000-8000-000000000000';
    const gone = await manager.call('get', `/_workflows/${missing}`);
    expect(gone.body.error).toEqual({ code: 'NOT_FOUND', message: `Workflow instance not found: ${missing}` });
    expect((await manager.call('delete', `/_workflows/${inst.id}`)).status).toBe(403);
    const del = await admin('delete', `/_workflows/${inst.id}`);
    expect(del.body).toEqual({ data: { deleted: true } });

    const small = (await admin('post', '/purchase_order', { status: 'draft', amount: 5000 })).body.data;
    await admin('put', `/purchase_order/${small.id}`, { status: 'pending_approval' });
    expect((await admin('get', `/purchase_order/${small.id}`)).body.data.status).toBe('approved');
    const wfDel = await admin('delete', `/_admin/workflows/${workflowId}`);
    expect(wfDel.body).toEqual({ data: { id: workflowId, deleted: true } });
  });
});

describe('auth.md', () => {
  it('auth:10-12,37-43 login/refresh/logout and authentication messages', async () => {
    const base = `/api/${app.name}/auth`;
    const cases: Array<[string, unknown, number, string, string]> = [
      ['/login', { email: 'admin@localhost' }, 401, 'UNAUTHORIZED', 'Email and password are required'],
      ['/login', { email: 'admin@localhost', password: 'wrong' }, 401, 'UNAUTHORIZED', 'Invalid email or password'],
      ['/refresh', {}, 401, 'UNAUTHORIZED', 'Refresh token is required'],
      ['/refresh', { refresh_token: 'nope' }, 401, 'UNAUTHORIZED', 'Invalid refresh token'],
      ['/logout', {}, 401, 'UNAUTHORIZED', 'Refresh token is required'],
    ];
    for (const [path, body, status, code, message] of cases) {
      const res = await s.client.post(base + path, { body });
      expect(res.status, path).toBe(status);
      expect(res.body.error, path).toEqual({ code, message });
    }
    const bad = await s.client.post(`${base}/login`, { raw: '[1' });
    expect(bad.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid request body' });
    const unknownLogout = await s.client.post(`${base}/logout`, { body: { refresh_token: '00000000-0000-4000-8000-000000000000' } });
    expect(unknownLogout.body).toEqual({ message: 'Logged out' });

    const path = `/api/${app.name}/post`;
    expect((await s.client.get(path)).body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Missing auth token' });
    expect((await s.client.get(path, { headers: { authorization: 'Token x' } })).body.error).toEqual({
      code: 'UNAUTHORIZED',
      message: 'Invalid auth header format',
    });
    expect((await s.client.get(path, { headers: { authorization: 'bearer x.y.z' } })).body.error).toEqual({
      code: 'UNAUTHORIZED',
      message: 'Invalid or expired token',
    });
    const plain = await userWith(['clerk']);
    const notAdmin = await plain.call('get', '/_admin/users');
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.error).toEqual({ code: 'FORBIDDEN', message: 'Admin access required' });
    const noPolicy = await plain.call('get', '/tag');
    expect(noPolicy.body.error).toEqual({ code: 'FORBIDDEN', message: 'No permission for read on tag' });
  });

  it('auth:49-57 the user object and its admin messages', async () => {
    const created = await admin('post', '/_admin/users', { email: '  Mixed@Example.ORG ', password: 'pw-123456' });
    expect(created.status).toBe(201);
    expect(sorted(created.body.data)).toEqual(['active', 'created_at', 'email', 'id', 'roles', 'updated_at']);
    expect(created.body.data).toMatchObject({ email: 'mixed@example.org', roles: [], active: true });
    const id = created.body.data.id;
    expect((await admin('post', '/_admin/users', { email: 'mixed@example.org', password: 'x' })).body.error).toEqual({
      code: 'CONFLICT',
      message: 'A user with this email already exists',
    });
    expect((await admin('post', '/_admin/users', { password: 'x' })).body.error.message).toBe('email is required');
    expect((await admin('post', '/_admin/users', { email: 'p@example.org' })).body.error.message).toBe('password is required');
    const put = await admin('put', `/_admin/users/${id}`, { email: 'mixed@example.org', roles: ['a'] });
    expect(put.body.data).toMatchObject({ id, roles: ['a'], active: true });
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/users/${missing}`)).body.error.message).toBe(`User not found: ${missing}`);
    expect((await admin('delete', `/_admin/users/${id}`)).body).toEqual({ data: { id, deleted: true } });
  });

  it('auth:66-81 invites: object, bulk answer, accept answer', async () => {
    const inv = await admin('post', '/_admin/invites', { email: 'new.one@example.org', roles: ['clerk'] });
    expect(inv.status).toBe(201);
    expect(sorted(inv.body.data)).toEqual(['created_at', 'email', 'expires_at', 'id', 'invited_by', 'roles', 'token']);
    expect(inv.body.data.token).toMatch(UUID_V4);
    expect(inv.body.data.expires_at).toMatch(RFC3339);
    expect(Math.round((Date.parse(inv.body.data.expires_at) - Date.parse(inv.body.data.created_at)) / 3_600_000)).toBe(72);
    expect((await admin('post', '/_admin/invites', { email: 'new.one@example.org' })).body.error).toEqual({
      code: 'CONFLICT',
      message: 'A pending invite already exists for this email',
    });
    const list = await admin('get', '/_admin/invites');
    expect(sorted(list.body.data[0])).toEqual(['accepted_at', 'created_at', 'email', 'expires_at', 'id', 'invited_by', 'roles', 'token']);

    const bulk = await admin('post', '/_admin/invites/bulk', { emails: ['A@example.org', 'a@example.org ', 'new.one@example.org'] });
    expect(bulk.status).toBe(200);
    expect(sorted(bulk.body.data)).toEqual(['created', 'skipped', 'summary']);
    expect(bulk.body.data.summary).toEqual({ total: 2, created: 1, skipped: 1 });
    expect(sorted(bulk.body.data.created[0])).toEqual(['email', 'expires_at', 'id', 'token']);
    expect(bulk.body.data.skipped).toEqual([{ email: 'new.one@example.org', reason: 'A pending invite already exists for this email' }]);
    expect((await admin('post', '/_admin/invites/bulk', { emails: [] })).body.error.message).toBe('emails is required and must be a non-empty array');

    const accepted = await s.client.post(`/api/${app.name}/auth/accept-invite`, { body: { token: inv.body.data.token, password: 'pw-123456' } });
    expect(accepted.status).toBe(201);
    expect(sorted(accepted.body.data)).toEqual(['access_token', 'refresh_token', 'user']);
    expect(accepted.body.data.user).toEqual({ id: expect.stringMatching(UUID_V4), email: 'new.one@example.org', roles: ['clerk'] });
    const twice = await s.client.post(`/api/${app.name}/auth/accept-invite`, { body: { token: inv.body.data.token, password: 'pw-123456' } });
    expect(twice.status).toBe(400);
    expect(twice.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Invite has already been accepted' });
    const unknown = await s.client.post(`/api/${app.name}/auth/accept-invite`, { body: { token: 'nope', password: 'x' } });
    expect(unknown.body.error).toEqual({ code: 'NOT_FOUND', message: 'Invalid invite token' });
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('delete', `/_admin/invites/${missing}`)).body.error.message).toBe(`Invite not found: ${missing}`);
  });

  it('auth:88-101,116 the permission example: 201 echo, row, denial message', async () => {
    const body = {
      entity: 'invoice',
      action: 'update',
      roles: ['accountant'],
      conditions: [{ field: 'status', operator: 'in', value: ['draft', 'sent'] }],
    };
    const res = await admin('post', '/_admin/permissions', body);
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ id: expect.stringMatching(UUID_V4), ...body });
    const row = await admin('get', `/_admin/permissions/${res.body.data.id}`);
    expect(sorted(row.body.data)).toEqual(['action', 'conditions', 'created_at', 'entity', 'id', 'roles', 'updated_at']);
    const bare = await admin('post', '/_admin/permissions', { entity: 'invoice', action: 'read' });
    expect(bare.body.data).toEqual({ id: expect.stringMatching(UUID_V4), entity: 'invoice', action: 'read', roles: [] });
    expect((await admin('post', '/_admin/permissions', { entity: 'invoice', action: 'fly' })).body.error.message).toBe(
      'action must be read, create, update, or delete',
    );
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/permissions/${missing}`)).body.error.message).toBe(`Permission not found: ${missing}`);

    const paid = (await admin('post', '/invoice', { number: 'P-1', status: 'draft' })).body.data;
    await s.rocket.services.apps.get(app.name).then((r) => r!.db.query(`UPDATE invoices SET status = 'paid' WHERE id = $1`, [paid.id]));
    const accountant = await userWith(['accountant']);
    const denied = await accountant.call('put', `/invoice/${paid.id}`, { total: 1 });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied for update on invoice' });
    await admin('delete', `/_admin/permissions/${bare.body.data.id}`);
  });
});

describe('webhooks.md', () => {
  let receiver: Server;
  let url: string;
  const calls: Array<{ headers: Record<string, unknown>; body: any }> = [];
  let replyStatus = 200;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        calls.push({ headers: req.headers, body: JSON.parse(text || 'null') });
        res.statusCode = replyStatus;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/order`;
    await entity({
      name: 'order',
      table: 'orders',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
      ],
    });
  });
  afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

  async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 100; i++) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('timed out');
  }

  it('webhooks:143-149,155-162 the webhook object example: 201 full row, defaults', async () => {
    const body = {
      entity: 'order',
      hook: 'after_write',
      url: 'https://hooks.example.com/order',
      method: 'POST',
      headers: { 'X-API-Key': '{{env.ORDER_HOOK_KEY}}' },
      condition: "record.status == 'paid' && old.status != 'paid'",
      async: true,
      retry: { max_attempts: 3, backoff: 'exponential' },
      active: true,
    };
    const res = await admin('post', '/_admin/webhooks', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toEqual({
      id: expect.stringMatching(UUID_V4),
      ...body,
      created_at: expect.stringMatching(RFC3339),
      updated_at: expect.stringMatching(RFC3339),
    });
    const minimal = await admin('post', '/_admin/webhooks', { entity: 'order', url: 'https://hooks.example.com/min' });
    expect(minimal.body.data).toMatchObject({
      hook: 'after_write',
      method: 'POST',
      async: true,
      active: true,
      headers: {},
      condition: '',
      retry: { max_attempts: 3, backoff: 'exponential' },
    });
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/webhooks/${missing}`)).body.error.message).toBe(`Webhook not found: ${missing}`);
    expect((await admin('post', '/_admin/webhooks', { entity: 'order', url: 'ftp://x' })).body.error.message).toBe(
      'url must start with http:// or https://',
    );
    expect(
      (await admin('post', '/_admin/webhooks', { entity: 'order', url: 'https://x.example.com', hook: 'after_write', async: false })).body.error
        .message,
    ).toBe('hook after_write requires async true');
    for (const id of [res.body.data.id, minimal.body.data.id])
      expect((await admin('delete', `/_admin/webhooks/${id}`)).body).toEqual({ data: { id, deleted: true } });
  });

  it('webhooks:189-201,236-242,264 payload, log row and retry answer', async () => {
    const hook = await admin('post', '/_admin/webhooks', {
      entity: 'order',
      url,
      condition: "record.status == 'paid' && old.status != 'paid'",
      retry: { max_attempts: 1, backoff: 'linear' },
    });
    expect(hook.status).toBe(201);
    const accountant = await userWith(['accountant']);
    for (const action of ['create', 'update']) await admin('post', '/_admin/permissions', { entity: 'order', action, roles: ['accountant'] });
    const order = (await accountant.call('post', '/order', { status: 'sent' })).body.data;
    const paid = await accountant.call('put', `/order/${order.id}`, { status: 'paid' });
    expect(paid.status).toBe(200);
    const call = await until(async () => calls.at(-1));
    expect(call.headers['content-type']).toBe('application/json');
    expect(sorted(call.body)).toEqual(['action', 'changes', 'entity', 'event', 'idempotency_key', 'old', 'record', 'timestamp', 'user']);
    expect(call.body).toMatchObject({
      event: 'after_write',
      entity: 'order',
      action: 'update',
      record: { id: order.id, status: 'paid' },
      old: { id: order.id, status: 'sent' },
      changes: { status: { old: 'sent', new: 'paid' } },
    });
    expect(call.body.user).toEqual({ id: accountant.id, roles: ['accountant'] });
    expect(call.body.timestamp).toMatch(RFC3339);
    expect(call.body.idempotency_key).toMatch(/^wh_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const logs = await admin('get', `/_admin/webhook-logs?webhook_id=${hook.body.data.id}`);
    const log = logs.body.data[0];
    expect(sorted(log)).toEqual(
      [
        'attempt',
        'created_at',
        'entity',
        'error',
        'hook',
        'id',
        'idempotency_key',
        'max_attempts',
        'method',
        'next_retry_at',
        'request_body',
        'request_headers',
        'response_body',
        'response_status',
        'status',
        'updated_at',
        'url',
        'webhook_id',
      ].sort(),
    );
    expect(log).toMatchObject({
      status: 'delivered',
      attempt: 1,
      max_attempts: 1,
      response_status: 200,
      next_retry_at: null,
      request_body: call.body,
    });
    const early = await admin('post', `/_admin/webhook-logs/${log.id}/retry`);
    expect(early.status).toBe(422);
    expect(early.body.error.message).toBe('Can only retry failed or retrying webhook logs');

    // webhooks:198-201 on create: no `old`, every field in `changes` with old null; webhooks:213-216,243 the
    // header template of the example is stored unresolved and sent empty (ORDER_HOOK_KEY is not allowed)
    const all = await admin('post', '/_admin/webhooks', { entity: 'order', url, headers: { 'X-API-Key': '{{env.ORDER_HOOK_KEY}}' } });
    const fresh = (await admin('post', '/order', { status: 'new' })).body.data;
    const createCall = await until(async () => calls.find((c) => c.body.action === 'create' && c.body.record.id === fresh.id));
    expect(sorted(createCall.body)).toEqual(['action', 'changes', 'entity', 'event', 'idempotency_key', 'record', 'timestamp', 'user']);
    expect(createCall.body.changes).toEqual({ id: { old: null, new: fresh.id }, status: { old: null, new: 'new' } });
    expect(createCall.headers['x-api-key']).toBe('');
    const createLog = (await admin('get', `/_admin/webhook-logs?webhook_id=${all.body.data.id}`)).body.data[0];
    expect(createLog.request_headers).toEqual({ 'X-API-Key': '{{env.ORDER_HOOK_KEY}}' });
    await admin('delete', `/_admin/webhooks/${all.body.data.id}`);

    replyStatus = 500;
    const again = (await accountant.call('post', '/order', { status: 'sent' })).body.data;
    await accountant.call('put', `/order/${again.id}`, { status: 'paid' });
    const failed = await until(async () => {
      const l = (await admin('get', `/_admin/webhook-logs?webhook_id=${hook.body.data.id}&status=failed`)).body.data[0];
      return l;
    });
    expect(failed).toMatchObject({ error: 'HTTP 500', response_status: 500 });
    const retried = await admin('post', `/_admin/webhook-logs/${failed.id}/retry`);
    expect(retried.status).toBe(200);
    expect(sorted(retried.body.data)).toEqual(
      ['attempt', 'entity', 'hook', 'id', 'max_attempts', 'method', 'next_retry_at', 'status', 'updated_at', 'url', 'webhook_id'].sort(),
    );
    expect(retried.body.data.status).toBe('retrying');
    expect(retried.body.data.next_retry_at).toMatch(RFC3339);
    await admin('delete', `/_admin/webhooks/${hook.body.data.id}`);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_admin/webhook-logs/${missing}`)).body.error.message).toBe(`Webhook log not found: ${missing}`);

    // webhooks:219 the sync failure message
    const sync = await admin('post', '/_admin/webhooks', { entity: 'order', hook: 'before_write', async: false, url });
    const vetoed = await admin('post', '/order', { status: 'x' });
    expect(vetoed.status).toBe(502);
    expect(vetoed.body.error).toEqual({ code: 'WEBHOOK_FAILED', message: `Webhook ${sync.body.data.id} failed: HTTP 500` });
    await admin('delete', `/_admin/webhooks/${sync.body.data.id}`);
    replyStatus = 200;
  });
});

describe('multi-app.md', () => {
  it('multi-app:302-313,326,331 app API messages and database naming', async () => {
    const p = (m: Method, path: string, body?: unknown) => s.client[m](`/api/_platform${path}`, { token: s.platformToken, body });
    expect((await p('get', '/apps/nope-nope')).body.error).toEqual({ code: 'NOT_FOUND', message: 'App not found' });
    expect((await p('post', '/apps', {})).body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'App name is required' });
    expect((await p('post', '/apps', { name: 'Bad Name' })).body.error.message).toBe(
      'App name must be lowercase letters, numbers, hyphens, underscores (start with letter)',
    );
    expect((await p('post', '/apps', { name: 'okname', db_driver: 'mysql' })).body.error.message).toBe("db_driver must be 'postgres' or 'sqlite'");
    expect((await p('post', '/apps', { name: app.name })).body.error).toEqual({ code: 'CONFLICT', message: `App already exists: ${app.name}` });
    const bad = await s.client.post('/api/_platform/apps', { token: s.platformToken, raw: '{' });
    expect(bad.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid request body' });
    const unknown = await s.client.get('/api/no-such-app/post', { token: app.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'APP_NOT_FOUND', message: 'App not found: no-such-app' });
    const appToken = await s.client.get('/api/_platform/apps', { token: app.token });
    expect(appToken.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
  });
});

describe('files.md', () => {
  it('files:10-31,51-52 upload, serve, list, delete and the product example', async () => {
    await entity({
      name: 'product',
      table: 'products',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'image', type: 'file' },
      ],
    });
    const png = new Uint8Array(24531).fill(7);
    const form = new FormData();
    form.append('file', new Blob([png], { type: 'image/png' }), 'photo.png');
    const up = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const file = ((await up.json()) as { data: Record<string, unknown> }).data;
    expect(file).toEqual({
      id: expect.stringMatching(UUID_V4),
      filename: 'photo.png',
      size: 24531,
      mime_type: 'image/png',
      url: `/api/${app.name}/_files/${file.id}`,
    });

    const created = await admin('post', '/product', { name: 'Laptop', image: file.id });
    expect(created.status).toBe(201);
    expect(created.body.data.image).toEqual({ id: file.id, filename: 'photo.png', size: 24531, mime_type: 'image/png' });

    const served = await fetch(`${s.rocket.url}/api/${app.name}/_files/${file.id}`, { headers: { authorization: `Bearer ${app.token}` } });
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('content-disposition')).toBe('inline; filename="photo.png"');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await served.arrayBuffer()).byteLength).toBe(24531);

    const list = await admin('get', '/_files');
    expect(sorted(list.body.data[0])).toEqual(['created_at', 'filename', 'id', 'mime_type', 'size', 'uploaded_by']);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('get', `/_files/${missing}`)).body.error).toEqual({ code: 'NOT_FOUND', message: `File ${missing} not found` });
    expect((await admin('get', '/_files/not-a-uuid')).body.error).toEqual({ code: 'NOT_FOUND', message: 'File not-a-uuid not found' });
    const ghost = await admin('post', '/product', { name: 'Ghost', image: missing });
    expect(ghost.body.error).toEqual({ code: 'NOT_FOUND', message: `File ${missing} not found` });
    const empty = new FormData();
    empty.append('other', 'x');
    const noFile = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}` },
      body: empty,
    });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { error: unknown }).error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Missing file in form data' });
    expect((await admin('delete', `/_files/${file.id}`)).body).toEqual({ data: { deleted: true } });
  });
});

describe('export-import.md', () => {
  it('export-import:60-77 the export document: exact keys, item shapes, exported_at to the second', async () => {
    expect(
      (
        await admin('post', '/_admin/state-machines', {
          entity: 'purchase_order',
          field: 'status',
          definition: { transitions: [{ from: 'draft', to: 'x' }] },
        })
      ).status,
    ).toBe(201);
    expect((await admin('post', '/_admin/webhooks', { entity: 'purchase_order', url: 'https://hooks.example.com/po' })).status).toBe(201);
    expect(
      (await admin('post', '/_admin/workflows', { name: 'exported', trigger: { type: 'event', event: 'e' }, steps: [{ id: 'a', type: 'action' }] }))
        .status,
    ).toBe(201);
    expect((await admin('post', '/_admin/permissions', { entity: 'purchase_order', action: 'read', roles: ['x'] })).status).toBe(201);
    const res = await admin('get', '/_admin/export');
    expect(res.status).toBe(200);
    const doc = res.body.data;
    expect(sorted(doc)).toEqual([
      'entities',
      'exported_at',
      'permissions',
      'relations',
      'rules',
      'state_machines',
      'ui_configs',
      'version',
      'webhooks',
      'workflows',
    ]);
    expect(doc.version).toBe(1);
    expect(doc.exported_at).toMatch(SECONDS_Z);
    expect(sorted(doc.rules[0])).toEqual(['active', 'definition', 'entity', 'hook', 'priority', 'type']);
    for (const p of doc.permissions) expect(sorted(p)).toEqual(['action', 'conditions', 'entity', 'roles']);
    for (const m of doc.state_machines) expect(sorted(m)).toEqual(['active', 'definition', 'entity', 'field']);
    for (const w of doc.workflows) expect(sorted(w)).toEqual(['active', 'context', 'name', 'steps', 'trigger']);
    for (const w of doc.webhooks) expect(sorted(w)).toEqual(['active', 'async', 'condition', 'entity', 'headers', 'hook', 'method', 'retry', 'url']);
    expect(doc.workflows.length + doc.state_machines.length + doc.webhooks.length).toBeGreaterThan(0);
    expect(sorted(doc.ui_configs[0])).toEqual(['config', 'entity', 'scope']);
    expect(doc.entities.find((e: { name: string }) => e.name === 'post')).toEqual({
      name: 'post',
      table: 'posts',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      soft_delete: false,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
      ],
    });
  });

  it('export-import:84-90,126-135 importing the example body with sample_data answers the response example', async () => {
    const other = await s.createApp();
    const post = (body: unknown) => s.client.post(`/api/${other.name}/_admin/import`, { token: other.token, body });
    const pk = { field: 'id', type: 'uuid', generated: true };
    const ids = { post: '11111111-1111-4111-8111-111111111111', tag: '22222222-2222-4222-8222-222222222222' };
    const body = {
      version: 1,
      entities: [
        {
          name: 'customer',
          table: 'customers',
          primary_key: pk,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'name', type: 'string' },
          ],
        },
        {
          name: 'post',
          table: 'posts',
          primary_key: pk,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'title', type: 'string' },
          ],
        },
        {
          name: 'tag',
          table: 'tags',
          primary_key: pk,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'label', type: 'string' },
          ],
        },
      ],
      relations: [
        {
          name: 'tags',
          type: 'many_to_many',
          source: 'post',
          target: 'tag',
          join_table: 'post_tags',
          source_join_key: 'post_id',
          target_join_key: 'tag_id',
        },
      ],
      rules: [],
      state_machines: [],
      workflows: [],
      permissions: [],
      webhooks: [],
      ui_configs: [],
      sample_data: {
        customer: [{ name: 'Acme' }],
        post: [{ id: ids.post, title: 'Hello' }],
        tag: [{ id: ids.tag, label: 'news' }],
        post_tags: [{ post_id: ids.post, tag_id: ids.tag }],
      },
    };
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        message: 'Import completed',
        summary: { entities: 3, relations: 1, rules: 0, state_machines: 0, workflows: 0, permissions: 0, webhooks: 0, ui_configs: 0, records: 4 },
      },
    });
    const linked = await s.client.get(`/api/${other.name}/post/${ids.post}?include=tags`, { token: other.token });
    expect(linked.body.data.tags).toEqual([{ id: ids.tag, label: 'news' }]);
    // history:323-325 the import itself is in the audit log
    const audit = await s.client.get(`/api/${other.name}/_admin/history?entity=_import`, { token: other.token });
    expect(audit.body.data[0]).toMatchObject({
      entity: '_import',
      record_id: null,
      action: 'create',
      changes: { summary: { from: null, to: res.body.data.summary } },
    });
    const noSample = await post({ version: 1, entities: [] });
    expect(noSample.body.data.summary).not.toHaveProperty('records');
    const v2 = await post({ version: 2 });
    expect(v2.status).toBe(422);
    expect(v2.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Unsupported export version: 2' });
    const withErrors = await post({
      version: 1,
      entities: [{ name: 'bad', table: 'bads', primary_key: pk, fields: [{ name: 'id', type: 'nope' }] }],
    });
    expect(withErrors.status).toBe(200);
    expect(withErrors.body.data.errors).toEqual([expect.stringMatching(/^Entity bad: /)]);
  });
});

describe('realtime.md', () => {
  it('realtime:12,25-36,43,53 ticket answer, ready, change event shape, reset', async () => {
    const ticket = await admin('post', '/_realtime/tickets');
    expect(ticket.status).toBe(201);
    expect(sorted(ticket.body.data)).toEqual(['expires_in', 'ticket']);
    expect(typeof ticket.body.data.ticket).toBe('string');
    expect(ticket.body.data.expires_in).toBe(30);
    const stream = await SseReader.open(s.rocket.url, `/api/${app.name}/_realtime?entities=tag&ticket=${ticket.body.data.ticket}`);
    if (!(stream instanceof SseReader)) throw new Error(JSON.stringify(stream));
    try {
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      const [ready] = await stream.waitFor(1, 'ready');
      expect(ready!.data).toEqual({ entities: ['tag'] });
      const created = (await admin('post', '/tag', { title: 'rt' })).body.data;
      await admin('put', `/tag/${created.id}`, { title: 'rt2' });
      const changes = await stream.waitFor(2, 'change');
      for (const ev of changes) expect(ev.id).toMatch(/^[1-9]\d*$/);
      expect(Number(changes[1]!.id)).toBeGreaterThan(Number(changes[0]!.id));
      const upd = changes[1]!.data;
      expect(sorted(upd)).toEqual(['action', 'at', 'by', 'changed', 'entity', 'id', 'record']);
      expect(upd).toMatchObject({ entity: 'tag', action: 'update', id: created.id, record: { id: created.id, title: 'rt2' }, changed: ['title'] });
      expect(upd.at).toMatch(RFC3339);
      expect(typeof upd.by).toBe('string');
    } finally {
      stream.close();
    }
    const reuse = await SseReader.open(s.rocket.url, `/api/${app.name}/_realtime?entities=tag&ticket=${ticket.body.data.ticket}`);
    expect((reuse as { status: number }).status).toBe(401);

    const resumed = await SseReader.open(s.rocket.url, `/api/${app.name}/_realtime?entities=tag`, {
      authorization: `Bearer ${app.token}`,
      'last-event-id': 'abc',
    });
    if (!(resumed instanceof SseReader)) throw new Error(JSON.stringify(resumed));
    try {
      const [first, second] = await resumed.waitFor(2);
      expect(first).toMatchObject({ event: 'ready' });
      expect(second).toMatchObject({ event: 'reset', data: {} });
    } finally {
      resumed.close();
    }
    const empty = await admin('get', '/_realtime');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('INVALID_PAYLOAD');
  });
});

describe('history.md', () => {
  it('history:304-313,330-336 the entry example and both reading endpoints', async () => {
    await entity({
      name: 'h_order',
      table: 'h_orders',
      history: true,
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'total', type: 'decimal' },
      ],
    });
    const user = await userWith(['hist']);
    for (const action of ['create', 'update', 'read']) await admin('post', '/_admin/permissions', { entity: 'h_order', action, roles: ['hist'] });
    const o = (await user.call('post', '/h_order', { status: 'draft', total: 10 })).body.data;
    await user.call('put', `/h_order/${o.id}`, { status: 'approved', total: 12.5 });
    const res = await user.call('get', `/h_order/${o.id}/_history`);
    expect(res.status).toBe(200);
    expect(sorted(res.body)).toEqual(['data', 'meta']);
    expect(res.body.meta).toEqual({ page: 1, per_page: 25, total: 2 });
    const [upd, crt] = res.body.data;
    expect(sorted(upd)).toEqual(['action', 'actor', 'at', 'changes', 'entity', 'id', 'record_id']);
    expect(upd).toMatchObject({
      entity: 'h_order',
      record_id: o.id,
      action: 'update',
      changes: { status: { from: 'draft', to: 'approved' }, total: { from: 10, to: 12.5 } },
      actor: { kind: 'user', id: user.id, email: user.email },
    });
    expect(sorted(upd.actor)).toEqual(['email', 'id', 'kind']);
    expect(upd.at).toMatch(RFC3339);
    expect(crt.changes).toEqual({ id: { from: null, to: o.id }, status: { from: null, to: 'draft' }, total: { from: null, to: 10 } });
    // history:312 delete: every declared field with to null
    const gone = (await user.call('post', '/h_order', { status: 'x', total: 1 })).body.data;
    await admin('delete', `/h_order/${gone.id}`);
    const deleted = (await admin('get', `/h_order/${gone.id}/_history`)).body.data[0];
    expect(deleted).toMatchObject({
      action: 'delete',
      changes: { id: { from: gone.id, to: null }, status: { from: 'x', to: null }, total: { from: 1, to: null } },
    });
    const off = await admin('get', `/post/${ids0()}/_history`);
    expect(off.status).toBe(404);
    expect(off.body.error.code).toBe('NOT_FOUND');

    const audit = await admin('get', '/_admin/history?entity=_entities&record_id=h_order');
    expect(audit.status).toBe(200);
    expect(audit.body.data[0]).toMatchObject({
      entity: '_entities',
      record_id: 'h_order',
      action: 'create',
      changes: { definition: { from: null } },
    });
    expect((await admin('get', '/_admin/history?since=yesterday')).status).toBe(400);
    expect((await user.call('get', '/_admin/history')).status).toBe(403);
  });
});

/** Any uuid: the history-off check answers 404 before looking the record up. */
const ids0 = () => '00000000-0000-4000-8000-000000000000';

describe('openapi.md and operations.md', () => {
  it('openapi:146-156 the document: no envelope, JSON, 3.1.0, servers, bearerAuth, ETag and 304', async () => {
    const res = await admin('get', '/_openapi');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).not.toHaveProperty('data');
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.servers).toEqual([{ url: `/api/${app.name}` }]);
    expect(res.body.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(res.body.security).toEqual([{ bearerAuth: [] }]);
    expect(res.body.paths['/auth/login'].post.security).toEqual([]);
    const etag = res.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await s.client.get(`/api/${app.name}/_openapi`, { token: app.token, headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    const platform = await s.client.get('/api/_platform/openapi', { token: s.platformToken });
    expect(platform.body.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    const docs = await s.client.get(`/api/${app.name}/_docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('operations:462 GET /ready → 200 {"status":"ready"}', async () => {
    const res = await s.client.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready' });
  });
});

describe('smaller examples written inline', () => {
  const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

  it('auth:24-29, multi-app:288 token formats: claims sub, roles, iat, exp only; 15 minutes; refresh a UUID v4', async () => {
    const login = await s.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    const c = claims(login.body.data.access_token);
    expect(sorted(c)).toEqual(['exp', 'iat', 'roles', 'sub']);
    expect(c.exp - c.iat).toBe(900);
    expect(c.roles).toEqual(['admin']);
    expect(login.body.data.refresh_token).toMatch(UUID_V4);
    const header = JSON.parse(Buffer.from(login.body.data.access_token.split('.')[0], 'base64url').toString());
    expect(header.alg).toBe('HS256');
    const p = claims(s.platformToken);
    expect(sorted(p)).toEqual(['exp', 'iat', 'roles', 'sub']);
    expect(p.exp - p.iat).toBe(900);
  });

  it('metadata:56 the indexes example is accepted and echoed with its fields', async () => {
    const res = await admin('post', '/_admin/entities', {
      name: 'indexed',
      table: 'indexeds',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      indexes: [{ fields: ['status', 'created_at'] }, { fields: ['code'], unique: true, name: 'indexed_code_key' }],
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'code', type: 'string' },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.indexes[0].fields).toEqual(['status', 'created_at']);
    expect(res.body.data.indexes[1]).toEqual({ fields: ['code'], unique: true, name: 'indexed_code_key' });
  });

  it('workflows:232-234 a bare step id is echoed as {goto}; {"goto":"end"} and absent gotos as "end"', async () => {
    const res = await admin('post', '/_admin/workflows', {
      name: 'goto_forms',
      trigger: { type: 'event', event: 'goto_forms' },
      steps: [
        { id: 'a', type: 'condition', expression: 'true', on_true: 'b', on_false: { goto: 'end' } },
        { id: 'b', type: 'action', actions: [] },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.steps[0]).toMatchObject({ on_true: { goto: 'b' }, on_false: 'end' });
    expect(res.body.data).toMatchObject({ context: {}, active: true });
    const bad = await admin('post', '/_admin/workflows', {
      name: 'bad_goto',
      trigger: { type: 'event', event: 'x' },
      steps: [{ id: 'a', type: 'action', then: 'zz' }],
    });
    expect(bad.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'goto target not found: zz' });
    const dupStep = await admin('post', '/_admin/workflows', {
      name: 'dup_step',
      trigger: { type: 'event', event: 'x' },
      steps: [
        { id: 'a', type: 'action' },
        { id: 'a', type: 'action' },
      ],
    });
    expect(dupStep.body.error.message).toBe('duplicate step id: a');
    const badType = await admin('post', '/_admin/workflows', {
      name: 'bad_type',
      trigger: { type: 'event', event: 'x' },
      steps: [{ id: 'a', type: 'wait' }],
    });
    expect(badType.body.error.message).toBe('invalid step type: wait (must be action, condition, or approval)');
  });

  it('rules:250 definition keys with empty values are omitted when echoed', async () => {
    const res = await admin('post', '/_admin/rules', {
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'code', operator: 'max_length', value: 9, message: '', expression: '', related_load: [] },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.definition).toEqual({ field: 'code', operator: 'max_length', value: 9 });
    expect(res.body.data).toMatchObject({ priority: 0, active: true });
    await admin('delete', `/_admin/rules/${res.body.data.id}`);
  });

  it('README:168, metadata:100 entity names colliding with route prefixes → 422', async () => {
    for (const name of ['auth', '_admin', '_openapi', '_docs', '_realtime', '_history']) {
      const res = await admin('post', '/_admin/entities', {
        name,
        table: `t${uniqueName('')}`,
        primary_key: { field: 'id', type: 'uuid' },
        fields: [{ name: 'id', type: 'uuid' }],
      });
      expect(res.status, name).toBe(422);
    }
  });
});

describe('more inline examples', () => {
  it('workflows:346-352 a timed-out approval with on_timeout "end" completes with a timed_out entry', async () => {
    const wf = await admin('post', '/_admin/workflows', {
      name: 'timeout_end',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'status', to: 'waiting' },
      context: { record_id: 'record.id', kind: 'purchase_order' },
      steps: [{ id: 'mgr', type: 'approval', assignee: { type: 'role', role: 'manager' }, timeout: '1h30m', on_timeout: 'end' }],
    });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    // the one machine on purchase_order.status (export test) allows draft → x only; this workflow needs `waiting`
    const machines = (await admin('get', '/_admin/state-machines')).body.data.filter((m: { entity: string }) => m.entity === 'purchase_order');
    for (const m of machines) await admin('delete', `/_admin/state-machines/${m.id}`);
    const po = (await admin('post', '/purchase_order', { status: 'draft', amount: 1 })).body.data;
    await admin('put', `/purchase_order/${po.id}`, { status: 'waiting' });
    const inst = (await admin('get', '/_workflows/pending')).body.data.find((i: { workflow_name: string }) => i.workflow_name === 'timeout_end');
    // workflows:235-238 context paths: `record.x` is shorthand for trigger.record.x; plain literals become null
    expect(inst.context).toEqual({ record_id: po.id, kind: null });
    expect(Math.round((Date.parse(inst.current_step_deadline) - Date.parse(inst.created_at)) / 60_000)).toBe(90);
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    await runtime.db.query(`UPDATE _workflow_instances SET current_step_deadline = NOW() - interval '1 minute' WHERE id = $1`, [inst.id]);
    await s.rocket.jobs.runNow('workflow-deadlines');
    const after = (await admin('get', `/_workflows/${inst.id}`)).body.data;
    expect(after).toMatchObject({ status: 'completed', current_step: '' });
    expect(after).not.toHaveProperty('current_step_deadline');
    expect(after.history).toEqual([{ step: 'mgr', status: 'timed_out', at: expect.stringMatching(RFC3339) }]);
  });

  it('auth:75, multi-app:303 accept-invite and app delete messages', async () => {
    const acc = (body: unknown) => s.client.post(`/api/${app.name}/auth/accept-invite`, { body });
    expect((await acc({ password: 'x' })).body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'token is required' });
    expect((await acc({ token: 'x' })).body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'password is required' });
    expect((await s.client.post(`/api/${app.name}/auth/accept-invite`, { raw: '{' })).body.error).toEqual({
      code: 'INVALID_PAYLOAD',
      message: 'Invalid JSON body',
    });
    const del = await s.client.delete('/api/_platform/apps/nope-nope', { token: s.platformToken });
    expect(del.status).toBe(404);
    expect(del.body.error.code).toBe('NOT_FOUND');
    expect(del.body.error.message).toMatch(/^App not found or failed to delete: /);
  });

  it('realtime:17-21 checks before the stream opens', async () => {
    const open = (q: string) => SseReader.open(s.rocket.url, `/api/${app.name}/_realtime?${q}`, { authorization: `Bearer ${app.token}` });
    const several = (await open('entities=tag,post&filter[title]=x')) as { status: number; body: any };
    expect(several.status).toBe(400);
    expect(several.body.error.code).toBe('INVALID_PAYLOAD');
    const unknown = (await open('entities=ghost')) as { status: number; body: any };
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('UNKNOWN_ENTITY');
    const badField = (await open('entities=tag&filter[nope]=1')) as { status: number; body: any };
    expect(badField.body.error.code).toBe('UNKNOWN_FIELD');
  });
});

describe('PUT answers of the admin collections (route table README:107-131)', () => {
  it('rules, state machines, workflows and permissions answer the object without timestamps; webhooks, users and UI configs the row', async () => {
    const sm = await admin('post', '/_admin/state-machines', {
      entity: 'person',
      field: 'status',
      definition: { transitions: [{ from: 'a', to: 'b' }] },
    });
    const smPut = await admin('put', `/_admin/state-machines/${sm.body.data.id}`, {
      entity: 'person',
      field: 'status',
      definition: { transitions: [{ from: ['a'], to: 'c' }] },
    });
    expect(smPut.status).toBe(200);
    expect(smPut.body.data).toEqual({
      id: sm.body.data.id,
      entity: 'person',
      field: 'status',
      active: true,
      definition: { transitions: [{ from: 'a', to: 'c' }] },
    });
    await admin('delete', `/_admin/state-machines/${sm.body.data.id}`);

    const wfBody = { name: 'put_shape', trigger: { type: 'event', event: 'e' }, steps: [{ id: 'a', type: 'action' }] };
    const wf = await admin('post', '/_admin/workflows', wfBody);
    expect(sorted(wf.body.data)).toEqual(['active', 'context', 'id', 'name', 'steps', 'trigger']);
    const wfPut = await admin('put', `/_admin/workflows/${wf.body.data.id}`, { ...wfBody, active: false });
    expect(wfPut.status).toBe(200);
    expect(sorted(wfPut.body.data)).toEqual(['active', 'context', 'id', 'name', 'steps', 'trigger']);
    expect(wfPut.body.data.active).toBe(false);

    const perm = await admin('post', '/_admin/permissions', { entity: 'person', action: 'read', roles: ['r'] });
    const permPut = await admin('put', `/_admin/permissions/${perm.body.data.id}`, {
      entity: 'person',
      action: 'update',
      roles: ['r'],
      conditions: [{ field: 'status', operator: 'eq', value: 'x' }],
    });
    expect(permPut.body.data).toEqual({
      id: perm.body.data.id,
      entity: 'person',
      action: 'update',
      roles: ['r'],
      conditions: [{ field: 'status', operator: 'eq', value: 'x' }],
    });
    const badAction = await admin('put', `/_admin/permissions/${perm.body.data.id}`, { entity: 'person', action: 'fly' });
    expect(badAction.body.error.message).toBe('action must be read, create, update, or delete');
    await admin('delete', `/_admin/permissions/${perm.body.data.id}`);

    const hook = await admin('post', '/_admin/webhooks', { entity: 'person', url: 'https://hooks.example.com/p' });
    const hookPut = await admin('put', `/_admin/webhooks/${hook.body.data.id}`, { entity: 'person', url: 'https://hooks.example.com/q' });
    expect(sorted(hookPut.body.data)).toEqual(sorted(hook.body.data));
    expect(hookPut.body.data).toMatchObject({
      url: 'https://hooks.example.com/q',
      hook: 'after_write',
      method: 'POST',
      async: true,
      headers: {},
      condition: '',
    });
    await admin('delete', `/_admin/webhooks/${hook.body.data.id}`);

    const ui = await admin('post', '/_admin/ui-configs', { entity: 'person' });
    const uiPut = await admin('put', `/_admin/ui-configs/${ui.body.data.id}`, { entity: 'person', config: { a: 1 } });
    expect(sorted(uiPut.body.data)).toEqual(['config', 'created_at', 'entity', 'id', 'scope', 'updated_at']);
    expect(uiPut.body.data).toMatchObject({ scope: 'default', config: { a: 1 } });
  });
});

describe('expressions.md:101-114 and slugs', () => {
  it('every expression of the fixture list compiles where it belongs', async () => {
    // relation names are app-wide and `invoices`/`items` are taken above: a fresh app
    const fresh = await s.createApp();
    const admin: Call = (method, path, body) => s.client[method](`/api/${fresh.name}${path}`, { token: fresh.token, body });
    const entity = async (def: Record<string, unknown>) => expect((await admin('post', '/_admin/entities', def)).status).toBe(201);
    await entity({
      name: 'expr_host',
      table: 'expr_hosts',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        ...['status', 'payment_date', 'end_date', 'start_date', 'first_name', 'last_name'].map((name) => ({ name, type: 'string' })),
        ...['subtotal', 'tax_rate', 'quantity', 'unit_price', 'payment_amount', 'total'].map((name) => ({ name, type: 'decimal' })),
      ],
    });
    await entity({
      name: 'expr_line',
      table: 'expr_lines',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'host_id', type: 'uuid' },
      ],
    });
    for (const name of ['invoices', 'items']) {
      expect(
        (
          await admin('post', '/_admin/relations', {
            name: `${name}`,
            type: 'one_to_many',
            source: 'expr_host',
            target: 'expr_line',
            target_key: 'host_id',
          })
        ).status,
      ).toBeLessThan(300);
    }
    const related_load = [{ relation: 'invoices' }, { relation: 'items' }];
    const ruleExprs = [
      "record.status == 'paid' && record.payment_date == nil",
      'record.end_date != nil && record.end_date <= record.start_date',
      'new Date(record.end_date) >= new Date(record.start_date)',
      "action == 'update' && old.status == 'void'",
      "action == 'update' && old.status != record.status && !('admin' in user.roles)",
      'record.subtotal * (1 + record.tax_rate)',
      'record.quantity * record.unit_price',
      "record.first_name + ' ' + record.last_name",
      'record.payment_date != nil && record.payment_amount >= record.total',
      'len(related.invoices) > 0',
      "sum(related.items, 'quantity * unit_price')",
      "record.status == 'paid' && (old == nil || old.status != 'paid')",
      "action === 'create'",
      "record.status === 'published'",
    ];
    for (const expression of ruleExprs) {
      const res = await admin('post', '/_admin/rules', {
        entity: 'expr_host',
        hook: 'before_write',
        type: 'expression',
        active: false,
        definition: { expression, related_load },
      });
      expect(res.status, `${expression}: ${JSON.stringify(res.body)}`).toBe(201);
    }
    for (const expression of ['context.amount > 10000', 'context.days > 5', "context.department == 'engineering'"]) {
      const res = await admin('post', '/_admin/workflows', {
        name: uniqueName('w'),
        trigger: { type: 'event', event: 'x' },
        steps: [{ id: 'c', type: 'condition', expression }],
      });
      expect(res.status, expression).toBe(201);
    }
  });

  it('metadata:139-146 slugs: generated from the source, base then base-2', async () => {
    const a = await admin('post', '/customer', { name: 'Héllo, World!' });
    expect(a.body.data.slug).toMatch(/^hello-world(-\d+)?$/);
    const b = await admin('post', '/customer', { name: 'Twice Named' });
    const c = await admin('post', '/customer', { name: 'Twice Named' });
    expect([b.body.data.slug, c.body.data.slug]).toEqual(['twice-named', 'twice-named-2']);
    expect((await admin('get', '/customer/twice-named-2')).body.data.id).toBe(c.body.data.id);
  });

  it('operations:454-456 GET /api/_platform/apps/:name shows database (main by default)', async () => {
    const got = await s.client.get(`/api/_platform/apps/${app.name}`, { token: s.platformToken });
    expect(got.body.data.database).toBe('main');
  });
});

describe('pinned acceptance tables', () => {
  it('state-machines:193-208 the pinned scenario, row by row', async () => {
    await entity({
      name: 'sm_doc',
      table: 'sm_docs',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'total', type: 'decimal' },
        { name: 'sent_at', type: 'string' },
        { name: 'name', type: 'string' },
      ],
    });
    const sm = await admin('post', '/_admin/state-machines', {
      entity: 'sm_doc',
      field: 'status',
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'sent', guard: 'record.total > 0', actions: [{ type: 'set_field', field: 'sent_at', value: 'now' }] },
          { from: 'sent', to: 'paid' },
        ],
      },
    });
    expect(sm.status).toBe(201);
    const one = await admin('post', '/sm_doc', { status: 'draft', total: 100, name: 'one' });
    expect(one.status).toBe(201);
    const sent = await admin('put', `/sm_doc/${one.body.data.id}`, { status: 'sent', total: 100 });
    expect(sent.status).toBe(200);
    expect(sent.body.data.sent_at).toMatch(SECONDS_Z);
    expect((await admin('put', `/sm_doc/${one.body.data.id}`, { status: 'paid' })).status).toBe(200);
    const two = (await admin('post', '/sm_doc', { status: 'draft', total: 0, name: 'two' })).body.data;
    const guard = await admin('put', `/sm_doc/${two.id}`, { status: 'sent', total: 0 });
    expect([guard.status, guard.body.error.code]).toEqual([422, 'VALIDATION_FAILED']);
    expect((await admin('put', `/sm_doc/${two.id}`, { status: 'paid' })).status).toBe(422);
    expect((await admin('post', '/sm_doc', { status: 'sent', name: 'three' })).status).toBe(422);
    const merged = (await admin('post', '/sm_doc', { status: 'draft', total: 5, name: 'four' })).body.data;
    expect((await admin('put', `/sm_doc/${merged.id}`, { status: 'sent' })).status).toBe(200);
  });

  it('rest-api:397-399 read policy department eq sales (3 of 5), update policy status eq draft', async () => {
    await entity({
      name: 'deal',
      table: 'deals',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'department', type: 'string' },
        { name: 'status', type: 'string' },
      ],
    });
    const ids: string[] = [];
    for (const [department, status] of [
      ['sales', 'draft'],
      ['sales', 'published'],
      ['sales', 'draft'],
      ['ops', 'draft'],
      ['hr', 'draft'],
    ]) {
      ids.push((await admin('post', '/deal', { department, status })).body.data.id);
    }
    const rep = await userWith(['rep']);
    expect((await rep.call('get', '/deal')).body.error).toEqual({ code: 'FORBIDDEN', message: 'No permission for read on deal' });
    expect((await rep.call('post', '/deal', {})).status).toBe(403);
    await admin('post', '/_admin/permissions', {
      entity: 'deal',
      action: 'read',
      roles: ['rep'],
      conditions: [{ field: 'department', operator: 'eq', value: 'sales' }],
    });
    await admin('post', '/_admin/permissions', {
      entity: 'deal',
      action: 'update',
      roles: ['rep'],
      conditions: [{ field: 'status', operator: 'eq', value: 'draft' }],
    });
    const list = await rep.call('get', '/deal');
    expect(list.body.meta.total).toBe(3);
    expect((await admin('get', '/deal')).body.meta.total).toBe(5);
    expect((await rep.call('put', `/deal/${ids[0]}`, { department: 'sales' })).status).toBe(200);
    const published = await rep.call('put', `/deal/${ids[1]}`, { department: 'sales' });
    expect(published.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied for update on deal' });
    expect((await rep.call('get', `/deal/${ids[3]}`)).status).toBe(404);
  });

  it('auth:59-62 user PUT semantics: password kept when absent, replaced when sent, active:false refuses login', async () => {
    const email = `${uniqueName('pw')}@example.org`;
    const u = (await admin('post', '/_admin/users', { email, password: 'first-pw', roles: ['x'] })).body.data;
    const login = (password: string) => s.client.post(`/api/${app.name}/auth/login`, { body: { email, password } });
    await admin('put', `/_admin/users/${u.id}`, { email });
    expect((await login('first-pw')).status).toBe(200);
    const put = await admin('put', `/_admin/users/${u.id}`, { email, password: 'second-pw' });
    expect(put.body.data.roles).toEqual([]);
    expect((await login('first-pw')).status).toBe(401);
    expect((await login('second-pw')).status).toBe(200);
    await admin('put', `/_admin/users/${u.id}`, { email, active: false });
    const disabled = await login('second-pw');
    expect(disabled.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Account is disabled' });
  });
});

describe('envelope and import error strings', () => {
  it('README:37-41 415, non-object bodies, framework errors in the envelope', async () => {
    const text = await s.client.post(`/api/${app.name}/tag`, { token: app.token, raw: 'x', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const arr = await s.client.post(`/api/${app.name}/tag`, { token: app.token, body: [1] });
    expect(arr.status).toBe(400);
    expect(arr.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
    const patch = await s.client.request('PATCH', `/api/${app.name}/tag`, { token: app.token, body: {} });
    expect(patch.status).toBeGreaterThanOrEqual(400);
    expect(sorted(patch.body.error)).toEqual(['code', 'message']);
    const badUrl = await s.client.get(`/api/${app.name}/tag/%E0%A4%A`, { token: app.token });
    expect(badUrl.status).toBe(400);
    expect(sorted(badUrl.body.error)).toEqual(['code', 'message']);
    const unknownRoute = await admin('get', '/_admin/nothing');
    expect(unknownRoute.body.error.code).toBe('NOT_FOUND');
  });

  it('export-import:134-135 error strings name the item kind', async () => {
    const other = await s.createApp();
    const res = await s.client.post(`/api/${other.name}/_admin/import`, {
      token: other.token,
      body: {
        version: 1,
        entities: [
          {
            name: 'thing',
            table: 'things',
            primary_key: { field: 'id', type: 'uuid', generated: true },
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'n', type: 'int' },
            ],
          },
        ],
        relations: [{ name: 'broken', type: 'one_to_many', source: 'thing', target: 'ghost', target_key: 'x' }],
        rules: [{ entity: 'thing', hook: 'before_write', type: 'expression', definition: { expression: 'record.(' } }],
        sample_data: { thing: [{ n: 'not a number' }] },
      },
    });
    expect(res.status).toBe(200);
    const errors: string[] = res.body.data.errors;
    expect(errors.some((e) => e.startsWith('Relation broken: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('Rule (thing/before_write): '))).toBe(true);
    expect(errors.some((e) => e.startsWith('Record thing: '))).toBe(true);
  });
});

describe('the state-machine example over the metadata example, as both are written', () => {
  it('state-machines:122-129 on metadata:33-44 (void outside the enum, sent_at not a field): stored, and transitions run', async () => {
    const other = await s.createApp();
    const call: Call = (method, path, body) => s.client[method](`/api/${other.name}${path}`, { token: other.token, body });
    const inv = await call('post', '/_admin/entities', {
      name: 'invoice',
      table: 'invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      soft_delete: true,
      slug: { field: 'slug', source: 'title', regenerate_on_update: false },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'number', type: 'string', required: true, unique: true },
        { name: 'status', type: 'string', default: 'draft', enum: ['draft', 'sent', 'paid'] },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
        { name: 'title', type: 'string' },
        { name: 'slug', type: 'string', unique: true },
      ],
    });
    expect(inv.status).toBe(201);
    const sm = await call('post', '/_admin/state-machines', {
      entity: 'invoice',
      field: 'status',
      active: true,
      definition: {
        initial: 'draft',
        transitions: [
          {
            from: 'draft',
            to: 'sent',
            roles: ['accountant'],
            guard: 'record.total > 0',
            actions: [{ type: 'set_field', field: 'sent_at', value: 'now' }],
          },
          { from: ['draft', 'sent'], to: 'void' },
        ],
      },
    });
    expect(sm.status, JSON.stringify(sm.body)).toBe(201);
    const created = await call('post', '/invoice', { number: 'N-1', title: 'First', total: 10 });
    expect(created.body.data).toMatchObject({ status: 'draft', slug: 'first', deleted_at: null });
    const sent = await call('put', `/invoice/${created.body.data.slug}`, { status: 'sent' });
    expect(sent.status).toBe(200);
    expect(sent.body.data.status).toBe('sent');
    expect(sent.body.data).not.toHaveProperty('sent_at');
    // `void` is a state of the machine but not of the enum: the enum's own check answers
    const voided = await call('put', `/invoice/${created.body.data.id}`, { status: 'void' });
    expect(voided.status).toBe(422);
    expect(voided.body.error.details).toEqual([{ field: 'status', rule: 'enum', message: 'status must be one of: draft, sent, paid' }]);
  });
});
