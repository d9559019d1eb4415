import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { RFC3339 } from '../support/engine.js';
import { holdTransaction, untilLockWaiters } from '../support/locks.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let adminId: string;

const uuid = { field: 'id', type: 'uuid', generated: true };
const base = () => `/api/${app.name}`;
const post = (path: string, body: unknown, token = app.token) => s.client.post(`${base()}${path}`, { token, body });
const put = (path: string, body: unknown, token = app.token) => s.client.put(`${base()}${path}`, { token, body });
const del = (path: string, token = app.token) => s.client.delete(`${base()}${path}`, { token });
const get = (path: string, token = app.token) => s.client.get(`${base()}${path}`, { token });
const q = (sql: string, params: unknown[] = []) => runtime.db.query<any>(sql, params as never[]);

async function created(path: string, body: unknown) {
  const res = await post(path, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

async function historyOf(entity: string, id: string) {
  const res = await get(`/${entity}/${id}/_history`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as any[];
}

/** SQL statements one call sends through the app's pool. */
async function statementsOf(fn: () => Promise<unknown>): Promise<number> {
  const before = runtime.db.statements;
  await fn();
  return runtime.db.statements - before;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  adminId = (await q(`SELECT id::text FROM _users WHERE email = 'admin@localhost'`))[0].id;
  const entities = [
    {
      name: 'order',
      table: 'orders',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'number', type: 'string', required: true },
        { name: 'status', type: 'string', default: 'draft' },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'due', type: 'timestamp' },
        { name: 'day', type: 'date' },
        { name: 'meta', type: 'json' },
        { name: 'qty', type: 'bigint' },
        { name: 'rate', type: 'float' },
        { name: 'ok', type: 'boolean' },
        { name: 'owner', type: 'string' },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
      ],
    },
    {
      name: 'line',
      table: 'lines',
      primary_key: uuid,
      history: true,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'qty', type: 'int' },
      ],
    },
    {
      name: 'comment',
      table: 'comments',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid' },
        { name: 'body', type: 'string' },
      ],
    },
    {
      name: 'plain',
      table: 'plains',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    },
  ];
  for (const e of entities) await created('/_admin/entities', e);
  await created('/_admin/relations', {
    name: 'lines',
    type: 'one_to_many',
    source: 'order',
    target: 'line',
    target_key: 'order_id',
    on_delete: 'cascade',
  });
  await created('/_admin/relations', {
    name: 'comments',
    type: 'one_to_many',
    source: 'order',
    target: 'comment',
    target_key: 'order_id',
    on_delete: 'set_null',
  });
});
afterAll(async () => {
  await s?.close();
});

describe('entity key history', () => {
  it('is echoed when true, absent by default, and must be a boolean', async () => {
    const on = await get('/_admin/entities/order');
    expect(on.body.data.definition.history).toBe(true);
    const off = await get('/_admin/entities/plain');
    expect(off.body.data.definition).not.toHaveProperty('history');
    const bad = await post('/_admin/entities', {
      name: 'bad',
      table: 'bads',
      primary_key: uuid,
      history: 'yes',
      fields: [{ name: 'id', type: 'uuid' }],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(bad.body.error)).toContain('history');
  });

  it('is switched on and off by PUT; entries recorded while on are kept', async () => {
    const def = {
      name: 'toggle',
      table: 'toggles',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    };
    await created('/_admin/entities', def);
    const before = await created('/toggle', { name: 'a' });
    expect((await get(`/toggle/${before.id}/_history`)).status).toBe(404);
    expect((await put('/_admin/entities/toggle', { ...def, history: true })).status).toBe(200);
    const during = await created('/toggle', { name: 'b' });
    expect(await historyOf('toggle', during.id)).toHaveLength(1);
    expect(await historyOf('toggle', before.id)).toEqual([]);
    expect((await put('/_admin/entities/toggle', def)).status).toBe(200);
    expect((await put(`/toggle/${during.id}`, { name: 'c' })).status).toBe(200);
    const stored = await q(`SELECT action FROM _history WHERE entity = 'toggle' AND record_id = $1`, [during.id]);
    expect(stored.map((r: any) => r.action)).toEqual(['create']);
  });
});

describe('what is recorded', () => {
  it('a create lists every declared field but auto ones, encoded as the API answers, with the user actor', async () => {
    const order = await created('/order', {
      number: 'A-1',
      total: 10,
      due: '2025-01-15T10:30:00Z',
      day: '2025-01-15',
      meta: { a: [1, 2] },
      qty: 5,
      rate: 0.5,
      ok: true,
    });
    const [entry] = await historyOf('order', order.id);
    expect(entry).toMatchObject({
      entity: 'order',
      record_id: order.id,
      action: 'create',
      actor: { kind: 'user', id: adminId, email: 'admin@localhost' },
    });
    expect(typeof entry.id).toBe('string');
    expect(entry.at).toMatch(RFC3339);
    expect(entry.changes).toEqual({
      id: { from: null, to: order.id },
      number: { from: null, to: 'A-1' },
      status: { from: null, to: 'draft' },
      total: { from: null, to: order.total },
      due: { from: null, to: order.due },
      day: { from: null, to: '2025-01-15' },
      meta: { from: null, to: { a: [1, 2] } },
      qty: { from: null, to: 5 },
      rate: { from: null, to: 0.5 },
      ok: { from: null, to: true },
      owner: { from: null, to: null },
    });
  });

  it('a platform admin token writes as actor platform', async () => {
    const res = await s.client.post(`${base()}/order`, { token: s.platformToken, body: { number: 'PL-1' } });
    expect(res.status).toBe(201);
    const [entry] = await historyOf('order', res.body.data.id);
    expect(entry.actor.kind).toBe('platform');
    expect(typeof entry.actor.id).toBe('string');
    const general = await s.client.post(`${base()}/order`, { token: s.platformToken, body: { number: 'PL-2', lines: { data: [{ name: 'l' }] } } });
    expect(general.status).toBe(201);
    const lines = await q(`SELECT actor_kind FROM _history WHERE entity = 'line' AND changes->'order_id'->>'to' = $1`, [general.body.data.id]);
    expect(lines).toEqual([{ actor_kind: 'platform' }]);
  });

  it('an update lists only the changed fields; an update that changes nothing records nothing', async () => {
    const order = await created('/order', { number: 'A-2', total: 10, status: 'draft' });
    const res = await put(`/order/${order.id}`, { status: 'approved', total: 12.5, number: 'A-2', due: '2025-02-01T00:00:00.000Z' });
    expect(res.status).toBe(200);
    const [update] = await historyOf('order', order.id);
    expect(update.action).toBe('update');
    expect(update.changes).toEqual({
      status: { from: 'draft', to: 'approved' },
      total: { from: 10, to: 12.5 },
      due: { from: null, to: res.body.data.due },
    });
    expect((await put(`/order/${order.id}`, { status: 'approved', total: 12.5 })).status).toBe(200);
    expect(await historyOf('order', order.id)).toHaveLength(2);
  });

  it('a plain create and a plain update each stay one statement with history on', async () => {
    let id = '';
    expect(await statementsOf(async () => (id = (await created('/order', { number: 'A-3' })).id))).toBe(1);
    expect(await statementsOf(async () => expect((await put(`/order/${id}`, { status: 'sent' })).status).toBe(200))).toBe(1);
    expect(await statementsOf(async () => expect((await put(`/order/${id}`, { status: 'sent' })).status).toBe(200))).toBe(1);
    const entries = await historyOf('order', id);
    expect(entries.map((e) => e.action)).toEqual(['update', 'create']);
    expect(entries[0].changes).toEqual({ status: { from: 'draft', to: 'sent' } });
    // and without history, the same write is one statement too
    expect(await statementsOf(() => created('/plain', { name: 'x' }))).toBe(1);
  });

  it('the fast path and the general path record the same values', async () => {
    const body = {
      number: 'A-4',
      total: 3.1,
      due: '2025-03-01T08:00:00.123+02:00',
      day: '2025-03-01',
      meta: { z: 1, a: 'b' },
      qty: 7,
      rate: 1.25,
      ok: false,
    };
    const fast = await created('/order', body);
    // a nested child sends the parent down the general path
    const general = await created('/order', { ...body, lines: { data: [{ name: 'n', qty: 1 }] } });
    const [f] = await historyOf('order', fast.id);
    const [g] = await historyOf('order', general.id);
    const strip = (c: any) => ({ ...c, id: undefined });
    expect(strip(g.changes)).toEqual(strip(f.changes));
    expect(f.changes.due.to).toBe(fast.due);
  });

  it('int8 values beyond 2^53 are recorded and answered exactly, on the fast and the general path', async () => {
    const bigField = { name: 'b', type: 'bigint' };
    await created('/_admin/entities', {
      name: 'tally',
      table: 'tallies',
      history: true,
      primary_key: uuid,
      fields: [{ name: 'id', type: 'uuid' }, bigField],
    });
    await created('/_admin/entities', {
      name: 'tally_line',
      table: 'tally_lines',
      history: true,
      primary_key: uuid,
      fields: [{ name: 'id', type: 'uuid' }, { name: 'tally_id', type: 'uuid' }, bigField],
    });
    await created('/_admin/relations', { name: 'tally_lines', type: 'one_to_many', source: 'tally', target: 'tally_line', target_key: 'tally_id' });
    const rawHistory = async (entity: string, id: string) => {
      const res = await fetch(`${s.rocket.url}${base()}/${entity}/${id}/_history`, { headers: { authorization: `Bearer ${app.token}` } });
      expect(res.status).toBe(200);
      return res.text();
    };
    const fast = await created('/tally', { b: '9007199254740993' });
    expect((await put(`/tally/${fast.id}`, { b: '9007199254740997' })).status).toBe(200);
    const fastText = await rawHistory('tally', fast.id);
    expect(fastText).toContain('"b":{"to":9007199254740997,"from":9007199254740993}');
    expect(fastText).toContain('"b":{"to":9007199254740993,"from":null}');
    // a nested child sends the parent down the general path
    const general = await created('/tally', { b: '-9007199254740995', tally_lines: { data: [{ b: '9223372036854775807' }] } });
    expect(await rawHistory('tally', general.id)).toContain('"b":{"to":-9007199254740995,"from":null}');
    const [line] = (await q('SELECT id::text AS id FROM tally_lines WHERE tally_id = $1', [general.id])) as Array<{ id: string }>;
    expect(await rawHistory('tally_line', line!.id)).toContain('"b":{"to":9223372036854775807,"from":null}');
    // stored as JSON numbers, not strings
    const stored = await q(`SELECT jsonb_typeof(changes->'b'->'to') AS t FROM _history WHERE entity IN ('tally', 'tally_line')`);
    expect(new Set(stored.map((r: { t: string }) => r.t))).toEqual(new Set(['number']));
  });

  it('a nested create with children records one entry per row', async () => {
    const order = await created('/order', {
      number: 'N-1',
      lines: {
        data: [
          { name: 'a', qty: 1 },
          { name: 'b', qty: 2 },
        ],
      },
      comments: { data: [{ body: 'hi' }] },
    });
    const lines = await q('SELECT id::text FROM lines WHERE order_id = $1 ORDER BY name', [order.id]);
    expect(lines).toHaveLength(2);
    const rows = await q('SELECT entity, record_id, action FROM _history WHERE record_id = ANY($1::text[]) ORDER BY entity, record_id', [
      [order.id, ...lines.map((l: any) => l.id)],
    ]);
    const sorted = [...lines].sort((a: any, b: any) => (a.id < b.id ? -1 : 1));
    expect(rows).toEqual([
      { entity: 'line', record_id: sorted[0].id, action: 'create' },
      { entity: 'line', record_id: sorted[1].id, action: 'create' },
      { entity: 'order', record_id: order.id, action: 'create' },
    ]);
    const comment = (await q('SELECT id::text FROM comments WHERE order_id = $1', [order.id]))[0];
    const [c] = await historyOf('comment', comment.id);
    expect(c.changes).toEqual({ id: { from: null, to: comment.id }, order_id: { from: null, to: order.id }, body: { from: null, to: 'hi' } });
  });

  it('a nested create of a plain parent with children is one statement, children recorded', async () => {
    let id = '';
    const n = await statementsOf(
      async () => (id = (await created('/order', { number: 'N-2', lines: { data: [{ name: 'a' }, { name: 'b', qty: 3 }] } })).id),
    );
    expect(n).toBe(1);
    const lines = await q(`SELECT h.changes FROM _history h JOIN lines l ON h.record_id = l.id::text WHERE l.order_id = $1 AND h.entity = 'line'`, [
      id,
    ]);
    expect(lines).toHaveLength(2);
    expect(lines.map((r: any) => r.changes.name.to).sort()).toEqual(['a', 'b']);
    expect(await historyOf('order', id)).toHaveLength(1);
  });

  it('a cascade delete records the children (soft delete) and set_null records the key change, as system with the user', async () => {
    const order = await created('/order', { number: 'C-1', lines: { data: [{ name: 'x', qty: 1 }] }, comments: { data: [{ body: 'keep' }] } });
    const line = (await q('SELECT id::text FROM lines WHERE order_id = $1', [order.id]))[0];
    const comment = (await q('SELECT id::text FROM comments WHERE order_id = $1', [order.id]))[0];
    expect((await del(`/order/${order.id}`)).status).toBe(200);
    const [orderDel] = await historyOf('order', order.id);
    expect(orderDel).toMatchObject({ action: 'delete', actor: { kind: 'user', id: adminId } });
    expect(orderDel.changes.number).toEqual({ from: 'C-1', to: null });
    const [lineDel] = await historyOf('line', line.id);
    expect(lineDel).toMatchObject({ action: 'delete', actor: { kind: 'system', id: adminId, email: 'admin@localhost' } });
    expect(lineDel.changes).toEqual({
      id: { from: line.id, to: null },
      order_id: { from: order.id, to: null },
      name: { from: 'x', to: null },
      qty: { from: 1, to: null },
    });
    const [commentUpd] = await historyOf('comment', comment.id);
    expect(commentUpd).toMatchObject({
      action: 'update',
      changes: { order_id: { from: order.id, to: null } },
      actor: { kind: 'system', id: adminId },
    });
  });

  it('a rolled-back write leaves no entry', async () => {
    const order = await created('/order', { number: 'R-1' });
    const res = await post('/order', { number: 'R-2', lines: { data: [{ name: 'x', qty: 'not a number' }] } });
    expect(res.status).toBe(422);
    const dup = await post('/order', { number: 'R-3', lines: { data: [{ id: order.id, name: 'dup-pk?' }] } });
    expect([201, 409, 422]).toContain(dup.status);
    expect(await q(`SELECT 1 FROM _history WHERE changes->'number'->>'to' = 'R-2'`)).toHaveLength(0);
  });

  it('an update that waited for another write of the row records what that write left, not what it first read', async () => {
    const order = await created('/order', { number: 'W-1', status: 'a' });
    // Another transaction changes the row and holds it: the PUT reads the row as committed ('a') and waits.
    const hold = await holdTransaction(runtime.db, async (tx) => {
      await tx.query(`UPDATE orders SET status = 'b' WHERE id = $1`, [order.id]);
    });
    const update = put(`/order/${order.id}`, { status: 'c' });
    await untilLockWaiters(q);
    await hold.release();
    const res = await update;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.status).toBe('c');
    const [last] = await historyOf('order', order.id);
    expect(last.action).toBe('update');
    expect(last.changes).toEqual({ status: { from: 'b', to: 'c' } });
    expect((await q('SELECT status FROM orders WHERE id = $1', [order.id]))[0].status).toBe('c');
  });
});

describe('reading a record history', () => {
  it('answers 404 when history is off, for an unknown record, and pages newest first', async () => {
    const plain = await created('/plain', { name: 'p' });
    const off = await get(`/plain/${plain.id}/_history`);
    expect(off.status).toBe(404);
    expect(off.body.error.code).toBe('NOT_FOUND');
    expect(off.body.error.message).toMatch(/history is off/i);
    const unknown = await get('/order/00000000-0000-4000-8000-000000000000/_history');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await get('/nosuch/1/_history')).status).toBe(404);

    const order = await created('/order', { number: 'P-1' });
    for (const status of ['a', 'b', 'c']) expect((await put(`/order/${order.id}`, { status })).status).toBe(200);
    const page1 = await get(`/order/${order.id}/_history?per_page=2`);
    expect(page1.body.meta).toEqual({ page: 1, per_page: 2, total: 4 });
    expect(page1.body.data.map((e: any) => e.changes.status?.to)).toEqual(['c', 'b']);
    const page2 = await get(`/order/${order.id}/_history?per_page=2&page=2`);
    expect(page2.body.data.map((e: any) => e.action)).toEqual(['update', 'create']);
  });

  it('lists in the order the writes took effect, not by `at` (the clock a write took when it began)', async () => {
    const order = await created('/order', { number: 'O-1', status: 'a' });
    for (const status of ['b', 'c', 'd']) expect((await put(`/order/${order.id}`, { status })).status).toBe(200);
    // Two concurrent writes of one record: the one that began first (earlier `at`) may take effect last.
    const ids = (await q(`SELECT id FROM _history WHERE entity = 'order' AND record_id = $1 ORDER BY id`, [order.id])).map(
      (r: { id: string }) => r.id,
    );
    await q(`UPDATE _history SET at = at - interval '1 second' WHERE id = $1`, [ids[3]]);
    const listed = await historyOf('order', order.id);
    expect(listed.map((e: any) => e.changes.status.to)).toEqual(['d', 'c', 'b', 'a']);
    const log = await get(`/_admin/history?entity=order&record_id=${order.id}`);
    expect(log.body.data.map((e: any) => e.changes.status.to)).toEqual(['d', 'c', 'b', 'a']);
  });

  it('needs read permission on the current row; a deleted row is for admins only', async () => {
    const email = 'reader@example.com';
    const u = await post('/_admin/users', { email, password: 'secret-pass-1', roles: ['reader'] });
    expect(u.status).toBe(201);
    await created('/_admin/permissions', {
      entity: 'order',
      action: 'read',
      roles: ['reader'],
      conditions: [{ field: 'owner', operator: 'eq', value: '$user.email' }],
    });
    const token = await s.client.login(`${base()}/auth/login`, email, 'secret-pass-1');
    const mine = await created('/order', { number: 'O-1', owner: email });
    const theirs = await created('/order', { number: 'O-2', owner: 'else@example.com' });
    const ok = await get(`/order/${mine.id}/_history`, token);
    expect(ok.status).toBe(200);
    expect(ok.body.data).toHaveLength(1);
    const denied = await get(`/order/${theirs.id}/_history`, token);
    expect([403, 404]).toContain(denied.status);
    expect(denied.body.error.code).toMatch(/NOT_FOUND|FORBIDDEN/);
    const noRead = await get(`/comment/00000000-0000-4000-8000-000000000000/_history`, token);
    expect(noRead.status).toBe(403);

    expect((await del(`/order/${mine.id}`)).status).toBe(200);
    expect((await get(`/order/${mine.id}/_history`, token)).status).toBe(404);
    const asAdmin = await get(`/order/${mine.id}/_history`);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.data.map((e: any) => e.action)).toEqual(['delete', 'create']);
  });
});

describe("writes on the request's behalf and rolled-back writes", () => {
  it('a workflow set_field is recorded with actor system and the requesting user', async () => {
    await created('/_admin/entities', {
      name: 'ticket',
      table: 'tickets',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'escalated', type: 'boolean' },
      ],
    });
    await created('/_admin/workflows', {
      name: 'escalate',
      trigger: { type: 'state_change', entity: 'ticket', field: 'status', to: 'urgent' },
      context: { record_id: 'trigger.record_id' },
      steps: [
        {
          id: 'mark',
          type: 'action',
          actions: [{ type: 'set_field', entity: 'ticket', record_id: 'context.record_id', field: 'escalated', value: true }],
        },
      ],
    });
    const t = await created('/ticket', { status: 'open' });
    expect((await put(`/ticket/${t.id}`, { status: 'urgent' })).status).toBe(200);
    const entries = await historyOf('ticket', t.id);
    expect(entries.map((e) => e.action)).toEqual(['update', 'update', 'create']);
    expect(entries[1]).toMatchObject({ changes: { status: { from: 'open', to: 'urgent' } }, actor: { kind: 'user', id: adminId } });
    expect(entries[0]).toMatchObject({
      changes: { escalated: { from: null, to: true } },
      actor: { kind: 'system', id: adminId, email: 'admin@localhost' },
    });
  });

  it("a state machine create_record is recorded as system; its own set_field belongs to the user's entry", async () => {
    await created('/_admin/entities', {
      name: 'doc',
      table: 'docs',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'state', type: 'string' },
        { name: 'stamp', type: 'string' },
      ],
    });
    await created('/_admin/entities', {
      name: 'audit_note',
      table: 'audit_notes',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'doc_id', type: 'uuid' },
      ],
    });
    await created('/_admin/state-machines', {
      entity: 'doc',
      field: 'state',
      definition: {
        initial: 'draft',
        transitions: [
          {
            from: 'draft',
            to: 'done',
            actions: [
              { type: 'set_field', field: 'stamp', value: 'sealed' },
              { type: 'create_record', entity: 'audit_note', data: { doc_id: 'record.id' } },
            ],
          },
        ],
      },
    });
    const d = await created('/doc', { state: 'draft' });
    expect((await put(`/doc/${d.id}`, { state: 'done' })).status).toBe(200);
    const [upd] = await historyOf('doc', d.id);
    expect(upd).toMatchObject({
      changes: { state: { from: 'draft', to: 'done' }, stamp: { from: null, to: 'sealed' } },
      actor: { kind: 'user', id: adminId },
    });
    const note = (await q('SELECT id::text FROM audit_notes WHERE doc_id = $1', [d.id]))[0];
    const [created_] = await historyOf('audit_note', note.id);
    expect(created_).toMatchObject({ action: 'create', actor: { kind: 'system', id: adminId, email: 'admin@localhost' } });
  });

  it('a rule violation and a vetoing synchronous webhook leave no entry', async () => {
    await created('/_admin/entities', {
      name: 'guarded',
      table: 'guarded',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'amount', type: 'int' },
        { name: 'label', type: 'string' },
      ],
    });
    await created('/_admin/rules', {
      entity: 'guarded',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'amount', operator: 'max', value: 10, message: 'too big' },
    });
    const ok = await created('/guarded', { amount: 5, label: 'fine' });
    expect((await post('/guarded', { amount: 50, label: 'rule' })).status).toBe(422);
    expect((await put(`/guarded/${ok.id}`, { amount: 50 })).status).toBe(422);
    await created('/_admin/webhooks', { entity: 'guarded', hook: 'before_write', async: false, url: 'http://127.0.0.1:1/closed' });
    expect((await post('/guarded', { amount: 1, label: 'vetoed' })).status).toBe(502);
    expect((await put(`/guarded/${ok.id}`, { label: 'vetoed too' })).status).toBe(502);
    const rows = await q(`SELECT action, changes FROM _history WHERE entity = 'guarded'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].changes.label.to).toBe('fine');
  });
});

describe('the audit log', () => {
  it('filters, pages newest first and refuses bad filter values and non-admins', async () => {
    const order = await created('/order', { number: 'L-1' });
    expect((await put(`/order/${order.id}`, { status: 'x' })).status).toBe(200);
    const all = await get(`/_admin/history?entity=order&record_id=${order.id}`);
    expect(all.status).toBe(200);
    expect(all.body.meta).toEqual({ page: 1, per_page: 25, total: 2 });
    expect(all.body.data.map((e: any) => e.action)).toEqual(['update', 'create']);
    const updates = await get(`/_admin/history?entity=order&record_id=${order.id}&action=update`);
    expect(updates.body.data).toHaveLength(1);
    const byActor = await get(`/_admin/history?actor_id=${adminId}&per_page=1`);
    expect(byActor.body.meta.per_page).toBe(1);
    expect(byActor.body.meta.total).toBeGreaterThan(2);
    const at = all.body.data[0].at as string;
    const since = await get(`/_admin/history?record_id=${order.id}&since=${encodeURIComponent(at)}`);
    expect(since.body.data.map((e: any) => e.action)).toContain('update');
    const until = await get(`/_admin/history?record_id=${order.id}&until=${encodeURIComponent(all.body.data[1].at)}`);
    expect(until.body.data).toEqual([]);
    const future = await get(`/_admin/history?since=2999-01-01T00:00:00Z`);
    expect(future.body).toEqual({ data: [], meta: { page: 1, per_page: 25, total: 0 } });

    for (const bad of [
      'action=drop',
      'since=yesterday',
      'until=2025-13-01',
      'since=2025-01-01',
      'entity=',
      'actor_id=a&actor_id=b',
      'actor_id=notauuid',
    ]) {
      const res = await get(`/_admin/history?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code, bad).toBe('INVALID_PAYLOAD');
    }
    // a day that does not exist is refused by Rocket, not by PostgreSQL (whose message it would quote)
    const feb30 = await get('/_admin/history?since=2026-02-30T00:00:00Z');
    expect(feb30.status).toBe(400);
    expect(feb30.body.error.message).toBe('Invalid since filter: "2026-02-30T00:00:00Z" is not an RFC 3339 timestamp');
    const email = 'plain-user@example.com';
    expect((await post('/_admin/users', { email, password: 'secret-pass-2', roles: ['staff'] })).status).toBe(201);
    const token = await s.client.login(`${base()}/auth/login`, email, 'secret-pass-2');
    const forbidden = await get('/_admin/history', token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
  });
});
