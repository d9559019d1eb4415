import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/**
 * Second black-box audit of webhooks (webhooks.md) and the workflow parts that call out (workflows.md), over
 * HTTP against real PostgreSQL with a local receiver. Each test pins a defect found by probing, on its own entity.
 */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
/** A raw TCP receiver that answers every request `101 Switching Protocols` and then keeps the socket open. */
let switcher: Server;
let switcherUrl: string;
let switched = 0;
let counter = 0;

const uuid = { field: 'id', type: 'uuid', generated: true };
const { admin, rec } = appCalls(() => ({ server: s, app }));

async function waitFor<T>(fn: () => Promise<T> | T, what: string, ms = 8000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function newEntity(): Promise<string> {
  const name = `a${++counter}`;
  const res = await admin('post', 'entities', {
    name,
    table: `${name}s`,
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'status', type: 'string' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return name;
}

async function webhook(body: Record<string, unknown>): Promise<{ id: string }> {
  const res = await admin('post', 'webhooks', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

async function logsOf(webhookId: string): Promise<any[]> {
  const res = await admin('get', `webhook-logs?webhook_id=${webhookId}`);
  expect(res.status).toBe(200);
  return res.body.data;
}

beforeAll(async () => {
  switcher = createServer((sock) => {
    sock.once('data', () => {
      switched++;
      sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => switcher.listen(0, '127.0.0.1', r));
  switcherUrl = `http://127.0.0.1:${(switcher.address() as AddressInfo).port}/switch`;
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});

afterAll(async () => {
  await s?.close();
  await new Promise((r) => switcher?.close(r));
});

describe('a receiver answering 101 Switching Protocols (outbound/delivery.ts)', () => {
  // webhooks.md §Delivery: "Success = status 2xx", "30 s timeout". A 101 answer detached the request from its
  // socket with neither a response nor an error, and the abort no longer reached it: the call never resolved,
  // so a sync webhook hung its write (and its transaction) forever.
  it('a before_write webhook answered 101 vetoes the write with 502 at once instead of hanging it', { timeout: 15_000 }, async () => {
    const e = await newEntity();
    const w = await webhook({ entity: e, hook: 'before_write', async: false, url: switcherUrl });
    const calls = switched;
    const started = Date.now();
    const res = await rec('post', e, { status: 'x' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(switched).toBe(calls + 1);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: { code: 'WEBHOOK_FAILED', message: `Webhook ${w.id} failed: HTTP 101` } });
    expect((await rec('get', e)).body.data).toEqual([]);
    const logs = await logsOf(w.id);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status: 'failed', attempt: 1, response_status: 101, error: 'HTTP 101', next_retry_at: null });
  });

  it('an after_write webhook answered 101 is a failed attempt (retrying), not a call left in flight', { timeout: 15_000 }, async () => {
    const e = await newEntity();
    const w = await webhook({ entity: e, url: switcherUrl });
    expect((await rec('post', e, { status: 'x' })).status).toBe(201);
    const log = await waitFor(async () => (await logsOf(w.id)).find((l) => l.attempt === 1), 'the first attempt');
    expect(log).toMatchObject({ status: 'retrying', response_status: 101, error: 'HTTP 101' });
  });

  // workflows.md §Actions: `webhook` — "30 s timeout. Network error or non-2xx → action error"; the instance
  // advances before the response, so the triggering request hung with it.
  it('a workflow webhook action answered 101 fails the instance and the triggering request still answers', { timeout: 15_000 }, async () => {
    const e = await newEntity();
    const wf = await admin('post', 'workflows', {
      name: `wf_${e}`,
      trigger: { type: 'state_change', entity: e, field: 'status', to: 'sent' },
      context: { record_id: 'trigger.record_id' },
      steps: [{ id: 'call', type: 'action', actions: [{ type: 'webhook', url: switcherUrl }] }],
    });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    const res = await rec('post', e, { status: 'sent' });
    expect(res.status).toBe(201);
    const instances = await runtime.db.query<{ status: string; current_step: string }>(
      'SELECT status, current_step FROM _workflow_instances WHERE workflow_name = $1',
      [`wf_${e}`],
    );
    expect(instances).toEqual([{ status: 'failed', current_step: 'call' }]);
  });

  // state-machines.md §Actions: `webhook` — fire-and-forget with a 30 s timeout; its outbox row was never
  // marked processed and the call stayed open for good.
  it('a state-machine webhook action answered 101 is recorded as a failed effect', { timeout: 15_000 }, async () => {
    const e = await newEntity();
    const sm = await admin('post', 'state-machines', {
      entity: e,
      field: 'status',
      definition: { transitions: [{ from: 'draft', to: 'sent', actions: [{ type: 'webhook', url: switcherUrl }] }] },
    });
    expect(sm.status, JSON.stringify(sm.body)).toBe(201);
    const created = await rec('post', e, { status: 'draft' });
    expect((await rec('put', `${e}/${created.body.data.id}`, { status: 'sent' })).status).toBe(200);
    const row = await waitFor(async () => {
      const [r] = await runtime.db.query<{ processed: boolean; error: string | null }>(
        `SELECT processed_at IS NOT NULL AS processed, error FROM _outbox WHERE kind = 'webhook' AND payload->>'url' = $1
          AND payload->'body'->>'status' = 'sent' ORDER BY created_at DESC LIMIT 1`,
        [switcherUrl],
      );
      return r?.processed ? r : undefined;
    }, 'the processed outbox row');
    expect(row.error).toBe('HTTP 101');
  });
});
