import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import type { Response } from '../support/client.js';
import { SseReader } from '../support/sse.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The four example schemas run end to end as their users would: imported with their webhooks pointed at a local
 * receiver, then driven over HTTP where features meet — workflow writes seen by webhooks, realtime and history,
 * approvals by users whose roles changed, row-condition policies on the examples' roles, cascades under pending
 * workflows. audit9-examples covers each feature of the examples on its own.
 */

type Method = 'get' | 'post' | 'put' | 'delete';
type Caller = (method: Method, path: string, body?: unknown) => Promise<Response<any>>;

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

let s: TestServer;
let receiver: Server;
let hookBase = '';
const received: Delivery[] = [];
const streams = new Set<SseReader>();

beforeAll(async () => {
  s = await startTestServer();
  receiver = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : null });
      const failing = (req.url ?? '').includes('/fail');
      res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' }).end(failing ? '{"ok":false}' : '{"ok":true}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const st of streams) st.close();
  await new Promise<void>((r) => receiver?.close(() => r()));
  await s?.close();
});

interface Example {
  app: { name: string; token: string };
  runtime: AppRuntime;
  as: Record<string, Caller>;
  ids: Record<string, string>;
  tokens: Record<string, string>;
  /** The deliveries of this app's webhooks (their paths carry the app name). */
  hooks: (name: string) => Delivery[];
}

/** The example with every webhook URL sent to the local receiver under /<app>/<original path>. */
function load(file: string, app: string) {
  const doc = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/examples', file), 'utf8'));
  for (const w of doc.webhooks as Array<{ url: string }>) w.url = `${hookBase}/${app}${new URL(w.url).pathname}`;
  return doc;
}

async function example(file: string, users: Record<string, string[]>, edit?: (doc: any) => void): Promise<Example> {
  const app = await s.createApp();
  const doc = load(file, app.name);
  edit?.(doc);
  const imported = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body: doc });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const tokens: Record<string, string> = { admin: app.token };
  const ids: Record<string, string> = {};
  for (const [who, roles] of Object.entries(users)) {
    const email = `${who}@example.org`;
    const created = await s.client.post(`/api/${app.name}/_admin/users`, { token: app.token, body: { email, password: 'secret-pw-1', roles } });
    expect(created.status).toBe(201);
    ids[who] = created.body.data.id;
    tokens[who] = await s.client.login(`/api/${app.name}/auth/login`, email, 'secret-pw-1');
  }
  const as: Record<string, Caller> = {};
  for (const [who, token] of Object.entries(tokens)) {
    as[who] = (method, path, body) => s.client[method](`/api/${app.name}${path}`, { token, body });
  }
  const runtime = (await s.rocket.services.apps.get(app.name))!;
  const hooks = (name: string) => received.filter((d) => d.path === `/${app.name}/${name}`);
  return { app, runtime, as, ids, tokens, hooks };
}

/**
 * A record whose id is a user's id (a business row for a signed-in person): generated keys ignore client values,
 * so it comes in as import sample data, which keeps the id.
 */
async function seedAs(ex: Example, file: string, entity: string, row: Record<string, unknown>) {
  const doc = load(file, ex.app.name);
  const res = await ex.as.admin!('post', '/_admin/import', {
    version: 1,
    entities: doc.entities.filter((e: { name: string }) => e.name === entity),
    sample_data: { [entity]: [row] },
  });
  expect(res.status).toBe(200);
  expect(res.body.data.summary.records, JSON.stringify(res.body)).toBe(1);
}

async function relogin(ex: Example, who: string) {
  ex.tokens[who] = await s.client.login(`/api/${ex.app.name}/auth/login`, `${who}@example.org`, 'secret-pw-1');
  const token = ex.tokens[who];
  ex.as[who] = (method, path, body) => s.client[method](`/api/${ex.app.name}${path}`, { token, body });
}

async function pending(ex: Example) {
  const res = await ex.as.admin!('get', '/_workflows/pending');
  expect(res.status).toBe(200);
  return res.body.data as Array<{ id: string; workflow_name: string; current_step: string; context: Record<string, unknown> }>;
}

async function subscribe(ex: Example, who: string, query: string): Promise<SseReader> {
  const r = await SseReader.open(s.rocket.url, `/api/${ex.app.name}/_realtime?${query}`, { authorization: `Bearer ${ex.tokens[who]}` });
  if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status} ${JSON.stringify(r.body)}`);
  streams.add(r);
  await r.waitFor(1, 'ready');
  return r;
}

/** Waits (bounded) until `pred` holds; async webhook deliveries land right after the response. */
async function eventually(pred: () => boolean, what: string) {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(pred(), what).toBe(true);
}

const detail = (res: { body: any }) => res.body.error?.details?.[0];

describe('helpdesk-ticketing', () => {
  let ex: Example;
  const jane = '10000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('helpdesk-ticketing.json', { agent: ['agent'], customer: ['customer'], lead: ['team_lead'], lead2: ['team_lead'] });
  });

  it('a customer’s new ticket and its resolution reach the receiver with the example’s header, record and changes', async () => {
    const { customer, agent } = ex.as as Record<string, Caller>;
    const created = await customer!('post', '/ticket', { title: 'Invoice PDF blank', description: 'empty page', customer_id: jane });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    await eventually(() => ex.hooks('ticket-created').length === 1, 'ticket-created delivered');
    const [c] = ex.hooks('ticket-created');
    expect(c!.headers['x-source']).toBe('rocket-helpdesk');
    expect(c!.headers['content-type']).toMatch(/^application\/json/);
    expect(c!.body).toMatchObject({
      event: 'after_write',
      entity: 'ticket',
      action: 'create',
      record: { id, status: 'open' },
      user: { id: ex.ids.customer, roles: ['customer'] },
    });
    expect(c!.body.old).toBeUndefined();
    // on create every field of the record is a change from null
    expect(Object.keys(c!.body.changes).sort()).toEqual(Object.keys(c!.body.record).sort());
    expect(c!.body.changes.title).toEqual({ old: null, new: 'Invoice PDF blank' });
    expect(c!.body.idempotency_key).toMatch(/^wh_/);

    for (const status of ['assigned', 'in_progress']) expect((await agent!('put', `/ticket/${id}`, { status })).status).toBe(200);
    expect(ex.hooks('ticket-resolved')).toEqual([]);
    const resolved = await agent!('put', `/ticket/${id}`, { status: 'resolved' });
    expect(resolved.status).toBe(200);
    await eventually(() => ex.hooks('ticket-resolved').length === 1, 'ticket-resolved delivered');
    const [r] = ex.hooks('ticket-resolved');
    expect(r!.body).toMatchObject({
      action: 'update',
      record: { id, status: 'resolved', resolved_at: resolved.body.data.resolved_at },
      old: { status: 'in_progress', resolved_at: null },
    });
    expect(r!.body.changes.status).toEqual({ old: 'in_progress', new: 'resolved' });
    expect(r!.body.changes.resolved_at).toEqual({ old: null, new: resolved.body.data.resolved_at });
    const logs = await ex.as.admin!('get', '/_admin/webhook-logs?entity=ticket');
    expect(logs.body.data.map((l: { status: string }) => l.status)).toEqual(['delivered', 'delivered']);
    // a closed ticket reopened and resolved again fires again (the condition reads record, not changes)
    expect((await agent!('put', `/ticket/${id}`, { title: 'Invoice PDF blank (2)' })).status).toBe(200);
    await eventually(() => ex.hooks('ticket-resolved').length === 2, 'an update of a resolved ticket matches record.status too');
  });

  it('a lead whose role was taken away cannot decide the escalation after signing in again; the other lead can', async () => {
    const { agent, lead, lead2 } = ex.as as Record<string, Caller>;
    const ticket = '30000000-0000-0000-0000-000000000005';
    expect((await agent!('put', `/ticket/${ticket}`, { priority: 'critical' })).status).toBe(200);
    const inst = (await pending(ex)).find((i) => i.context.record_id === ticket)!;
    expect(inst).toMatchObject({ workflow_name: 'critical_ticket_escalation', current_step: 'notify_lead' });
    expect((await lead!('get', '/_workflows/pending')).body.data.map((i: { id: string }) => i.id)).toContain(inst.id);

    const demoted = await ex.as.admin!('put', `/_admin/users/${ex.ids.lead}`, { email: 'lead@example.org', roles: ['agent'] });
    expect(demoted.status).toBe(200);
    await relogin(ex, 'lead');
    expect((await ex.as.lead!('get', '/_workflows/pending')).body.data).toEqual([]);
    const refused = await ex.as.lead!('post', `/_workflows/${inst.id}/approve`);
    expect(refused.status).toBe(403);
    expect((await ex.as.lead!('get', `/_workflows/${inst.id}`)).body.data.status).toBe('running');

    const approved = await lead2!('post', `/_workflows/${inst.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({
      status: 'completed',
      history: [
        { step: 'notify_lead', status: 'approved', by: ex.ids.lead2 },
        { step: 'assign_senior', status: 'completed' },
      ],
    });
    // the workflow's set_field went through the pipeline: updated_at moved, the status is assigned
    const after = (await agent!('get', `/ticket/${ticket}`)).body.data;
    expect(after).toMatchObject({ status: 'assigned', priority: 'critical' });
  });

  it('a ticket deleted while its escalation waits: the approval does not touch the deleted row', async () => {
    const { agent, admin, lead2 } = ex.as as Record<string, Caller>;
    const created = await agent!('post', '/ticket', { title: 'Data center on fire', description: 'smoke', customer_id: jane, priority: 'critical' });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    expect(inst).toBeDefined();
    expect((await admin!('delete', `/ticket/${id}`)).status).toBe(200);
    const decided = await lead2!('post', `/_workflows/${inst.id}/approve`);
    expect(decided.status).toBe(200);
    expect(decided.body.data.status).toBe('failed');
    expect(decided.body.data.current_step).toBe('assign_senior');
    const rows = await ex.runtime.db.query<{ status: string; gone: boolean }>(
      `SELECT status, deleted_at IS NOT NULL AS gone FROM tickets WHERE id = $1`,
      [id],
    );
    expect(rows).toEqual([{ status: 'open', gone: true }]);
  });

  it('a customer limited to their own tickets watches them live: the workflow’s write arrives, others’ tickets do not', async () => {
    const { admin, agent, lead2 } = ex.as as Record<string, Caller>;
    // the customer user is also a customer record (same id), and reads only their own tickets
    await seedAs(ex, 'helpdesk-ticketing.json', 'customer', { id: ex.ids.customer, name: 'Cust Omer', email: 'customer@example.org' });
    const perms = (await admin!('get', '/_admin/permissions')).body.data as Array<{ id: string; entity: string; action: string }>;
    const read = perms.find((p) => p.entity === 'ticket' && p.action === 'read')!;
    expect((await admin!('put', `/_admin/permissions/${read.id}`, { entity: 'ticket', action: 'read', roles: ['agent'] })).status).toBe(200);
    expect(
      (
        await admin!('post', '/_admin/permissions', {
          entity: 'ticket',
          action: 'read',
          roles: ['customer'],
          conditions: [{ field: 'customer_id', operator: 'eq', value: '$user.id' }],
        })
      ).status,
    ).toBe(201);
    const mine = await ex.as.customer!('post', '/ticket', { title: 'My own problem', description: 'mine', customer_id: ex.ids.customer });
    expect(mine.status).toBe(201);
    const list = await ex.as.customer!('get', '/ticket');
    expect(list.body.data.map((t: { id: string }) => t.id)).toEqual([mine.body.data.id]);
    expect((await ex.as.customer!('get', '/ticket/30000000-0000-0000-0000-000000000004')).status).toBe(404);

    const feed = await subscribe(ex, 'customer', 'entities=ticket');
    expect((await agent!('put', '/ticket/30000000-0000-0000-0000-000000000004', { priority: 'high' })).status).toBe(200);
    expect((await agent!('put', `/ticket/${mine.body.data.id}`, { priority: 'critical' })).status).toBe(200);
    const inst = (await pending(ex)).find((i) => i.context.record_id === mine.body.data.id)!;
    expect((await lead2!('post', `/_workflows/${inst.id}/approve`)).body.data.status).toBe('completed');
    await feed.until(() => feed.events.some((e) => e.event === 'change' && e.data.record.status === 'assigned'), 10_000);
    const changes = feed.events.filter((e) => e.event === 'change');
    expect(changes.map((e) => [e.data.id, e.data.changed, e.data.by])).toEqual([
      [mine.body.data.id, expect.arrayContaining(['priority']), ex.ids.agent],
      [mine.body.data.id, expect.arrayContaining(['status']), ex.ids.lead2],
    ]);
  });
});

describe('employee-management', () => {
  let ex: Example;
  let dept = '';
  let emp = '';
  beforeAll(async () => {
    ex = await example('employee-management.json', { staff: ['employee'], boss: ['manager'], hr: ['hr'], hr2: ['hr'] }, (doc) => {
      for (const e of doc.entities) if (e.name === 'leave_request' || e.name === 'employee') e.history = true;
    });
    const d = await ex.as.hr!('post', '/department', { name: 'Flows', code: 'FLW' });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    dept = d.body.data.id;
    const e = await ex.as.hr!('post', '/employee', {
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@corp.example.org',
      title: 'Engineer',
      department_id: dept,
      hire_date: '2024-01-02',
    });
    expect(e.status, JSON.stringify(e.body)).toBe(201);
    emp = e.body.data.id;
  });

  it('a long leave waits for the manager then HR; the HR approval’s write is seen by the webhook and the history as the approver’s', async () => {
    const { staff, boss, hr } = ex.as as Record<string, Caller>;
    const asked = await staff!('post', '/leave_request', {
      employee_id: emp,
      type: 'annual',
      start_date: '2026-07-01',
      end_date: '2026-07-10',
      days: 8,
      status: 'pending',
    });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const id = asked.body.data.id;
    await eventually(() => ex.hooks('leave-submitted').length === 1, 'leave-submitted delivered');
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    expect(inst).toMatchObject({
      workflow_name: 'leave_approval',
      current_step: 'manager_review',
      context: { days: 8, type: 'annual', employee_id: emp },
    });
    expect((await hr!('post', `/_workflows/${inst.id}/approve`)).status).toBe(403);
    const m = await boss!('post', `/_workflows/${inst.id}/approve`);
    expect(m.body.data).toMatchObject({ status: 'running', current_step: 'hr_review' });
    expect((await boss!('post', `/_workflows/${inst.id}/approve`)).status).toBe(403);
    const h = await hr!('post', `/_workflows/${inst.id}/approve`);
    expect(h.body.data.status).toBe('completed');
    const row = (await staff!('get', `/leave_request/${id}`)).body.data;
    expect(row.status).toBe('approved');
    await eventually(() => ex.hooks('leave-approved').length === 1, 'leave-approved delivered');
    const [a] = ex.hooks('leave-approved');
    expect(a!.body).toMatchObject({ action: 'update', record: { id, status: 'approved' }, old: { status: 'pending' } });
    expect(a!.body.changes.status).toEqual({ old: 'pending', new: 'approved' });
    // dates keep their calendar day everywhere they travel
    expect(a!.body.record).toMatchObject({ start_date: '2026-07-01', end_date: '2026-07-10' });
    expect(a!.body.old).toMatchObject({ start_date: '2026-07-01' });
    expect(a!.body.changes.start_date).toBeUndefined();
    const [sub] = ex.hooks('leave-submitted');
    expect(sub!.body.record).toMatchObject({ start_date: '2026-07-01', end_date: '2026-07-10', days: 8 });
    expect(sub!.body.changes.start_date).toEqual({ old: null, new: '2026-07-01' });

    const hist = await hr!('get', `/leave_request/${id}/_history`);
    expect(hist.status).toBe(200);
    expect(hist.body.data.map((e: any) => [e.action, e.actor.kind, e.actor.id])).toEqual([
      ['update', 'system', ex.ids.hr],
      ['create', 'user', ex.ids.staff],
    ]);
    expect(hist.body.data[0].changes.status).toEqual({ from: 'pending', to: 'approved' });
    expect(hist.body.data[1].changes.start_date).toEqual({ from: null, to: '2026-07-01' });
    expect(Object.keys(hist.body.data[0].changes).sort()).toEqual(['status']);
  });

  it('an employee removed while their leave waits: the leave goes with them, history shows the cascade, the decision fails without writing', async () => {
    const { staff, hr } = ex.as as Record<string, Caller>;
    const e = await hr!('post', '/employee', {
      first_name: 'Bo',
      last_name: 'Gone',
      email: 'bo@corp.example.org',
      title: 'Temp',
      department_id: dept,
      hire_date: '2025-03-01',
      manager_id: emp,
    });
    expect(e.status).toBe(201);
    const bo = e.body.data.id;
    const asked = await staff!('post', '/leave_request', {
      employee_id: bo,
      type: 'sick',
      start_date: '2026-08-01',
      end_date: '2026-08-09',
      days: 7,
      status: 'pending',
    });
    expect(asked.status).toBe(201);
    const id = asked.body.data.id;
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    expect((await hr!('delete', `/employee/${bo}`)).status).toBe(200);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM leave_requests WHERE id = $1`, [id])).toEqual([{ n: 0 }]);
    const log = await ex.as.admin!('get', `/_admin/history?entity=leave_request&record_id=${id}`);
    expect(log.body.data.map((x: any) => [x.action, x.actor.kind, x.actor.id])).toEqual([
      ['delete', 'system', ex.ids.hr],
      ['create', 'user', ex.ids.staff],
    ]);
    const empLog = await ex.as.admin!('get', `/_admin/history?entity=employee&record_id=${bo}`);
    expect(empLog.body.data[0]).toMatchObject({ action: 'delete', actor: { kind: 'user', id: ex.ids.hr } });

    const decided = await ex.as.boss!('post', `/_workflows/${inst.id}/reject`);
    expect(decided.status).toBe(200);
    expect(decided.body.data).toMatchObject({ status: 'failed', current_step: 'reject_leave' });
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM leave_requests WHERE id = $1`, [id])).toEqual([{ n: 0 }]);
  });

  it('a manager may update only pending leave (row condition); the state machine’s roles still apply inside it', async () => {
    const { staff, boss, hr, admin } = ex.as as Record<string, Caller>;
    const perms = (await admin!('get', '/_admin/permissions')).body.data as Array<{ id: string; entity: string; action: string }>;
    const upd = perms.find((p) => p.entity === 'leave_request' && p.action === 'update')!;
    expect((await admin!('put', `/_admin/permissions/${upd.id}`, { entity: 'leave_request', action: 'update', roles: ['hr'] })).status).toBe(200);
    expect(
      (
        await admin!('post', '/_admin/permissions', {
          entity: 'leave_request',
          action: 'update',
          roles: ['manager'],
          conditions: [{ field: 'status', operator: 'in', value: ['pending'] }],
        })
      ).status,
    ).toBe(201);
    const asked = await staff!('post', '/leave_request', {
      employee_id: emp,
      type: 'personal',
      start_date: '2026-09-01',
      end_date: '2026-09-08',
      days: 8,
    });
    expect(asked.status).toBe(201);
    const id = asked.body.data.id;
    // the default state counts as written: leave_approval waits for the manager (8 days)
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    expect(inst.current_step).toBe('manager_review');
    const bad = await boss!('put', `/leave_request/${id}`, { status: 'approved' });
    expect(bad.status).toBe(422);
    expect(detail(bad)).toMatchObject({ field: 'status', rule: 'state_machine' });
    expect((await boss!('put', `/leave_request/${id}`, { status: 'manager_approved' })).status).toBe(200);
    const locked = await boss!('put', `/leave_request/${id}`, { reason: 'late edit' });
    expect(locked.status).toBe(403);
    expect(locked.body.error.message).toBe('Permission denied for update on leave_request');
    const done = await hr!('put', `/leave_request/${id}`, { status: 'approved' });
    expect(done.status).toBe(200);
    expect(done.body.data.approved_at).toEqual(expect.any(String));
    // the waiting workflow's later rejection is a system write: neither the row condition nor the machine stops it
    const rejected = await boss!('post', `/_workflows/${inst.id}/reject`);
    expect(rejected.body.data).toMatchObject({ status: 'completed' });
    expect((await hr!('get', `/leave_request/${id}`)).body.data.status).toBe('rejected');
  });
});

describe('employee-management: files and a staff member’s own leave', () => {
  let ex: Example;
  beforeAll(async () => {
    ex = await example('employee-management.json', { staff: ['employee'], mate: ['employee'], hr: ['hr'] });
  });

  it('HR hires with a contract file nested, the staff member watches only their own leave; removing them keeps the file', async () => {
    const { hr, admin } = ex.as as Record<string, Caller>;
    const form = new FormData();
    form.append('file', new Blob(['contract-bytes'], { type: 'application/pdf' }), 'contract.pdf');
    const up = await fetch(`${s.rocket.url}/api/${ex.app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ex.tokens.hr}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const file = ((await up.json()) as { data: { id: string } }).data;
    const d = await hr!('post', '/department', { name: 'Files', code: 'FIL' });
    await seedAs(ex, 'employee-management.json', 'employee', {
      id: ex.ids.staff,
      first_name: 'Sam',
      last_name: 'Staff',
      email: 'staff@example.org',
      title: 'Clerk',
      department_id: d.body.data.id,
      hire_date: '2025-01-06',
    });
    const hired = await hr!('put', `/employee/${ex.ids.staff}`, {
      photo: file.id,
      employee_documents: { data: [{ title: 'Contract', type: 'contract', file: file.id }] },
    });
    expect(hired.status, JSON.stringify(hired.body)).toBe(200);
    const emp = hired.body.data.id;
    expect(hired.body.data.photo).toEqual({ id: file.id, filename: 'contract.pdf', size: 14, mime_type: 'application/pdf' });
    const docs = (await ex.as.staff!('get', `/employee/${emp}?include=employee_documents`)).body.data.employee_documents;
    expect(docs).toEqual([
      expect.objectContaining({ title: 'Contract', file: { id: file.id, filename: 'contract.pdf', size: 14, mime_type: 'application/pdf' } }),
    ]);

    const perms = (await admin!('get', '/_admin/permissions')).body.data as Array<{ id: string; entity: string; action: string }>;
    const read = perms.find((p) => p.entity === 'leave_request' && p.action === 'read')!;
    expect(
      (await admin!('put', `/_admin/permissions/${read.id}`, { entity: 'leave_request', action: 'read', roles: ['manager', 'hr'] })).status,
    ).toBe(200);
    const own = await admin!('post', '/_admin/permissions', {
      entity: 'leave_request',
      action: 'read',
      roles: ['employee'],
      conditions: [{ field: 'employee_id', operator: 'eq', value: '$user.id' }],
    });
    expect(own.status).toBe(201);
    const mine = await subscribe(ex, 'staff', 'entities=leave_request');
    const theirs = await subscribe(ex, 'mate', 'entities=leave_request');
    const asked = await ex.as.staff!('post', '/leave_request', {
      employee_id: emp,
      type: 'sick',
      start_date: '2026-10-01',
      end_date: '2026-10-02',
      days: 2,
    });
    expect(asked.status).toBe(201);
    // two days: approved at once by the workflow, before the response
    await mine.until(() => mine.events.filter((e) => e.event === 'change').length >= 2, 10_000);
    expect(mine.events.find((e) => e.event === 'change')!.data.record).toMatchObject({ start_date: '2026-10-01', end_date: '2026-10-02' });
    expect(mine.events.filter((e) => e.event === 'change').map((e) => [e.data.action, e.data.record.status])).toEqual([
      ['create', 'pending'],
      ['update', 'approved'],
    ]);
    expect((await ex.as.mate!('get', `/leave_request/${asked.body.data.id}`)).status).toBe(404);

    expect((await hr!('delete', `/employee/${emp}`)).status).toBe(200);
    await mine.until(() => mine.events.filter((e) => e.event === 'change').length >= 3, 10_000);
    expect(mine.events.filter((e) => e.event === 'change')[2]!.data).toMatchObject({ action: 'delete', id: asked.body.data.id });
    expect(theirs.events.filter((e) => e.event === 'change')).toEqual([]);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM documents WHERE employee_id = $1`, [emp])).toEqual([{ n: 0 }]);
    const bytes = await fetch(`${s.rocket.url}/api/${ex.app.name}/_files/${file.id}`, { headers: { authorization: `Bearer ${ex.tokens.staff}` } });
    expect(bytes.status).toBe(200);
    expect(await bytes.text()).toBe('contract-bytes');
  });
});

describe('skills-assessment', () => {
  let ex: Example;
  const js = '30000000-0000-0000-0000-000000000001';
  const q1 = '20000000-0000-0000-0000-000000000001';
  const q2 = '20000000-0000-0000-0000-000000000002';
  beforeAll(async () => {
    ex = await example('skills-assessment.json', { examiner: ['examiner'], cand: ['candidate'], other: ['candidate'] }, (doc) => {
      // grading from the answers: the attempt's score is computed from its answers on every write
      doc.rules.push(
        {
          entity: 'attempt',
          hook: 'before_write',
          type: 'expression',
          definition: {
            expression: "action == 'update' && record.status == 'submitted' && len(related.attempt_answers) == 0",
            message: 'Cannot submit an attempt without answers',
            related_load: [{ relation: 'attempt_answers' }],
          },
          priority: 10,
          active: true,
        },
        {
          entity: 'attempt',
          hook: 'before_write',
          type: 'computed',
          definition: {
            field: 'score',
            expression: "sum(related.attempt_answers, 'points_awarded')",
            related_load: [{ relation: 'attempt_answers' }],
          },
          priority: 11,
          active: true,
        },
        {
          entity: 'attempt',
          hook: 'before_write',
          type: 'computed',
          definition: { field: 'passed', expression: 'record.score >= 3' },
          priority: 12,
          active: true,
        },
      );
    });
    // the candidate user is a candidate record, and sees only their own attempts
    await seedAs(ex, 'skills-assessment.json', 'candidate', { id: ex.ids.cand, name: 'Cand Idate', email: 'cand@example.org' });
    const perms = (await ex.as.admin!('get', '/_admin/permissions')).body.data as Array<{ id: string; entity: string; action: string }>;
    for (const action of ['read', 'update'] as const) {
      const p = perms.find((x) => x.entity === 'attempt' && x.action === action)!;
      expect((await ex.as.admin!('put', `/_admin/permissions/${p.id}`, { entity: 'attempt', action, roles: ['examiner'] })).status).toBe(200);
      const own = await ex.as.admin!('post', '/_admin/permissions', {
        entity: 'attempt',
        action,
        roles: ['candidate'],
        conditions: [{ field: 'candidate_id', operator: 'eq', value: '$user.id' }],
      });
      expect(own.status).toBe(201);
    }
  });

  it('a candidate answers, submits; the grading workflow’s write recomputes the score from the answers, seen live and by the webhook', async () => {
    const { cand, examiner, other } = ex.as as Record<string, Caller>;
    const started = await cand!('post', '/attempt', {
      assessment_id: js,
      candidate_id: ex.ids.cand,
      started_at: '2026-03-01T10:00:00Z',
      attempt_answers: { data: [{ question_id: q1, selected_option: 'c', points_awarded: 2 }] },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.data.id;
    // on create nothing is loaded: the computed score is 0 until the next write
    expect(started.body.data).toMatchObject({ status: 'in_progress', score: 0, passed: false });
    expect((await other!('get', `/attempt/${id}`)).status).toBe(404);

    const mine = await subscribe(ex, 'cand', 'entities=attempt');
    const theirs = await subscribe(ex, 'other', 'entities=attempt');
    const more = await cand!('put', `/attempt/${id}`, { attempt_answers: { data: [{ question_id: q2, selected_option: 'a', points_awarded: 1 }] } });
    expect(more.status, JSON.stringify(more.body)).toBe(200);
    const submitted = await cand!('put', `/attempt/${id}`, { status: 'submitted' });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(200);
    expect(submitted.body.data).toMatchObject({ status: 'submitted', score: 3, passed: true, submitted_at: expect.any(String) });
    // the grading workflow ran before the response: a following read sees graded
    const graded = (await cand!('get', `/attempt/${id}?include=attempt_answers`)).body.data;
    expect(graded).toMatchObject({ status: 'graded', score: 3, passed: true });
    expect(graded.attempt_answers).toHaveLength(2);

    await mine.until(() => mine.events.some((e) => e.event === 'change' && e.data.entity === 'attempt' && e.data.record.status === 'graded'), 10_000);
    const seen = mine.events.filter((e) => e.event === 'change' && e.data.entity === 'attempt').map((e) => e.data.record.status);
    expect(seen).toEqual(['in_progress', 'submitted', 'graded']);
    expect(theirs.events.filter((e) => e.event === 'change')).toEqual([]);

    await eventually(
      () => ex.hooks('assessment-graded').length === 1 && ex.hooks('assessment-submitted').length === 1,
      'both attempt webhooks delivered',
    );
    const [g] = ex.hooks('assessment-graded');
    expect(g!.body).toMatchObject({ action: 'update', record: { id, status: 'graded', score: 3 }, old: { status: 'submitted' } });
    expect(g!.headers['x-source']).toBe('rocket-assessment');

    // graded is final for everyone, examiners included
    const again = await examiner!('put', `/attempt/${id}`, { status: 'submitted' });
    expect(again.status).toBe(422);
  });

  it('an empty attempt cannot be submitted (a rule over related rows), and no grading starts', async () => {
    const { cand } = ex.as as Record<string, Caller>;
    const started = await cand!('post', '/attempt', { assessment_id: js, candidate_id: ex.ids.cand, started_at: '2026-03-02T10:00:00Z' });
    expect(started.status).toBe(201);
    const id = started.body.data.id;
    const refused = await cand!('put', `/attempt/${id}`, { status: 'submitted' });
    expect(refused.status).toBe(422);
    expect(detail(refused)).toEqual({ rule: 'expression', message: 'Cannot submit an attempt without answers' });
    expect((await cand!('get', `/attempt/${id}`)).body.data.status).toBe('in_progress');
    // timing out needs no answers; the workflow does not grade a timed-out attempt
    const out = await cand!('put', `/attempt/${id}`, { status: 'timed_out' });
    expect(out.status).toBe(200);
    expect((await cand!('get', `/attempt/${id}`)).body.data).toMatchObject({ status: 'timed_out', score: 0, passed: false });
  });
});

describe('content-management', () => {
  let ex: Example;
  const frontend = '20000000-0000-0000-0000-000000000001';
  const react = '30000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('content-management.json', { writer: ['author'], reader: ['viewer'] }, (doc) => {
      for (const e of doc.entities) if (e.name === 'post' || e.name === 'comment') e.history = true;
    });
    // the editor joins by invite, as a newsroom would add one
    const invite = await ex.as.admin!('post', '/_admin/invites', { email: 'editor@example.org', roles: ['editor'] });
    expect(invite.status).toBe(201);
    const accepted = await s.client.post(`/api/${ex.app.name}/auth/accept-invite`, {
      body: { token: invite.body.data.token, password: 'secret-pw-1' },
    });
    expect(accepted.status).toBe(201);
    ex.ids.editor = accepted.body.data.user.id;
    ex.tokens.editor = accepted.body.data.access_token;
    const token = ex.tokens.editor;
    ex.as.editor = (method, path, body) => s.client[method](`/api/${ex.app.name}${path}`, { token, body });
    // the writer is an author record and edits only their own posts
    await seedAs(ex, 'content-management.json', 'author', { id: ex.ids.writer, name: 'Wri Ter', email: 'writer@example.org' });
    const perms = (await ex.as.admin!('get', '/_admin/permissions')).body.data as Array<{ id: string; entity: string; action: string }>;
    const upd = perms.find((p) => p.entity === 'post' && p.action === 'update')!;
    expect((await ex.as.admin!('put', `/_admin/permissions/${upd.id}`, { entity: 'post', action: 'update', roles: ['editor'] })).status).toBe(200);
    const own = await ex.as.admin!('post', '/_admin/permissions', {
      entity: 'post',
      action: 'update',
      roles: ['author'],
      conditions: [{ field: 'author_id', operator: 'eq', value: '$user.id' }],
    });
    expect(own.status).toBe(201);
  });

  it('a writer drafts with tags, submits by slug; the invited editor publishes; the site rebuild hook, history and live readers follow', async () => {
    const { writer, editor, reader } = ex.as as Record<string, Caller>;
    const feed = await subscribe(ex, 'reader', 'entities=post');
    const tag = await writer!('post', '/tag', { name: 'Flows', slug: 'flows' });
    expect(tag.status).toBe(201);
    const draft = await writer!('post', '/post', {
      title: 'Shipping Rocket Flows',
      body: 'A long body about flows.',
      author_id: ex.ids.writer,
      category_id: frontend,
      post_tags: { data: [{ id: react }, { id: tag.body.data.id }] },
    });
    expect(draft.status, JSON.stringify(draft.body)).toBe(201);
    expect(draft.body.data).toMatchObject({ slug: 'shipping-rocket-flows', status: 'draft', published_at: null });
    const id = draft.body.data.id;
    expect((await writer!('put', '/post/modern-css-layout-patterns', { title: 'Not mine' })).status).toBe(403);
    // the writer may not publish by hand
    const early = await writer!('put', '/post/shipping-rocket-flows', { status: 'review' });
    expect(early.status).toBe(200);
    const direct = await writer!('put', '/post/shipping-rocket-flows', { status: 'published' });
    expect(direct.status).toBe(403);
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    expect(inst).toMatchObject({
      workflow_name: 'post_review_approval',
      current_step: 'editor_review',
      context: { title: 'Shipping Rocket Flows', author_id: ex.ids.writer },
    });
    expect((await writer!('post', `/_workflows/${inst.id}/approve`)).status).toBe(403);
    const approved = await editor!('post', `/_workflows/${inst.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.data.status).toBe('completed');
    const post = (await reader!('get', `/post/shipping-rocket-flows?include=post_tags`)).body.data;
    expect(post).toMatchObject({ id, status: 'published' });
    expect(post.post_tags.map((t: { slug: string }) => t.slug).sort()).toEqual(['flows', 'react']);

    await eventually(() => ex.hooks('rebuild-site').length === 1, 'rebuild-site delivered once');
    const [hook] = ex.hooks('rebuild-site');
    expect(hook!.body).toMatchObject({
      action: 'update',
      record: { id, slug: 'shipping-rocket-flows', status: 'published' },
      old: { status: 'review' },
    });

    const hist = await writer!('get', `/post/${id}/_history`);
    expect(hist.status).toBe(200);
    expect(hist.body.data.map((e: any) => [e.action, e.actor.kind, e.actor.id, e.changes.status])).toEqual([
      ['update', 'system', ex.ids.editor, { from: 'review', to: 'published' }],
      ['update', 'user', ex.ids.writer, { from: 'draft', to: 'review' }],
      ['create', 'user', ex.ids.writer, { from: null, to: 'draft' }],
    ]);
    await feed.until(() => feed.events.some((e) => e.event === 'change' && e.data.record.status === 'published'), 10_000);
    expect(feed.events.filter((e) => e.event === 'change').map((e) => [e.data.action, e.data.record.status])).toEqual([
      ['create', 'draft'],
      ['update', 'review'],
      ['update', 'published'],
    ]);
  });

  it('comments come from readers only, also when an editor nests one in a post update', async () => {
    const { editor } = ex.as as Record<string, Caller>;
    const post = '40000000-0000-0000-0000-000000000001';
    const nested = await editor!('put', `/post/${post}`, {
      post_comments: { data: [{ author_name: 'Ed', author_email: 'ed@example.org', body: 'From the editor' }] },
    });
    expect(nested.status).toBe(403);
    expect(nested.body.error.message).toBe('Permission denied for create on comment (post_comments[0])');
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM comments WHERE body = 'From the editor'`)).toEqual([{ n: 0 }]);
  });

  it('a reader comments; the editor removes the post: its comments are soft-deleted with it, live and in history, and the waiting review fails', async () => {
    const { writer, editor, reader } = ex.as as Record<string, Caller>;
    const draft = await writer!('post', '/post', { title: 'Short lived', body: 'Gone soon.', author_id: ex.ids.writer });
    expect(draft.status).toBe(201);
    const id = draft.body.data.id;
    const c = await reader!('post', '/comment', { post_id: id, author_name: 'Rea Der', author_email: 'reader@example.org', body: 'Nice one' });
    expect(c.status).toBe(201);
    await eventually(() => ex.hooks('new-comment').some((d) => d.body.record.id === c.body.data.id), 'new-comment delivered');
    expect((await writer!('put', `/post/${id}`, { status: 'review' })).status).toBe(200);
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;

    const feed = await subscribe(ex, 'reader', 'entities=comment');
    expect((await reader!('delete', `/comment/${c.body.data.id}`)).status).toBe(403);
    expect((await editor!('delete', `/post/${id}`)).status).toBe(200);
    expect((await reader!('get', `/comment/${c.body.data.id}`)).status).toBe(404);
    const rows = await ex.runtime.db.query<{ gone: boolean }>(`SELECT deleted_at IS NOT NULL AS gone FROM comments WHERE id = $1`, [c.body.data.id]);
    expect(rows).toEqual([{ gone: true }]);
    await feed.until(() => feed.events.some((e) => e.event === 'change'), 10_000);
    expect(feed.events.filter((e) => e.event === 'change').map((e) => [e.data.action, e.data.id])).toEqual([['delete', c.body.data.id]]);
    const log = await ex.as.admin!('get', `/_admin/history?entity=comment&record_id=${c.body.data.id}`);
    expect(log.body.data.map((e: any) => [e.action, e.actor.kind, e.actor.id])).toEqual([
      ['delete', 'system', ex.ids.editor],
      ['create', 'user', ex.ids.reader],
    ]);

    // a deleted post's history is for admins only
    expect((await writer!('get', `/post/${id}/_history`)).status).toBe(404);
    const postLog = await ex.as.admin!('get', `/post/${id}/_history`);
    expect(postLog.status).toBe(200);
    expect(postLog.body.data.map((e: any) => e.action)).toEqual(['delete', 'update', 'create']);
    expect(postLog.body.data[0]).toMatchObject({ actor: { kind: 'user', id: ex.ids.editor } });

    const decided = await editor!('post', `/_workflows/${inst.id}/reject`);
    expect(decided.status).toBe(200);
    expect(decided.body.data).toMatchObject({ status: 'failed', current_step: 'back_to_draft' });
    const post = await ex.runtime.db.query<{ status: string }>(`SELECT status FROM posts WHERE id = $1`, [id]);
    expect(post).toEqual([{ status: 'review' }]);
  });
});

describe('helpdesk-ticketing: where features meet', () => {
  let ex: Example;
  const jane = '10000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('helpdesk-ticketing.json', { agent: ['agent'], lead: ['team_lead'], lead2: ['team_lead'] }, (doc) => {
      for (const e of doc.entities) if (e.name === 'ticket') e.history = true;
    });
  });

  it('a disabled lead’s token cannot decide; a lead demoted and refreshed cannot either', async () => {
    const { agent, admin } = ex.as as Record<string, Caller>;
    const t = await agent!('post', '/ticket', { title: 'Disabled approver', description: 'd', customer_id: jane, priority: 'critical' });
    const inst = (await pending(ex)).find((i) => i.context.record_id === t.body.data.id)!;
    expect((await admin!('put', `/_admin/users/${ex.ids.lead}`, { email: 'lead@example.org', active: false, roles: ['team_lead'] })).status).toBe(
      200,
    );
    const refused = await ex.as.lead!('post', `/_workflows/${inst.id}/approve`);
    expect(refused.status).toBe(401);
    expect((await ex.as.lead!('get', `/_workflows/${inst.id}`)).status).toBe(401);

    const login = await s.client.post(`/api/${ex.app.name}/auth/login`, { body: { email: 'lead2@example.org', password: 'secret-pw-1' } });
    expect((await admin!('put', `/_admin/users/${ex.ids.lead2}`, { email: 'lead2@example.org', roles: ['agent'] })).status).toBe(200);
    const refreshed = await s.client.post(`/api/${ex.app.name}/auth/refresh`, { body: { refresh_token: (login.body as any).data.refresh_token } });
    expect(refreshed.status).toBe(200);
    const token = (refreshed.body as any).data.access_token;
    const asRefreshed = await s.client.post(`/api/${ex.app.name}/_workflows/${inst.id}/approve`, { token });
    expect(asRefreshed.status).toBe(403);
    expect((await ex.as.agent!('get', `/ticket/${t.body.data.id}`)).body.data.status).toBe('open');
    expect((await admin!('get', `/_workflows/${inst.id}`)).body.data.status).toBe('running');
    // restore both for the next case
    await admin!('put', `/_admin/users/${ex.ids.lead}`, { email: 'lead@example.org', active: true, roles: ['team_lead'] });
    await admin!('put', `/_admin/users/${ex.ids.lead2}`, { email: 'lead2@example.org', roles: ['team_lead'] });
    await relogin(ex, 'lead');
    await relogin(ex, 'lead2');
    expect((await ex.as.lead2!('post', `/_workflows/${inst.id}/reject`)).status).toBe(200);
  });

  it('a sync webhook that refuses the workflow’s write fails the step: nothing written, the failure logged, the decision answered', async () => {
    const { agent, admin, lead } = ex.as as Record<string, Caller>;
    const guard = await admin!('post', '/_admin/webhooks', {
      entity: 'ticket',
      hook: 'before_write',
      async: false,
      url: `${hookBase}/${ex.app.name}/fail/assign-check`,
      condition: "record.status == 'assigned'",
      retry: { max_attempts: 1, backoff: 'linear' },
    });
    expect(guard.status, JSON.stringify(guard.body)).toBe(201);
    const t = await agent!('post', '/ticket', { title: 'Vetoed escalation', description: 'd', customer_id: jane, priority: 'critical' });
    const id = t.body.data.id;
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    const decided = await lead!('post', `/_workflows/${inst.id}/approve`);
    expect(decided.status).toBe(200);
    expect(decided.body.data).toMatchObject({ status: 'failed', current_step: 'assign_senior' });
    expect(decided.body.data.history).toEqual([expect.objectContaining({ step: 'notify_lead', status: 'approved', by: ex.ids.lead })]);
    const row = (await agent!('get', `/ticket/${id}`)).body.data;
    expect(row.status).toBe('open');
    const logs = (await admin!('get', `/_admin/webhook-logs?webhook_id=${guard.body.data.id}`)).body.data;
    expect(logs).toEqual([expect.objectContaining({ status: 'failed', response_status: 500, hook: 'before_write' })]);
    const hist = (await agent!('get', `/ticket/${id}/_history`)).body.data;
    expect(hist.map((e: any) => e.action)).toEqual(['create']);
    await admin!('delete', `/_admin/webhooks/${guard.body.data.id}`);
  });

  it('a deadline’s write is the system’s on behalf of no one, and history says so', async () => {
    const { agent } = ex.as as Record<string, Caller>;
    const t = await agent!('post', '/ticket', { title: 'Nobody answered', description: 'd', customer_id: jane, priority: 'critical' });
    const id = t.body.data.id;
    const inst = (await pending(ex)).find((i) => i.context.record_id === id)!;
    await ex.runtime.db.query(`UPDATE _workflow_instances SET current_step_deadline = NOW() - interval '1 minute' WHERE id = $1`, [inst.id]);
    await s.rocket.jobs.runNow('workflow-deadlines');
    const done = (await agent!('get', `/_workflows/${inst.id}`)).body.data;
    expect(done).toMatchObject({
      status: 'completed',
      history: [
        { step: 'notify_lead', status: 'timed_out' },
        { step: 'assign_senior', status: 'completed' },
      ],
    });
    expect((await agent!('get', `/ticket/${id}`)).body.data.status).toBe('assigned');
    const hist = (await agent!('get', `/ticket/${id}/_history`)).body.data;
    expect(hist[0]).toMatchObject({ action: 'update', actor: { kind: 'system', id: null }, changes: { status: { from: 'open', to: 'assigned' } } });
  });
});

describe('export and import of the examples', () => {
  it('each example re-imported changes nothing; its export imported into a new app exports the same', async () => {
    for (const file of ['helpdesk-ticketing.json', 'content-management.json', 'employee-management.json', 'skills-assessment.json']) {
      const ex = await example(file, {});
      const first = await ex.as.admin!('get', '/_admin/export');
      expect(first.status).toBe(200);
      const again = await ex.as.admin!('post', '/_admin/import', load(file, ex.app.name));
      expect(again.status).toBe(200);
      const { records: _r, ...summary } = again.body.data.summary;
      expect(summary, file).toEqual({
        entities: 0,
        relations: 0,
        rules: 0,
        state_machines: 0,
        workflows: 0,
        permissions: 0,
        webhooks: 0,
        ui_configs: 0,
      });
      const second = await ex.as.admin!('get', '/_admin/export');
      const strip = (d: any) => ({ ...d, exported_at: undefined });
      expect(strip(second.body.data), file).toEqual(strip(first.body.data));

      const copy = await s.createApp();
      const into = await s.client.post(`/api/${copy.name}/_admin/import`, { token: copy.token, body: first.body });
      expect(into.status).toBe(200);
      expect(into.body.data.errors, file).toBeUndefined();
      const copied = await s.client.get(`/api/${copy.name}/_admin/export`, { token: copy.token });
      expect(strip(copied.body.data), file).toEqual(strip(first.body.data));
    }
  });
});

describe('concurrent decisions on one approval', () => {
  it('two leads deciding the same escalation at once: one decision counts, the other is told it is no longer running', async () => {
    const ex = await example('helpdesk-ticketing.json', { agent: ['agent'], lead: ['team_lead'], lead2: ['team_lead'] });
    const jane = '10000000-0000-0000-0000-000000000001';
    for (let round = 0; round < 3; round++) {
      const t = await ex.as.agent!('post', '/ticket', { title: `Race ${round} here`, description: 'd', customer_id: jane, priority: 'critical' });
      const inst = (await pending(ex)).find((i) => i.context.record_id === t.body.data.id)!;
      const [a, b] = await Promise.all([
        ex.as.lead!('post', `/_workflows/${inst.id}/approve`),
        ex.as.lead2!('post', `/_workflows/${inst.id}/reject`),
      ]);
      expect(
        [a, b].filter((r) => r.status === 200),
        JSON.stringify([a.body, b.body]),
      ).toHaveLength(1);
      // the loser finds it completed (422), already on a later step that is no approval (422), or still advancing
      // past the decided step (409): never a second decision
      const lost = a.status === 200 ? b : a;
      expect([
        [422, 'workflow instance is not running (status: completed)'],
        [422, 'current step is not an approval step'],
        [409, `Workflow instance ${inst.id} was decided by another request meanwhile`],
      ]).toContainEqual([lost.status, lost.body.error.message]);
      const final = (await ex.as.admin!('get', `/_workflows/${inst.id}`)).body.data;
      expect(final.history.filter((h: { step: string }) => h.step === 'notify_lead')).toHaveLength(1);
      const won = a.status === 200 ? 'approved' : 'rejected';
      expect(final.history[0].status).toBe(won);
      expect((await ex.as.agent!('get', `/ticket/${t.body.data.id}`)).body.data.status).toBe(won === 'approved' ? 'assigned' : 'open');
    }
  });
});

describe('history and realtime of imported sample data', () => {
  it('sample rows of an entity with history are recorded as creates; a watcher sees them as created', async () => {
    const ex = await example('helpdesk-ticketing.json', { agent: ['agent'] }, (doc) => {
      for (const e of doc.entities) if (e.name === 'ticket') e.history = true;
      doc.sample_data = { customer: doc.sample_data.customer };
    });
    const feed = await subscribe(ex, 'agent', 'entities=ticket');
    const doc = load('helpdesk-ticketing.json', ex.app.name);
    const more = await ex.as.admin!('post', '/_admin/import', {
      version: 1,
      sample_data: { ticket: doc.sample_data.ticket.slice(0, 2) },
      entities: [doc.entities.find((e: { name: string }) => e.name === 'ticket')],
    });
    expect(more.body.data.summary.records).toBe(2);
    const hist = await ex.as.agent!('get', '/ticket/30000000-0000-0000-0000-000000000001/_history');
    expect(hist.status).toBe(200);
    expect(hist.body.data).toHaveLength(1);
    expect(hist.body.data[0]).toMatchObject({ action: 'create', changes: { status: { from: null, to: 'in_progress' } } });
    await feed.until(() => feed.events.filter((e) => e.event === 'change').length >= 2, 10_000);
    expect(feed.events.filter((e) => e.event === 'change').map((e) => [e.data.action, e.data.id])).toEqual([
      ['create', '30000000-0000-0000-0000-000000000001'],
      ['create', '30000000-0000-0000-0000-000000000002'],
    ]);
  });
});

describe('the employee example’s date rule', () => {
  it('is reported by the import and skipped, so leave dates in any order are stored', async () => {
    const app = await s.createApp();
    const imported = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body: load('employee-management.json', app.name) });
    expect(imported.status).toBe(200);
    expect(imported.body.data.summary.rules).toBe(3);
    expect(imported.body.data.errors).toEqual([expect.stringMatching(/^Rule \(leave_request\/before_write\): /)]);
    const rules = (await s.client.get(`/api/${app.name}/_admin/rules`, { token: app.token })).body as any;
    expect(rules.data.filter((r: { type: string }) => r.type === 'expression')).toEqual([]);
    const backwards = await s.client.post(`/api/${app.name}/leave_request`, {
      token: app.token,
      body: { employee_id: '20000000-0000-0000-0000-000000000001', type: 'unpaid', start_date: '2026-05-10', end_date: '2026-05-01', days: 1 },
    });
    expect(backwards.status).toBe(201);
  });
});

describe('a before_delete rule over related rows, before a cascade', () => {
  it('HR cannot remove an employee with open leave; once it is decided the removal cascades', async () => {
    const ex = await example('employee-management.json', { hr: ['hr'], boss: ['manager'] }, (doc) => {
      doc.rules.push({
        entity: 'employee',
        hook: 'before_delete',
        type: 'expression',
        definition: {
          expression: 'len(related.employee_leave_requests) > 0',
          message: 'Employee has open leave requests',
          related_load: [{ relation: 'employee_leave_requests', filter: { 'status.in': ['pending', 'manager_approved'] } }],
        },
        priority: 0,
        active: true,
      });
    });
    // Sarah (sample data) has one leave request waiting for HR
    const emp = '20000000-0000-0000-0000-000000000001';
    const open = await ex.runtime.db.query<{ id: string; status: string }>(`SELECT id, status FROM leave_requests WHERE employee_id = $1`, [emp]);
    expect(open.map((l) => l.status)).toEqual(['manager_approved']);
    const refused = await ex.as.hr!('delete', `/employee/${emp}`);
    expect(refused.status).toBe(422);
    expect(detail(refused)).toEqual({ rule: 'expression', message: 'Employee has open leave requests' });
    expect((await ex.as.hr!('get', `/employee/${emp}`)).status).toBe(200);
    expect((await ex.as.hr!('put', `/leave_request/${open[0]!.id}`, { status: 'rejected' })).status).toBe(200);
    expect((await ex.as.hr!('delete', `/employee/${emp}`)).status).toBe(200);
    expect((await ex.as.hr!('get', `/employee/${emp}`)).status).toBe(404);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM leave_requests WHERE employee_id = $1`, [emp])).toEqual([{ n: 0 }]);
  });
});

describe('a customer’s live ticket list while their permissions change', () => {
  it('narrowed to their own tickets, the stream keeps only those; with read taken away it closes', async () => {
    const ex = await example('helpdesk-ticketing.json', { agent: ['agent'], customer: ['customer'] });
    const feed = await subscribe(ex, 'customer', 'entities=ticket');
    const perms = (await ex.as.admin!('get', '/_admin/permissions')).body.data as Array<{ id: string; entity: string; action: string }>;
    const read = perms.find((p) => p.entity === 'ticket' && p.action === 'read')!;
    expect((await ex.as.admin!('put', `/_admin/permissions/${read.id}`, { entity: 'ticket', action: 'read', roles: ['agent'] })).status).toBe(200);
    const own = await ex.as.admin!('post', '/_admin/permissions', {
      entity: 'ticket',
      action: 'read',
      roles: ['customer'],
      conditions: [{ field: 'customer_id', operator: 'eq', value: '$user.id' }],
    });
    expect(own.status).toBe(201);
    expect((await ex.as.agent!('put', '/ticket/30000000-0000-0000-0000-000000000004', { priority: 'high' })).status).toBe(200);
    const mine = await ex.as.customer!('post', '/ticket', { title: 'Mine here', description: 'd', customer_id: ex.ids.customer });
    expect(mine.status).toBe(201);
    await feed.until(() => feed.events.some((e) => e.event === 'change' && e.data.id === mine.body.data.id), 10_000);
    expect(feed.events.filter((e) => e.event === 'change').map((e) => e.data.id)).toEqual([mine.body.data.id]);

    expect((await ex.as.admin!('delete', `/_admin/permissions/${own.body.data.id}`)).status).toBe(200);
    await feed.waitEnd(5_000);
    const again = await SseReader.open(s.rocket.url, `/api/${ex.app.name}/_realtime?entities=ticket`, {
      authorization: `Bearer ${ex.tokens.customer}`,
    });
    expect(again instanceof SseReader ? 200 : again.status).toBe(403);
  });
});

describe('an approval assigned through the record', () => {
  it('the ticket’s own agent decides a reopen request; other agents neither see nor decide it', async () => {
    const ex = await example('helpdesk-ticketing.json', { mine: ['agent'], other: ['agent'], customer: ['customer'] }, (doc) => {
      doc.workflows.push({
        name: 'reopen_review',
        trigger: { type: 'state_change', entity: 'ticket', field: 'status', to: 'open' },
        context: { record_id: 'record.id', owner: 'record.agent_id' },
        steps: [
          {
            id: 'owner_review',
            type: 'approval',
            assignee: { type: 'relation', path: 'context.owner' },
            timeout: '24h',
            on_approve: { goto: 'take_back' },
            on_reject: 'end',
          },
          {
            id: 'take_back',
            type: 'action',
            actions: [{ type: 'set_field', entity: 'ticket', record_id: 'context.record_id', field: 'status', value: 'assigned' }],
          },
        ],
      });
    });
    await seedAs(ex, 'helpdesk-ticketing.json', 'agent', {
      id: ex.ids.mine,
      name: 'Mi Ne',
      email: 'mine@support.example.org',
      department: 'support',
    });
    const t = await ex.as.customer!('post', '/ticket', { title: 'Reopen me later', description: 'd', customer_id: ex.ids.customer });
    const id = t.body.data.id;
    // a create with the default state starts the review too, with no owner yet: nobody but an admin may decide it
    const first = (await pending(ex)).find((i) => i.context.record_id === id)!;
    expect(first.context).toEqual({ record_id: id, owner: null });
    expect((await ex.as.mine!('get', '/_workflows/pending')).body.data).toEqual([]);
    expect((await ex.as.admin!('post', `/_workflows/${first.id}/reject`)).status).toBe(200);

    expect((await ex.as.mine!('put', `/ticket/${id}`, { agent_id: ex.ids.mine, status: 'assigned' })).status).toBe(200);
    for (const status of ['in_progress', 'resolved', 'open']) expect((await ex.as.mine!('put', `/ticket/${id}`, { status })).status).toBe(200);
    const inst = (await pending(ex)).find((i) => i.context.record_id === id && i.context.owner !== null)!;
    expect(inst.context.owner).toBe(ex.ids.mine);
    expect((await ex.as.other!('get', '/_workflows/pending')).body.data).toEqual([]);
    expect((await ex.as.mine!('get', '/_workflows/pending')).body.data.map((i: { id: string }) => i.id)).toEqual([inst.id]);
    expect((await ex.as.other!('post', `/_workflows/${inst.id}/approve`)).status).toBe(403);
    const ok = await ex.as.mine!('post', `/_workflows/${inst.id}/approve`);
    expect(ok.body.data).toMatchObject({
      status: 'completed',
      history: [
        { step: 'owner_review', status: 'approved', by: ex.ids.mine },
        { step: 'take_back', status: 'completed' },
      ],
    });
    expect((await ex.as.other!('get', `/ticket/${id}`)).body.data).toMatchObject({ status: 'assigned', agent_id: ex.ids.mine });
  });
});
