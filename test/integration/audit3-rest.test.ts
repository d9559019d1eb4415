import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

// REST audit (rest-api.md): defects found by probing the record API black-box.

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;

const uuid = { field: 'id', type: 'uuid', generated: true };

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const admin = (path: string, body: unknown) => s.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
  const entities = [
    {
      name: 'order',
      table: 'orders',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'number', type: 'string', required: true },
      ],
    },
    {
      name: 'line',
      table: 'lines',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid', required: true },
        { name: 'sku', type: 'string', required: true },
        { name: 'qty', type: 'int', required: true },
      ],
    },
    {
      name: 'part',
      table: 'parts',
      primary_key: { field: 'code', type: 'string' },
      fields: [
        { name: 'code', type: 'string' },
        { name: 'order_id', type: 'uuid', required: true },
        { name: 'title', type: 'string', required: true },
      ],
    },
    {
      name: 'tag',
      table: 'tags',
      primary_key: { field: 'id', type: 'int', generated: true },
      fields: [
        { name: 'id', type: 'int' },
        { name: 'label', type: 'string' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('entities', e)).status).toBe(201);
  const relations = [
    { name: 'lines', type: 'one_to_many', source: 'order', target: 'line', target_key: 'order_id', on_delete: 'cascade' },
    { name: 'parts', type: 'one_to_many', source: 'order', target: 'part', target_key: 'order_id', on_delete: 'cascade' },
    {
      name: 'tags',
      type: 'many_to_many',
      source: 'order',
      target: 'tag',
      join_table: 'order_tags',
      source_join_key: 'order_id',
      target_join_key: 'tag_id',
      on_delete: 'detach',
    },
  ];
  for (const r of relations) expect((await admin('relations', r)).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

const post = (entity: string, body: unknown, query = '') => s.client.post(`/api/${app.name}/${entity}${query}`, { token: app.token, body });
const put = (entity: string, id: string, body: unknown) => s.client.put(`/api/${app.name}/${entity}/${id}`, { token: app.token, body });
const q = (sql: string, params: unknown[] = []) => runtime.db.query<any>(sql, params as never[]);

describe('nested writes report every field problem of the tree in one 422', () => {
  async function orderWithLine() {
    const res = await post('order', { number: `N-${Date.now()}-${Math.random()}`, lines: { data: [{ sku: 'a', qty: 1 }] } }, '?include=lines');
    expect(res.status).toBe(201);
    return { id: res.body.data.id as string, line: res.body.data.lines[0].id as string };
  }

  it('a nested update clearing a required field is reported with the type and required errors of other rows', async () => {
    const { id, line } = await orderWithLine();
    const res = await put('order', id, {
      number: '',
      lines: { data: [{ id: line, sku: null }, { sku: 'new', qty: 'many' }, { sku: 'other' }] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const details = res.body.error.details as Array<{ field: string; rule: string }>;
    expect(details).toHaveLength(4);
    expect(details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'number', rule: 'required' }),
        expect.objectContaining({ field: 'lines[0].sku', rule: 'required' }),
        expect.objectContaining({ field: 'lines[1].qty', rule: 'type' }),
        expect.objectContaining({ field: 'lines[2].qty', rule: 'required' }),
      ]),
    );
    // nothing was written
    expect(await q('SELECT sku FROM lines WHERE order_id = $1', [id])).toEqual([{ sku: 'a' }]);
  });

  it('a field with a bad type in a nested update row is not also reported as required', async () => {
    const { id, line } = await orderWithLine();
    const res = await put('order', id, { number: '', lines: { data: [{ id: line, qty: 'x', sku: '' }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'lines[0].qty', rule: 'type', message: 'qty must be int' },
      { field: 'number', rule: 'required', message: 'number is required' },
      { field: 'lines[0].sku', rule: 'required', message: 'sku is required' },
    ]);
  });

  it('a many_to_many link to a missing target is reported with the field problems', async () => {
    const { id } = await orderWithLine();
    const res = await put('order', id, { number: null, tags: { data: [{ id: 424242 }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'number', rule: 'required', message: 'number is required' },
      { field: 'tags[0].id', rule: 'exists', message: 'tag 424242 not found' },
    ]);
  });

  it('on create too, with the same paths, and nothing is stored', async () => {
    const number = `C-${Date.now()}`;
    const res = await post('order', { number, lines: { data: [{ sku: 'x' }] }, tags: { data: [{ id: 777777 }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'lines[0].qty', rule: 'required', message: 'qty is required' },
      { field: 'tags[0].id', rule: 'exists', message: 'tag 777777 not found' },
    ]);
    expect(await q('SELECT 1 FROM orders WHERE number = $1', [number])).toEqual([]);
  });

  it('a child with a client-chosen key that exists nowhere (an insert) is checked with the rest', async () => {
    const { id } = await orderWithLine();
    const code = `p-${Date.now()}`;
    const res = await put('order', id, { lines: { data: [{ sku: 'x', qty: 1.5 }] }, parts: { data: [{ code }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'lines[0].qty', rule: 'type', message: 'qty must be int' },
      { field: 'parts[0].title', rule: 'required', message: 'title is required' },
    ]);
    expect(await q('SELECT 1 FROM parts WHERE code = $1', [code])).toEqual([]);
  });

  it('a valid tree with row keys still writes', async () => {
    const { id, line } = await orderWithLine();
    const res = await put('order', id, {
      lines: {
        data: [
          { id: line, qty: 4 },
          { sku: 'b', qty: 2 },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(await q('SELECT sku, qty FROM lines WHERE order_id = $1 ORDER BY sku', [id])).toEqual([
      { sku: 'a', qty: 4 },
      { sku: 'b', qty: 2 },
    ]);
  });
});

describe('include= on a write is judged after the 404 and 403 (rest-api.md §Create 1, §Update order)', () => {
  let clerk: string;
  beforeAll(async () => {
    const admin = (path: string, body: unknown) => s.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
    expect((await admin('users', { email: 'clerk@x.io', password: 'pw-123456', roles: ['clerk'] })).status).toBe(201);
    expect((await admin('permissions', { entity: 'order', action: 'read', roles: ['clerk'] })).status).toBe(201);
    expect(
      (
        await admin('permissions', {
          entity: 'order',
          action: 'update',
          roles: ['clerk'],
          conditions: [{ field: 'number', operator: 'eq', value: 'open' }],
        })
      ).status,
    ).toBe(201);
    clerk = await s.client.login(`/api/${app.name}/auth/login`, 'clerk@x.io', 'pw-123456');
  });

  it('create without the create permission → 403, not the unknown include', async () => {
    const res = await s.client.post(`/api/${app.name}/order?include=nope`, { token: clerk, body: { number: 'c1' } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  it('update of a missing record → 404, on the plain and the general path', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const plain = await put('order', `${missing}?include=nope`, { number: 'x' });
    expect(plain.status).toBe(404);
    expect(plain.body.error).toEqual({ code: 'NOT_FOUND', message: `order with id ${missing} not found` });
    const nested = await put('order', `${missing}?include=nope`, { lines: { data: [] } });
    expect(nested.status).toBe(404);
  });

  it('update the caller may not make → 403 (row condition), not the unknown include', async () => {
    const created = await post('order', { number: 'closed' });
    const res = await s.client.put(`/api/${app.name}/order/${created.body.data.id}?include=nope`, { token: clerk, body: { number: 'x' } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  it('an allowed write with an unknown include is still refused with 400 and writes nothing', async () => {
    const created = await post('order', { number: 'open' });
    const id = created.body.data.id as string;
    const res = await s.client.put(`/api/${app.name}/order/${id}?include=nope`, {
      token: clerk,
      body: { number: 'open', lines: { data: [{ sku: 'q', qty: 1 }] } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'UNKNOWN_FIELD', message: 'Unknown include: nope' });
    expect(await q('SELECT 1 FROM lines WHERE order_id = $1', [id])).toEqual([]);
    const plain = await put('order', `${id}?include=nope`, { number: 'changed' });
    expect(plain.status).toBe(400);
    const created2 = await post('order', { number: 'never' }, '?include=nope');
    expect(created2.status).toBe(400);
    expect(await q('SELECT number FROM orders WHERE id = $1 OR number = $2', [id, 'never'])).toEqual([{ number: 'open' }]);
    const ok = await put('order', `${id}?include=lines`, { lines: { data: [{ sku: 'r', qty: 1 }] } });
    expect(ok.status).toBe(200);
    expect(ok.body.data.lines).toHaveLength(1);
  });
});

describe('a rule that sets a required field of a child to null', () => {
  it('is refused before any SQL with the row path, like the top-level row', async () => {
    const rule = await s.client.post(`/api/${app.name}/_admin/rules`, {
      token: app.token,
      body: {
        entity: 'line',
        hook: 'before_write',
        type: 'computed',
        definition: { field: 'sku', expression: 'record.qty > 1 ? null : record.sku' },
      },
    });
    expect(rule.status).toBe(201);
    try {
      const number = `R-${Date.now()}`;
      const nested = await post('order', {
        number,
        lines: {
          data: [
            { sku: 'a', qty: 1 },
            { sku: 'b', qty: 2 },
          ],
        },
      });
      expect(nested.status).toBe(422);
      expect(nested.body.error.details).toEqual([{ field: 'lines[1].sku', rule: 'required', message: 'sku is required' }]);
      expect(await q('SELECT 1 FROM orders WHERE number = $1', [number])).toEqual([]);

      const parent = await post('order', { number: `${number}-p` });
      const top = await post('line', { order_id: parent.body.data.id, sku: 'c', qty: 5 });
      expect(top.status).toBe(422);
      expect(top.body.error.details).toEqual([{ field: 'sku', rule: 'required', message: 'sku is required' }]);

      // the rule leaves the key an inserted child takes from its parent alone, and a valid row passes
      const ok = await post('order', { number: `${number}-ok`, lines: { data: [{ sku: 'd', qty: 1 }] } });
      expect(ok.status).toBe(201);
    } finally {
      await s.client.delete(`/api/${app.name}/_admin/rules/${rule.body.data.id}`, { token: app.token });
    }
  });

  it("a rule nulling an inserted child's key to its parent is overridden by the parent's key", async () => {
    const rule = await s.client.post(`/api/${app.name}/_admin/rules`, {
      token: app.token,
      body: { entity: 'line', hook: 'before_write', type: 'computed', definition: { field: 'order_id', expression: 'null' } },
    });
    expect(rule.status).toBe(201);
    try {
      const res = await post('order', { number: `K-${Date.now()}`, lines: { data: [{ sku: 'k', qty: 1 }] } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(await q('SELECT sku FROM lines WHERE order_id = $1', [res.body.data.id])).toEqual([{ sku: 'k' }]);
    } finally {
      await s.client.delete(`/api/${app.name}/_admin/rules/${rule.body.data.id}`, { token: app.token });
    }
  });
});
