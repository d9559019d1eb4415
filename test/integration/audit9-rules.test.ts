/**
 * Audit 9 of rules and the expression language over HTTP (rules.md, expressions.md, rest-api.md §Create/§Update):
 * what a computed rule or a state-machine `set_field` produces is written like a sent value — a generated key,
 * auto timestamps and the soft-delete marker are the engine's, a key never changes on update — and a required
 * field a rule empties is refused like a sent empty value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

const { admin, rec } = appCalls(() => ({ server: s, app }));

async function entity(name: string, fields: unknown[], extra: Record<string, unknown> = {}): Promise<void> {
  const res = await admin('post', 'entities', {
    name,
    table: `${name}s`,
    primary_key: uuid,
    fields: [{ name: 'id', type: 'uuid' }, ...fields],
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

async function created(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await (path.startsWith('_admin/') ? admin('post', path.slice(7), body) : rec('post', path, body));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

/** Runs `body` with one active computed rule on `entityName` setting `field`, then removes the rule. */
async function withComputed(entityName: string, field: string, expression: string, body: () => Promise<void>): Promise<void> {
  const rule = await created('_admin/rules', { entity: entityName, hook: 'before_write', type: 'computed', definition: { field, expression } });
  try {
    await body();
  } finally {
    await admin('delete', `rules/${rule.id}`);
  }
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});
afterAll(async () => {
  await s?.close();
});

describe('computed rules on fields the engine writes', () => {
  it('cannot set a generated key, auto timestamps or deleted_at: the record is neither moved nor soft-deleted', async () => {
    await entity(
      'memo',
      [
        { name: 'title', type: 'string' },
        { name: 'made_at', type: 'timestamp', auto: 'create' },
        { name: 'deleted_at', type: 'timestamp' },
      ],
      { soft_delete: true },
    );
    const memo = await created('memo', { title: 'a' });
    const id = memo.id as string;
    const fixedId = '00000000-0000-4000-8000-00000000abcd';

    await withComputed('memo', 'id', `'${fixedId}'`, async () => {
      // Create: the key is the database's, as when a client sends one.
      const other = await rec('post', 'memo', { title: 'b' });
      expect(other.status).toBe(201);
      expect(other.body.data.id).not.toBe(fixedId);
      // Update: the row keeps its key (it used to be moved to the computed one).
      const upd = await rec('put', `memo/${id}`, { title: 'c' });
      expect(upd.status, JSON.stringify(upd.body)).toBe(200);
      expect(upd.body.data.id).toBe(id);
    });
    expect(await runtime.db.query('SELECT count(*)::int AS n FROM memos WHERE id = $1', [fixedId])).toEqual([{ n: 0 }]);

    await withComputed('memo', 'made_at', "'2000-01-01T00:00:00Z'", async () => {
      const upd = await rec('put', `memo/${id}`, { title: 'd' });
      expect(upd.status).toBe(200);
      expect(upd.body.data.made_at).toBe(memo.made_at);
    });

    await withComputed('memo', 'deleted_at', "'2000-01-01T00:00:00Z'", async () => {
      const fresh = await rec('post', 'memo', { title: 'e' });
      expect(fresh.status).toBe(201);
      expect(fresh.body.data.deleted_at).toBeNull();
      expect((await rec('get', `memo/${fresh.body.data.id}`)).status).toBe(200);
      // An update is no delete: it used to soft-delete the row, past the delete permission and before_delete rules.
      const upd = await rec('put', `memo/${id}`, { title: 'f' });
      expect(upd.status).toBe(200);
      expect(upd.body.data.deleted_at).toBeNull();
    });
    const got = await rec('get', `memo/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.data).toMatchObject({ id, title: 'f', made_at: memo.made_at, deleted_at: null });
  });

  it('a client-supplied key may be computed on create, and is kept on update', async () => {
    const res = await admin('post', 'entities', {
      name: 'sku',
      table: 'skus',
      primary_key: { field: 'code', type: 'string' },
      fields: [
        { name: 'code', type: 'string' },
        { name: 'name', type: 'string' },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await withComputed('sku', 'code', 'upper(record.name)', async () => {
      const sku = await rec('post', 'sku', { code: 'x', name: 'bolt' });
      expect(sku.status, JSON.stringify(sku.body)).toBe(201);
      expect(sku.body.data).toEqual({ code: 'BOLT', name: 'bolt' });
      const renamed = await rec('put', 'sku/BOLT', { name: 'nut' });
      expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
      expect(renamed.body.data).toEqual({ code: 'BOLT', name: 'nut' });
    });
    expect(await runtime.db.query('SELECT code, name FROM skus ORDER BY code')).toEqual([{ code: 'BOLT', name: 'nut' }]);
  });
});

describe('state-machine set_field on the soft-delete marker', () => {
  it('is ignored by the write like an auto field: a transition does not delete the record', async () => {
    await entity(
      'ticket',
      [
        { name: 'state', type: 'string' },
        { name: 'deleted_at', type: 'timestamp' },
      ],
      { soft_delete: true },
    );
    await created('_admin/state-machines', {
      entity: 'ticket',
      field: 'state',
      definition: { transitions: [{ from: 'open', to: 'closed', actions: [{ type: 'set_field', field: 'deleted_at', value: 'now' }] }] },
    });
    const ticket = await created('ticket', { state: 'open' });
    const closed = await rec('put', `ticket/${ticket.id}`, { state: 'closed' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.data).toMatchObject({ state: 'closed', deleted_at: null });
    expect((await rec('get', `ticket/${ticket.id}`)).body.data).toMatchObject({ state: 'closed', deleted_at: null });
  });
});

describe('required fields a rule empties', () => {
  it('"" from a computed rule is refused like null (and like a sent ""), on create and update', async () => {
    await entity('badge', [
      { name: 'title', type: 'string', required: true },
      { name: 'n', type: 'int' },
    ]);
    const badge = await created('badge', { title: 'kept' });
    for (const expression of ["''", 'null', "trim('   ')"]) {
      await withComputed('badge', 'title', expression, async () => {
        const create = await rec('post', 'badge', { title: 'x' });
        expect(create.status, `${expression}: ${JSON.stringify(create.body)}`).toBe(422);
        expect(create.body.error.details).toEqual([{ field: 'title', rule: 'required', message: 'title is required' }]);
        const update = await rec('put', `badge/${badge.id}`, { n: 1 });
        expect(update.status, expression).toBe(422);
        expect(update.body.error.details).toEqual([{ field: 'title', rule: 'required', message: 'title is required' }]);
      });
    }
    expect(await runtime.db.query('SELECT title, n FROM badges')).toEqual([{ title: 'kept', n: null }]);
  });
});

describe('sent timestamps in rule and guard environments', () => {
  it('read as the UTC text a stored one gives, whatever offset was sent: create and a later update agree', async () => {
    await entity('slot', [
      { name: 'starts_at', type: 'timestamp' },
      { name: 'title', type: 'string' },
      { name: 'state', type: 'string' },
      { name: 'seen', type: 'string' },
    ]);
    const rule = await created('_admin/rules', {
      entity: 'slot',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: "record.starts_at < '2024-03-01T00:00:00Z'", message: 'starts before March' },
    });
    const seen = await created('_admin/rules', {
      entity: 'slot',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'seen', expression: 'record.starts_at' },
    });
    await created('_admin/state-machines', {
      entity: 'slot',
      field: 'state',
      definition: { transitions: [{ from: 'new', to: 'held', guard: "record.starts_at >= '2024-03-02T00:00:00Z'" }] },
    });
    // 08:00 at +09:00 is 23:00 UTC on 29 February: before March, as the stored row will say on any update.
    const early = await rec('post', 'slot', { starts_at: '2024-03-01T08:00:00+09:00', title: 'a', state: 'new' });
    expect(early.status, JSON.stringify(early.body)).toBe(422);
    expect(early.body.error.details).toEqual([{ rule: 'expression', message: 'starts before March' }]);

    const ok = await rec('post', 'slot', { starts_at: '2024-03-02 09:30:00.250+09:00', title: 'a', state: 'new' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.data).toMatchObject({ starts_at: '2024-03-02T00:30:00.250Z', seen: '2024-03-02T00:30:00.250Z' });
    const renamed = await rec('put', `slot/${ok.body.data.id}`, { title: 'b' });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body.data.seen).toBe('2024-03-02T00:30:00.250Z');
    // The guard reads a sent timestamp the same way: 10:00 at +14:00 is still 1 March in UTC.
    const blocked = await rec('put', `slot/${ok.body.data.id}`, { starts_at: '2024-03-02T10:00:00+14:00', state: 'held' });
    expect(blocked.status).toBe(422);
    expect(blocked.body.error.details[0]).toMatchObject({ field: 'state', rule: 'state_machine' });
    const held = await rec('put', `slot/${ok.body.data.id}`, { starts_at: '2024-03-02T10:00:00+09:00', state: 'held' });
    expect(held.status, JSON.stringify(held.body)).toBe(200);
    expect(held.body.data).toMatchObject({ state: 'held', seen: '2024-03-02T01:00:00.000Z' });
    // The value written keeps the client's precision: microseconds are not cut to what the record shows.
    const fine = await rec('post', 'slot', { starts_at: '2024-03-05T00:00:00.123456Z', title: 'c', state: 'new' });
    expect(fine.status).toBe(201);
    expect(await runtime.db.query(`SELECT to_char(starts_at AT TIME ZONE 'UTC', 'US') AS us FROM slots WHERE id = $1`, [fine.body.data.id])).toEqual([
      { us: '123456' },
    ]);
    for (const r of [rule, seen]) await admin('delete', `rules/${r.id}`);
  });
});
