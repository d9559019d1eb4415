/**
 * Audit 12, claim by claim: rules.md, expressions.md and state-machines.md over HTTP. Only defects found by the
 * audit are pinned here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };

const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown) =>
  s.client[method](`/api/${app.name}/${path}`, { token: app.token, body });

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
});
afterAll(async () => {
  await s?.close();
});

describe('rules of a nested child insert', () => {
  it('see the parent key the child is written with in record, as a top-level write of the child does', async () => {
    const pk = { field: 'id', type: 'uuid', generated: true };
    expect(
      (await call('post', '_admin/entities', { name: 'order', table: 'orders', primary_key: pk, fields: [{ name: 'id', type: 'uuid' }] })).status,
    ).toBe(201);
    const line = {
      name: 'line',
      table: 'lines',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid' },
        { name: 'ref', type: 'string' },
      ],
    };
    expect((await call('post', '_admin/entities', line)).status).toBe(201);
    const relation = { name: 'lines', type: 'one_to_many', source: 'order', target: 'line', target_key: 'order_id' };
    expect((await call('post', '_admin/relations', relation)).status).toBe(201);
    // rules.md: `record` is the record about to be written; rest-api.md: an inserted child gets the parent's key.
    const orphan = { expression: 'record.order_id == nil', message: 'a line belongs to an order' };
    expect((await call('post', '_admin/rules', { entity: 'line', hook: 'before_write', type: 'expression', definition: orphan })).status).toBe(201);
    const copy = { field: 'ref', expression: "'order ' + record.order_id" };
    expect((await call('post', '_admin/rules', { entity: 'line', hook: 'before_write', type: 'computed', definition: copy })).status).toBe(201);

    const order = await call('post', 'order', {});
    expect(order.status).toBe(201);
    const id = order.body.data.id as string;
    const top = await call('post', 'line', { order_id: id });
    expect(top.status).toBe(201);
    expect(top.body.data.ref).toBe(`order ${id}`);

    // A line added to the existing order, once without a key and once with another one (overwritten by the parent's).
    const nested = await call('put', `order/${id}`, { lines: { data: [{}, { order_id: top.body.data.id }] } });
    expect(nested.status).toBe(200);
    const lines = (await call('get', `order/${id}?include=lines`)).body.data.lines as { order_id: string; ref: string }[];
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.ref)).toEqual([`order ${id}`, `order ${id}`, `order ${id}`]);
  });
});
