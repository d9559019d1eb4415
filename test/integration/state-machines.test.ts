import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let hookServer: Server;
let hookUrl: string;
const received: Array<{ method: string; body: string }> = [];
const uuid = { field: 'id', type: 'uuid', generated: true };

const { admin } = appCalls(() => ({ server: s, app }));
const rec = (method: 'post' | 'put' | 'get' | 'delete', path: string, body?: unknown, token = app.token) =>
  s.client[method](`/api/${app.name}/${path}`, { token, body });

beforeAll(async () => {
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;

  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const entities = [
    {
      name: 'invoice',
      table: 'invoices',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'sent_at', type: 'string' },
        { name: 'note', type: 'string' },
      ],
    },
    {
      name: 'audit',
      table: 'audits',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid' },
        { name: 'message', type: 'string', required: true },
        { name: 'at', type: 'timestamp' },
        { name: 'old_status', type: 'string' },
      ],
    },
    {
      name: 'task',
      table: 'tasks',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid' },
        { name: 'state', type: 'string' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('post', 'entities', e)).status).toBe(201);
  expect(
    (await admin('post', 'relations', { name: 'tasks', type: 'one_to_many', source: 'invoice', target: 'task', target_key: 'invoice_id' })).status,
  ).toBe(201);
  const machine = await admin('post', 'state-machines', {
    entity: 'invoice',
    field: 'status',
    definition: {
      initial: 'draft',
      transitions: [
        { from: 'draft', to: 'sent', guard: 'record.total > 0', actions: [{ type: 'set_field', field: 'sent_at', value: 'now' }] },
        {
          from: 'sent',
          to: 'paid',
          actions: [
            { type: 'set_field', field: 'note', value: 'thanks' },
            { type: 'create_record', entity: 'audit', data: { invoice_id: 'record.id', message: 'paid', at: 'now', old_status: 'old.status' } },
          ],
        },
        { from: ['draft', 'sent'], to: 'void', roles: ['Manager'] },
        { from: 'paid', to: 'refunded', guard: 'len(5) > 0' },
        {
          from: 'void',
          to: 'archived',
          actions: [
            { type: 'webhook', url: hookUrl },
            { type: 'send_event', event: 'invoice_archived' },
            // after the webhook action: its body is the final payload, so it carries this value
            { type: 'set_field', field: 'total', value: 0 },
          ],
        },
        { from: 'paid', to: 'disputed', actions: [{ type: 'create_record', entity: 'audit', data: { invoice_id: 'record.id' } }] },
      ],
    },
  });
  expect(machine.status, JSON.stringify(machine.body)).toBe(201);
  expect(
    (
      await admin('post', 'state-machines', {
        entity: 'task',
        field: 'state',
        definition: { initial: 'todo', transitions: [{ from: 'todo', to: 'done' }] },
      })
    ).status,
  ).toBe(201);
});
afterAll(async () => {
  await s?.close();
  hookServer?.close();
});

const invoice = async (body: Record<string, unknown>) => {
  const res = await rec('post', 'invoice', { name: 'i', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data.id as string;
};

describe('state machine admin API', () => {
  it('echoes from as a string or an array and validates definitions', async () => {
    const list = await admin('get', 'state-machines');
    const inv = list.body.data.find((m: any) => m.entity === 'invoice');
    expect(inv.active).toBe(true);
    expect(inv.definition.transitions[0].from).toBe('draft');
    expect(inv.definition.transitions[2].from).toEqual(['draft', 'sent']);
    const cases: Array<[unknown, string | RegExp]> = [
      [{ field: 'status', definition: { transitions: [{ from: 'a', to: 'b' }] } }, 'entity is required'],
      [{ entity: 'ghost', field: 'status', definition: { transitions: [{ from: 'a', to: 'b' }] } }, 'entity not found: ghost'],
      [{ entity: 'invoice', definition: { transitions: [{ from: 'a', to: 'b' }] } }, 'field is required'],
      [{ entity: 'invoice', field: 'status', definition: { transitions: [] } }, 'at least one transition is required'],
      [{ entity: 'invoice', field: 'nope', definition: { transitions: [{ from: 'a', to: 'b' }] } }, /field not found/],
      [
        { entity: 'invoice', field: 'status', definition: { transitions: [{ from: 'a', to: 'b', guard: 'record.total >' }] } },
        /^invalid expression: /,
      ],
      [
        { entity: 'invoice', field: 'status', definition: { transitions: [{ from: 'a', to: 'b', guard: 5 }] } },
        'transitions[0].guard must be an expression string',
      ],
      [{ entity: 'invoice', field: 'status', definition: { initial: 'zzz', transitions: [{ from: 'a', to: 'b' }] } }, /initial state/],
      [
        { entity: 'invoice', field: 'status', definition: { transitions: [{ from: 'a', to: 'b', actions: [{ type: 'explode' }] }] } },
        /type must be one of/,
      ],
      [
        {
          entity: 'invoice',
          field: 'status',
          definition: { transitions: [{ from: 'a', to: 'b', actions: [{ type: 'create_record', entity: 'ghost' }] }] },
        },
        /entity not found/,
      ],
      [{ entity: 'invoice', field: 'status', definition: { transitions: [{ from: 5, to: 'b' }] } }, /from must be/],
    ];
    for (const [body, message] of cases) {
      const res = await admin('post', 'state-machines', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      if (typeof message === 'string') expect(res.body.error.message).toBe(message);
      else expect(res.body.error.message).toMatch(message);
    }
    expect((await admin('get', 'state-machines')).body.data).toHaveLength(list.body.data.length);
    expect((await admin('get', 'state-machines/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('checks a webhook action URL as webhook objects are checked, naming the action', async () => {
    const at = 'transitions[0].actions[1].url';
    const forbidden = 'a link-local, unspecified or cloud metadata address, never reachable by webhooks';
    const cases: Array<[unknown, string]> = [
      [undefined, `${at} is required`],
      ['ftp://files.example.com/x', `${at} must start with http:// or https://`],
      ['http://', `${at} is not a valid URL`],
      ['http://169.254.169.254/latest/meta-data/', `${at}: 169.254.169.254 is ${forbidden}`],
      ['http://[fe80::1]/hook', `${at}: fe80::1 is ${forbidden}`],
      ['http://[::ffff:169.254.169.254]/', `${at}: ::ffff:a9fe:a9fe is ${forbidden}`],
    ];
    const before = (await admin('get', 'state-machines')).body.data.length;
    for (const [url, message] of cases) {
      const res = await admin('post', 'state-machines', {
        entity: 'invoice',
        field: 'status',
        definition: {
          transitions: [
            {
              from: 'a',
              to: 'b',
              actions: [
                { type: 'send_event', event: 'x' },
                { type: 'webhook', url },
              ],
            },
          ],
        },
      });
      expect(res.status, String(url)).toBe(422);
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message });
    }
    expect((await admin('get', 'state-machines')).body.data).toHaveLength(before);
  });

  it('updates and deletes a machine, and an inactive machine is not enforced', async () => {
    const created = await admin('post', 'state-machines', {
      entity: 'audit',
      field: 'message',
      definition: { initial: 'x', transitions: [{ from: 'x', to: 'y' }] },
    });
    const id = created.body.data.id;
    expect((await rec('post', 'audit', { message: 'nope' })).status).toBe(422);
    const upd = await admin('put', `state-machines/${id}`, {
      entity: 'audit',
      field: 'message',
      active: false,
      definition: { initial: 'x', transitions: [{ from: 'x', to: 'y' }] },
    });
    expect(upd.body.data).toMatchObject({ id, active: false });
    expect((await rec('post', 'audit', { message: 'nope' })).status).toBe(201);
    expect((await admin('delete', `state-machines/${id}`)).body.data).toEqual({ id, deleted: true });
  });
});

describe('enforcement', () => {
  it('runs the pinned scenario', async () => {
    const id = await invoice({ status: 'draft', total: 100 });
    const sent = await rec('put', `invoice/${id}`, { status: 'sent', total: 100 });
    expect(sent.status).toBe(200);
    expect(sent.body.data.sent_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect((await rec('put', `invoice/${id}`, { status: 'paid' })).status).toBe(200);

    const zero = await invoice({ status: 'draft', total: 0 });
    const blocked = await rec('put', `invoice/${zero}`, { status: 'sent', total: 0 });
    expect(blocked.status).toBe(422);
    expect(blocked.body.error.details).toEqual([
      { field: 'status', rule: 'state_machine', message: "Transition from 'draft' to 'sent' blocked by guard" },
    ]);
    const skip = await rec('put', `invoice/${zero}`, { status: 'paid' });
    expect(skip.status).toBe(422);
    expect(skip.body.error.details[0].message).toBe("Invalid transition from 'draft' to 'paid'");
    const wrongInitial = await rec('post', 'invoice', { status: 'sent', total: 5 });
    expect(wrongInitial.status).toBe(422);
    expect(wrongInitial.body.error.details).toEqual([
      { field: 'status', rule: 'state_machine', message: "Initial state must be 'draft', got 'sent'" },
    ]);
    expect((await runtime.db.query('SELECT status FROM invoices WHERE id = $1', [zero]))[0]).toEqual({ status: 'draft' });
  });

  it('guards see the merged record; updates without the state field are free', async () => {
    const id = await invoice({ status: 'draft', total: 50 });
    expect((await rec('put', `invoice/${id}`, { name: 'renamed' })).status).toBe(200);
    const noState = await invoice({ total: 1 }); // no state sent on create: nothing injected
    expect((await runtime.db.query('SELECT status FROM invoices WHERE id = $1', [noState]))[0]).toEqual({ status: null });
    const res = await rec('put', `invoice/${id}`, { status: 'sent' });
    expect(res.status).toBe(200);
    expect((await rec('put', `invoice/${id}`, { status: 'sent' })).status).toBe(200); // same value: nothing happens
  });

  it('a guard that errors blocks with the error', async () => {
    const id = await invoice({ status: 'draft', total: 5 });
    await rec('put', `invoice/${id}`, { status: 'sent' });
    await rec('put', `invoice/${id}`, { status: 'paid' });
    const res = await rec('put', `invoice/${id}`, { status: 'refunded' });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].message).toMatch(/^Guard evaluation error: /);
  });

  it('checks transition roles: admin passes, other roles get 403, matching role passes (case-insensitive)', async () => {
    const mk = async (email: string, roles: string[]) => {
      expect((await admin('post', 'users', { email, password: 'pw-123456', roles })).status).toBe(201);
      return s.client.login(`/api/${app.name}/auth/login`, email, 'pw-123456');
    };
    expect((await admin('post', 'permissions', { entity: 'invoice', action: 'update', roles: ['clerk', 'manager'] })).status).toBe(201);
    expect((await admin('post', 'permissions', { entity: 'invoice', action: 'read', roles: ['clerk', 'manager'] })).status).toBe(201);
    const clerk = await mk('clerk@x.io', ['clerk']);
    const manager = await mk('manager@x.io', ['manager']);
    const a = await invoice({ status: 'draft', total: 1 });
    const denied = await rec('put', `invoice/${a}`, { status: 'void' }, clerk);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'FORBIDDEN', message: "Transition from 'draft' to 'void' not allowed for your roles" });
    expect((await rec('put', `invoice/${a}`, { status: 'void' }, manager)).status).toBe(200);
    const b = await invoice({ status: 'draft', total: 1 });
    expect((await rec('put', `invoice/${b}`, { status: 'void' })).status).toBe(200);
  });

  it('create_record runs through the pipeline in the same transaction, resolving paths', async () => {
    const id = await invoice({ status: 'draft', total: 9 });
    await rec('put', `invoice/${id}`, { status: 'sent' });
    const paid = await rec('put', `invoice/${id}`, { status: 'paid' });
    expect(paid.body.data.note).toBe('thanks');
    const audits = await runtime.db.query<any>('SELECT message, old_status, at FROM audits WHERE invoice_id = $1', [id]);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ message: 'paid', old_status: 'sent' });
    expect(audits[0].at).toBeInstanceOf(Date);
  });

  it('a failing create_record fails the whole write, with actions[n] in the detail path', async () => {
    const id = await invoice({ status: 'draft', total: 9 });
    await rec('put', `invoice/${id}`, { status: 'sent' });
    await rec('put', `invoice/${id}`, { status: 'paid' });
    const before = await runtime.db.query('SELECT count(*)::int AS n FROM audits');
    const res = await rec('put', `invoice/${id}`, { status: 'disputed', note: 'changed' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'actions[0].message', rule: 'required', message: 'message is required' }]);
    expect(await runtime.db.query('SELECT count(*)::int AS n FROM audits')).toEqual(before);
    expect((await runtime.db.query<any>('SELECT status, note FROM invoices WHERE id = $1', [id]))[0]).toEqual({ status: 'paid', note: 'thanks' });
  });

  it('webhook actions are delivered after commit; events are kept in the outbox', async () => {
    const id = await invoice({ status: 'draft', total: 1 });
    await rec('put', `invoice/${id}`, { status: 'void' });
    received.length = 0;
    const res = await rec('put', `invoice/${id}`, { status: 'archived', note: 'bye' });
    expect(res.status).toBe(200);
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toHaveLength(1);
    expect(received[0]!.method).toBe('POST');
    expect(JSON.parse(received[0]!.body)).toEqual({ status: 'archived', note: 'bye', total: 0 });
    const events = await runtime.db.query<any>(`SELECT payload FROM _outbox WHERE kind = 'event'`);
    expect(events.some((e) => e.payload.event === 'invoice_archived' && e.payload.record_id === id)).toBe(true);
  });

  it('a webhook action sends a decimal a double cannot hold with all its digits', async () => {
    const payment = {
      name: 'payment',
      table: 'payments',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'state', type: 'string' },
        { name: 'amount', type: 'decimal', precision: 2 },
      ],
    };
    expect((await admin('post', 'entities', payment)).status).toBe(201);
    const definition = { initial: 'open', transitions: [{ from: 'open', to: 'sent', actions: [{ type: 'webhook', url: hookUrl }] }] };
    expect((await admin('post', 'state-machines', { entity: 'payment', field: 'state', definition })).status).toBe(201);
    const created = await rec('post', 'payment', { state: 'open' });
    received.length = 0;
    const raw = '{"state": "sent", "amount": 99999999999999.99}';
    const res = await s.client.put(`/api/${app.name}/payment/${created.body.data.id}`, { token: app.token, raw });
    expect(res.status).toBe(200);
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toBe('{"state":"sent","amount":99999999999999.99}');
    const [row] = await runtime.db.query<any>(
      `SELECT payload->'body'->>'amount' AS amount FROM _outbox WHERE kind = 'webhook' AND payload->'body' ? 'amount'`,
    );
    expect(row).toEqual({ amount: '99999999999999.99' });
  });

  it('a webhook action to a cloud-metadata address is refused before connecting and the refusal recorded', async () => {
    const probe = {
      name: 'probe',
      table: 'probes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'state', type: 'string' },
      ],
    };
    expect((await admin('post', 'entities', probe)).status).toBe(201);
    const definition = {
      initial: 'a',
      transitions: [{ from: 'a', to: 'b', actions: [{ type: 'webhook', url: 'http://169.254.169.254/latest/meta-data/' }] }],
    };
    const machine = await admin('post', 'state-machines', { entity: 'probe', field: 'state', definition });
    expect(machine.status).toBe(422);
    // A definition stored before the URL was checked at definition time: the call is still refused.
    await runtime.db.query(`INSERT INTO _state_machines (entity, field, definition, active) VALUES ('probe', 'state', $1::jsonb, true)`, [
      JSON.stringify(definition),
    ]);
    await runtime.reload();
    const created = await rec('post', 'probe', { state: 'a' });
    expect((await rec('put', `probe/${created.body.data.id}`, { state: 'b' })).status).toBe(200);
    let row: any;
    for (let i = 0; i < 100 && !row?.processed_at; i++) {
      [row] = await runtime.db.query<any>(
        `SELECT processed_at, error FROM _outbox WHERE kind = 'webhook' AND payload->>'url' LIKE 'http://169.254%'`,
      );
      if (!row?.processed_at) await new Promise((r) => setTimeout(r, 20));
    }
    expect(row.error).toBe('blocked address');
  });

  it('applies the state machine of a nested child entity', async () => {
    const bad = await rec('post', 'invoice', { name: 'n', tasks: { data: [{ state: 'todo' }, { state: 'done' }] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'tasks[1].state', rule: 'state_machine', message: "Initial state must be 'todo', got 'done'" }]);
    const ok = await rec('post', 'invoice', { name: 'n', tasks: { data: [{ state: 'todo' }] } });
    expect(ok.status).toBe(201);
    const task = (await runtime.db.query<any>('SELECT id FROM tasks WHERE invoice_id = $1', [ok.body.data.id]))[0];
    const skip = await rec('put', `invoice/${ok.body.data.id}`, { tasks: { data: [{ id: task.id, state: 'archived' }] } });
    expect(skip.status).toBe(422);
    expect(skip.body.error.details[0]).toEqual({
      field: 'tasks[0].state',
      rule: 'state_machine',
      message: "Invalid transition from 'todo' to 'archived'",
    });
    expect((await rec('put', `invoice/${ok.body.data.id}`, { tasks: { data: [{ id: task.id, state: 'done' }] } })).status).toBe(200);
  });
});
