import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { isBlockedAddress } from '../../src/outbound/address.js';
import { runWebhookPass } from '../../src/webhooks/dispatch.js';
import { INTERRUPTED } from '../../src/webhooks/logs.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/**
 * Webhooks over HTTP against real PostgreSQL, with a local receiver that
 * records every call. Each test works on its own entity, so the webhooks of
 * one test never fire in another.
 */

interface Hit {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let receiver: Server;
let base: string;
let adminId: string;
const hits: Hit[] = [];
/** Status the receiver answers on a path (default 200). */
const statusOf = new Map<string, number>();
let counter = 0;
/** Answers of `/hold…` calls, sent when a test releases them. */
const held: Array<() => void> = [];

const uuid = { field: 'id', type: 'uuid', generated: true };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const { admin } = appCalls(() => ({ server: s, app }));
const rec = (method: 'post' | 'put' | 'get' | 'delete', path: string, body?: unknown, token = app.token) =>
  s.client[method](`/api/${app.name}/${path}`, { token, body });

/** A fresh receiver path (and its full URL) answering `status`. */
function target(status = 200, kind = 'hook'): { path: string; url: string } {
  const path = `/${kind}-${++counter}`;
  statusOf.set(path, status);
  return { path, url: `${base}${path}` };
}
const hitsOf = (path: string) => hits.filter((h) => h.path === path);

async function waitFor<T>(fn: () => Promise<T> | T, what = 'condition', ms = 8000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A new entity with a few fields (and a child entity `<name>_line` under relation `lines`). */
async function newEntity(): Promise<string> {
  const name = `e${++counter}`;
  const res = await admin('post', 'entities', {
    name,
    table: `${name}s`,
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'status', type: 'string' },
      { name: 'total', type: 'decimal', precision: 2 },
      { name: 'note', type: 'string' },
      { name: 'updated_at', type: 'timestamp', auto: 'update' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const child = await admin('post', 'entities', {
    name: `${name}_line`,
    table: `${name}_lines`,
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'parent_id', type: 'uuid' },
      { name: 'qty', type: 'int' },
    ],
  });
  expect(child.status, JSON.stringify(child.body)).toBe(201);
  const rel = await admin('post', 'relations', {
    name: `${name}_lines`,
    type: 'one_to_many',
    source: name,
    target: `${name}_line`,
    target_key: 'parent_id',
  });
  expect(rel.status, JSON.stringify(rel.body)).toBe(201);
  return name;
}

async function webhook(body: Record<string, unknown>): Promise<any> {
  const res = await admin('post', 'webhooks', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

async function logsOf(webhookId: string): Promise<any[]> {
  const res = await admin('get', `webhook-logs?webhook_id=${webhookId}`);
  expect(res.status).toBe(200);
  return res.body.data;
}

async function logOf(webhookId: string, status?: string): Promise<any> {
  return waitFor(async () => (await logsOf(webhookId)).find((l) => !status || l.status === status), `a ${status ?? ''} log of ${webhookId}`);
}

/** Makes a retrying log due now and runs one retry pass. */
async function retryNow(logId: string): Promise<any> {
  const before = (await admin('get', `webhook-logs/${logId}`)).body.data;
  await runtime.db.query(`UPDATE _webhook_logs SET next_retry_at = NOW() - interval '1 second' WHERE id = $1`, [logId]);
  await runWebhookPass(runtime);
  return waitFor(
    async () => {
      const log = (await admin('get', `webhook-logs/${logId}`)).body.data;
      return log.attempt > before.attempt ? log : undefined;
    },
    `attempt ${before.attempt + 1} of ${logId}`,
  );
}

const secondsFromNow = (iso: string) => (Date.parse(iso) - Date.now()) / 1000;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const path = req.url!.split('?')[0]!;
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      hits.push({ path, method: req.method!, headers: req.headers, body, json });
      const status = statusOf.get(path) ?? 200;
      const send = () => {
        res.statusCode = status;
        res.end(path.startsWith('/big') ? 'x'.repeat(100_000) : status >= 300 ? 'boom' : 'ok');
      };
      if (path.startsWith('/hold')) held.push(send);
      else send();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  process.env.RKT_HOOK_KEY = 'secret-1';
  process.env.RKT_PUB_TOKEN = 'pub-2';
  process.env.RKT_PRIVATE = 'do-not-leak';
  s = await startTestServer({ ROCKET_WEBHOOK_ENV_ALLOWLIST: 'RKT_HOOK_KEY, RKT_PUB_*' });
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const users = await admin('get', 'users');
  adminId = users.body.data.find((u: any) => u.email === 'admin@localhost').id;
});

afterAll(async () => {
  await s?.close();
  receiver?.close();
});

describe('webhook admin API', () => {
  it('refuses invalid definitions with the documented 422 messages and stores nothing', async () => {
    const before = (await admin('get', 'webhooks')).body.data.length;
    const url = 'https://hooks.example.com/x';
    const cases: Array<[unknown, string | RegExp]> = [
      [{ url }, 'entity is required'],
      [{ entity: '', url }, 'entity is required'],
      [{ entity: 'order', hook: 'on_write', url }, 'hook must be after_write, before_write, after_delete, or before_delete'],
      [{ entity: 'order' }, 'url is required'],
      [{ entity: 'order', url: '' }, 'url is required'],
      [{ entity: 'order', url: 'ftp://hooks.example.com' }, 'url must start with http:// or https://'],
      [{ entity: 'order', url: 'hooks.example.com/x' }, 'url must start with http:// or https://'],
      [{ entity: 'order', url, method: 'OPTIONS' }, 'method must be POST, PUT, PATCH, GET, or DELETE'],
      [{ entity: 'order', url, method: 5 }, 'method must be POST, PUT, PATCH, GET, or DELETE'],
      [{ entity: 'order', url, condition: 'record.status ==' }, /^invalid expression: .+ at \d+$/],
      [{ entity: 'order', url, condition: 'related.x > 0' }, /^invalid expression: .+ at \d+$/],
      [{ entity: 'order', url, retry: { max_attempts: 0 } }, 'retry.max_attempts must be an integer >= 1'],
      [{ entity: 'order', url, retry: { max_attempts: 2.5 } }, 'retry.max_attempts must be an integer >= 1'],
      [{ entity: 'order', url, retry: { max_attempts: '3' } }, 'retry.max_attempts must be an integer >= 1'],
      [{ entity: 'order', url, retry: { backoff: 'fibonacci' } }, 'retry.backoff must be exponential or linear'],
      [{ entity: 'order', url, hook: 'after_write', async: false }, 'hook after_write requires async true'],
      [{ entity: 'order', url, hook: 'after_delete', async: false }, 'hook after_delete requires async true'],
      [{ entity: 'order', url, hook: 'before_write' }, 'hook before_write requires async false'],
      [{ entity: 'order', url, hook: 'before_delete', async: true }, 'hook before_delete requires async false'],
      [{ entity: 'order', url, async: 'yes' }, 'async must be a boolean'],
      [{ entity: 'order', url, active: 1 }, 'active must be a boolean'],
      [{ entity: 'order', url, headers: 'X-Key: 1' }, /^headers must be an object/],
      [{ entity: 'order', url, headers: { 'X-Key': 5 } }, 'headers.X-Key must be a string'],
      [{ entity: 'order', url, headers: { 'X Key': 'v' } }, 'headers: invalid header name "X Key"'],
      [{ entity: 'order', url, headers: { 'X-Key': 'a\r\nInjected: 1' } }, /^headers.X-Key must not contain line breaks/],
      [{ entity: 'order', url: 'https://x.io/\u0000' }, 'url must not contain NUL characters'],
    ];
    for (const [body, message] of cases) {
      const res = await admin('post', 'webhooks', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      if (typeof message === 'string') expect(res.body.error.message, JSON.stringify(body)).toBe(message);
      else expect(res.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await admin('post', 'webhooks', [1, 2])).status).toBe(400);
    expect((await s.client.post(`/api/${app.name}/_admin/webhooks`, { token: app.token, raw: '{bad' })).status).toBe(400);
    expect((await admin('get', 'webhooks')).body.data).toHaveLength(before);
  });

  it('applies the defaults on POST and on PUT, and reads, lists and deletes', async () => {
    const created = await webhook({ entity: 'ghost_entity', url: 'https://hooks.example.com/a' });
    expect(created).toEqual({
      id: expect.stringMatching(UUID),
      entity: 'ghost_entity',
      hook: 'after_write',
      url: 'https://hooks.example.com/a',
      method: 'POST',
      headers: {},
      condition: '',
      async: true,
      retry: { max_attempts: 3, backoff: 'exponential' },
      active: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await admin('get', `webhooks/${created.id}`)).body.data).toEqual(created);

    const custom = await webhook({
      entity: 'ghost_entity',
      hook: 'before_delete',
      async: false,
      url: 'http://hooks.example.com/b',
      method: 'put',
      headers: { 'X-Key': '{{env.RKT_HOOK_KEY}}' },
      condition: "record.status == 'x'",
      retry: { max_attempts: 5 },
      active: false,
    });
    expect(custom).toMatchObject({
      hook: 'before_delete',
      async: false,
      method: 'PUT',
      headers: { 'X-Key': '{{env.RKT_HOOK_KEY}}' },
      condition: "record.status == 'x'",
      retry: { max_attempts: 5, backoff: 'exponential' },
      active: false,
    });

    // PUT replaces the definition; absent keys take their defaults again
    await new Promise((r) => setTimeout(r, 5));
    const put = await admin('put', `webhooks/${custom.id}`, { entity: 'ghost_entity', url: 'https://hooks.example.com/c' });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.data).toEqual({
      id: custom.id,
      entity: 'ghost_entity',
      hook: 'after_write',
      url: 'https://hooks.example.com/c',
      method: 'POST',
      headers: {},
      condition: '',
      async: true,
      retry: { max_attempts: 3, backoff: 'exponential' },
      active: true,
      created_at: custom.created_at,
      updated_at: expect.any(String),
    });
    expect(Date.parse(put.body.data.updated_at)).toBeGreaterThan(Date.parse(custom.updated_at));
    const linear = await admin('put', `webhooks/${custom.id}`, {
      entity: 'ghost_entity',
      url: 'https://hooks.example.com/c',
      retry: { backoff: 'linear' },
    });
    expect(linear.body.data.retry).toEqual({ max_attempts: 3, backoff: 'linear' });

    // PUT: 404 first, then 400, then 422
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('put', `webhooks/${missing}`, { url: 'nope' })).body.error).toEqual({
      code: 'NOT_FOUND',
      message: `Webhook not found: ${missing}`,
    });
    expect((await admin('put', `webhooks/${custom.id}`, 'text')).status).toBe(400);
    const bad = await admin('put', `webhooks/${custom.id}`, { entity: 'ghost_entity', url: 'https://x.io', hook: 'before_write' });
    expect(bad.body.error.message).toBe('hook before_write requires async false');
    expect((await admin('get', `webhooks/${custom.id}`)).body.data.url).toBe('https://hooks.example.com/c');

    const list = (await admin('get', 'webhooks')).body.data as any[];
    const keys = list.map((w) => `${w.entity}/${w.hook}`);
    expect(keys).toEqual([...keys].sort());
    expect(list.map((w) => w.id)).toEqual(expect.arrayContaining([created.id, custom.id]));

    expect((await admin('get', 'webhooks/not-a-uuid')).body.error.message).toBe('Webhook not found: not-a-uuid');
    expect((await admin('delete', `webhooks/${created.id}`)).body.data).toEqual({ id: created.id, deleted: true });
    expect((await admin('get', `webhooks/${created.id}`)).status).toBe(404);
    expect((await admin('delete', `webhooks/${created.id}`)).status).toBe(404);
    await admin('delete', `webhooks/${custom.id}`);
  });

  it('is for admins only', async () => {
    const user = await admin('post', 'users', { email: `viewer${counter}@x.io`, password: 'pw-123456', roles: ['viewer'] });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const token = await s.client.login(`/api/${app.name}/auth/login`, `viewer${counter}@x.io`, 'pw-123456');
    const as = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown) =>
      s.client[method](`/api/${app.name}/_admin/${path}`, { token, body });
    const id = '00000000-0000-4000-8000-000000000000';
    for (const res of [
      await as('get', 'webhooks'),
      await as('post', 'webhooks', { entity: 'x', url: 'https://x.io' }),
      await as('get', `webhooks/${id}`),
      await as('put', `webhooks/${id}`, { entity: 'x', url: 'https://x.io' }),
      await as('delete', `webhooks/${id}`),
      await as('get', 'webhook-logs'),
      await as('get', `webhook-logs/${id}`),
      await as('post', `webhook-logs/${id}/retry`),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expect((await s.client.get(`/api/${app.name}/_admin/webhooks`)).status).toBe(401);
  });
});

describe('synchronous webhooks (before_write, before_delete)', () => {
  it('a failing receiver vetoes the write: 502, nothing stored, a failed log row', async () => {
    const entity = await newEntity();
    const t = target(500);
    const hook = await webhook({ entity, hook: 'before_write', async: false, url: t.url });
    const res = await rec('post', entity, { status: 'new', total: 5 });
    expect(res.status).toBe(502);
    expect(res.body.error).toEqual({ code: 'WEBHOOK_FAILED', message: `Webhook ${hook.id} failed: HTTP 500` });
    expect((await rec('get', entity)).body.meta.total).toBe(0);

    // the call saw the final values, generated id included
    const [hit] = hitsOf(t.path);
    expect(hit!.json).toMatchObject({
      event: 'before_write',
      entity,
      action: 'create',
      record: { id: expect.stringMatching(UUID), status: 'new', total: 5 },
    });
    const logs = await logsOf(hook.id);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      webhook_id: hook.id,
      entity,
      hook: 'before_write',
      url: t.url,
      method: 'POST',
      status: 'failed',
      attempt: 1,
      max_attempts: 3,
      response_status: 500,
      response_body: 'boom',
      error: 'HTTP 500',
      next_retry_at: null,
      request_body: hit!.json,
      idempotency_key: hit!.json.idempotency_key,
    });
  });

  it('an update vetoed by a network error leaves the record as it was', async () => {
    const entity = await newEntity();
    const created = (await rec('post', entity, { status: 'new', total: 1 })).body.data;
    const hook = await webhook({ entity, hook: 'before_write', async: false, url: 'http://127.0.0.1:1/closed' });
    const res = await rec('put', `${entity}/${created.id}`, { status: 'paid' });
    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(new RegExp(`^Webhook ${hook.id} failed: .*ECONNREFUSED`));
    expect((await rec('get', `${entity}/${created.id}`)).body.data.status).toBe('new');
    const [log] = await logsOf(hook.id);
    expect(log).toMatchObject({ status: 'failed', attempt: 1, response_status: 0, next_retry_at: null });
    expect(log.error).toMatch(/ECONNREFUSED/);
  });

  it('successful calls let the write commit and leave delivered logs; before_delete sees the record', async () => {
    const entity = await newEntity();
    const w = target();
    const d = target();
    const onWrite = await webhook({ entity, hook: 'before_write', async: false, url: w.url });
    const onDelete = await webhook({ entity, hook: 'before_delete', async: false, url: d.url, method: 'DELETE' });
    const created = await rec('post', entity, { status: 'new', total: 2 });
    expect(created.status).toBe(201);
    const record = created.body.data;
    expect(hitsOf(w.path)[0]!.json.record).toEqual(record);
    expect(hitsOf(w.path)[0]!.json.old).toBeUndefined();

    const updated = await rec('put', `${entity}/${record.id}`, { status: 'paid' });
    expect(updated.status).toBe(200);
    const upd = hitsOf(w.path)[1]!.json;
    expect(upd).toMatchObject({ event: 'before_write', action: 'update', record: updated.body.data, old: record });
    expect(upd.changes.status).toEqual({ old: 'new', new: 'paid' });
    expect(upd.changes.total).toBeUndefined();

    expect((await rec('delete', `${entity}/${record.id}`)).status).toBe(200);
    const del = hitsOf(d.path)[0]!;
    expect(del.method).toBe('DELETE');
    expect(del.json).toEqual({
      event: 'before_delete',
      entity,
      action: 'delete',
      record: updated.body.data,
      user: { id: adminId, roles: ['admin'] },
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      idempotency_key: expect.stringMatching(/^wh_/),
    });
    expect((await rec('get', `${entity}/${record.id}`)).status).toBe(404);

    const logs = await logsOf(onWrite.id);
    expect(logs.map((l) => l.status)).toEqual(['delivered', 'delivered']);
    expect(logs[0]).toMatchObject({ attempt: 1, response_status: 200, response_body: 'ok', error: '', next_retry_at: null });
    expect((await logsOf(onDelete.id))[0]).toMatchObject({ status: 'delivered', hook: 'before_delete', method: 'DELETE' });
  });

  it('a vetoing before_delete keeps the record', async () => {
    const entity = await newEntity();
    const record = (await rec('post', entity, { status: 'new' })).body.data;
    const hook = await webhook({ entity, hook: 'before_delete', async: false, url: target(409).url });
    const res = await rec('delete', `${entity}/${record.id}`);
    expect(res.status).toBe(502);
    expect(res.body.error.message).toBe(`Webhook ${hook.id} failed: HTTP 409`);
    expect((await rec('get', `${entity}/${record.id}`)).status).toBe(200);
    expect((await logsOf(hook.id))[0]).toMatchObject({ status: 'failed', hook: 'before_delete', response_status: 409 });
  });

  it('concurrent vetoed writes (more than the pool size) all answer 502 and all leave a log row', async () => {
    const entity = await newEntity();
    const hook = await webhook({ entity, hook: 'before_write', async: false, url: target(500).url });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => rec('post', entity, { status: `s${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(502));
    expect((await logsOf(hook.id)).filter((l) => l.status === 'failed')).toHaveLength(10);
    expect((await rec('get', entity)).body.meta.total).toBe(0);
  });
});

describe('asynchronous webhooks (after_write, after_delete)', () => {
  it('delivers after commit with the exact payload and headers', async () => {
    const entity = await newEntity();
    const t = target();
    const hook = await webhook({ entity, url: t.url, headers: { 'X-Static': 'v1' } });
    const created = await rec('post', entity, { status: 'new', total: 12.5 });
    expect(created.status).toBe(201);
    const record = created.body.data;
    const hit = await waitFor(() => hitsOf(t.path)[0], 'delivery');
    expect(hit.method).toBe('POST');
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['x-static']).toBe('v1');
    expect(hit.json).toEqual({
      event: 'after_write',
      entity,
      action: 'create',
      record,
      changes: {
        id: { old: null, new: record.id },
        status: { old: null, new: 'new' },
        total: { old: null, new: 12.5 },
        note: { old: null, new: null },
        updated_at: { old: null, new: record.updated_at },
      },
      user: { id: adminId, roles: ['admin'] },
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      idempotency_key: expect.stringMatching(/^wh_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    expect(Object.keys(hit.json)).not.toContain('old');

    const log = await logOf(hook.id, 'delivered');
    expect(log).toEqual({
      id: expect.stringMatching(UUID),
      webhook_id: hook.id,
      entity,
      hook: 'after_write',
      url: t.url,
      method: 'POST',
      request_headers: { 'X-Static': 'v1' },
      request_body: hit.json,
      response_status: 200,
      response_body: 'ok',
      status: 'delivered',
      attempt: 1,
      max_attempts: 3,
      next_retry_at: null,
      error: '',
      idempotency_key: hit.json.idempotency_key,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });

    // update: old and the changed fields only
    const updated = (await rec('put', `${entity}/${record.id}`, { status: 'paid', total: 12.5 })).body.data;
    const upd = await waitFor(() => hitsOf(t.path)[1], 'update delivery');
    expect(upd.json).toMatchObject({ action: 'update', record: updated, old: record });
    expect(upd.json.changes).toEqual({ status: { old: 'new', new: 'paid' }, updated_at: { old: record.updated_at, new: updated.updated_at } });
    expect(upd.json.idempotency_key).not.toBe(hit.json.idempotency_key);
  });

  it('payloads carry a decimal a double cannot hold with all its digits: sync, async and retried calls, conditions', async () => {
    const entity = await newEntity();
    const sync = target();
    const late = target(500);
    await webhook({ entity, hook: 'before_write', async: false, url: sync.url, condition: 'record.total > 99999999999999' });
    const hook = await webhook({ entity, url: late.url });
    const raw = '{"status": "new", "total": 99999999999999.99}';
    const created = await s.client.post(`/api/${app.name}/${entity}`, { token: app.token, raw });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const syncHit = hitsOf(sync.path)[0]!;
    expect(syncHit.body).toContain('"total":99999999999999.99,');
    expect(syncHit.body).toContain('"total":{"old":null,"new":99999999999999.99}');
    const first = await waitFor(() => hitsOf(late.path)[0], 'async delivery');
    expect(first.body).toContain('"total":99999999999999.99,');
    // Logged as a JSON number with all its digits, and sent so again by a retry.
    const [row] = await runtime.db.query<any>(
      `SELECT jsonb_typeof(request_body->'record'->'total') AS t, request_body->'record'->>'total' AS v FROM _webhook_logs WHERE webhook_id = $1`,
      [hook.id],
    );
    expect(row).toEqual({ t: 'number', v: '99999999999999.99' });
    statusOf.set(late.path, 200);
    const log = await logOf(hook.id, 'retrying');
    expect((await retryNow(log.id)).status).toBe('delivered');
    expect(hitsOf(late.path)[1]!.body).toContain('"total":99999999999999.99,');
  });

  it('does not hold the response for the delivery', async () => {
    const entity = await newEntity();
    const t = target(200, 'hold');
    const hook = await webhook({ entity, url: t.url });
    // the receiver keeps the call open until released: the write answers anyway
    expect((await rec('post', entity, { status: 'new' })).status).toBe(201);
    await waitFor(() => hitsOf(t.path).length === 1, 'the held call');
    expect((await logsOf(hook.id))[0].status).toBe('pending');
    for (const release of held.splice(0)) release();
    await logOf(hook.id, 'delivered');
  });

  it('after_delete gets the deleted record; all webhooks of one event share its payload and key', async () => {
    const entity = await newEntity();
    const a = target();
    const b = target();
    await webhook({ entity, hook: 'after_delete', url: a.url });
    await webhook({ entity, hook: 'after_delete', url: b.url, method: 'PATCH' });
    const record = (await rec('post', entity, { status: 'gone', note: 'n' })).body.data;
    expect((await rec('delete', `${entity}/${record.id}`)).status).toBe(200);
    const [ha, hb] = [await waitFor(() => hitsOf(a.path)[0]), await waitFor(() => hitsOf(b.path)[0])];
    expect(ha.json).toEqual({
      event: 'after_delete',
      entity,
      action: 'delete',
      record,
      user: { id: adminId, roles: ['admin'] },
      timestamp: expect.any(String),
      idempotency_key: expect.any(String),
    });
    expect(hb.method).toBe('PATCH');
    expect(hb.json).toEqual(ha.json);
  });

  it('nested child writes fire the child entity webhooks', async () => {
    const entity = await newEntity();
    const t = target();
    await webhook({ entity: `${entity}_line`, url: t.url });
    const res = await rec('post', entity, { status: 'new', [`${entity}_lines`]: { data: [{ qty: 1 }, { qty: 2 }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await waitFor(() => hitsOf(t.path).length === 2, 'two child deliveries');
    const bodies = hitsOf(t.path)
      .map((h) => h.json)
      .sort((x, y) => x.record.qty - y.record.qty);
    expect(bodies.map((b) => [b.entity, b.action, b.record.qty, b.record.parent_id])).toEqual([
      [`${entity}_line`, 'create', 1, res.body.data.id],
      [`${entity}_line`, 'create', 2, res.body.data.id],
    ]);
    expect(bodies[0].idempotency_key).not.toBe(bodies[1].idempotency_key);

    // a vetoing child webhook rolls back the parent too
    await webhook({ entity: `${entity}_line`, hook: 'before_write', async: false, url: target(503).url });
    const vetoed = await rec('post', entity, { status: 'child-veto', [`${entity}_lines`]: { data: [{ qty: 3 }] } });
    expect(vetoed.status).toBe(502);
    expect((await rec('get', `${entity}?filter[status]=child-veto`)).body.meta.total).toBe(0);
  });
});

describe('conditions', () => {
  it('fires when true, skips when false, and logs a failed row when the condition errors', async () => {
    const entity = await newEntity();
    const t = target();
    const paid = await webhook({ entity, url: t.url, condition: "record.status == 'paid' && (old == nil || old.status != 'paid')" });
    const vars = await webhook({
      entity,
      url: t.url,
      condition: `event == 'after_write' && entity == '${entity}' && action == 'create' && 'admin' in user.roles && changes.note.new == 'sent' && !('total' in changes) && now != nil`,
    });
    const broken = await webhook({ entity, url: t.url, condition: 'len(5) > 0' });

    const draft = (await rec('post', entity, { status: 'draft', note: 'sent' })).body.data;
    const failed = await logOf(broken.id, 'failed');
    expect(failed).toMatchObject({ attempt: 0, response_status: null, next_retry_at: null });
    expect(failed.error).toMatch(/^condition error: /);
    await logOf(vars.id, 'delivered');
    expect(await logsOf(paid.id)).toHaveLength(0);

    await rec('put', `${entity}/${draft.id}`, { status: 'paid' });
    await logOf(paid.id, 'delivered');
    await rec('put', `${entity}/${draft.id}`, { note: 'again' });
    await waitFor(async () => (await logsOf(broken.id)).length === 3, 'three broken-condition logs');
    expect(await logsOf(paid.id)).toHaveLength(1);
    expect(await logsOf(vars.id)).toHaveLength(1);
    // the condition error never called the receiver for that webhook: 1 (vars) + 1 (paid) calls in all
    expect(hitsOf(t.path)).toHaveLength(2);
  });

  it('`changes` of a create lists only sent fields, also those named like Object.prototype members', async () => {
    const entity = `e${++counter}`;
    const fields = ['toString', 'valueOf', 'hasOwnProperty'].map((name) => ({ name, type: 'string' }));
    const res = await admin('post', 'entities', {
      name: entity,
      table: `${entity}s`,
      primary_key: uuid,
      fields: [{ name: 'id', type: 'uuid' }, ...fields],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const t = target();
    const unsent = await webhook({ entity, url: t.url, condition: "'toString' in changes || 'hasOwnProperty' in changes" });
    const sent = await webhook({ entity, url: t.url, condition: "'valueOf' in changes && keys(changes) == ['valueOf']" });
    await rec('post', entity, { valueOf: 'v' });
    await logOf(sent.id, 'delivered');
    expect(await logsOf(unsent.id)).toHaveLength(0);
    expect(hitsOf(t.path)).toHaveLength(1);
    // the delivered body's changes hold every field of the new record, none of them a function's text
    expect(hitsOf(t.path)[0]!.json.changes).toEqual({
      id: { old: null, new: expect.any(String) },
      toString: { old: null, new: null },
      valueOf: { old: null, new: 'v' },
      hasOwnProperty: { old: null, new: null },
    });
  });

  it('an erroring condition of a sync webhook aborts the write', async () => {
    const entity = await newEntity();
    const t = target();
    const hook = await webhook({ entity, hook: 'before_write', async: false, url: t.url, condition: 'len(5) > 0' });
    const res = await rec('post', entity, { status: 'x' });
    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(new RegExp(`^Webhook ${hook.id} failed: condition error: `));
    expect(hitsOf(t.path)).toHaveLength(0);
    expect((await logsOf(hook.id))[0]).toMatchObject({ status: 'failed', attempt: 0 });
    expect((await rec('get', entity)).body.meta.total).toBe(0);
  });

  it('inactive webhooks do not fire', async () => {
    const entity = await newEntity();
    const t = target();
    const hook = await webhook({ entity, url: t.url, active: false });
    const sync = await webhook({ entity, hook: 'before_write', async: false, url: target(500).url, active: false });
    expect((await rec('post', entity, { status: 'x' })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 200));
    expect(await logsOf(hook.id)).toHaveLength(0);
    expect(await logsOf(sync.id)).toHaveLength(0);
  });
});

describe('header templates', () => {
  it('substitutes allow-listed environment variables only and stores the templates', async () => {
    const entity = await newEntity();
    const t = target();
    const headers = {
      'X-Key': '{{env.RKT_HOOK_KEY}}',
      'X-Pub': 'Bearer {{ env.RKT_PUB_TOKEN }}',
      'X-Private': '[{{env.RKT_PRIVATE}}]',
      'X-Path': '{{env.PATH}}',
      'X-Missing': 'a{{env.RKT_PUB_UNSET}}b',
      'Content-Type': 'application/vnd.test+json',
    };
    const hook = await webhook({ entity, url: t.url, headers });
    await rec('post', entity, { status: 'x' });
    const hit = await waitFor(() => hitsOf(t.path)[0]);
    expect(hit.headers['x-key']).toBe('secret-1');
    expect(hit.headers['x-pub']).toBe('Bearer pub-2');
    expect(hit.headers['x-private']).toBe('[]');
    expect(hit.headers['x-path']).toBe('');
    expect(hit.headers['x-missing']).toBe('ab');
    expect(hit.headers['content-type']).toBe('application/vnd.test+json');
    expect((await logOf(hook.id, 'delivered')).request_headers).toEqual(headers);
  });
});

describe('retries', () => {
  it('exponential backoff: retrying after attempt 1 (+30 s) and 2 (+120 s), then failed', async () => {
    const entity = await newEntity();
    const t = target(503);
    const hook = await webhook({ entity, url: t.url });
    await rec('post', entity, { status: 'x' });
    const first = await logOf(hook.id, 'retrying');
    expect(first).toMatchObject({ attempt: 1, max_attempts: 3, response_status: 503, response_body: 'boom', error: 'HTTP 503' });
    expect(secondsFromNow(first.next_retry_at)).toBeGreaterThan(25);
    expect(secondsFromNow(first.next_retry_at)).toBeLessThan(35);

    // not due yet: a pass leaves it alone
    await runWebhookPass(runtime);
    expect((await admin('get', `webhook-logs/${first.id}`)).body.data.attempt).toBe(1);

    const second = await retryNow(first.id);
    expect(second).toMatchObject({ status: 'retrying', attempt: 2, error: 'HTTP 503' });
    expect(secondsFromNow(second.next_retry_at)).toBeGreaterThan(110);
    expect(secondsFromNow(second.next_retry_at)).toBeLessThan(130);

    const third = await retryNow(first.id);
    expect(third).toMatchObject({ status: 'failed', attempt: 3, next_retry_at: null, response_status: 503 });
    const calls = hitsOf(t.path);
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.body)).size).toBe(1);
    expect(calls[2]!.json.idempotency_key).toBe(first.idempotency_key);
  });

  it('linear backoff: +30 s, +60 s, +90 s, then failed', async () => {
    const entity = await newEntity();
    const hook = await webhook({ entity, url: target(500).url, retry: { max_attempts: 4, backoff: 'linear' } });
    await rec('post', entity, { status: 'x' });
    const first = await logOf(hook.id, 'retrying');
    expect(first.max_attempts).toBe(4);
    expect(secondsFromNow(first.next_retry_at)).toBeGreaterThan(25);
    expect(secondsFromNow(first.next_retry_at)).toBeLessThan(35);
    const second = await retryNow(first.id);
    expect(secondsFromNow(second.next_retry_at)).toBeGreaterThan(55);
    expect(secondsFromNow(second.next_retry_at)).toBeLessThan(65);
    const third = await retryNow(first.id);
    expect(secondsFromNow(third.next_retry_at)).toBeGreaterThan(85);
    expect(secondsFromNow(third.next_retry_at)).toBeLessThan(95);
    expect(await retryNow(first.id)).toMatchObject({ status: 'failed', attempt: 4, next_retry_at: null });
  });

  it('max_attempts 1 fails at once; a retry that succeeds is delivered', async () => {
    const entity = await newEntity();
    const once = await webhook({ entity, url: target(500).url, retry: { max_attempts: 1 } });
    const t = target(500);
    const flaky = await webhook({ entity, url: t.url });
    await rec('post', entity, { status: 'x' });
    expect(await logOf(once.id, 'failed')).toMatchObject({ attempt: 1, next_retry_at: null });
    const log = await logOf(flaky.id, 'retrying');
    statusOf.set(t.path, 204);
    expect(await retryNow(log.id)).toMatchObject({ status: 'delivered', attempt: 2, response_status: 204, error: '', next_retry_at: null });
  });

  it('manual retry: 422 unless failed or retrying; one more try after max_attempts; 404', async () => {
    const entity = await newEntity();
    const ok = await webhook({ entity, url: target().url });
    const t = target(500);
    const bad = await webhook({ entity, url: t.url, retry: { max_attempts: 1 } });
    await rec('post', entity, { status: 'x' });
    const delivered = await logOf(ok.id, 'delivered');
    const res = await admin('post', `webhook-logs/${delivered.id}/retry`);
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Can only retry failed or retrying webhook logs' });

    const failed = await logOf(bad.id, 'failed');
    const retried = await admin('post', `webhook-logs/${failed.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body.data).toEqual({
      id: failed.id,
      webhook_id: bad.id,
      entity,
      hook: 'after_write',
      url: t.url,
      method: 'POST',
      status: 'retrying',
      attempt: 1,
      max_attempts: 1,
      next_retry_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(Math.abs(secondsFromNow(retried.body.data.next_retry_at))).toBeLessThan(5);
    statusOf.set(t.path, 200);
    await runWebhookPass(runtime);
    const after = await waitFor(async () => {
      const l = (await admin('get', `webhook-logs/${failed.id}`)).body.data;
      return l.attempt === 2 ? l : undefined;
    });
    expect(after).toMatchObject({ status: 'delivered', attempt: 2, max_attempts: 1 });

    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await admin('post', `webhook-logs/${missing}/retry`)).body.error).toEqual({
      code: 'NOT_FOUND',
      message: `Webhook log not found: ${missing}`,
    });
    expect((await admin('post', 'webhook-logs/zzz/retry')).status).toBe(404);
  });

  it('the job delivers pending rows a crash left behind (and leaves fresh ones to the request)', async () => {
    const entity = await newEntity();
    const t = target();
    const hook = await webhook({ entity, url: t.url });
    const insert = (age: string, key: string) =>
      runtime.db.query<{ id: string }>(
        `INSERT INTO _webhook_logs (webhook_id, entity, hook, url, method, request_headers, request_body, status, attempt, max_attempts,
           idempotency_key, created_at) VALUES ($1, $2, 'after_write', $3, 'POST', '{}', $4::jsonb, 'pending', 0, 3, $5, NOW() - $6::interval)
         RETURNING id`,
        [hook.id, entity, t.url, JSON.stringify({ event: 'after_write', idempotency_key: key }), key, age],
      );
    const [old] = await insert('1 minute', 'wh_crashed');
    const [fresh] = await insert('0 seconds', 'wh_fresh');
    const result = await runWebhookPass(runtime);
    expect(result.recovered).toBeGreaterThanOrEqual(1);
    const log = (await admin('get', `webhook-logs/${old!.id}`)).body.data;
    expect(log).toMatchObject({ status: 'delivered', attempt: 1, response_status: 200 });
    expect(hitsOf(t.path).map((h) => h.json)).toEqual([{ event: 'after_write', idempotency_key: 'wh_crashed' }]);
    expect((await admin('get', `webhook-logs/${fresh!.id}`)).body.data.status).toBe('pending');

    // two passes at once (two instances) send a due row once
    await runtime.db.query(`UPDATE _webhook_logs SET status = 'retrying', next_retry_at = NOW() - interval '1 second' WHERE id = $1`, [old!.id]);
    await Promise.all([runWebhookPass(runtime), runWebhookPass(runtime), runWebhookPass(runtime)]);
    expect(hitsOf(t.path)).toHaveLength(2);
    expect((await admin('get', `webhook-logs/${old!.id}`)).body.data).toMatchObject({ status: 'delivered', attempt: 2 });
  });

  it('an attempt cut off mid-call (a crash) is counted once its lease ends, and the call is made again', async () => {
    const entity = await newEntity();
    const t = target(503);
    const hook = await webhook({ entity, url: t.url });
    await rec('post', entity, { status: 'x' });
    const first = await logOf(hook.id, 'retrying');
    // What a claim leaves while its call runs: shown as a call in flight (no error, no retry time yet)…
    await runtime.db.query(`UPDATE _webhook_logs SET error = $2, next_retry_at = NOW() + interval '90 seconds' WHERE id = $1`, [
      first.id,
      INTERRUPTED,
    ]);
    expect((await admin('get', `webhook-logs/${first.id}`)).body.data).toMatchObject({ attempt: 1, error: '', next_retry_at: null });
    const listed = (await admin('get', `webhook-logs?webhook_id=${hook.id}`)).body.data;
    expect(listed[0]).toMatchObject({ id: first.id, error: '', next_retry_at: null });
    // …until the process died and the 90 s lease ran out.
    await runtime.db.query(`UPDATE _webhook_logs SET error = $2, next_retry_at = NOW() - interval '1 second' WHERE id = $1`, [first.id, INTERRUPTED]);
    expect((await admin('get', `webhook-logs/${first.id}`)).body.data).toMatchObject({ attempt: 1, error: INTERRUPTED });
    statusOf.set(t.path, 200);
    await runWebhookPass(runtime);
    expect((await admin('get', `webhook-logs/${first.id}`)).body.data).toMatchObject({ status: 'delivered', attempt: 3, error: '' });
    expect(hitsOf(t.path)).toHaveLength(2);
  });

  it('one pass drains a backlog of 1,000 due deliveries, each key delivered once', async () => {
    const entity = await newEntity();
    const t = target(503);
    const hook = await webhook({ entity, url: t.url });
    for (let i = 0; i < 1000; i += 100) {
      const res = await Promise.all(Array.from({ length: 100 }, (_, j) => rec('post', entity, { status: `r${i + j}` })));
      expect(res.every((r) => r.status === 201)).toBe(true);
    }
    const count = async (status: string) =>
      (
        await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM _webhook_logs WHERE webhook_id = $1 AND status = $2', [hook.id, status])
      )[0]!.n;
    await waitFor(async () => (await count('retrying')) === 1000, '1,000 first attempts', 30_000);
    statusOf.set(t.path, 200); // the receiver is back
    await runtime.db.query(`UPDATE _webhook_logs SET next_retry_at = NOW() - interval '1 second' WHERE webhook_id = $1`, [hook.id]);
    const result = await runWebhookPass(runtime);
    // The runner's own retry pass may wake during this one (its timer follows the earliest next_retry_at) and
    // take part of the backlog: both claim with SKIP LOCKED, so together they send each row once.
    expect(result.retried).toBeGreaterThan(0);
    await waitFor(async () => (await count('delivered')) === 1000, 'all 1,000 delivered', 30_000);
    const delivered = hitsOf(t.path)
      .slice(1000)
      .map((h) => h.json.idempotency_key as string);
    expect(delivered).toHaveLength(1000);
    expect(new Set(delivered).size).toBe(1000);
  }, 120_000);

  it('keeps at most 64 KiB of the response body', async () => {
    const entity = await newEntity();
    const hook = await webhook({ entity, url: target(200, 'big').url });
    await rec('post', entity, { status: 'x' });
    const log = await logOf(hook.id, 'delivered');
    expect(log.response_body).toHaveLength(64 * 1024);
  });
});

describe('logs API', () => {
  it('filters exactly, newest first, at most 200; deleting a webhook deletes its logs', async () => {
    const entity = await newEntity();
    const a = await webhook({ entity, url: target().url });
    const b = await webhook({ entity, url: target(500).url, retry: { max_attempts: 1 } });
    await rec('post', entity, { status: 'one' });
    await rec('post', entity, { status: 'two' });
    await waitFor(async () => (await logsOf(a.id)).filter((l) => l.status === 'delivered').length === 2);
    await waitFor(async () => (await logsOf(b.id)).filter((l) => l.status === 'failed').length === 2);

    const byEntity = (await admin('get', `webhook-logs?entity=${entity}`)).body.data as any[];
    expect(byEntity).toHaveLength(4);
    const times = byEntity.map((l) => Date.parse(l.created_at));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(byEntity[0].request_body.record.status).toBe('two');
    const failedB = (await admin('get', `webhook-logs?entity=${entity}&status=failed&webhook_id=${b.id}`)).body.data as any[];
    expect(failedB.map((l) => [l.webhook_id, l.status])).toEqual([
      [b.id, 'failed'],
      [b.id, 'failed'],
    ]);
    expect((await admin('get', `webhook-logs?entity=${entity}&status=delivered&webhook_id=${b.id}`)).body.data).toEqual([]);
    expect((await admin('get', `webhook-logs?entity=${entity.slice(0, -1)}`)).body.data.filter((l: any) => l.entity === entity)).toEqual([]);
    expect((await admin('get', 'webhook-logs?webhook_id=not-a-uuid')).body.data).toEqual([]);
    expect((await admin('get', `webhook-logs/${byEntity[0].id}`)).body.data).toEqual(byEntity[0]);
    expect((await admin('get', 'webhook-logs/not-a-uuid')).body.error).toEqual({ code: 'NOT_FOUND', message: 'Webhook log not found: not-a-uuid' });

    await runtime.db.query(
      `INSERT INTO _webhook_logs (webhook_id, entity, hook, url, method, status, attempt, idempotency_key)
       SELECT $1, $2, 'after_write', 'http://x', 'POST', 'delivered', 1, 'wh_' || g FROM generate_series(1, 205) g`,
      [a.id, entity],
    );
    expect((await admin('get', `webhook-logs?webhook_id=${a.id}`)).body.data).toHaveLength(200);
    expect((await admin('get', 'webhook-logs')).body.data).toHaveLength(200);

    expect((await admin('delete', `webhooks/${a.id}`)).status).toBe(200);
    expect(await logsOf(a.id)).toEqual([]);
    expect((await admin('get', `webhook-logs/${byEntity.find((l) => l.webhook_id === a.id).id}`)).status).toBe(404);
    expect(await logsOf(b.id)).toHaveLength(2);
  });
});

describe('export and import', () => {
  it('exports webhooks without ids and imports them once', async () => {
    const entity = await newEntity();
    await webhook({ entity, hook: 'before_delete', async: false, url: 'https://hooks.example.com/export', headers: { A: '1' } });
    const doc = (await admin('get', 'export')).body.data ?? (await admin('get', 'export')).body;
    const item = doc.webhooks.find((w: any) => w.entity === entity);
    expect(item).toEqual({
      entity,
      hook: 'before_delete',
      url: 'https://hooks.example.com/export',
      method: 'POST',
      headers: { A: '1' },
      condition: '',
      async: false,
      retry: { max_attempts: 3, backoff: 'exponential' },
      active: true,
    });
    const again = await admin('post', 'import', {
      version: 1,
      webhooks: [
        item,
        { entity, url: 'https://hooks.example.com/new' },
        { entity, url: 'https://hooks.example.com/new' },
        { entity, url: 'ftp://x' },
      ],
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.data.summary.webhooks).toBe(1);
    expect(again.body.data.errors).toEqual([`Webhook (${entity}/after_write): url must start with http:// or https://`]);
    const mine = (await admin('get', 'webhooks')).body.data.filter((w: any) => w.entity === entity);
    expect(mine.map((w: any) => w.url).sort()).toEqual(['https://hooks.example.com/export', 'https://hooks.example.com/new']);
  });
});

describe('private network blocking', () => {
  let locked: TestServer;
  let lapp: { name: string; token: string };
  beforeAll(async () => {
    locked = await startTestServer({ ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS: 'true' });
    lapp = await locked.createApp();
  });
  afterAll(async () => {
    await locked?.close();
  });

  it('refuses loopback targets on delivery (failed log naming the address, sync 502)', async () => {
    const call = (method: 'get' | 'post', path: string, body?: unknown) =>
      locked.client[method](`/api/${lapp.name}/${path}`, { token: lapp.token, body });
    expect(
      (
        await call('post', '_admin/entities', {
          name: 'thing',
          table: 'things',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'n', type: 'string' },
          ],
        })
      ).status,
    ).toBe(201);
    const t = target();
    const byIp = (await call('post', '_admin/webhooks', { entity: 'thing', url: t.url })).body.data;
    const byName = (await call('post', '_admin/webhooks', { entity: 'thing', url: t.url.replace('127.0.0.1', 'localhost') })).body.data;
    expect((await call('post', 'thing', { n: 'a' })).status).toBe(201);
    const ipLog = await waitFor(
      async () => (await call('get', `_admin/webhook-logs?webhook_id=${byIp.id}&status=failed`)).body.data[0],
      'blocked log',
    );
    expect(ipLog).toMatchObject({
      error: 'blocked address',
      response_status: 0,
      attempt: 1,
      next_retry_at: null,
    });
    const log = await waitFor(
      async () => (await call('get', `_admin/webhook-logs?webhook_id=${byName.id}&status=failed`)).body.data[0],
      'blocked log',
    );
    expect(log).toMatchObject({ response_status: 0, attempt: 1, next_retry_at: null });
    expect(log.error).toBe('blocked address'); // a name that resolves to a refused address, too
    const sync = (
      await call('post', '_admin/webhooks', { entity: 'thing', hook: 'before_write', async: false, url: t.url.replace('127.0.0.1', 'localhost') })
    ).body.data;
    const res = await call('post', 'thing', { n: 'b' });
    expect(res.status).toBe(502);
    expect(res.body.error.message).toBe(`Webhook ${sync.id} failed: blocked address`);
    expect(hitsOf(t.path)).toHaveLength(0);
  });
});

describe('link-local, unspecified and cloud metadata addresses (always refused)', () => {
  it('are 422 at definition time when literal, also with private networks allowed', async () => {
    const entity = await newEntity();
    for (const host of ['169.254.169.254', '0.0.0.0', '[::ffff:169.254.169.254]', '[fe80::1]', '100.100.100.200', '[::]', '[fd00:ec2::254]']) {
      const res = await admin('post', 'webhooks', { entity, url: `http://${host}/latest/meta-data` });
      expect(res.status, host).toBe(422);
      expect(res.body.error.message).toMatch(/^url: .* is a link-local, unspecified or cloud metadata address, never reachable by webhooks$/);
      const put = await admin('post', 'import', { version: 1, webhooks: [{ entity, url: `http://${host}/x` }] });
      expect(put.body.data.errors?.[0], host).toMatch(/cloud metadata address/);
    }
    // Loopback and private addresses stay allowed unless the setting denies them.
    expect((await admin('post', 'webhooks', { entity, url: 'http://10.0.0.8/hook', active: false })).status).toBe(201);
  });

  it('are refused on delivery for rows stored before the check (failed log naming the address)', async () => {
    const entity = await newEntity();
    const [row] = await runtime.db.query<{ id: string }>(
      `INSERT INTO _webhooks (entity, hook, url, method, headers, condition, async, retry, active)
       VALUES ($1, 'after_write', 'http://169.254.169.254/latest/meta-data', 'POST', '{}', '', true, '{"max_attempts":3,"backoff":"exponential"}', true) RETURNING id`,
      [entity],
    );
    await runtime.reload();
    expect((await rec('post', entity, { note: 'x' })).status).toBe(201);
    const log = await waitFor(async () => (await admin('get', `webhook-logs?webhook_id=${row!.id}&status=failed`)).body.data[0], 'blocked log');
    expect(log).toMatchObject({
      error: 'blocked address',
      response_status: 0,
      next_retry_at: null,
    });
  });
});

describe('settings and address rules', () => {
  it('reads webhook_env_allowlist and webhook_deny_private_networks', () => {
    const base = { DATABASE_URL: 'postgres://x@127.0.0.1/db' };
    expect(loadConfig(base)).toMatchObject({ webhookEnvAllowlist: [], webhookDenyPrivateNetworks: false });
    expect(loadConfig({ ...base, ROCKET_WEBHOOK_ENV_ALLOWLIST: ' A_KEY , HOOK_* ', ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS: 'TRUE' })).toMatchObject({
      webhookEnvAllowlist: ['A_KEY', 'HOOK_*'],
      webhookDenyPrivateNetworks: true,
    });
    expect(() => loadConfig({ ...base, ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ROCKET_WEBHOOK_ENV_ALLOWLIST: 'A-B' })).toThrow(/ROCKET_WEBHOOK_ENV_ALLOWLIST/);
  });

  it('blocks loopback, private, link-local, metadata and embedded-IPv4 forms; allows public addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1%eth0',
      'fd00:ec2::254',
      'fc00::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
      '2002:a00:1::1',
      'not-an-ip',
    ]) {
      expect(isBlockedAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:808:808::1']) {
      expect(isBlockedAddress(a), a).toBe(false);
    }
  });
});
