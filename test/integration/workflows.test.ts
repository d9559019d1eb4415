import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { processDeadlines } from '../../src/workflows/runtime.js';
import { sweepEvents } from '../../src/workflows/events.js';
import { parseDuration } from '../../src/workflows/duration.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let adminId: string;
let hookServer: Server;
let hookBase: string;
const received: Array<{ method: string; url: string; body: string }> = [];
const uuid = { field: 'id', type: 'uuid', generated: true };
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

type Method = 'post' | 'put' | 'get' | 'delete';
const admin = (method: Method, path: string, body?: unknown, token = app.token) =>
  s.client[method](`/api/${app.name}/_admin/${path}`, { token, body });
const rec = (method: Method, path: string, body?: unknown, token = app.token) => s.client[method](`/api/${app.name}/${path}`, { token, body });
const wfr = (method: Method, path: string, token = app.token) => s.client[method](`/api/${app.name}/_workflows/${path}`, { token });

const workflow = async (def: Record<string, unknown>) => {
  const res = await admin('post', 'workflows', def);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; name: string };
};
const create = async (entity: string, body: Record<string, unknown>) => {
  const res = await rec('post', entity, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as Record<string, any>;
};
const instancesOf = (name: string) =>
  runtime.db.query<any>('SELECT * FROM _workflow_instances WHERE workflow_name = $1 ORDER BY created_at, id', [name]);
const user = async (email: string, roles: string[]) => {
  const res = await admin('post', 'users', { email, password: 'pw-123456', roles });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.data.id as string, token: await s.client.login(`/api/${app.name}/auth/login`, email, 'pw-123456') };
};

beforeAll(async () => {
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body });
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookBase = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;

  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  adminId = (await runtime.db.query<{ id: string }>(`SELECT id FROM _users WHERE email = 'admin@localhost'`))[0]!.id;
  const entities = [
    {
      name: 'purchase_order',
      table: 'purchase_orders',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'amount', type: 'decimal', precision: 2 },
        { name: 'reviewed', type: 'boolean' },
        { name: 'approved', type: 'boolean' },
        { name: 'owner_id', type: 'string' },
        { name: 'touched_at', type: 'timestamp', auto: 'update' },
      ],
    },
    {
      name: 'ticket',
      table: 'tickets',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'priority', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'escalated', type: 'boolean' },
        { name: 'count', type: 'int' },
      ],
    },
    {
      name: 'audit',
      table: 'audits',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'ref', type: 'string' },
        { name: 'message', type: 'string', required: true },
      ],
    },
    {
      name: 'ping',
      table: 'pings',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'state', type: 'string' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('post', 'entities', e)).status).toBe(201);
  const machines = [
    {
      entity: 'purchase_order',
      field: 'status',
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'pending_approval' },
          { from: 'pending_approval', to: 'approved' },
          { from: 'pending_approval', to: 'rejected' },
          { from: ['approved', 'rejected', 'pending_approval'], to: 'draft' },
        ],
      },
    },
    {
      entity: 'ping',
      field: 'state',
      definition: {
        initial: 'idle',
        transitions: [
          { from: 'idle', to: 'active', actions: [{ type: 'send_event', event: 'pinged' }] },
          { from: 'idle', to: 'looping', actions: [{ type: 'send_event', event: 'loop' }] },
        ],
      },
    },
  ];
  for (const m of machines) {
    const res = await admin('post', 'state-machines', m);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
});
afterAll(async () => {
  await s?.close();
  hookServer?.close();
});

describe('workflow admin API', () => {
  const valid = {
    name: 'crud_wf',
    trigger: { type: 'state_change', entity: 'nowhere', field: 'status', to: 'x' },
    steps: [
      { id: 'a', type: 'action', actions: [], then: 'b' },
      { id: 'b', type: 'action', then: { goto: 'end' } },
    ],
  };

  it('runs the pinned CRUD scenario and normalises goto values', async () => {
    const created = await admin('post', 'workflows', valid);
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body.data).toEqual({
      id,
      name: 'crud_wf',
      trigger: valid.trigger,
      context: {},
      active: true,
      steps: [
        { id: 'a', type: 'action', actions: [], then: { goto: 'b' } },
        { id: 'b', type: 'action', then: 'end' },
      ],
    });
    const list = await admin('get', 'workflows');
    expect(list.status).toBe(200);
    const row = list.body.data.find((w: any) => w.id === id);
    expect(row).toMatchObject({ name: 'crud_wf', active: true, context: {} });
    expect(row.created_at).toMatch(RFC3339);
    expect(row.updated_at).toMatch(RFC3339);
    const names = list.body.data.map((w: any) => w.name);
    expect(names).toEqual([...names].sort());
    const got = await admin('get', `workflows/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.data.steps[0].then).toEqual({ goto: 'b' });

    const upd = await admin('put', `workflows/${id}`, { ...valid, active: false, context: { x: 'record.id' } });
    expect(upd.status).toBe(200);
    expect(upd.body.data).toMatchObject({ id, active: false, context: { x: 'record.id' } });
    expect((await admin('get', `workflows/${id}`)).body.data.active).toBe(false);

    const del = await admin('delete', `workflows/${id}`);
    expect(del.status).toBe(200);
    expect(del.body.data).toEqual({ id, deleted: true });
    const gone = await admin('get', `workflows/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toEqual({ code: 'NOT_FOUND', message: `Workflow not found: ${id}` });
    expect((await admin('delete', `workflows/${id}`)).status).toBe(404);
    expect((await admin('put', `workflows/${id}`, valid)).status).toBe(404);
    expect((await admin('get', 'workflows/not-a-uuid')).status).toBe(404);
  });

  it('answers 409 for a duplicate name, 400 for a bad body and 403 for non-admins', async () => {
    const a = await workflow({ ...valid, name: 'dup_a' });
    await workflow({ ...valid, name: 'dup_b' });
    const dup = await admin('post', 'workflows', { ...valid, name: 'dup_a' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    expect((await admin('put', `workflows/${a.id}`, { ...valid, name: 'dup_b' })).status).toBe(409);
    expect((await admin('put', `workflows/${a.id}`, { ...valid, name: 'dup_a', active: false })).status).toBe(200);
    const bad = await s.client.post(`/api/${app.name}/_admin/workflows`, {
      token: app.token,
      raw: '{nope',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect((await admin('post', 'workflows', [1, 2])).status).toBe(400);
    const clerk = await user('wf-admin-clerk@x.io', ['clerk']);
    expect((await admin('get', 'workflows', undefined, clerk.token)).status).toBe(403);
    expect((await admin('post', 'workflows', { ...valid, name: 'x' }, clerk.token)).status).toBe(403);
  });

  it('validates definitions with the spec messages', async () => {
    const steps = valid.steps;
    const trigger = valid.trigger;
    const cases: Array<[Record<string, unknown>, string | RegExp]> = [
      [{ trigger, steps }, 'workflow name is required'],
      [{ name: '', trigger, steps }, 'workflow name is required'],
      [{ name: 'v', steps }, 'trigger type is required'],
      [{ name: 'v', trigger: { entity: 'x' }, steps }, 'trigger type is required'],
      [{ name: 'v', trigger: { type: 'state_change', field: 'status', to: 'x' }, steps }, 'trigger entity is required'],
      [{ name: 'v', trigger: { type: 'state_change', entity: 'po', to: 'x' }, steps }, 'trigger field is required'],
      [{ name: 'v', trigger: { type: 'state_change', entity: 'po', field: 'status' }, steps }, 'trigger to is required'],
      [{ name: 'v', trigger: { type: 'event' }, steps }, 'trigger event is required'],
      [{ name: 'v', trigger: { type: 'cron' }, steps }, 'invalid trigger type: cron (must be state_change or event)'],
      [{ name: 'v', trigger }, 'at least one step is required'],
      [{ name: 'v', trigger, steps: [] }, 'at least one step is required'],
      [{ name: 'v', trigger, steps: [{ type: 'action' }] }, 'step id is required'],
      [
        {
          name: 'v',
          trigger,
          steps: [
            { id: 'a', type: 'action' },
            { id: 'a', type: 'action' },
          ],
        },
        'duplicate step id: a',
      ],
      [{ name: 'v', trigger, steps: [{ id: 'a', type: 'loop' }] }, 'invalid step type: loop (must be action, condition, or approval)'],
      [{ name: 'v', trigger, steps: [{ id: 'a', type: 'action', then: 'zzz' }] }, 'goto target not found: zzz'],
      [{ name: 'v', trigger, steps: [{ id: 'a', type: 'approval', on_timeout: { goto: 'ghost' } }] }, 'goto target not found: ghost'],
      [{ name: 'v', trigger, steps: [{ id: 'a', type: 'condition' }] }, /expression is required/],
      [{ name: 'v', trigger, steps: [{ id: 'a', type: 'condition', expression: 'context.amount >' }] }, /^invalid expression: .* at \d+$/],
      [{ name: 'v', trigger, steps: [{ id: 'a', type: 'condition', expression: 'user.id == 1' }] }, /^invalid expression: /],
    ];
    const before = (await admin('get', 'workflows')).body.data.length;
    for (const [body, message] of cases) {
      const res = await admin('post', 'workflows', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      if (typeof message === 'string') expect(res.body.error.message).toBe(message);
      else expect(res.body.error.message).toMatch(message);
    }
    expect((await admin('get', 'workflows')).body.data).toHaveLength(before);
    // A webhook action's URL is checked as a webhook object's is (webhooks.md), in POST and PUT alike.
    const forbidden = 'a link-local, unspecified or cloud metadata address, never reachable by webhooks';
    const hookSteps = (url: unknown) => [
      {
        id: 'a',
        type: 'action',
        actions: [
          { type: 'set_field', field: 'x' },
          { type: 'webhook', url },
        ],
        then: 'b',
      },
      { id: 'b', type: 'action' },
    ];
    const urlCases: Array<[unknown, string]> = [
      [undefined, 'step a: actions[1].url is required'],
      ['ftp://files.example.com/x', 'step a: actions[1].url must start with http:// or https://'],
      ['https://', 'step a: actions[1].url is not a valid URL'],
      ['http://169.254.169.254/latest/meta-data/', `step a: actions[1].url: 169.254.169.254 is ${forbidden}`],
      ['http://[fe80::abcd]/', `step a: actions[1].url: fe80::abcd is ${forbidden}`],
      ['http://0.0.0.0:9/', `step a: actions[1].url: 0.0.0.0 is ${forbidden}`],
    ];
    const kept = await workflow({ name: 'v_hook', trigger, steps: hookSteps('https://hooks.example.com/ok') });
    for (const [url, message] of urlCases) {
      const res = await admin('post', 'workflows', { name: 'v_hook_bad', trigger, steps: hookSteps(url) });
      expect([res.status, res.body.error], String(url)).toEqual([422, { code: 'VALIDATION_FAILED', message }]);
      const put = await admin('put', `workflows/${kept.id}`, { name: 'v_hook', trigger, steps: hookSteps(url) });
      expect([put.status, put.body.error], String(url)).toEqual([422, { code: 'VALIDATION_FAILED', message }]);
    }
    expect((await admin('get', 'workflows')).body.data).toHaveLength(before + 1);
    expect((await admin('get', `workflows/${kept.id}`)).body.data.steps[0].actions[1].url).toBe('https://hooks.example.com/ok');
    // Event triggers need no entity; a bare "end" and {"goto": "end"} both echo as "end".
    const ev = await workflow({
      name: 'v_event',
      trigger: { type: 'event', event: 'x' },
      steps: [{ id: 'a', type: 'condition', expression: 'true', on_true: { goto: 'end' }, on_false: 'end' }],
    });
    expect((ev as any).steps[0]).toMatchObject({ on_true: 'end', on_false: 'end' });
  });
});

describe('state_change triggers and actions', () => {
  it('runs the pinned trigger + action scenario: set_field is visible on the next GET', async () => {
    await workflow({
      name: 'po_review',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'status', to: 'pending_approval' },
      context: { record_id: 'trigger.record_id' },
      steps: [
        {
          id: 'mark',
          type: 'action',
          actions: [{ type: 'set_field', entity: 'purchase_order', record_id: 'context.record_id', field: 'reviewed', value: true }],
        },
      ],
    });
    const po = await create('purchase_order', { title: 'p', status: 'draft', amount: 10 });
    const put = await rec('put', `purchase_order/${po.id}`, { status: 'pending_approval' });
    expect(put.status).toBe(200);
    expect(put.body.data.reviewed).toBeNull(); // the workflow's change is not in this response
    const got = await rec('get', `purchase_order/${po.id}`);
    expect(got.body.data.reviewed).toBe(true);
    expect(got.body.data.touched_at).not.toBe(put.body.data.touched_at); // auto:update applies to the workflow's write
    expect((await wfr('get', 'pending')).status).toBe(200);
    const [inst] = await instancesOf('po_review');
    expect(inst).toMatchObject({ status: 'completed', current_step: '', context: { record_id: po.id } });
    expect(inst.history).toEqual([{ step: 'mark', status: 'completed', at: expect.stringMatching(RFC3339) }]);
    const view = await wfr('get', inst.id);
    expect(view.status).toBe(200);
    expect(view.body.data).toEqual({
      id: inst.id,
      workflow_id: inst.workflow_id,
      workflow_name: 'po_review',
      status: 'completed',
      current_step: '',
      context: { record_id: po.id },
      history: inst.history,
      created_at: expect.stringMatching(RFC3339),
      updated_at: expect.stringMatching(RFC3339),
    });
    // back to draft and again: a second instance; an unchanged value starts nothing
    await rec('put', `purchase_order/${po.id}`, { status: 'draft' });
    await rec('put', `purchase_order/${po.id}`, { status: 'pending_approval' });
    expect(await instancesOf('po_review')).toHaveLength(2);
    await rec('put', `purchase_order/${po.id}`, { status: 'pending_approval', title: 'same status' });
    expect(await instancesOf('po_review')).toHaveLength(2);
    await admin('put', `workflows/${(await instancesOf('po_review'))[0].workflow_id}`, {
      name: 'po_review',
      active: false,
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'status', to: 'pending_approval' },
      steps: [{ id: 'mark', type: 'action' }],
    });
  });

  it('triggers on a field without a state machine (helpdesk priority), on create and update; set_field writes start nothing', async () => {
    await workflow({
      name: 'critical_ticket_escalation',
      trigger: { type: 'state_change', entity: 'ticket', field: 'priority', to: 'critical' },
      context: { record_id: 'record.id', title: 'record.title', literal: 'ticket', missing: 'record.nope.deeper' },
      steps: [
        {
          id: 'escalate',
          type: 'action',
          actions: [
            { type: 'set_field', entity: 'ticket', record_id: 'context.record_id', field: 'escalated', value: true },
            { type: 'set_field', entity: 'ticket', record_id: 'context.record_id', field: 'status', value: 'assigned' },
          ],
        },
      ],
    });
    await workflow({
      name: 'ticket_assigned',
      trigger: { type: 'state_change', entity: 'ticket', field: 'status', to: 'assigned' },
      steps: [{ id: 'noop', type: 'action', actions: [] }],
    });
    const t = await create('ticket', { title: 'down', priority: 'critical' });
    expect((await rec('get', `ticket/${t.id}`)).body.data).toMatchObject({ escalated: true, status: 'assigned' });
    const [inst] = await instancesOf('critical_ticket_escalation');
    expect(inst.context).toEqual({ record_id: t.id, title: 'down', literal: null, missing: null });
    expect(await instancesOf('ticket_assigned')).toHaveLength(0); // the workflow's own write started nothing

    const u = await create('ticket', { title: 'slow', priority: 'low' });
    expect(await instancesOf('critical_ticket_escalation')).toHaveLength(1);
    await rec('put', `ticket/${u.id}`, { priority: 'critical' });
    expect(await instancesOf('critical_ticket_escalation')).toHaveLength(2);
    await rec('put', `ticket/${u.id}`, { priority: 'critical', count: 3 });
    expect(await instancesOf('critical_ticket_escalation')).toHaveLength(2);
    // a client's write of the same status does start the other workflow
    const v = await create('ticket', { title: 'new' });
    await rec('put', `ticket/${v.id}`, { status: 'assigned' });
    expect(await instancesOf('ticket_assigned')).toHaveLength(1);
  });

  it('a create starts workflows on the values its field defaults write (the employee-management leave approval)', async () => {
    const entity = await admin('post', 'entities', {
      name: 'leave',
      table: 'leaves',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'days', type: 'int' },
        { name: 'status', type: 'string', default: 'pending' },
      ],
    });
    expect(entity.status, JSON.stringify(entity.body)).toBe(201);
    await workflow({
      name: 'leave_approval',
      trigger: { type: 'state_change', entity: 'leave', field: 'status', to: 'pending' },
      context: { record_id: 'record.id' },
      steps: [{ id: 'noop', type: 'action', actions: [] }],
    });
    const byDefault = await create('leave', { days: 2 });
    expect(byDefault.status).toBe('pending');
    await create('leave', { days: 3, status: 'approved' });
    const sent = await create('leave', { days: 4, status: 'pending' });
    const started = await instancesOf('leave_approval');
    expect(started.map((i: { context: { record_id: string } }) => i.context.record_id)).toEqual([byDefault.id, sent.id]);
    // an update that does not touch the field starts nothing
    expect((await rec('put', `leave/${byDefault.id}`, { days: 5 })).status).toBe(200);
    expect(await instancesOf('leave_approval')).toHaveLength(2);
  });

  it('starts workflows in name order', async () => {
    const steps = (n: string) => [
      { id: 's', type: 'action', actions: [{ type: 'create_record', entity: 'audit', data: { ref: 'context.id', message: n } }] },
    ];
    await workflow({
      name: 'order_b',
      trigger: { type: 'state_change', entity: 'ticket', field: 'title', to: 'ordered' },
      context: { id: 'record.id' },
      steps: steps('b'),
    });
    await workflow({
      name: 'order_a',
      trigger: { type: 'state_change', entity: 'ticket', field: 'title', to: 'ordered' },
      context: { id: 'record.id' },
      steps: steps('a'),
    });
    const t = await create('ticket', { title: 'ordered' });
    const audits = await runtime.db.query<any>('SELECT message FROM audits WHERE ref = $1 ORDER BY ctid', [t.id]);
    expect(audits.map((a) => a.message)).toEqual(['a', 'b']);
  });

  it('runs the pinned condition scenario: 5000 runs the action, 50000 pauses at needs_approval', async () => {
    await workflow({
      name: 'po_condition',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'conditional' },
      context: { record_id: 'trigger.record_id', amount: 'trigger.record.amount' },
      steps: [
        { id: 'check', type: 'condition', expression: 'context.amount > 10000', on_true: { goto: 'needs_approval' }, on_false: { goto: 'auto' } },
        { id: 'needs_approval', type: 'approval', assignee: { type: 'role', role: 'manager' }, timeout: '72h', on_approve: 'auto' },
        {
          id: 'auto',
          type: 'action',
          actions: [{ type: 'set_field', entity: 'purchase_order', record_id: 'context.record_id', field: 'approved', value: true }],
        },
      ],
    });
    const small = await create('purchase_order', { title: 'conditional', status: 'draft', amount: 5000 });
    expect((await rec('get', `purchase_order/${small.id}`)).body.data.approved).toBe(true);
    const big = await create('purchase_order', { title: 'conditional', status: 'draft', amount: 50000 });
    expect((await rec('get', `purchase_order/${big.id}`)).body.data.approved).toBeNull();
    const pending = await wfr('get', 'pending');
    const inst = pending.body.data.find((i: any) => i.context.record_id === big.id);
    expect(inst).toMatchObject({ workflow_name: 'po_condition', status: 'running', current_step: 'needs_approval', context: { amount: 50000 } });
    expect(inst.history).toEqual([{ step: 'check', status: 'on_true', at: expect.stringMatching(RFC3339) }]);
    const [done] = (await instancesOf('po_condition')).filter((i) => i.context.record_id === small.id);
    expect(done.history.map((h: any) => h.status)).toEqual(['on_false', 'completed']);
  });
});

describe('approvals', () => {
  let wfId: string;
  beforeAll(async () => {
    wfId = (
      await workflow({
        name: 'po_approval',
        trigger: { type: 'state_change', entity: 'purchase_order', field: 'status', to: 'pending_approval' },
        context: { record_id: 'trigger.record_id', amount: 'record.amount', owner: 'record.owner_id' },
        steps: [
          {
            id: 'mgr_approval',
            type: 'approval',
            assignee: { type: 'role', role: 'manager' },
            timeout: '72h',
            on_approve: { goto: 'do_approve' },
            on_reject: { goto: 'do_reject' },
            on_timeout: 'end',
          },
          {
            id: 'do_approve',
            type: 'action',
            then: 'end',
            actions: [{ type: 'set_field', entity: 'purchase_order', record_id: 'context.record_id', field: 'status', value: 'approved' }],
          },
          {
            id: 'do_reject',
            type: 'action',
            then: { goto: 'end' },
            actions: [{ type: 'set_field', entity: 'purchase_order', record_id: 'context.record_id', field: 'status', value: 'rejected' }],
          },
        ],
      })
    ).id;
  });

  const submit = async (extra: Record<string, unknown> = {}) => {
    const po = await create('purchase_order', { title: 'approval', status: 'draft', amount: 25000, ...extra });
    expect((await rec('put', `purchase_order/${po.id}`, { status: 'pending_approval' })).status).toBe(200);
    const pending = await wfr('get', 'pending');
    expect(pending.status).toBe(200);
    const inst = pending.body.data.find((i: any) => i.context.record_id === po.id && i.workflow_name === 'po_approval');
    expect(inst).toBeDefined();
    return { po, inst };
  };

  it('runs the pinned approval scenario', async () => {
    const { po, inst } = await submit();
    expect(inst.current_step).toBe('mgr_approval');
    expect(inst.status).toBe('running');
    expect(inst.workflow_id).toBe(wfId);
    expect(inst.current_step_deadline).toMatch(RFC3339);
    const hours = (Date.parse(inst.current_step_deadline) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71.9);
    expect(hours).toBeLessThan(72.1);
    expect((await wfr('get', inst.id)).status).toBe(200);
    const approved = await wfr('post', `${inst.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.data.status).toBe('completed');
    expect(approved.body.data.current_step).toBe('');
    expect(approved.body.data.current_step_deadline).toBeUndefined();
    expect(approved.body.data.history).toEqual([
      { step: 'mgr_approval', status: 'approved', by: adminId, at: expect.stringMatching(RFC3339) },
      { step: 'do_approve', status: 'completed', at: expect.stringMatching(RFC3339) },
    ]);
    expect((await rec('get', `purchase_order/${po.id}`)).body.data.status).toBe('approved');
    expect((await wfr('get', 'pending')).body.data.some((i: any) => i.id === inst.id)).toBe(false);
    // deciding again: 422 with the status
    const again = await wfr('post', `${inst.id}/reject`);
    expect(again.status).toBe(422);
    expect(again.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'workflow instance is not running (status: completed)' });
  });

  it('runs the pinned rejection scenario', async () => {
    const { po, inst } = await submit();
    const rejected = await wfr('post', `${inst.id}/reject`);
    expect(rejected.status).toBe(200);
    expect(rejected.body.data.status).toBe('completed');
    expect(rejected.body.data.history.map((h: any) => [h.step, h.status])).toEqual([
      ['mgr_approval', 'rejected'],
      ['do_reject', 'completed'],
    ]);
    expect((await rec('get', `purchase_order/${po.id}`)).body.data.status).toBe('rejected');
  });

  it('checks assignees: role, fixed user, relation path, admin; others get 403 and do not see the instance', async () => {
    const manager = await user('wf-manager@x.io', ['Manager']);
    const clerk = await user('wf-clerk@x.io', ['clerk']);
    const { inst } = await submit();
    expect((await wfr('get', 'pending', clerk.token)).body.data.some((i: any) => i.id === inst.id)).toBe(false);
    expect((await wfr('get', 'pending', manager.token)).body.data.some((i: any) => i.id === inst.id)).toBe(true);
    expect((await wfr('get', inst.id, clerk.token)).status).toBe(200);
    const denied = await wfr('post', `${inst.id}/approve`, clerk.token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    const ok = await wfr('post', `${inst.id}/approve`, manager.token);
    expect(ok.status).toBe(200);
    expect(ok.body.data.history[0].by).toBe(manager.id);

    const steps = (assignee: unknown) => [{ id: 'decide', type: 'approval', assignee }];
    await workflow({
      name: 'fixed_assignee',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'fixed' },
      context: { record_id: 'record.id' },
      steps: steps({ type: 'fixed', user: clerk.id }),
    });
    await workflow({
      name: 'relation_assignee',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'relation' },
      context: { record_id: 'record.id', owner: 'record.owner_id' },
      steps: steps({ type: 'relation', path: 'context.owner' }),
    });
    await workflow({
      name: 'relation_assignee_short',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'relation' },
      context: { owner: 'record.owner_id' },
      steps: steps({ type: 'relation', path: 'owner' }),
    });
    await workflow({
      name: 'no_assignee',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'anyone' },
      context: { record_id: 'record.id' },
      steps: steps(undefined),
    });

    await create('purchase_order', { title: 'fixed', status: 'draft' });
    const [fixed] = await instancesOf('fixed_assignee');
    expect((await wfr('get', 'pending', clerk.token)).body.data.map((i: any) => i.id)).toContain(fixed.id);
    expect((await wfr('post', `${fixed.id}/approve`, manager.token)).status).toBe(403);
    expect((await wfr('post', `${fixed.id}/approve`, clerk.token)).status).toBe(200);

    await create('purchase_order', { title: 'relation', status: 'draft', owner_id: manager.id });
    const [rel] = await instancesOf('relation_assignee');
    const [short] = await instancesOf('relation_assignee_short');
    const seen = (await wfr('get', 'pending', manager.token)).body.data.map((i: any) => i.id);
    expect(seen).toEqual(expect.arrayContaining([rel.id, short.id]));
    expect((await wfr('post', `${rel.id}/reject`, clerk.token)).status).toBe(403);
    expect((await wfr('post', `${rel.id}/reject`, manager.token)).body.data).toMatchObject({
      status: 'completed',
      history: [{ step: 'decide', status: 'rejected', by: manager.id }],
    });
    expect((await wfr('post', `${short.id}/approve`, manager.token)).status).toBe(200);

    await create('purchase_order', { title: 'anyone', status: 'draft' });
    const [free] = await instancesOf('no_assignee');
    expect((await wfr('post', `${free.id}/approve`, clerk.token)).status).toBe(200);

    // newest first
    await create('purchase_order', { title: 'fixed', status: 'draft' });
    const list = (await wfr('get', 'pending')).body.data;
    const times = list.map((i: any) => Date.parse(i.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('reports approve/reject errors in order: 404, 422 messages', async () => {
    const missing = await wfr('post', '00000000-0000-4000-8000-000000000000/approve');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'Workflow instance not found: 00000000-0000-4000-8000-000000000000' });
    expect((await wfr('post', 'nope/reject')).status).toBe(404);
    expect((await wfr('get', 'nope')).status).toBe(404);

    const wf = await workflow({
      name: 'mutable',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'mutable' },
      steps: [
        { id: 'wait', type: 'approval' },
        { id: 'other', type: 'action' },
      ],
    });
    await create('purchase_order', { title: 'mutable' });
    const [inst] = await instancesOf('mutable');
    const base = { name: 'mutable', trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'mutable' } };
    await admin('put', `workflows/${wf.id}`, { ...base, steps: [{ id: 'wait', type: 'action' }] });
    let res = await wfr('post', `${inst.id}/approve`);
    expect(res.status).toBe(422);
    expect(res.body.error.message).toBe('current step is not an approval step');
    await admin('put', `workflows/${wf.id}`, { ...base, steps: [{ id: 'renamed', type: 'approval' }] });
    res = await wfr('post', `${inst.id}/approve`);
    expect(res.body.error.message).toBe('current step not found: wait');
    // the pending list only shows instances paused at an approval step
    expect((await wfr('get', 'pending')).body.data.some((i: any) => i.id === inst.id)).toBe(false);
  });

  it('deletes instances: admin only, 404 when missing; deleting a workflow deletes its instances', async () => {
    const clerk = await user('wf-clerk2@x.io', ['clerk']);
    const { inst } = await submit();
    const denied = await wfr('delete', inst.id, clerk.token);
    expect(denied.status).toBe(403);
    const del = await wfr('delete', inst.id);
    expect(del.status).toBe(200);
    expect(del.body.data).toEqual({ deleted: true });
    expect((await wfr('get', inst.id)).status).toBe(404);
    expect((await wfr('delete', inst.id)).status).toBe(404);

    const wf = await workflow({
      name: 'doomed',
      trigger: { type: 'state_change', entity: 'purchase_order', field: 'title', to: 'doomed' },
      steps: [{ id: 'w', type: 'approval' }],
    });
    await create('purchase_order', { title: 'doomed' });
    expect(await instancesOf('doomed')).toHaveLength(1);
    expect((await admin('delete', `workflows/${wf.id}`)).status).toBe(200);
    expect(await instancesOf('doomed')).toHaveLength(0);
  });
});

describe('timeouts', () => {
  const due = async (name: string) => {
    const [inst] = await instancesOf(name);
    await runtime.db.query(`UPDATE _workflow_instances SET current_step_deadline = NOW() - interval '1 minute' WHERE id = $1`, [inst.id]);
    return inst.id as string;
  };

  it('parses durations', () => {
    expect(parseDuration('72h')).toBe(72 * 3_600_000);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    for (const bad of ['', '3d', 'h', '10', '1h 30m', '-1h', 'soon']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('the deadline job follows on_timeout once: a step, "end", or absent (failed)', async () => {
    const trigger = (to: string) => ({ type: 'state_change', entity: 'ticket', field: 'title', to });
    await workflow({
      name: 'to_step',
      trigger: trigger('timeout-step'),
      context: { id: 'record.id' },
      steps: [
        { id: 'wait', type: 'approval', timeout: '1h', on_timeout: { goto: 'late' } },
        { id: 'late', type: 'action', actions: [{ type: 'set_field', entity: 'ticket', record_id: 'context.id', field: 'status', value: 'late' }] },
      ],
    });
    await workflow({ name: 'to_end', trigger: trigger('timeout-end'), steps: [{ id: 'wait', type: 'approval', timeout: '30m', on_timeout: 'end' }] });
    await workflow({ name: 'to_absent', trigger: trigger('timeout-absent'), steps: [{ id: 'wait', type: 'approval', timeout: '1h30m' }] });
    await workflow({ name: 'no_deadline', trigger: trigger('no-deadline'), steps: [{ id: 'wait', type: 'approval', timeout: 'three days' }] });
    const t = await create('ticket', { title: 'timeout-step' });
    await create('ticket', { title: 'timeout-end' });
    await create('ticket', { title: 'timeout-absent' });
    await create('ticket', { title: 'no-deadline' });
    expect((await instancesOf('no_deadline'))[0].current_step_deadline).toBeNull();
    expect(await processDeadlines(runtime)).toBe(0); // nothing due yet
    const ids = [await due('to_step'), await due('to_end')];

    const [a, b] = await Promise.all([processDeadlines(runtime), processDeadlines(runtime)]);
    expect(a + b).toBe(2);
    // the server's job runner: a pass now times out what became due since
    ids.push(await due('to_absent'));
    await s.rocket.jobs.runNow('workflow-deadlines');
    expect(await processDeadlines(runtime)).toBe(0);

    const step = (await wfr('get', ids[0]!)).body.data;
    expect(step).toMatchObject({ status: 'completed', current_step: '' });
    expect(step.history).toEqual([
      { step: 'wait', status: 'timed_out', at: expect.stringMatching(RFC3339) },
      { step: 'late', status: 'completed', at: expect.stringMatching(RFC3339) },
    ]);
    expect((await rec('get', `ticket/${t.id}`)).body.data.status).toBe('late');
    const end = (await wfr('get', ids[1]!)).body.data;
    expect(end).toMatchObject({ status: 'completed', current_step: '', history: [{ step: 'wait', status: 'timed_out' }] });
    const absent = (await wfr('get', ids[2]!)).body.data;
    expect(absent).toMatchObject({ status: 'failed', current_step: 'wait', history: [{ step: 'wait', status: 'timed_out' }] });
    expect(absent.current_step_deadline).toBeUndefined();
  });
});

describe('failures', () => {
  it('an action error fails the instance (no history entry, step kept) while the request succeeds', async () => {
    await workflow({
      name: 'hook_fails',
      trigger: { type: 'state_change', entity: 'ticket', field: 'title', to: 'hook-fail' },
      context: { id: 'record.id' },
      steps: [
        { id: 'ok', type: 'action', actions: [{ type: 'webhook', url: `${hookBase}/ok` }], then: 'boom' },
        {
          id: 'boom',
          type: 'action',
          actions: [
            { type: 'webhook', url: `${hookBase}/fail`, method: 'PUT' },
            { type: 'set_field', entity: 'ticket', record_id: 'context.id', field: 'status', value: 'never' },
          ],
        },
      ],
    });
    received.length = 0;
    const res = await rec('post', 'ticket', { title: 'hook-fail' });
    expect(res.status).toBe(201);
    expect(received.map((r) => [r.method, r.url])).toEqual([
      ['POST', '/ok'],
      ['PUT', '/fail'],
    ]);
    expect(JSON.parse(received[0]!.body)).toEqual({ id: res.body.data.id });
    const [inst] = await instancesOf('hook_fails');
    const view = (await wfr('get', inst.id)).body.data;
    expect(view).toMatchObject({ status: 'failed', current_step: 'boom' });
    expect(view.history.map((h: any) => h.step)).toEqual(['ok']);
    expect(view.error).toMatch(/500/);
    expect((await rec('get', `ticket/${res.body.data.id}`)).body.data.status).toBeNull();
  });

  it('a webhook action to a link-local or unspecified address fails the instance without connecting', async () => {
    for (const [name, url] of [
      ['meta_hook', 'http://169.254.169.254/latest/meta-data/'],
      ['zero_hook', 'http://0.0.0.0:9/x'],
    ] as const) {
      const trigger = { type: 'state_change', entity: 'ticket', field: 'title', to: 'ssrf' };
      const steps = [{ id: 'call', type: 'action', actions: [{ type: 'webhook', url }] }];
      expect((await admin('post', 'workflows', { name, trigger, steps })).status).toBe(422);
      // Definitions stored before the URL was checked at definition time: the call is still refused.
      await runtime.db.query('INSERT INTO _workflows (name, trigger, context, steps, active) VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, true)', [
        name,
        JSON.stringify(trigger),
        '{}',
        JSON.stringify(steps),
      ]);
    }
    await runtime.reload();
    expect((await rec('post', 'ticket', { title: 'ssrf' })).status).toBe(201);
    for (const name of ['meta_hook', 'zero_hook']) {
      const [inst] = await instancesOf(name);
      expect(inst, name).toMatchObject({ status: 'failed', current_step: 'call' });
      expect(inst.error, name).toMatch(/failed: blocked address$/);
    }
  });

  it('fails on a bad set_field, a condition runtime error, and a cycle of more than 1000 steps', async () => {
    const trigger = (to: string) => ({ type: 'state_change', entity: 'ticket', field: 'title', to });
    await workflow({
      name: 'bad_field',
      trigger: trigger('bad-field'),
      context: { id: 'record.id' },
      steps: [{ id: 's', type: 'action', actions: [{ type: 'set_field', entity: 'ticket', record_id: 'context.id', field: 'nope', value: 1 }] }],
    });
    await workflow({
      name: 'bad_type',
      trigger: trigger('bad-field'),
      context: { id: 'record.id' },
      steps: [
        { id: 's', type: 'action', actions: [{ type: 'set_field', entity: 'ticket', record_id: 'context.id', field: 'count', value: 'many' }] },
      ],
    });
    await workflow({
      name: 'null_id',
      trigger: trigger('bad-field'),
      steps: [
        {
          id: 's',
          type: 'action',
          actions: [{ type: 'explode' }, { type: 'set_field', entity: 'ticket', record_id: 'context.id', field: 'count', value: 1 }],
        },
      ],
    });
    await workflow({ name: 'bad_condition', trigger: trigger('bad-field'), steps: [{ id: 'c', type: 'condition', expression: 'len(5) > 1' }] });
    await workflow({
      name: 'cycle',
      trigger: trigger('bad-field'),
      steps: [
        { id: 'c1', type: 'condition', expression: 'true', on_true: 'c2' },
        { id: 'c2', type: 'condition', expression: 'true', on_true: { goto: 'c1' } },
      ],
    });
    expect((await rec('post', 'ticket', { title: 'bad-field' })).status).toBe(201);
    for (const [name, step, error] of [
      ['bad_field', 's', /field not found: ticket\.nope/],
      ['bad_type', 's', /count/],
      ['null_id', 's', /record_id/],
      ['bad_condition', 'c', /condition error/],
      ['cycle', 'c1', /1000 steps/],
    ] as const) {
      const [inst] = await instancesOf(name);
      expect(inst, name).toMatchObject({ status: 'failed', current_step: step });
      expect(inst.error, name).toMatch(error);
    }
    expect((await instancesOf('cycle'))[0].history).toHaveLength(1000);
  });

  it('inactive workflows never start', async () => {
    await workflow({
      name: 'sleeping',
      active: false,
      trigger: { type: 'state_change', entity: 'ticket', field: 'title', to: 'sleep' },
      steps: [{ id: 's', type: 'action' }],
    });
    await create('ticket', { title: 'sleep' });
    expect(await instancesOf('sleeping')).toHaveLength(0);
  });
});

describe('events', () => {
  it('a state-machine send_event starts event workflows before the response; create_record stores the id', async () => {
    await workflow({
      name: 'on_ping',
      trigger: { type: 'event', event: 'pinged' },
      context: { record_id: 'trigger.record_id', name: 'record.name', state: 'trigger.record.state' },
      steps: [
        { id: 'is_active', type: 'condition', expression: "trigger.record.state == 'active' && trigger.entity == 'ping'", on_true: 'log' },
        {
          id: 'log',
          type: 'action',
          actions: [{ type: 'create_record', entity: 'audit', as: 'audit_id', data: { ref: 'context.record_id', message: 'pinged' } }],
        },
      ],
    });
    const p = await create('ping', { name: 'p1', state: 'idle' });
    expect((await rec('put', `ping/${p.id}`, { state: 'active' })).status).toBe(200);
    const [inst] = await instancesOf('on_ping');
    expect(inst).toMatchObject({ status: 'completed', context: { record_id: p.id, name: 'p1', state: 'active' } });
    const audits = await runtime.db.query<any>('SELECT id, message FROM audits WHERE ref = $1', [p.id]);
    expect(audits).toEqual([{ id: inst.context.audit_id, message: 'pinged' }]);
    const rows = await runtime.db.query<any>(`SELECT processed_at, payload FROM _outbox WHERE kind = 'event' AND payload->>'record_id' = $1`, [p.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].processed_at).toBeInstanceOf(Date);
    expect(rows[0].payload.depth).toBe(0);
  });

  it('the sweep job picks up event rows a crash left pending, once', async () => {
    const p = await create('ping', { name: 'p2', state: 'idle' });
    await runtime.db.query(`INSERT INTO _outbox (kind, payload, created_at) VALUES ('event', $1::jsonb, NOW() - interval '5 minutes')`, [
      JSON.stringify({ event: 'pinged', entity: 'ping', record_id: p.id, record: { ...p, state: 'active' }, old: null }),
    ]);
    await runtime.db.query(`UPDATE pings SET state = 'active' WHERE id = $1`, [p.id]);
    const [a, b] = await Promise.all([sweepEvents(runtime), sweepEvents(runtime)]);
    expect(a + b).toBe(1);
    expect(await sweepEvents(runtime)).toBe(0);
    const started = (await instancesOf('on_ping')).filter((i) => i.context.record_id === p.id);
    expect(started).toHaveLength(1);
    expect(started[0].status).toBe('completed');
  });

  it('bounds chains: an event that re-triggers itself stops at depth 8 and says so in the history', async () => {
    await workflow({
      name: 'looper',
      trigger: { type: 'event', event: 'loop' },
      context: { id: 'record_id' },
      steps: [{ id: 'again', type: 'action', actions: [{ type: 'send_event', event: 'loop', data: { from: 'context.id' } }] }],
    });
    const p = await create('ping', { name: 'loop', state: 'idle' });
    const res = await rec('put', `ping/${p.id}`, { state: 'looping' });
    expect(res.status).toBe(200);
    const chain = await instancesOf('looper');
    expect(chain).toHaveLength(8);
    expect(chain.every((i) => i.status === 'completed' && i.context.id === p.id)).toBe(true);
    expect(chain.map((i) => i.depth).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const last = chain.find((i) => i.depth === 8);
    expect(last.history).toEqual([
      { step: 'again', status: 'skipped', workflow: 'looper', reason: expect.stringMatching(/depth/), at: expect.stringMatching(RFC3339) },
      { step: 'again', status: 'completed', at: expect.stringMatching(RFC3339) },
    ]);
    const pending = await runtime.db.query<any>(
      `SELECT count(*)::int AS n FROM _outbox WHERE kind = 'event' AND processed_at IS NULL AND payload->>'event' = 'loop'`,
    );
    expect(pending[0].n).toBe(0);
  });
});

describe('definition checks in spec order; webhook action methods', () => {
  const trigger = { type: 'state_change', entity: 'ticket', field: 'title', to: 'method-check' };
  const stored = async (name: string) => (await runtime.db.query('SELECT 1 FROM _workflows WHERE name = $1', [name])).length;

  it('reports a duplicate step id before the type of that step', async () => {
    for (const second of [{ id: 'a', type: 'loop' }, { id: 'a' }, { id: 'a', type: 'condition' }]) {
      const res = await admin('post', 'workflows', { name: 'dup_order', trigger, steps: [{ id: 'a', type: 'action' }, second] });
      expect([res.status, res.body.error], JSON.stringify(second)).toEqual([422, { code: 'VALIDATION_FAILED', message: 'duplicate step id: a' }]);
    }
    expect(await stored('dup_order')).toBe(0);
  });

  it('refuses a webhook action method no request can use, on POST and PUT; a valid one in any case is sent', async () => {
    const steps = (method: unknown) => [
      { id: 'call', type: 'action', actions: [{ type: 'note' }, { type: 'webhook', url: `${hookBase}/method`, method }] },
    ];
    const kept = await workflow({ name: 'hook_method', trigger, context: { id: 'record.id' }, steps: steps('patch') });
    for (const method of ['FOO', 'GET /x', 5, true]) {
      const message = 'step call: actions[1].method must be one of GET, POST, PUT, PATCH, DELETE';
      const res = await admin('post', 'workflows', { name: 'hook_method_bad', trigger, steps: steps(method) });
      expect([res.status, res.body.error], String(method)).toEqual([422, { code: 'VALIDATION_FAILED', message }]);
      const put = await admin('put', `workflows/${kept.id}`, { name: 'hook_method', trigger, steps: steps(method) });
      expect([put.status, put.body.error], String(method)).toEqual([422, { code: 'VALIDATION_FAILED', message }]);
    }
    expect(await stored('hook_method_bad')).toBe(0);
    const [row] = await runtime.db.query<{ steps: any }>('SELECT steps FROM _workflows WHERE id = $1', [kept.id]);
    expect(row!.steps[0].actions[1].method).toBe('patch');
    // absent and empty mean POST
    for (const method of [undefined, null, '']) {
      const res = await admin('put', `workflows/${kept.id}`, { name: 'hook_method', trigger, context: { id: 'record.id' }, steps: steps(method) });
      expect(res.status, String(method)).toBe(200);
    }
    expect(
      (await admin('put', `workflows/${kept.id}`, { name: 'hook_method', trigger, context: { id: 'record.id' }, steps: steps('patch') })).status,
    ).toBe(200);
    received.length = 0;
    const t = await create('ticket', { title: 'method-check' });
    expect(received.map((r) => [r.method, r.url])).toEqual([['PATCH', '/method']]);
    expect(JSON.parse(received[0]!.body)).toEqual({ id: t.id });
    expect(await instancesOf('hook_method')).toMatchObject([{ status: 'completed' }]);
  });
});
