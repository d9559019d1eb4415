/**
 * Audit 6 of rules and state machines over HTTP (rules.md, state-machines.md): stop_on_fail on computed
 * rules, create_record actions whose target or data does not fit, machines on fields no write carries,
 * stored timestamps in rule and guard environments.
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

async function created(path: string, body: unknown): Promise<string> {
  const res = await (path.startsWith('_admin/') ? admin('post', path.slice(7), body) : rec('post', path, body));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data.id as string;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});
afterAll(async () => {
  await s?.close();
});

describe('computed rules with stop_on_fail', () => {
  it('a failing computed rule with stop_on_fail ends evaluation: later computed rules add nothing', async () => {
    await entity('gauge', [
      { name: 'a', type: 'string' },
      { name: 'b', type: 'string' },
      { name: 'n', type: 'int' },
    ]);
    const first = await created('_admin/rules', {
      entity: 'gauge',
      hook: 'before_write',
      type: 'computed',
      priority: 1,
      definition: { field: 'a', expression: 'len(5)', stop_on_fail: true },
    });
    const second = await created('_admin/rules', {
      entity: 'gauge',
      hook: 'before_write',
      type: 'computed',
      priority: 2,
      definition: { field: 'b', expression: 'len(6)' },
    });
    const res = await rec('post', 'gauge', { n: 1 });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'a', rule: 'computed', message: 'len: expected a string, array or object, got number' }]);
    // A value its field refuses is a failure of the rule too.
    const typed = {
      entity: 'gauge',
      hook: 'before_write',
      type: 'computed',
      priority: 1,
      definition: { field: 'n', expression: "'x'", stop_on_fail: true },
    };
    expect((await admin('put', `rules/${first}`, typed)).status).toBe(200);
    const refused = await rec('post', 'gauge', { n: 1 });
    expect(refused.body.error.details).toEqual([{ field: 'n', rule: 'type', message: 'n must be int' }]);
    // Without stop_on_fail, every computed error is collected.
    expect((await admin('put', `rules/${first}`, { ...typed, definition: { field: 'n', expression: "'x'" } })).status).toBe(200);
    expect((await rec('post', 'gauge', { n: 1 })).body.error.details).toHaveLength(2);
    await admin('delete', `rules/${first}`);
    await admin('delete', `rules/${second}`);
    expect(await runtime.db.query('SELECT count(*)::int AS n FROM gauges')).toEqual([{ n: 0 }]);
  });
});

describe('create_record actions', () => {
  it('whose target entity was deleted since: 422 naming the action, nothing written (not 404 UNKNOWN_ENTITY)', async () => {
    await entity('crate', [{ name: 'state', type: 'string' }]);
    await entity('crate_log', [{ name: 'crate_id', type: 'uuid' }]);
    await created('_admin/state-machines', {
      entity: 'crate',
      field: 'state',
      definition: {
        transitions: [{ from: 'a', to: 'b', actions: [{ type: 'create_record', entity: 'crate_log', data: { crate_id: 'record.id' } }] }],
      },
    });
    const id = await created('crate', { state: 'a' });
    expect((await admin('delete', 'entities/crate_log')).status).toBe(200);
    const res = await rec('put', `crate/${id}`, { state: 'b' });
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'Validation failed',
      details: [{ field: 'actions[0].entity', rule: 'state_machine', message: 'entity not found: crate_log' }],
    });
    expect(await runtime.db.query('SELECT state FROM crates WHERE id = $1', [id])).toEqual([{ state: 'a' }]);
  });

  it('data keys must be fields or relations of the target entity when the machine is written', async () => {
    await entity('parcel', [{ name: 'state', type: 'string' }]);
    await entity('parcel_note', [
      { name: 'parcel_id', type: 'uuid' },
      { name: 'msg', type: 'string' },
    ]);
    await entity('parcel_tag', [
      { name: 'note_id', type: 'uuid' },
      { name: 'label', type: 'string' },
    ]);
    const rel = { name: 'tags', type: 'one_to_many', source: 'parcel_note', target: 'parcel_tag', target_key: 'note_id' };
    expect((await admin('post', 'relations', rel)).status).toBe(201);
    const machine = (data: Record<string, unknown>) => ({
      entity: 'parcel',
      field: 'state',
      definition: { transitions: [{ from: 'a', to: 'b', actions: [{ type: 'create_record', entity: 'parcel_note', data }] }] },
    });
    const typo = await admin('post', 'state-machines', machine({ parcel_id: 'record.id', mgs: 'sent' }));
    expect(typo.status).toBe(422);
    expect(typo.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'transitions[0].actions[0].data.mgs: unknown field mgs of entity parcel_note',
    });
    expect((await admin('get', 'state-machines')).body.data.filter((m: { entity: string }) => m.entity === 'parcel')).toEqual([]);

    await created('_admin/state-machines', machine({ parcel_id: 'record.id', msg: 'old.state', tags: { data: [{ label: 'auto' }] } }));
    const id = await created('parcel', { state: 'a' });
    expect((await rec('put', `parcel/${id}`, { state: 'b' })).status).toBe(200);
    const notes = await runtime.db.query<{ id: string; msg: string }>('SELECT id, msg FROM parcel_notes WHERE parcel_id = $1', [id]);
    expect(notes).toEqual([{ id: expect.any(String), msg: 'a' }]);
    expect(await runtime.db.query('SELECT label FROM parcel_tags WHERE note_id = $1', [notes[0]!.id])).toEqual([{ label: 'auto' }]);
  });
});

describe('state machines on fields no write carries', () => {
  it('are refused: a generated primary key, an auto timestamp, the soft-delete column', async () => {
    await entity(
      'sheet',
      [
        { name: 'state', type: 'string' },
        { name: 'touched_at', type: 'timestamp', auto: 'update' },
        { name: 'deleted_at', type: 'timestamp' },
      ],
      { soft_delete: true },
    );
    for (const field of ['id', 'touched_at', 'deleted_at']) {
      const res = await admin('post', 'state-machines', { entity: 'sheet', field, definition: { transitions: [{ from: 'a', to: 'b' }] } });
      expect(res.status, field).toBe(422);
      expect(res.body.error.message).toBe(`field ${field} is set by the engine, never by a write: no state machine can guard it`);
    }
    expect(
      (await admin('post', 'state-machines', { entity: 'sheet', field: 'state', definition: { transitions: [{ from: 'a', to: 'b' }] } })).status,
    ).toBe(201);
  });
});

describe('stored timestamps in rule and guard environments', () => {
  it('read as the RFC 3339 text the API returns, as when sent: a rule passing on create passes on an unrelated update', async () => {
    await entity('meeting', [
      { name: 'starts_at', type: 'timestamp' },
      { name: 'title', type: 'string' },
      { name: 'state', type: 'string' },
      { name: 'slot', type: 'string' },
    ]);
    const rule = await created('_admin/rules', {
      entity: 'meeting',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: "record.starts_at != nil && !(record.starts_at contains 'T')", message: 'starts_at needs a time' },
    });
    const pattern = await created('_admin/rules', {
      entity: 'meeting',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'starts_at', operator: 'pattern', value: '^2024-' },
    });
    const computed = await created('_admin/rules', {
      entity: 'meeting',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'slot', expression: "old == nil ? 'new' : len(old.starts_at) + ':' + record.starts_at" },
    });
    await created('_admin/state-machines', {
      entity: 'meeting',
      field: 'state',
      definition: { transitions: [{ from: 'planned', to: 'held', guard: "record.starts_at startsWith '2024-'" }] },
    });
    const id = await created('meeting', { starts_at: '2024-05-01T10:00:00Z', title: 'a', state: 'planned' });
    const renamed = await rec('put', `meeting/${id}`, { title: 'b' });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body.data.slot).toBe('24:2024-05-01T10:00:00.000Z');
    const held = await rec('put', `meeting/${id}`, { state: 'held' });
    expect(held.status, JSON.stringify(held.body)).toBe(200);
    // a stored value the field rule refuses is still refused on an update that does not send it
    await runtime.db.query(`UPDATE meetings SET starts_at = '2023-01-01T00:00:00Z' WHERE id = $1`, [id]);
    const stale = await rec('put', `meeting/${id}`, { title: 'c' });
    expect(stale.status).toBe(422);
    expect(stale.body.error.details).toEqual([{ field: 'starts_at', rule: 'pattern', message: 'field starts_at failed pattern validation' }]);
    for (const r of [rule, pattern, computed]) await admin('delete', `rules/${r}`);
  });
});
