import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/database.js';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/**
 * Audit of webhooks and workflows against the spec (webhooks.md, workflows.md): each test pins a defect
 * found by probing the server over HTTP.
 */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let receiver: Server;
let receiverBase: string;
const received: Array<{ method: string; url: string; body: string }> = [];
/** Answers of calls to `/hold…`, kept until the test releases them. */
const held: Array<() => void> = [];
const uuid = { field: 'id', type: 'uuid', generated: true };

type Method = 'post' | 'put' | 'get' | 'delete';
const { admin, rec } = appCalls(() => ({ server: s, app }));
const wfr = (method: Method, path: string) => s.client[method](`/api/${app.name}/_workflows/${path}`, { token: app.token });

const workflow = async (def: Record<string, unknown>) => {
  const res = await admin('post', 'workflows', def);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; name: string };
};
const create = async (entity: string, body: Record<string, unknown>) => {
  const res = await rec('post', entity, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as Record<string, unknown>;
};
const instancesOf = (name: string) =>
  runtime.db.query<{ id: string; status: string; current_step: string; history: Array<Record<string, unknown>> }>(
    'SELECT id, status, current_step, history FROM _workflow_instances WHERE workflow_name = $1 ORDER BY created_at, id',
    [name],
  );

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body });
      res.statusCode = req.url?.startsWith('/fail') ? 500 : 200;
      if (req.url?.startsWith('/hold')) held.push(() => res.end('ok'));
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const res = await admin('post', 'entities', {
    name: 'order',
    table: 'orders',
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'status', type: 'string' },
      { name: 'amount', type: 'integer' },
      { name: 'note', type: 'string' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
});
afterAll(async () => {
  for (const release of held.splice(0)) release();
  await s?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('concurrent approvals', () => {
  it('a request that lost the race for an approval step does not decide the next one (409), so one step is decided once', async () => {
    await workflow({
      name: 'two_step',
      trigger: { type: 'state_change', entity: 'order', field: 'status', to: 'two_step' },
      steps: [
        { id: 'manager', type: 'approval', on_approve: { goto: 'director' } },
        { id: 'director', type: 'approval', on_approve: 'end' },
      ],
    });
    await create('order', { status: 'two_step' });
    const [inst] = await instancesOf('two_step');
    expect(inst?.current_step).toBe('manager');

    // Three approvals of the manager step, all read while another connection holds the row: they queue on it together.
    const holder = new Database({ ...runtime.db.options, max: 1 });
    let answers: Array<{ status: number; body: { error?: { code: string } } }> = [];
    try {
      await holder.transaction(async (tx) => {
        await tx.query('SELECT id FROM _workflow_instances WHERE id = $1 FOR UPDATE', [inst!.id]);
        const pending = Promise.all([1, 2, 3].map(() => wfr('post', `${inst!.id}/approve`)));
        await expect
          .poll(async () => {
            const rows = await runtime.db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            );
            return rows[0]!.n;
          })
          .toBe(3);
        void pending.then((a) => (answers = a));
      });
      await expect.poll(() => answers.length).toBe(3);
    } finally {
      await holder.close();
    }

    const statuses = answers.map((a) => a.status).sort();
    expect(statuses, JSON.stringify(answers.map((a) => a.body))).toEqual([200, 409, 409]);
    expect(answers.find((a) => a.status === 409)?.body.error?.code).toBe('CONFLICT');
    const [after] = await instancesOf('two_step');
    expect(after?.status).toBe('running');
    expect(after?.current_step).toBe('director');
    expect(after?.history.map((h) => `${h.step}:${h.status}`)).toEqual(['manager:approved']);
  });
});

describe('webhooks deleted while a write runs', () => {
  it('a write whose sync call is answered after its webhooks were deleted still commits (no 409), without their log rows', async () => {
    const sync = await admin('post', 'webhooks', { entity: 'order', hook: 'before_write', async: false, url: `${receiverBase}/hold/sync` });
    const later = await admin('post', 'webhooks', { entity: 'order', url: `${receiverBase}/ok/async` });
    expect(sync.status, JSON.stringify(sync.body)).toBe(201);
    expect(later.status, JSON.stringify(later.body)).toBe(201);

    const writing = rec('post', 'order', { status: 'deleted_hooks' });
    await expect.poll(() => held.length).toBe(1);
    // Both webhooks go while the write waits for the synchronous call: their logs would go with them.
    expect((await admin('delete', `webhooks/${sync.body.data.id}`)).status).toBe(200);
    expect((await admin('delete', `webhooks/${later.body.data.id}`)).status).toBe(200);
    held.shift()!();

    const res = await writing;
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect((await rec('get', `order/${res.body.data.id}`)).body.data.status).toBe('deleted_hooks');
    const logs = await runtime.db.query('SELECT id FROM _webhook_logs WHERE webhook_id = ANY($1::uuid[])', [[sync.body.data.id, later.body.data.id]]);
    expect(logs).toEqual([]);
  });

  it('a kept webhook of the same write still gets its log row and delivery', async () => {
    const sync = await admin('post', 'webhooks', { entity: 'order', hook: 'before_write', async: false, url: `${receiverBase}/hold/sync2` });
    const kept = await admin('post', 'webhooks', { entity: 'order', url: `${receiverBase}/ok/kept` });
    const writing = rec('post', 'order', { status: 'kept_hook' });
    await expect.poll(() => held.length).toBe(1);
    expect((await admin('delete', `webhooks/${sync.body.data.id}`)).status).toBe(200);
    held.shift()!();

    const res = await writing;
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await expect
      .poll(async () => (await admin('get', `webhook-logs?webhook_id=${kept.body.data.id}`)).body.data.map((l: { status: string }) => l.status))
      .toEqual(['delivered']);
    expect((await admin('delete', `webhooks/${kept.body.data.id}`)).status).toBe(200);
  });
});

describe('assignees named by an upper-case id', () => {
  it('a fixed or relation assignee written in upper case is the same user: sees the step and decides it; others still get 403', async () => {
    const made = await admin('post', 'users', { email: 'clerk6@example.com', password: 'pw-123456', roles: ['clerk'] });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const clerkId = made.body.data.id as string;
    const clerk = await s.client.login(`/api/${app.name}/auth/login`, 'clerk6@example.com', 'pw-123456');
    expect((await admin('post', 'users', { email: 'other6@example.com', password: 'pw-123456', roles: ['clerk'] })).status).toBe(201);
    const other = await s.client.login(`/api/${app.name}/auth/login`, 'other6@example.com', 'pw-123456');

    await workflow({
      name: 'upper_assignee',
      trigger: { type: 'state_change', entity: 'order', field: 'status', to: 'upper_assignee' },
      context: { owner: 'record.note' },
      steps: [
        { id: 'fixed', type: 'approval', assignee: { type: 'fixed', user: clerkId.toUpperCase() }, on_approve: { goto: 'relation' } },
        { id: 'relation', type: 'approval', assignee: { type: 'relation', path: 'context.owner' }, on_approve: 'end' },
      ],
    });
    await create('order', { status: 'upper_assignee', note: clerkId.toUpperCase() });
    const [inst] = await instancesOf('upper_assignee');
    const as = (token: string, method: Method, path: string) => s.client[method](`/api/${app.name}/_workflows/${path}`, { token });

    for (const step of ['fixed', 'relation']) {
      // (instances of other tests' steps without an assignee are everyone's: only this workflow's are compared)
      const mine = async (token: string) =>
        ((await as(token, 'get', 'pending')).body.data as Array<{ id: string; workflow_name: string; current_step: string }>)
          .filter((i) => i.workflow_name === 'upper_assignee')
          .map((i) => `${i.id}:${i.current_step}`);
      expect(await mine(clerk)).toEqual([`${inst!.id}:${step}`]);
      expect(await mine(other)).toEqual([]);
      expect((await as(other, 'post', `${inst!.id}/approve`)).status).toBe(403);
      const decided = await as(clerk, 'post', `${inst!.id}/approve`);
      expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    }
    const [after] = await instancesOf('upper_assignee');
    expect(after?.status).toBe('completed');
    expect(after?.history.map((h) => `${h.step}:${h.status}:${h.by}`)).toEqual([`fixed:approved:${clerkId}`, `relation:approved:${clerkId}`]);
  });
});

describe('approval timeouts', () => {
  it('a 0s approval step that times out back to itself waits at least a second between timeouts instead of looping', async () => {
    await workflow({
      name: 'zero_loop',
      trigger: { type: 'state_change', entity: 'order', field: 'status', to: 'zero_loop' },
      steps: [{ id: 'wait', type: 'approval', timeout: '0s', on_timeout: { goto: 'wait' } }],
    });
    await create('order', { status: 'zero_loop' });
    await new Promise((r) => setTimeout(r, 1500));
    const [instance] = await instancesOf('zero_loop');
    expect(instance?.status).toBe('running');
    expect(instance?.current_step).toBe('wait');
    // Fired at most once a second: one timeout by now (two at the very most with a slow start), not dozens.
    const timeouts = instance!.history.filter((h) => h.status === 'timed_out').length;
    expect(timeouts).toBeLessThanOrEqual(2);
    expect(timeouts).toBeGreaterThanOrEqual(1);
  });
});
