import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hasPending } from '../../src/realtime/sequencer.js';
import { RFC3339 } from '../support/engine.js';
import { holdTransaction } from '../support/locks.js';
import { SseReader, type SseEvent } from '../support/sse.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

// Two instances of one platform on one database: writes go through A, streams are read from B (and A).
let a: TestServer;
let b: TestServer;
let managementDb: string;
let share: { managementDb: string; dataDir: string };
let app: { name: string; token: string };
let adminId: string;
const users: Record<string, { id: string; token: string }> = {};

const RETAIN_EVENTS = 20;
const uuid = { field: 'id', type: 'uuid', generated: true };
const base = () => `/api/${app.name}`;
const post = (path: string, body: unknown, token = app.token) => a.client.post(`${base()}${path}`, { token, body });
const put = (path: string, body: unknown, token = app.token) => a.client.put(`${base()}${path}`, { token, body });
const del = (path: string, token = app.token) => a.client.delete(`${base()}${path}`, { token });
const appDb = async () => (await a.rocket.services.apps.get(app.name))!.db;
const q = async (sql: string, params: unknown[] = []) => (await appDb()).query<any>(sql, params as never[]);

/**
 * Longest wait for an event. Delivery takes milliseconds; the bound only keeps a lost event from hanging
 * the run, and is generous because CI runs this file next to 300 app creations that stall commits.
 */
const WAIT_MS = 30_000;
vi.setConfig({ testTimeout: 120_000 });

/** Waits until every committed change is numbered (a sequencer run follows each commit, asynchronously). */
async function untilNumbered(): Promise<void> {
  for (let i = 0; i < 200 && (await hasPending(await appDb())); i++) await new Promise((done) => setTimeout(done, 25));
  if (await hasPending(await appDb())) throw new Error('committed changes are still waiting for a sequencer run');
}

/** Streams a test opened: closed after it, also when it failed half-way (later tests count open streams). */
const streams = new Set<SseReader>();
afterEach(() => {
  for (const r of streams) r.close();
  streams.clear();
});

async function created(path: string, body: unknown, token = app.token) {
  const res = await post(path, body, token);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

/**
 * Opens a stream and waits for `ready`; fails the test on any other answer. With `settle`, a 403/404
 * is tried again for a while: a metadata change made through the other instance reaches this one
 * within a second.
 */
async function subscribe(
  server: TestServer,
  query: string,
  opts: { token?: string; headers?: Record<string, string>; settle?: boolean } = {},
): Promise<SseReader> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? app.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let r = await SseReader.open(server.rocket.url, `${base()}/_realtime?${query}`, headers);
  for (let i = 0; opts.settle && !(r instanceof SseReader) && (r.status === 403 || r.status === 404) && i < 30; i++) {
    await new Promise((done) => setTimeout(done, 100));
    r = await SseReader.open(server.rocket.url, `${base()}/_realtime?${query}`, headers);
  }
  if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status} ${JSON.stringify(r.body)}`);
  streams.add(r);
  expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
  await r.waitFor(1, 'ready');
  return r;
}

/** The answer of a stream request that must be refused before the stream opens. */
async function refused(server: TestServer, path: string, headers: Record<string, string> = {}) {
  const r = await SseReader.open(server.rocket.url, path, headers);
  if (r instanceof SseReader) {
    r.close();
    throw new Error('stream opened');
  }
  return r;
}

const changes = (r: SseReader) => r.events.filter((e) => e.event === 'change');
const summary = (events: SseEvent[]) => events.map((e) => `${e.data.entity}:${e.data.action}`);

beforeAll(async () => {
  managementDb = `rocketmgmt_${uniqueName('')}`;
  share = { managementDb, dataDir: await mkdtemp(join(tmpdir(), 'rocket-test-data-')) };
  const env = { ROCKET_REALTIME_RETAIN_EVENTS: String(RETAIN_EVENTS), ROCKET_REALTIME_RETAIN_SECONDS: '0', ROCKET_REALTIME_PING_SECONDS: '1' };
  // One after the other: two platform logins at the very same moment can trip the login throttle's row race.
  a = await startTestServer(env, share);
  b = await startTestServer(env, share);
  app = await a.createApp();
  adminId = (await q(`SELECT id::text FROM _users WHERE email = 'admin@localhost'`))[0].id;
  const entities = [
    {
      name: 'note',
      table: 'notes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'owner', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'size', type: 'int' },
        { name: 'body', type: 'text' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
      ],
    },
    {
      name: 'folder',
      table: 'folders',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    },
    {
      name: 'page',
      table: 'pages',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'folder_id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    },
    {
      name: 'guarded',
      table: 'guarded',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'amount', type: 'int' },
      ],
    },
    {
      name: 'secret',
      table: 'secrets',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'v', type: 'string' },
      ],
    },
  ];
  for (const e of entities) await created('/_admin/entities', e);
  await created('/_admin/relations', {
    name: 'pages',
    type: 'one_to_many',
    source: 'folder',
    target: 'page',
    target_key: 'folder_id',
    on_delete: 'cascade',
  });
  await created('/_admin/rules', {
    entity: 'guarded',
    hook: 'before_write',
    type: 'field',
    definition: { field: 'amount', operator: 'max', value: 10, message: 'too big' },
  });
  for (const name of ['alice', 'bob']) {
    const email = `${name}@example.com`;
    const res = await post('/_admin/users', { email, password: 'secret-pass-1', roles: ['member'] });
    expect(res.status).toBe(201);
    users[name] = { id: res.body.data.id, token: await a.client.login(`${base()}/auth/login`, email, 'secret-pass-1') };
  }
  await created('/_admin/permissions', {
    entity: 'note',
    action: 'read',
    roles: ['member'],
    conditions: [{ field: 'owner', operator: 'eq', value: '$user.id' }],
  });
  await created('/_admin/permissions', { entity: 'note', action: 'create', roles: ['member'] });
  await created('/_admin/permissions', { entity: 'guarded', action: 'read', roles: ['member'] });
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await a?.rocket.dbServer.dropDatabase(managementDb).catch(() => undefined);
});

describe('delivery across instances', () => {
  it('a write through instance A reaches a subscriber on instance B: create, update, delete, in order', async () => {
    const r = await subscribe(b, 'entities=note');
    expect(r.events[0]).toEqual({ event: 'ready', data: { entities: ['note'] } });
    const n = await created('/note', { title: 'first', owner: 'x', size: 1 });
    expect((await put(`/note/${n.id}`, { title: 'second' })).status).toBe(200);
    expect((await put(`/note/${n.id}`, {})).status).toBe(200);
    expect((await del(`/note/${n.id}`)).status).toBe(200);
    const got = await r.waitFor(4, 'change');
    r.close();
    expect(summary(got)).toEqual(['note:create', 'note:update', 'note:update', 'note:delete']);
    const [c, u, u2, d] = got;
    expect(c!.data).toMatchObject({ entity: 'note', action: 'create', id: n.id, record: n, by: adminId });
    expect(c!.data).not.toHaveProperty('changed');
    expect(c!.data.at).toMatch(RFC3339);
    expect(u!.data.record).toMatchObject({ id: n.id, title: 'second', size: 1 });
    expect(u!.data.changed.sort()).toEqual(['title', 'updated_at']);
    expect(u2!.data.changed).toEqual(['updated_at']);
    expect(d!.data.record).toMatchObject({ id: n.id, title: 'second' });
    const ids = got.map((e) => Number(e.id));
    for (const id of ids) expect(Number.isSafeInteger(id) && id > 0).toBe(true);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
    // the event's record is the GET answer
    const again = await created('/note', { title: 'get me', owner: 'x' });
    const r2 = await subscribe(a, 'entities=note');
    expect((await put(`/note/${again.id}`, { size: 7 })).status).toBe(200);
    await r2.until(() => changes(r2).some((e) => e.data.action === 'update'), WAIT_MS);
    r2.close();
    const ev = changes(r2).find((e) => e.data.action === 'update');
    const fetched = await a.client.get(`${base()}/note/${again.id}`, { token: app.token });
    expect(ev!.data.record).toEqual(fetched.body.data);
    // an update's capture stores the row as written, keyed by its columns only (not the old values its statement also returned)
    const [stored] = await q(`SELECT row FROM _realtime_events WHERE record_id = $1 AND action = 'update'`, [again.id]);
    expect(Object.keys(stored.row).sort()).toEqual(Object.keys((await q('SELECT * FROM notes LIMIT 1'))[0]).sort());
  });

  it('a subscriber with a $user read condition receives only its own rows', async () => {
    const alice = await subscribe(b, 'entities=note', { token: users.alice!.token, settle: true });
    const bob = await subscribe(a, 'entities=note', { token: users.bob!.token });
    await created('/note', { title: 'alice 1', owner: users.alice!.id }, users.alice!.token);
    await created('/note', { title: 'bob 1', owner: users.bob!.id }, users.bob!.token);
    await created('/note', { title: 'nobody' });
    await created('/note', { title: 'alice 2', owner: users.alice!.id });
    const marker = await created('/note', { title: 'bob 2', owner: users.bob!.id });
    const aliceGot = await alice.waitFor(2, 'change');
    await bob.until(() => changes(bob).some((e) => e.data.id === marker.id), WAIT_MS);
    alice.close();
    bob.close();
    expect(aliceGot.map((e) => e.data.record.title)).toEqual(['alice 1', 'alice 2']);
    expect(changes(bob).map((e) => e.data.record.title)).toEqual(['bob 1', 'bob 2']);
  });

  it('streams of one instance with different $user conditions share a round, each with only its rows', async () => {
    // One instance, writes at once: their events are numbered and read together, and the streams
    // with the same visibility (two of alice's) are handed the same frames.
    const alice1 = await subscribe(b, 'entities=note', { token: users.alice!.token, settle: true });
    const alice2 = await subscribe(b, 'entities=note', { token: users.alice!.token });
    const bob = await subscribe(b, 'entities=note', { token: users.bob!.token });
    const admin = await subscribe(b, 'entities=note');
    const owners = ['alice', 'bob', 'alice', 'bob', 'alice', 'bob'] as const;
    const made = await Promise.all(owners.map((o, i) => created('/note', { title: `${o} batch ${i}`, owner: users[o]!.id })));
    await admin.until(() => made.every((m) => changes(admin).some((e) => e.data.id === m.id)), WAIT_MS);
    const lastOf = (o: string) => made.filter((_, i) => owners[i] === o).map((m) => m.id as string);
    for (const [r, o] of [
      [alice1, 'alice'],
      [alice2, 'alice'],
      [bob, 'bob'],
    ] as const) {
      await r.until(() => lastOf(o).every((id) => changes(r).some((e) => e.data.id === id)), WAIT_MS);
    }
    for (const r of [alice1, alice2, bob, admin]) r.close();
    const titles = (r: SseReader) =>
      changes(r)
        .map((e) => e.data.record.title as string)
        .sort();
    expect(titles(alice1)).toEqual(['alice batch 0', 'alice batch 2', 'alice batch 4']);
    expect(titles(alice2)).toEqual(titles(alice1));
    expect(titles(bob)).toEqual(['bob batch 1', 'bob batch 3', 'bob batch 5']);
    expect(titles(admin)).toHaveLength(6);
    for (const r of [alice1, alice2, bob, admin]) {
      const ids = changes(r).map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    }
  });

  it('filters: only matching rows are sent (list filter syntax)', async () => {
    const r = await subscribe(b, 'entities=note&filter[status]=open&filter[size.gte]=5');
    await created('/note', { title: 'closed', status: 'closed', size: 9 });
    await created('/note', { title: 'small', status: 'open', size: 1 });
    const hit = await created('/note', { title: 'match', status: 'open', size: 5 });
    const got = await r.waitFor(1, 'change');
    const marker = await created('/note', { title: 'match 2', status: 'open', size: 50 });
    await r.until(() => changes(r).some((e) => e.data.id === marker.id), WAIT_MS);
    r.close();
    expect(got[0]!.data.id).toBe(hit.id);
    expect(changes(r).map((e) => e.data.record.title)).toEqual(['match', 'match 2']);
  });

  it('an entity whose table is named like a PostgreSQL type (line, money), with fields t and r, streams, and other streams of the app keep flowing', async () => {
    for (const [name, table] of [
      ['stroke', 'line'],
      ['price', 'money'],
    ] as const) {
      await created('/_admin/entities', {
        name,
        table,
        primary_key: uuid,
        // fields named like aliases a statement might give the table (t, r) must not shadow it either
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'label', type: 'string' },
          { name: 't', type: 'string' },
          { name: 'r', type: 'string' },
        ],
      });
    }
    const price = await subscribe(b, 'entities=price&filter[label]=keep', { settle: true });
    const stroke = await subscribe(b, 'entities=stroke', { settle: true });
    const other = await subscribe(b, 'entities=note');
    const s = await created('/stroke', { label: 'any', t: 'x', r: 'y' });
    await created('/price', { label: 'drop' });
    const p = await created('/price', { label: 'keep' });
    const n = await created('/note', { title: 'still flowing' });
    await price.until(() => changes(price).some((e) => e.data.id === p.id), WAIT_MS);
    await stroke.until(() => changes(stroke).some((e) => e.data.id === s.id), WAIT_MS);
    await other.until(() => changes(other).some((e) => e.data.id === n.id), WAIT_MS);
    expect(changes(price).map((e) => e.data.record.label)).toEqual(['keep']);
    expect(changes(stroke).map((e) => e.data.record)).toEqual([s]);
  });

  it('a write refused by a rule produces no event', async () => {
    const r = await subscribe(b, 'entities=guarded');
    expect((await post('/guarded', { amount: 50 })).status).toBe(422);
    const ok = await created('/guarded', { amount: 5 });
    expect((await put(`/guarded/${ok.id}`, { amount: 99 })).status).toBe(422);
    const last = await created('/guarded', { amount: 6 });
    await r.until(() => changes(r).some((e) => e.data.id === last.id), WAIT_MS);
    r.close();
    expect(changes(r).map((e) => `${e.data.action}:${e.data.record.amount}`)).toEqual(['create:5', 'create:6']);
    // the refused writes left no capture behind either
    expect(await q(`SELECT count(*)::int AS n FROM _realtime_events WHERE entity = 'guarded' AND (row->>'amount')::numeric IN (50, 99)`)).toEqual([
      { n: 0 },
    ]);
  });

  it('a change is written once: a sequencer run adds one batch row for all it numbers and leaves the captures where they are', async () => {
    const r = await subscribe(b, 'entities=folder,page');
    const f = await created('/folder', { name: 'once', pages: { data: [{ name: 'p1' }, { name: 'p2' }, { name: 'p3' }] } });
    await r.waitFor(4, 'change');
    r.close();
    const ids = changes(r).map((e) => Number(e.id));
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2, ids[0]! + 3]);
    // one statement, one transaction: the four captures carry its id, and one batch numbered them all
    const rows = await q(
      `SELECT count(*)::int AS n, count(DISTINCT txid)::int AS txids FROM _realtime_events WHERE record_id = $1 OR row->>'folder_id' = $1`,
      [f.id],
    );
    expect(rows).toEqual([{ n: 4, txids: 1 }]);
    const batches = await q('SELECT first::int, last::int FROM _realtime_batches WHERE first <= $1 AND last >= $2', [ids[0], ids[3]]);
    expect(batches).toHaveLength(1);
  });

  it('a transaction that captured early and commits late: changes committed meanwhile flow, its own follows them', async () => {
    const r = await subscribe(b, 'entities=note');
    // what a slow writer holds: its row and its capture, stamped with its transaction id, which is older than
    // the ids of the writes committed while it runs (sequencer runs number those and record snapshots that list it)
    const held = await holdTransaction(await appDb(), async (tx) => {
      await tx.query(
        `WITH n AS (INSERT INTO notes (title, owner) VALUES ('slow', 'x') RETURNING *)
         INSERT INTO _realtime_events (entity, action, record_id, row, at) SELECT 'note', 'create', n.id::text, to_jsonb(n), now() FROM n`,
      );
    });
    const meanwhile = [await created('/note', { title: 'meanwhile 1', owner: 'x' }), await created('/note', { title: 'meanwhile 2', owner: 'x' })];
    await r.until(() => changes(r).some((e) => e.data.id === meanwhile[1]!.id), WAIT_MS);
    await held.release();
    await r.until(() => changes(r).some((e) => e.data.record.title === 'slow'), WAIT_MS);
    r.close();
    const got = changes(r);
    expect(got.map((e) => e.data.record.title)).toEqual(['meanwhile 1', 'meanwhile 2', 'slow']);
    expect(Number(got[2]!.id)).toBeGreaterThan(Number(got[1]!.id));
  });

  it('nested children, cascades (soft-deleted children included) and import sample data all produce events', async () => {
    const r = await subscribe(b, 'entities=folder,page');
    const f = await created('/folder', { name: 'f', pages: { data: [{ name: 'p1' }, { name: 'p2' }] } });
    expect((await put(`/folder/${f.id}`, { pages: { data: [{ name: 'p3' }] } })).status).toBe(200);
    expect((await del(`/folder/${f.id}`)).status).toBe(200);
    await r.waitFor(8, 'change');
    const got = summary(changes(r));
    // one write's rows may come in any order among themselves; writes come in commit order
    expect(got.slice(0, 3).sort()).toEqual(['folder:create', 'page:create', 'page:create']);
    expect(got[3]).toBe('page:create');
    expect(changes(r)[3]!.data.record.name).toBe('p3');
    expect(got.slice(4).sort()).toEqual(['folder:delete', 'page:delete', 'page:delete', 'page:delete']);
    // soft-deleted children: the record as it was before the delete
    expect(
      changes(r)
        .slice(4)
        .filter((e) => e.data.entity === 'page')
        .every((e) => e.data.record.deleted_at === null),
    ).toBe(true);
    const before = changes(r).length;
    const imp = await a.client.post(`${base()}/_admin/import`, {
      token: app.token,
      body: {
        version: 1,
        entities: [
          {
            name: 'folder',
            table: 'folders',
            primary_key: uuid,
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'name', type: 'string' },
            ],
          },
        ],
        sample_data: { folder: [{ name: 'seeded 1' }, { name: 'seeded 2' }] },
      },
    });
    expect(imp.status).toBe(200);
    await r.waitFor(before + 2, 'change');
    r.close();
    const seeded = changes(r).slice(before);
    expect(seeded.map((e) => [e.data.action, e.data.record.name])).toEqual([
      ['create', 'seeded 1'],
      ['create', 'seeded 2'],
    ]);
    expect(seeded[0]!.data.by).toBe(adminId);
  });

  it('a set_null cascade sends no event for a child that was already soft-deleted (no caller can read it)', async () => {
    await created('/_admin/entities', {
      name: 'shelf',
      table: 'shelves',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await created('/_admin/entities', {
      name: 'card',
      table: 'cards',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'shelf_id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await created('/_admin/relations', {
      name: 'cards',
      type: 'one_to_many',
      source: 'shelf',
      target: 'card',
      target_key: 'shelf_id',
      on_delete: 'set_null',
    });
    const r = await subscribe(b, 'entities=card', { settle: true });
    const shelf = await created('/shelf', { name: 's' });
    const gone = await created('/card', { shelf_id: shelf.id, name: 'gone' });
    const live = await created('/card', { shelf_id: shelf.id, name: 'live' });
    expect((await del(`/card/${gone.id}`)).status).toBe(200);
    expect((await del(`/shelf/${shelf.id}`)).status).toBe(200);
    // the cascade still clears the key of the deleted child (rest-api.md: "incl. soft-deleted")
    const stored = await q('SELECT id::text, shelf_id, deleted_at IS NOT NULL AS deleted FROM cards ORDER BY name');
    expect(stored).toEqual([
      { id: gone.id, shelf_id: null, deleted: true },
      { id: live.id, shelf_id: null, deleted: false },
    ]);
    // a write after the cascade: once its event is in, every earlier one is too (commit order)
    const marker = await created('/card', { name: 'marker' });
    await r.until(() => changes(r).some((e) => e.data.id === marker.id), WAIT_MS);
    r.close();
    expect(changes(r).map((e) => [e.data.action, e.data.record.name])).toEqual([
      ['create', 'gone'],
      ['create', 'live'],
      ['delete', 'gone'],
      ['update', 'live'],
      ['create', 'marker'],
    ]);
    const update = changes(r)[3]!.data;
    expect(update).toMatchObject({ id: live.id, record: { shelf_id: null, deleted_at: null }, changed: ['shelf_id'] });
  });

  it('state-machine and workflow actions produce events (by the requesting user)', async () => {
    await created('/_admin/entities', {
      name: 'doc',
      table: 'docs',
      primary_key: uuid,
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
    await created('/_admin/entities', {
      name: 'ticket',
      table: 'tickets',
      primary_key: uuid,
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
    const r = await subscribe(b, 'entities=doc,audit_note,ticket', { settle: true });
    const d = await created('/doc', { state: 'draft' });
    expect((await put(`/doc/${d.id}`, { state: 'done' })).status).toBe(200);
    const t = await created('/ticket', { status: 'open' });
    expect((await put(`/ticket/${t.id}`, { status: 'urgent' })).status).toBe(200);
    const got = await r.waitFor(6, 'change');
    r.close();
    expect(summary(got)[0]).toBe('doc:create');
    expect(summary(got).slice(1, 3).sort()).toEqual(['audit_note:create', 'doc:update']);
    expect(summary(got).slice(3)).toEqual(['ticket:create', 'ticket:update', 'ticket:update']);
    const docUpdate = got.find((e) => e.data.entity === 'doc' && e.data.action === 'update')!;
    expect(docUpdate.data).toMatchObject({ record: { state: 'done', stamp: 'sealed' } });
    expect(docUpdate.data.changed.sort()).toEqual(['stamp', 'state']);
    expect(got.find((e) => e.data.entity === 'audit_note')!.data).toMatchObject({ record: { doc_id: d.id }, by: adminId });
    expect(got[5]!.data).toMatchObject({ record: { id: t.id, escalated: true }, changed: ['escalated'], by: adminId });
  });
});

describe('resume with Last-Event-ID', () => {
  it('0 replays every retained event while none has been pruned (else reset)', async () => {
    const before = await created('/note', { title: 'before zero', owner: 'x' });
    await untilNumbered();
    const [state] = await q('SELECT pruned_through::int AS p FROM _realtime_state');
    const r = await subscribe(b, 'entities=note', { headers: { 'last-event-id': '0' } });
    if (state.p === 0) {
      await r.until(() => changes(r).some((e) => e.data.id === before.id), WAIT_MS);
      expect(r.events.map((e) => e.event)).not.toContain('reset');
      expect(r.events[0]!.event).toBe('ready');
    } else {
      await r.waitFor(1, 'reset');
    }
    r.close();
  });

  it('delivers exactly the missed events, on another instance, then live ones', async () => {
    const first = await subscribe(a, 'entities=note');
    const n = await created('/note', { title: 'r0', owner: 'x' });
    const [seen] = await first.waitFor(1, 'change');
    first.close();
    await first.waitEnd();
    const missed = [];
    for (let i = 1; i <= 3; i++) missed.push(await created('/note', { title: `r${i}`, owner: 'x' }));
    await created('/secret', { v: 'not subscribed' });
    const again = await subscribe(b, 'entities=note', { headers: { 'last-event-id': seen!.id! } });
    await again.waitFor(3, 'change');
    const live = await created('/note', { title: 'r4', owner: n.owner });
    await again.waitFor(4, 'change');
    again.close();
    expect(again.events.map((e) => e.event)).toEqual(['ready', 'change', 'change', 'change', 'change']);
    expect(changes(again).map((e) => e.data.id)).toEqual([...missed.map((m) => m.id), live.id]);
    const ids = changes(again).map((e) => Number(e.id));
    expect(ids[0]).toBeGreaterThan(Number(seen!.id));
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
  });

  it('resuming honours row-level security: only missed rows the subscriber may read', async () => {
    const first = await subscribe(b, 'entities=note', { token: users.alice!.token });
    await created('/note', { title: 'a0', owner: users.alice!.id });
    const [seen] = await first.waitFor(1, 'change');
    first.close();
    await created('/note', { title: 'not alice', owner: users.bob!.id });
    const mine = await created('/note', { title: 'a1', owner: users.alice!.id });
    const again = await subscribe(a, 'entities=note', { token: users.alice!.token, headers: { 'last-event-id': seen!.id! } });
    await again.waitFor(1, 'change');
    const marker = await created('/note', { title: 'a2', owner: users.alice!.id });
    await again.until(() => changes(again).some((e) => e.data.id === marker.id), WAIT_MS);
    again.close();
    expect(changes(again).map((e) => e.data.id)).toEqual([mine.id, marker.id]);
  });

  it('streams opened together while writes flow each get exactly the events after their own position, once, in order', async () => {
    const first = await subscribe(b, 'entities=note');
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await created('/note', { title: `storm ${i}`, owner: 'x' }));
    const seen = await first.waitFor(5, 'change', WAIT_MS);
    first.close();
    expect(seen.map((e) => e.data.id)).toEqual(made.map((m) => m.id));
    // Eight streams at once, resuming from four different points (two each), while writes go on through A.
    const writing = (async () => {
      const more = [];
      for (let i = 0; i < 6; i++) more.push(await created('/note', { title: `storm live ${i}`, owner: 'x' }));
      return more;
    })();
    const points = [0, 1, 2, 3, 0, 1, 2, 3];
    const joined = await Promise.all(points.map((k) => subscribe(b, 'entities=note', { headers: { 'last-event-id': seen[k]!.id! } })));
    const live = await writing;
    const marker = await created('/note', { title: 'storm end', owner: 'x' });
    for (const [i, r] of joined.entries()) {
      await r.until(() => changes(r).some((e) => e.data.id === marker.id), WAIT_MS);
      r.close();
      const expected = [...made.slice(points[i]! + 1), ...live, marker].map((m) => m.id);
      expect(changes(r).map((e) => e.data.id)).toEqual(expected);
      expect(r.events.map((e) => e.event)).not.toContain('reset');
    }
  });

  it('an id outside the retained window, in the future, or not a number gives reset, then live events', async () => {
    const first = await subscribe(a, 'entities=note');
    await created('/note', { title: 'old', owner: 'x' });
    const [old] = await first.waitFor(1, 'change');
    // each filler is delivered before the next is written, so each is a batch of its own: retention, which drops
    // whole batches, then keeps exactly the last RETAIN_EVENTS
    for (let i = 0; i < RETAIN_EVENTS + 5; i++) {
      const filler = await created('/note', { title: `filler ${i}`, owner: 'x' });
      await first.until(() => changes(first).some((e) => e.data.id === filler.id), WAIT_MS);
    }
    first.close();
    await untilNumbered();
    // retention: the last RETAIN_EVENTS events or younger than 0 s, whichever keeps more
    await a.rocket.jobs.runNow('realtime-prune');
    const [kept] = await q('SELECT min(first)::int AS lo, max(last)::int AS hi FROM _realtime_batches');
    expect(kept.lo).toBe(kept.hi - RETAIN_EVENTS + 1);
    expect(kept.lo).toBeGreaterThan(Number(old!.id));
    expect((await q('SELECT pruned_through::int AS p FROM _realtime_state'))[0].p).toBe(kept.hi - RETAIN_EVENTS);
    // the events of the batches gone went with them
    expect(await q(`SELECT count(*)::int AS n FROM _realtime_events WHERE record_id = $1`, [old!.data.id])).toEqual([{ n: 0 }]);
    for (const id of [old!.id!, 'abc', '-3', '99999999999']) {
      const r = await subscribe(b, 'entities=note', { headers: { 'last-event-id': id } });
      await r.waitFor(1, 'reset');
      const live = await created('/note', { title: `after reset ${id}`, owner: 'x' });
      await r.until(() => changes(r).some((e) => e.data.id === live.id), WAIT_MS);
      r.close();
      expect(r.events.map((e) => e.event)).toEqual(['ready', 'reset', 'change']);
      expect(r.events[1]!.data).toEqual({});
    }
    // inside the window: no reset
    const lastKept = (await q('SELECT max(last)::text AS id FROM _realtime_batches'))[0].id;
    const r = await subscribe(b, 'entities=note', { headers: { 'last-event-id': String(Number(lastKept) - 2) } });
    await r.waitFor(2, 'change');
    r.close();
    expect(r.events.map((e) => e.event)).toEqual(['ready', 'change', 'change']);
  });
});

describe('closing streams', () => {
  it("a disabled user's streams close on both instances; a new subscription gets 401", async () => {
    const email = `carol-${uniqueName()}@example.com`;
    const u = await post('/_admin/users', { email, password: 'secret-pass-1', roles: ['member'] });
    const token = await a.client.login(`${base()}/auth/login`, email, 'secret-pass-1');
    const onB = await subscribe(b, 'entities=note', { token });
    const onA = await subscribe(a, 'entities=note', { token });
    expect((await put(`/_admin/users/${u.body.data.id}`, { email, active: false })).status).toBe(200);
    await onB.waitEnd();
    await onA.waitEnd();
    const again = await refused(b, `${base()}/_realtime?entities=note`, { authorization: `Bearer ${token}` });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('UNAUTHORIZED');
  });

  it("a password change ends the user's streams, by token or by ticket, and refuses the tickets traded before it", async () => {
    const email = `erin-${uniqueName()}@example.com`;
    const u = await post('/_admin/users', { email, password: 'secret-pass-1', roles: ['member'] });
    const token = await a.client.login(`${base()}/auth/login`, email, 'secret-pass-1');
    const byToken = await subscribe(b, 'entities=note', { token });
    const ticketFor = async () => (await a.client.post(`${base()}/_realtime/tickets`, { token })).body.data.ticket as string;
    const byTicket = await subscribe(a, `entities=note&ticket=${encodeURIComponent(await ticketFor())}`, { token: '' });
    const unused = await ticketFor();
    expect((await put(`/_admin/users/${u.body.data.id}`, { email, roles: ['member'], password: 'secret-pass-2' })).status).toBe(200);
    await byToken.waitEnd();
    await byTicket.waitEnd();
    const late = await refused(b, `${base()}/_realtime?entities=note&ticket=${encodeURIComponent(unused)}`);
    expect(late.status).toBe(401);
    // the new password's token subscribes again
    const fresh = await a.client.login(`${base()}/auth/login`, email, 'secret-pass-2');
    (await subscribe(b, 'entities=note', { token: fresh })).close();
  });

  it('a deleted user loses their streams too', async () => {
    const email = `dave-${uniqueName()}@example.com`;
    const u = await post('/_admin/users', { email, password: 'secret-pass-1', roles: ['member'] });
    const token = await a.client.login(`${base()}/auth/login`, email, 'secret-pass-1');
    const r = await subscribe(b, 'entities=note', { token });
    expect((await del(`/_admin/users/${u.body.data.id}`)).status).toBe(200);
    await r.waitEnd();
  });

  it('losing read on a subscribed entity closes the stream; a new one gets 403', async () => {
    const p = await created('/_admin/permissions', { entity: 'secret', action: 'read', roles: ['member'] });
    const r = await subscribe(b, 'entities=note,secret', { token: users.bob!.token, settle: true });
    expect((await del(`/_admin/permissions/${p.id}`)).status).toBe(200);
    await r.waitEnd();
    const again = await refused(b, `${base()}/_realtime?entities=secret`, { authorization: `Bearer ${users.bob!.token}` });
    expect(again.status).toBe(403);
    expect(again.body.error.code).toBe('FORBIDDEN');
  });

  it('sends a ping comment while idle', async () => {
    const r = await subscribe(b, 'entities=secret');
    await r.until(() => r.comments.includes('ping'), WAIT_MS);
    r.close();
  });
});

describe('a slow reader', () => {
  it('is sent reset and cut off once more than ROCKET_REALTIME_MAX_QUEUE events wait; memory stays bounded', async () => {
    const realtime = b.rocket.services.realtime!;
    const r = await subscribe(b, 'entities=note');
    r.pause();
    const body = 'x'.repeat(20_000);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      // Plain creates, 8 at a time, until the server cuts the reader off (the socket's buffers fill first).
      let made = 0;
      const writer = async () => {
        while (realtime.streamCount > 0 && made < 6000) {
          made++;
          expect((await post('/note', { title: `bulk ${made}`, owner: 'x', body })).status).toBe(201);
        }
      };
      await Promise.all(Array.from({ length: 8 }, writer));
      for (let i = 0; i < 600 && realtime.streamCount > 0; i++) await new Promise((done) => setTimeout(done, 50));
    } finally {
      clearInterval(sampler);
    }
    expect(realtime.streamCount).toBe(0);
    const after = process.memoryUsage().rss;
    console.log(
      `[realtime] slow reader: RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB, after cut-off ${(after / 2 ** 20).toFixed(0)} MiB (1,000 queued events of ~20 KB)`,
    );
    // Reading again: what the socket still held, then reset, then the end.
    r.res.resume();
    await r.waitEnd(30_000);
    const last = r.events[r.events.length - 1]!;
    expect(last.event).toBe('reset');
    expect(last.data).toEqual({});
    expect(changes(r).length).toBeGreaterThan(0);
    expect(changes(r).length).toBeLessThan(6000);
  }, 120_000);
});

describe('tickets', () => {
  const ticket = async (server: TestServer, token = app.token) => {
    const res = await server.client.post(`${base()}/_realtime/tickets`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.expires_in).toBe(30);
    expect(typeof res.body.data.ticket).toBe('string');
    return res.body.data.ticket as string;
  };

  it('a ticket from A opens a stream on B once, as its user; reuse, unknown and expired → 401', async () => {
    const t = await ticket(a, users.alice!.token);
    const r = await subscribe(b, `entities=note&ticket=${encodeURIComponent(t)}`, { token: '' });
    const resumed = await ticket(b, users.alice!.token);
    await created('/note', { title: 'not for alice', owner: 'x' });
    const mine = await created('/note', { title: 'for alice', owner: users.alice!.id });
    const [ev] = await r.waitFor(1, 'change');
    r.close();
    expect(ev!.data.id).toBe(mine.id);
    // a new ticket, resuming with last_event_id (a new EventSource cannot send the header)
    const missed = await created('/note', { title: 'missed by alice', owner: users.alice!.id });
    const r2 = await subscribe(a, `entities=note&ticket=${encodeURIComponent(resumed)}&last_event_id=${ev!.id}`, { token: '' });
    const [ev2] = await r2.waitFor(1, 'change');
    r2.close();
    expect(ev2!.data.id).toBe(missed.id);
    for (const server of [a, b]) {
      const reuse = await refused(server, `${base()}/_realtime?entities=note&ticket=${encodeURIComponent(t)}`);
      expect(reuse.status).toBe(401);
      expect(reuse.body.error.code).toBe('UNAUTHORIZED');
    }
    const unknown = await refused(b, `${base()}/_realtime?entities=note&ticket=nope`);
    expect(unknown.status).toBe(401);
    const stale = await ticket(a);
    await q(`UPDATE _realtime_tickets SET expires_at = now() - interval '1 second'`);
    const expired = await refused(b, `${base()}/_realtime?entities=note&ticket=${encodeURIComponent(stale)}`);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('UNAUTHORIZED');
    expect(await q('SELECT count(*)::int AS n FROM _realtime_tickets')).toEqual([{ n: 0 }]);
  });

  it('a bad ticket next to a valid bearer header is 401, not ignored; both valid must be the same user', async () => {
    const auth = { authorization: `Bearer ${users.alice!.token}` };
    for (const t of ['nope', '']) {
      const res = await refused(b, `${base()}/_realtime?entities=note&ticket=${t}`, auth);
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired ticket' });
    }
    const used = await ticket(a, users.alice!.token);
    const r = await subscribe(b, `entities=note&ticket=${encodeURIComponent(used)}`, { token: '' });
    r.close();
    const reuse = await refused(b, `${base()}/_realtime?entities=note&ticket=${encodeURIComponent(used)}`, auth);
    expect(reuse.status).toBe(401);
    // a good ticket next to a bad header is refused too, and the ticket stays unused
    const kept = await ticket(a, users.alice!.token);
    const badHeader = await refused(b, `${base()}/_realtime?entities=note&ticket=${encodeURIComponent(kept)}`, { authorization: 'Bearer nope' });
    expect(badHeader.status).toBe(401);
    const both = await subscribe(b, `entities=note&ticket=${encodeURIComponent(kept)}`, { token: users.alice!.token });
    both.close();
    const bobs = await ticket(a, users.bob!.token);
    const mixed = await refused(b, `${base()}/_realtime?entities=note&ticket=${encodeURIComponent(bobs)}`, auth);
    expect(mixed.status).toBe(401);
    expect(mixed.body.error.code).toBe('UNAUTHORIZED');
    expect(await q('SELECT count(*)::int AS n FROM _realtime_tickets')).toEqual([{ n: 0 }]);
  });

  it('tickets are never stored in clear and need an authenticated caller', async () => {
    const t = await ticket(b);
    const stored = await q('SELECT hash FROM _realtime_tickets');
    expect(stored.some((row: any) => row.hash === t)).toBe(false);
    const anon = await a.client.post(`${base()}/_realtime/tickets`, {});
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('UNAUTHORIZED');
    await q('DELETE FROM _realtime_tickets');
  });
});

describe('bad input is answered before the stream opens', () => {
  const auth = () => ({ authorization: `Bearer ${app.token}` });
  const cases: Array<[string, string, number, string]> = [
    ['no entities', '', 400, 'INVALID_PAYLOAD'],
    ['empty entities', 'entities=', 400, 'INVALID_PAYLOAD'],
    ['blank entities', 'entities=%20', 400, 'INVALID_PAYLOAD'],
    ['an empty name in the list', 'entities=note,', 400, 'INVALID_PAYLOAD'],
    ['an unknown entity', 'entities=note,nothing', 404, 'UNKNOWN_ENTITY'],
    ['a filter with several entities', 'entities=note,folder&filter[title]=x', 400, 'INVALID_PAYLOAD'],
    ['an unknown filter field', 'entities=note&filter[nope]=x', 400, 'UNKNOWN_FIELD'],
    ['an unknown filter operator', 'entities=note&filter[size.near]=1', 400, 'INVALID_PAYLOAD'],
    ['a bad filter value', 'entities=note&filter[size]=abc', 400, 'INVALID_PAYLOAD'],
    ['a malformed filter key', 'entities=note&filter[size=1', 400, 'INVALID_PAYLOAD'],
  ];
  for (const [what, query, status, code] of cases) {
    it(`${what} → ${status} ${code}`, async () => {
      const res = await refused(b, `${base()}/_realtime?${query}`, auth());
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(typeof res.body.error.message).toBe('string');
    });
  }

  it('no read permission → 403; no token, a bad token, unknown app → 401/401/404', async () => {
    const noRead = await refused(b, `${base()}/_realtime?entities=folder`, { authorization: `Bearer ${users.bob!.token}` });
    expect(noRead.status).toBe(403);
    expect(noRead.body.error.code).toBe('FORBIDDEN');
    const none = await refused(b, `${base()}/_realtime?entities=note`);
    expect(none.status).toBe(401);
    expect(none.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Missing auth token' });
    const bad = await refused(b, `${base()}/_realtime?entities=note`, { authorization: 'Bearer nope' });
    expect(bad.status).toBe(401);
    const arrayTicket = await refused(b, `${base()}/_realtime?entities=note&ticket=a&ticket=b`);
    expect(arrayTicket.status).toBe(401);
    const noApp = await refused(b, `/api/${uniqueName('none')}/_realtime?entities=note`, auth());
    expect(noApp.status).toBe(404);
    expect(noApp.body.error.code).toBe('APP_NOT_FOUND');
  });

  it('an entity cannot be named _realtime', async () => {
    const res = await post('/_admin/entities', { name: '_realtime', table: 'rt', primary_key: uuid, fields: [{ name: 'id', type: 'uuid' }] });
    expect(res.status).toBe(422);
  });
});

describe('the first stream of an app', () => {
  it('waits for an instance that beats its heartbeat but has not acknowledged capture, and not for one gone without a goodbye', async () => {
    const other = await a.createApp();
    const made = await a.client.post(`/api/${other.name}/_admin/entities`, {
      token: other.token,
      body: { name: 'thing', table: 'things', primary_key: uuid, fields: [{ name: 'id', type: 'uuid' }] },
    });
    expect(made.status).toBe(201);
    // An instance that is alive (fresh heartbeat) but slow: it never acknowledges.
    const mgmt = a.rocket.services.platform.db;
    const slow = `slow-${uniqueName('')}`;
    await mgmt.query('INSERT INTO _realtime_instances (origin, seen) VALUES ($1, now())', [slow]);
    try {
      let opened: SseReader | undefined;
      const opening = SseReader.open(b.rocket.url, `/api/${other.name}/_realtime?entities=thing`, { authorization: `Bearer ${other.token}` }).then(
        (r) => {
          if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status}`);
          opened = r;
          return r;
        },
      );
      // Past one check interval (3 s) the stream is still waiting: saying ready now could lose that instance's writes.
      await new Promise((done) => setTimeout(done, 4000));
      expect(opened).toBeUndefined();
      // Its heartbeat goes stale (it died without a goodbye): the stream stops waiting for it.
      await mgmt.query(`UPDATE _realtime_instances SET seen = now() - interval '1 hour' WHERE origin = $1`, [slow]);
      const r = await opening;
      streams.add(r);
      await r.waitFor(1, 'ready');
    } finally {
      await mgmt.query('DELETE FROM _realtime_instances WHERE origin = $1', [slow]);
    }
  });
});

describe('shutdown', () => {
  it('ends the streams of an instance that shuts down, which then leaves the instance list', async () => {
    const c = await startTestServer({}, share);
    const r = await subscribe(c, 'entities=note');
    const origins = async () =>
      (await a.rocket.services.platform.db.query<{ n: number }>('SELECT count(*)::int AS n FROM _realtime_instances'))[0]!.n;
    expect(await origins()).toBe(3);
    await c.rocket.close();
    await r.waitEnd();
    expect(r.events.map((e) => e.event)).toEqual(['ready']);
    expect(await origins()).toBe(2);
  });
});

describe('a database restored into another server', () => {
  it('whose transaction ids went back goes on numbering: changes flow, a Last-Event-ID from before gets reset', async () => {
    const own = await a.createApp();
    const api = `/api/${own.name}`;
    const made = await a.client.post(`${api}/_admin/entities`, {
      token: own.token,
      body: {
        name: 'memo',
        table: 'memos',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'text', type: 'string' },
        ],
      },
    });
    expect(made.status).toBe(201);
    const open = async (headers: Record<string, string> = {}) => {
      const r = await SseReader.open(a.rocket.url, `${api}/_realtime?entities=memo`, { authorization: `Bearer ${own.token}`, ...headers });
      if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status}`);
      streams.add(r);
      await r.waitFor(1, 'ready');
      return r;
    };
    const write = async (text: string) => {
      const res = await a.client.post(`${api}/memo`, { token: own.token, body: { text } });
      expect(res.status).toBe(201);
      return res.body.data;
    };
    const r = await open();
    const before = await write('before');
    await r.until(() => changes(r).some((e) => e.data.id === before.id), WAIT_MS);
    // what a logical restore (pg_dump) into another server leaves: a batch whose snapshot is ahead of the server's ids
    const db = (await a.rocket.services.apps.get(own.name))!.db;
    const [{ ahead }] = await db.query<{ ahead: string }>(
      'SELECT (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000000)::text AS ahead',
    );
    await db.query(
      `INSERT INTO _realtime_batches (first, last, snap, since, running, entities)
       SELECT n.id, n.id, $1::pg_snapshot, $2::xid8, '{}', '{memo}' FROM (SELECT nextval('_realtime_event_id') AS id) n`,
      [`${ahead}:${ahead}:`, ahead],
    );
    const after = await write('after');
    await r.until(() => changes(r).some((e) => e.data.id === after.id), WAIT_MS);
    r.close();
    // the events of the other id space went with its batches; the one written since stays
    expect(await db.query(`SELECT row->>'text' AS text FROM _realtime_events`)).toEqual([{ text: 'after' }]);
    const resumed = await open({ 'last-event-id': changes(r)[0]!.id! });
    await resumed.waitFor(1, 'reset');
    resumed.close();
  });
});

describe('with no subscriber anywhere', () => {
  it('writes capture nothing and the fast path stays one statement', async () => {
    const other = await a.createApp();
    const rt = (await a.rocket.services.apps.get(other.name))!;
    const res = await a.client.post(`/api/${other.name}/_admin/entities`, {
      token: other.token,
      body: {
        name: 'thing',
        table: 'things',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'n', type: 'int' },
        ],
      },
    });
    expect(res.status).toBe(201);
    // the first write decides (once per metadata snapshot) which path the entity's writes take
    expect((await a.client.post(`/api/${other.name}/thing`, { token: other.token, body: { n: 0 } })).status).toBe(201);
    const before = rt.db.statements;
    const made = await a.client.post(`/api/${other.name}/thing`, { token: other.token, body: { n: 1 } });
    expect(made.status).toBe(201);
    expect(rt.db.statements - before).toBe(1);
    expect((await a.client.put(`/api/${other.name}/thing/${made.body.data.id}`, { token: other.token, body: { n: 2 } })).status).toBe(200);
    expect(await rt.db.query('SELECT count(*)::int AS n FROM _realtime_events')).toEqual([{ n: 0 }]);
    expect(await rt.db.query('SELECT count(*)::int AS n FROM _realtime_batches')).toEqual([{ n: 0 }]);
  });
});
