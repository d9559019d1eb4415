import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SseReader } from '../support/sse.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Audit of history.md and realtime.md: defects found by probing, one test each.
vi.setConfig({ testTimeout: 120_000 });
let s: TestServer;
let app: { name: string; token: string };

const uuid = { field: 'id', type: 'uuid', generated: true };
const base = () => `/api/${app.name}`;
const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown, token = app.token) =>
  s.client[method](`${base()}${path}`, { token, body });

async function created(path: string, body: unknown) {
  const res = await call('post', path, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

async function auditOf(query: string) {
  const res = await call('get', `/_admin/history?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as any[];
}

const streams = new Set<SseReader>();
afterEach(() => {
  for (const r of streams) r.close();
  streams.clear();
});

async function subscribe(query: string): Promise<SseReader> {
  const r = await SseReader.open(s.rocket.url, `${base()}/_realtime?${query}`, { authorization: `Bearer ${app.token}` });
  if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status} ${JSON.stringify(r.body)}`);
  streams.add(r);
  await r.waitFor(1, 'ready');
  return r;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  await created('/_admin/entities', {
    name: 'order',
    table: 'orders',
    primary_key: uuid,
    history: true,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'number', type: 'string' },
      { name: 'meta', type: 'json' },
      // An int8 field makes the app keep numbers a double would change exact (requests, answers, events).
      { name: 'qty', type: 'bigint' },
    ],
  });
  // A rule takes the order's writes off the one-statement path: their changes are captured before COMMIT.
  await created('/_admin/rules', {
    entity: 'order',
    hook: 'before_write',
    type: 'field',
    definition: { field: 'number', operator: 'max_length', value: 50, message: 'too long' },
  });
  await created('/_admin/entities', {
    name: 'counter',
    table: 'counters',
    primary_key: { field: 'id', type: 'bigint', generated: true },
    history: true,
    fields: [
      { name: 'id', type: 'bigint' },
      { name: 'v', type: 'string' },
    ],
  });
}, 60_000);
afterAll(async () => {
  await s?.close();
});

describe('realtime event values', () => {
  it('a json field holding numbers a double cannot keep is sent as numbers, as GET answers, on the general path too', async () => {
    const r = await subscribe('entities=order');
    const res = await s.client.request('POST', `${base()}/order`, {
      token: app.token,
      raw: '{"number":"X","meta":{"n":12345678901234567890,"d":0.30000000000000000001}}',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const got = await call('get', `/order/${res.body.data.id}`);
    expect(typeof got.body.data.meta.n).toBe('number');
    const [event] = await r.waitFor(1, 'change');
    expect(event!.data).toMatchObject({ entity: 'order', action: 'create', id: res.body.data.id });
    expect(typeof event!.data.record.meta.n).toBe('number');
    expect(typeof event!.data.record.meta.d).toBe('number');
  });
});

describe('resuming after nobody was subscribed', () => {
  it('a Last-Event-ID from before writes no instance captured (no stream anywhere) gets reset, not a silent gap', async () => {
    const first = await subscribe('entities=counter');
    await created('/counter', { v: 'seen' });
    const [seen] = await first.waitFor(1, 'change');
    first.close();
    await first.waitEnd();
    // With no stream of the app anywhere its capture lease runs out (30 s) and writes stop capturing events.
    const realtime = s.rocket.services.realtime!;
    for (let i = 0; i < 400 && realtime.capturing(app.name); i++) await new Promise((done) => setTimeout(done, 100));
    expect(realtime.capturing(app.name)).toBe(false);
    await created('/counter', { v: 'missed' });
    const again = await SseReader.open(s.rocket.url, `${base()}/_realtime?entities=counter`, {
      authorization: `Bearer ${app.token}`,
      'last-event-id': seen!.id!,
    });
    if (!(again instanceof SseReader)) throw new Error(`stream refused: ${again.status}`);
    streams.add(again);
    await again.waitFor(2);
    expect(again.events.map((e) => e.event)).toEqual(['ready', 'reset']);
    const resetId = again.events[1]!.id!;
    // Events from then on are captured, and resuming from the reset's id loses none of them.
    const live = await created('/counter', { v: 'live' });
    const [event] = await again.waitFor(1, 'change');
    expect(event!.data.id).toBe(String(live.id));
    again.close();
    const resumed = await SseReader.open(s.rocket.url, `${base()}/_realtime?entities=counter`, {
      authorization: `Bearer ${app.token}`,
      'last-event-id': resetId,
    });
    if (!(resumed instanceof SseReader)) throw new Error(`stream refused: ${resumed.status}`);
    streams.add(resumed);
    const replayed = await resumed.waitFor(1, 'change');
    expect(resumed.events.map((e) => e.event)).toEqual(['ready', 'change']);
    expect(replayed.map((e) => e.data.id)).toEqual([String(live.id)]);
  });
});

describe('record history of deleted rows (admins)', () => {
  it('names the row by any spelling of its key, and a key no row can have is 404, not 400', async () => {
    const row = await created('/counter', { v: 'a' });
    expect((await call('delete', `/counter/${row.id}`)).status).toBe(200);
    const res = await call('get', `/counter/00${row.id}/_history`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.map((e: any) => e.action)).toEqual(['delete', 'create']);

    const order = await created('/order', { number: 'gone' });
    expect((await call('delete', `/order/${order.id}`)).status).toBe(200);
    const upper = await call('get', `/order/${order.id.toUpperCase()}/_history`);
    expect(upper.status).toBe(200);
    expect(upper.body.meta.total).toBe(2);

    for (const bad of ['%00', 'a%00b']) {
      for (const entity of ['counter', 'order']) {
        const nul = await call('get', `/${entity}/${bad}/_history`);
        expect(nul.status, `${entity} ${bad} ${JSON.stringify(nul.body)}`).toBe(404);
        expect(nul.body.error.code).toBe('NOT_FOUND');
      }
    }
  });
});

describe('audit log keys and filters', () => {
  it('an admin change made through an upper-case UUID is logged under the item id', async () => {
    const user = await created('/_admin/users', { email: 'case@example.com', password: 'secret-pass-1', roles: ['a'] });
    const upper = user.id.toUpperCase();
    expect((await call('put', `/_admin/users/${upper}`, { email: 'case@example.com', roles: ['b'] })).status).toBe(200);
    expect((await call('delete', `/_admin/users/${upper}`)).status).toBe(200);
    const entries = await auditOf(`entity=_users&record_id=${user.id}`);
    expect(entries.map((e) => e.action)).toEqual(['delete', 'update', 'create']);
    expect(entries[0].changes.definition.from).toMatchObject({ id: user.id, roles: ['b'] });

    const invite = await created('/_admin/invites', { email: 'invitee@example.com' });
    expect((await call('delete', `/_admin/invites/${invite.id.toUpperCase()}`)).status).toBe(200);
    const logged = await auditOf(`entity=_invites&record_id=${invite.id}`);
    expect(logged.map((e) => e.action)).toEqual(['delete', 'create']);
    expect(logged[0].changes.definition.from).toMatchObject({ id: invite.id, email: 'invitee@example.com' });
  });

  it('actor_id matches whatever case the UUID is written in', async () => {
    const order = await created('/order', { number: 'by-admin' });
    const [entry] = await auditOf(`entity=order&record_id=${order.id}`);
    const actor = entry.actor.id as string;
    const lower = await auditOf(`entity=order&record_id=${order.id}&actor_id=${actor}`);
    const upper = await auditOf(`entity=order&record_id=${order.id}&actor_id=${actor.toUpperCase()}`);
    expect(lower).toHaveLength(1);
    expect(upper).toEqual(lower);
  });
});
