import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

const { admin, rec } = appCalls(() => ({ server: s, app }));
const rule = async (body: unknown) => {
  const res = await admin('post', 'rules', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data.id as string;
};

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const entities = [
    {
      name: 'invoice',
      table: 'invoices',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'subtotal', type: 'decimal', precision: 2 },
        { name: 'tax_rate', type: 'float' },
        { name: 'payment_date', type: 'date' },
        { name: 'code', type: 'string' },
      ],
    },
    {
      name: 'person',
      table: 'people',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'first_name', type: 'string' },
        { name: 'last_name', type: 'string' },
        { name: 'full_name', type: 'string' },
        { name: 'nick', type: 'string' },
      ],
    },
    {
      name: 'order',
      table: 'orders',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'amount', type: 'decimal', precision: 2 },
        { name: 'lines', type: 'int' },
      ],
    },
    {
      name: 'line',
      table: 'lines',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid', required: true },
        { name: 'quantity', type: 'int' },
        { name: 'unit_price', type: 'decimal', precision: 2 },
        { name: 'status', type: 'string' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('post', 'entities', e)).status).toBe(201);
  expect(
    (await admin('post', 'relations', { name: 'items', type: 'one_to_many', source: 'order', target: 'line', target_key: 'order_id' })).status,
  ).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

describe('rules admin API', () => {
  it('creates, lists, gets, replaces and deletes a rule, echoing only non-empty definition keys', async () => {
    const created = await admin('post', 'rules', {
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'max_length', value: 10, message: '', stop_on_fail: false },
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'max_length', value: 10 },
      priority: 0,
      active: true,
    });
    const id = created.body.data.id;
    const got = await admin('get', `rules/${id}`);
    expect(got.body.data).toMatchObject({ id, entity: 'person', active: true });
    expect(got.body.data.created_at).toBeTruthy();
    const list = await admin('get', 'rules');
    expect(list.body.data.some((r: any) => r.id === id)).toBe(true);
    const upd = await admin('put', `rules/${id}`, {
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'max_length', value: 3 },
      active: false,
    });
    expect(upd.status).toBe(200);
    expect(upd.body.data).toMatchObject({ id, active: false });
    // inactive rules are ignored
    expect((await rec('post', 'person', { nick: 'toolongnick' })).status).toBe(201);
    const del = await admin('delete', `rules/${id}`);
    expect(del.body.data).toEqual({ id, deleted: true });
    expect((await admin('get', `rules/${id}`)).status).toBe(404);
    expect((await admin('get', 'rules/not-a-uuid')).status).toBe(404);
    expect((await admin('put', `rules/${id}`, { entity: 'person', hook: 'before_write', type: 'field', definition: { field: 'nick' } })).status).toBe(
      404,
    );
  });

  it('refuses invalid rules with the spec messages and stores nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'field' }, 'entity is required'],
      [{ entity: 'ghost', type: 'field' }, 'entity not found: ghost'],
      // rules.md lists hook as required (the column default is for rows written without the API)
      [
        { entity: 'person', type: 'field', definition: { field: 'nick', operator: 'min_length', value: 1 } },
        'invalid hook:  (must be before_write or before_delete)',
      ],
      [
        { entity: 'person', hook: null, type: 'expression', definition: { expression: 'true' } },
        'invalid hook:  (must be before_write or before_delete)',
      ],
      [
        { entity: 'person', hook: '', type: 'expression', definition: { expression: 'true' } },
        'invalid hook:  (must be before_write or before_delete)',
      ],
      [{ entity: 'person', hook: 'after_write', type: 'field' }, 'invalid hook: after_write (must be before_write or before_delete)'],
      [{ entity: 'person', hook: 'before_write', type: 'magic' }, 'invalid rule type: magic (must be field, expression, or computed)'],
    ];
    const before = (await admin('get', 'rules')).body.data.length;
    for (const [body, message] of cases) {
      const res = await admin('post', 'rules', body);
      expect(res.status).toBe(422);
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message });
    }
    const bad = await admin('post', 'rules', {
      entity: 'person',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: 'record.nick ==' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toMatch(/^invalid expression: .* at \d+$/);
    const unknownVar = await admin('post', 'rules', {
      entity: 'person',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'nick', expression: 'process.exit()' },
    });
    expect(unknownVar.status).toBe(422);
    expect((await admin('post', 'rules', '[1]')).status).toBe(400);
    expect((await admin('get', 'rules')).body.data.length).toBe(before);
    // a replacement without hook is refused too, and the stored rule keeps its hook
    const id = await rule({ entity: 'person', hook: 'before_delete', type: 'expression', definition: { expression: 'false' } });
    const put = await admin('put', `rules/${id}`, { entity: 'person', type: 'expression', definition: { expression: 'false' } });
    expect(put.status).toBe(422);
    expect(put.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'invalid hook:  (must be before_write or before_delete)' });
    expect(await runtime.db.query('SELECT hook FROM _rules WHERE id = $1', [id])).toEqual([{ hook: 'before_delete' }]);
    await admin('delete', `rules/${id}`);
  });
});

describe('before_write rules', () => {
  it('field rule min: -1 fails with field and rule, 0 and 100 and absent pass', async () => {
    const id = await rule({
      entity: 'invoice',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'total', operator: 'min', value: 0, message: 'Total must be non-negative' },
    });
    const bad = await rec('post', 'invoice', { total: -1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'total', rule: 'min', message: 'Total must be non-negative' }]);
    for (const body of [{ total: 100 }, { total: 0 }, {}, { total: 0.5 }]) expect((await rec('post', 'invoice', body)).status).toBe(201);
    await admin('delete', `rules/${id}`);
  });

  it('length rules count code points and pattern searches unanchored', async () => {
    const a = await rule({
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'first_name', operator: 'min_length', value: 3 },
    });
    const b = await rule({
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'last_name', operator: 'pattern', value: '[A-Z]' },
    });
    expect((await rec('post', 'person', { first_name: '😀😀😀', last_name: 'xY' })).status).toBe(201);
    const bad = await rec('post', 'person', { first_name: 'ab', last_name: 'xy' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([
      { field: 'first_name', rule: 'min_length', message: 'field first_name failed min_length validation' },
      { field: 'last_name', rule: 'pattern', message: 'field last_name failed pattern validation' },
    ]);
    await admin('delete', `rules/${a}`);
    await admin('delete', `rules/${b}`);
  });

  it('expression rule: truthy means violated; update sees the merged record and old', async () => {
    const a = await rule({
      entity: 'invoice',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: "record.status == 'paid' && record.payment_date == nil", message: 'Paid invoices need a payment date' },
    });
    const b = await rule({
      entity: 'invoice',
      hook: 'before_write',
      type: 'expression',
      priority: 1,
      definition: { expression: "action == 'update' && record.status == 'cancelled' && old.status == 'paid'" },
    });
    const bad = await rec('post', 'invoice', { status: 'paid' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ rule: 'expression', message: 'Paid invoices need a payment date' }]);
    const ok = await rec('post', 'invoice', { status: 'paid', payment_date: '2025-01-02' });
    expect(ok.status).toBe(201);
    const cancel = await rec('put', `invoice/${ok.body.data.id}`, { status: 'cancelled' });
    expect(cancel.status).toBe(422);
    expect(cancel.body.error.details).toEqual([{ rule: 'expression', message: 'Expression rule violated' }]);
    // merged record: payment_date comes from the stored row, so an unrelated update passes rule a
    expect((await rec('put', `invoice/${ok.body.data.id}`, { code: 'x' })).status).toBe(200);
    await admin('delete', `rules/${a}`);
    await admin('delete', `rules/${b}`);
  });

  it('stop_on_fail ends evaluation with the details so far', async () => {
    const a = await rule({
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      priority: 1,
      definition: { field: 'nick', operator: 'min_length', value: 5, stop_on_fail: true },
    });
    const b = await rule({
      entity: 'person',
      hook: 'before_write',
      type: 'field',
      priority: 2,
      definition: { field: 'nick', operator: 'pattern', value: '^z' },
    });
    const c = await rule({ entity: 'person', hook: 'before_write', type: 'expression', definition: { expression: 'true' } });
    const res = await rec('post', 'person', { nick: 'ab' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'nick', rule: 'min_length', message: 'field nick failed min_length validation' }]);
    for (const id of [a, b, c]) await admin('delete', `rules/${id}`);
  });

  it('a runtime error is reported as a violation, never a 500', async () => {
    const id = await rule({ entity: 'person', hook: 'before_write', type: 'expression', definition: { expression: 'len(5) > 1' } });
    const res = await rec('post', 'person', { nick: 'x' });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0]).toMatchObject({ rule: 'expression' });
    expect(res.body.error.details[0].message).toMatch(/^rule evaluation error: /);
    await admin('delete', `rules/${id}`);
  });

  it('date() reads ±hh offsets and refuses days a month does not have', async () => {
    const id = await rule({
      entity: 'invoice',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: "record.code != nil && date(record.code) >= date('2025-03-01')", message: 'too late' },
    });
    // 01:00 at +02 is 23:00 UTC the day before: in time
    const ok = await rec('post', 'invoice', { code: '2025-03-01T01:00:00+02' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(await runtime.db.query('SELECT code FROM invoices WHERE id = $1', [ok.body.data.id])).toEqual([{ code: '2025-03-01T01:00:00+02' }]);
    expect((await rec('post', 'invoice', { code: '2025-03-01T03:00:00+02' })).body.error.details).toEqual([
      { rule: 'expression', message: 'too late' },
    ]);
    // 2025 has no 29 February: an error, not 1 March
    const bad = await rec('post', 'invoice', { code: '2025-02-29T10:00:00Z' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([
      { rule: 'expression', message: "rule evaluation error: date: '2025-02-29T10:00:00Z' is not an ISO-8601 date" },
    ]);
    expect(await runtime.db.query("SELECT count(*)::int AS n FROM invoices WHERE code LIKE '2025-0%'")).toEqual([{ n: 1 }]);
    await admin('delete', `rules/${id}`);
  });

  it('computed fields fill the record, see earlier results, and are type-checked', async () => {
    const a = await rule({
      entity: 'invoice',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'total', expression: 'record.subtotal * (1 + record.tax_rate)' },
    });
    const res = await rec('post', 'invoice', { subtotal: 100, tax_rate: 0.1, total: 5 });
    expect(res.status).toBe(201);
    expect(res.body.data.total).toBeCloseTo(110, 2);
    // update with only one operand: the merged record supplies the other
    const upd = await rec('put', `invoice/${res.body.data.id}`, { subtotal: 200 });
    expect(upd.body.data.total).toBeCloseTo(220, 2);
    await admin('delete', `rules/${a}`);

    const b = await rule({
      entity: 'person',
      hook: 'before_write',
      type: 'computed',
      priority: 1,
      definition: { field: 'full_name', expression: "record.first_name + ' ' + record.last_name" },
    });
    const c = await rule({
      entity: 'person',
      hook: 'before_write',
      type: 'computed',
      priority: 2,
      definition: { field: 'nick', expression: 'upper(record.full_name)' },
    });
    const p = await rec('post', 'person', { first_name: 'John', last_name: 'Doe' });
    expect(p.body.data).toMatchObject({ full_name: 'John Doe', nick: 'JOHN DOE' });
    await admin('delete', `rules/${b}`);
    await admin('delete', `rules/${c}`);

    const d = await rule({ entity: 'invoice', hook: 'before_write', type: 'computed', definition: { field: 'total', expression: "'not a number'" } });
    const bad = await rec('post', 'invoice', { subtotal: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'total', rule: 'type', message: 'total must be decimal' }]);
    await admin('delete', `rules/${d}`);
    const e = await rule({ entity: 'invoice', hook: 'before_write', type: 'computed', definition: { field: 'total', expression: 'len(5)' } });
    const err = await rec('post', 'invoice', { subtotal: 1 });
    expect(err.status).toBe(422);
    expect(err.body.error.details[0]).toMatchObject({ field: 'total', rule: 'computed' });
    await admin('delete', `rules/${e}`);
  });

  it("a computed value outside its field's enum is refused like a sent one", async () => {
    const badge = {
      name: 'badge',
      table: 'badges',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'points', type: 'int' },
        { name: 'level', type: 'string', enum: ['gold', 'silver'] },
      ],
    };
    expect((await admin('post', 'entities', badge)).status).toBe(201);
    const id = await rule({
      entity: 'badge',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'level', expression: "record.points > 10 ? 'gold' : 'bronze'" },
    });
    expect((await rec('post', 'badge', { points: 20 })).body.data.level).toBe('gold');
    const low = await rec('post', 'badge', { points: 1 });
    expect(low.status).toBe(422);
    expect(low.body.error.details).toEqual([{ field: 'level', rule: 'enum', message: 'level must be one of: gold, silver' }]);
    await admin('delete', `rules/${id}`);
  });

  it('computes from related children with related_load, one query per relation', async () => {
    const id = await rule({
      entity: 'order',
      hook: 'before_write',
      type: 'computed',
      definition: {
        field: 'amount',
        expression: "sum(related.items, 'quantity * unit_price')",
        related_load: [{ relation: 'items', filter: { 'status.in': ['open', 'held'] } }],
      },
    });
    const created = await rec('post', 'order', { lines: 0 });
    expect(created.status).toBe(201);
    expect(created.body.data.amount).toBe(0); // create: nothing related yet
    const orderId = created.body.data.id;
    for (const [quantity, unit_price, status] of [
      [2, 5, 'open'],
      [1, 10, 'held'],
      [100, 1, 'void'],
    ] as const) {
      expect((await rec('post', 'line', { order_id: orderId, quantity, unit_price, status })).status).toBe(201);
    }
    const upd = await rec('put', `order/${orderId}`, { lines: 3 });
    expect(upd.status).toBe(200);
    expect(upd.body.data.amount).toBe(20);
    await admin('delete', `rules/${id}`);
    const badLoad = await admin('post', 'rules', {
      entity: 'order',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: 'true', related_load: [{ relation: 'nope' }] },
    });
    expect(badLoad.status).toBe(422);
  });

  it('rules of nested children apply with the row path', async () => {
    const id = await rule({ entity: 'line', hook: 'before_write', type: 'field', definition: { field: 'quantity', operator: 'min', value: 1 } });
    const res = await rec('post', 'order', { items: { data: [{ quantity: 1 }, { quantity: 0 }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'items[1].quantity', rule: 'min', message: 'field quantity failed min validation' }]);
    const expr = await rule({ entity: 'line', hook: 'before_write', type: 'expression', definition: { expression: 'record.quantity > 50' } });
    const big = await rec('post', 'order', { items: { data: [{ quantity: 60 }] } });
    expect(big.body.error.details).toEqual([{ field: 'items[0].expression', rule: 'expression', message: 'Expression rule violated' }]);
    await admin('delete', `rules/${id}`);
    await admin('delete', `rules/${expr}`);
  });
});

describe('before_delete rules', () => {
  it('block a delete and leave the record in place', async () => {
    const id = await rule({
      entity: 'order',
      hook: 'before_delete',
      type: 'expression',
      definition: {
        expression: 'len(related.items) > 0',
        message: 'Cannot delete an order with lines',
        related_load: [{ relation: 'items' }],
      },
    });
    const order = await rec('post', 'order', { items: { data: [{ quantity: 1 }] } });
    const del = await rec('delete', `order/${order.body.data.id}`);
    expect(del.status).toBe(422);
    expect(del.body.error.details).toEqual([{ rule: 'expression', message: 'Cannot delete an order with lines' }]);
    expect(await runtime.db.query('SELECT 1 FROM orders WHERE id = $1', [order.body.data.id])).toHaveLength(1);
    const empty = await rec('post', 'order', {});
    expect((await rec('delete', `order/${empty.body.data.id}`)).status).toBe(200);
    await admin('delete', `rules/${id}`);
  });

  it('a field a before_delete field rule names cannot be removed from the entity (the rule would pass silently)', async () => {
    const fields = [
      { name: 'id', type: 'uuid' },
      { name: 'status', type: 'string' },
      { name: 'locked', type: 'string' },
    ];
    expect((await admin('post', 'entities', { name: 'vault', table: 'vaults', primary_key: uuid, fields })).status).toBe(201);
    const id = await rule({
      entity: 'vault',
      hook: 'before_delete',
      type: 'field',
      definition: { field: 'locked', operator: 'max_length', value: 0 },
    });
    const res = await admin('put', 'entities/vault', { table: 'vaults', primary_key: uuid, fields: fields.slice(0, 2) });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: `field locked is used by a field rule (${id}) and cannot be removed` });
    const stored = await runtime.db.query<{ definition: { fields: unknown[] } }>("SELECT definition FROM _entities WHERE name = 'vault'");
    expect(stored[0]!.definition.fields).toHaveLength(3);
    const row = await rec('post', 'vault', { locked: 'yes' });
    expect((await rec('delete', `vault/${row.body.data.id}`)).status).toBe(422);
  });
});
