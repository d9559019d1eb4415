import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/**
 * Second black-box audit of state machines and workflows (state-machines.md, workflows.md) over HTTP.
 */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let receiver: Server;
let base: string;
const received: Array<{ method: string; url: string; body: string; type: string }> = [];
const uuid = { field: 'id', type: 'uuid', generated: true };
const { admin, rec } = appCalls(() => ({ server: s, app }));
type Method = 'post' | 'put' | 'get' | 'delete';
const wfr = (method: Method, path: string, token = app.token, body?: unknown) =>
  s.client[method](`/api/${app.name}/_workflows/${path}`, { token, body });
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const ok = async (p: Promise<{ status: number; body: any }>, status = 201) => {
  const res = await p;
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body.data;
};
const user = async (email: string, roles: string[]) => {
  const res = await admin('post', 'users', { email, password: 'pw-123456', roles });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.data.id as string, token: await s.client.login(`/api/${app.name}/auth/login`, email, 'pw-123456') };
};
const instancesOf = (name: string) =>
  runtime.db.query<{ id: string; status: string; current_step: string; history: any[]; context: any; error: string | null }>(
    'SELECT id, status, current_step, history, context, error FROM _workflow_instances WHERE workflow_name = $1 ORDER BY created_at, id',
    [name],
  );

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body, type: String(req.headers['content-type'] ?? '') });
      res.statusCode = 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  await ok(
    admin('post', 'entities', {
      name: 'doc',
      table: 'docs',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'phase', type: 'string' },
        { name: 'total', type: 'integer' },
        { name: 'sent_at', type: 'string' },
        { name: 'note', type: 'string' },
        { name: 'reviewed', type: 'boolean' },
      ],
    }),
  );
  await ok(
    admin('post', 'entities', {
      name: 'item',
      table: 'items',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'doc_id', type: 'uuid' },
        { name: 'state', type: 'string' },
      ],
    }),
  );
  await ok(admin('post', 'relations', { name: 'items', type: 'one_to_many', source: 'doc', target: 'item', target_key: 'doc_id' }));
  await ok(
    admin('post', 'state-machines', {
      entity: 'doc',
      field: 'status',
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'sent', guard: 'record.total > 0', actions: [{ type: 'set_field', field: 'sent_at', value: 'now' }] },
          { from: ['sent'], to: 'paid', roles: ['Accountant'] },
          { from: ['draft', 'sent'], to: 'void', guard: "user.roles.length >= 0 && old.status != 'x' && user.id != ''" },
          { from: 'paid', to: 'archived', guard: 'record.note.length > 3' },
        ],
      },
    }),
  );
  await ok(
    admin('post', 'state-machines', {
      entity: 'doc',
      field: 'phase',
      definition: { initial: 'one', transitions: [{ from: 'one', to: 'two' }] },
    }),
  );
  await ok(
    admin('post', 'state-machines', { entity: 'item', field: 'state', definition: { initial: 'new', transitions: [{ from: 'new', to: 'done' }] } }),
  );
});
afterAll(async () => {
  await s?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('state machines: evaluation', () => {
  it('combines the errors of several machines on one entity (create and update)', async () => {
    const bad = await rec('post', 'doc', { name: 'a', status: 'sent', phase: 'two' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([
      { field: 'status', rule: 'state_machine', message: "Initial state must be 'draft', got 'sent'" },
      { field: 'phase', rule: 'state_machine', message: "Initial state must be 'one', got 'two'" },
    ]);
    const d = await ok(rec('post', 'doc', { name: 'a', status: 'draft', phase: 'one', total: 0 }));
    const upd = await rec('put', `doc/${d.id}`, { status: 'sent', phase: 'three' });
    expect(upd.status).toBe(422);
    expect(upd.body.error.details).toEqual([
      { field: 'status', rule: 'state_machine', message: "Transition from 'draft' to 'sent' blocked by guard" },
      { field: 'phase', rule: 'state_machine', message: "Invalid transition from 'one' to 'three'" },
    ]);
  });

  it('a null state on create is "" against initial; null on update is a transition to ""', async () => {
    const bad = await rec('post', 'doc', { name: 'a', status: null });
    expect(bad.status, JSON.stringify(bad.body)).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'status', rule: 'state_machine', message: "Initial state must be 'draft', got ''" }]);
    const d = await ok(rec('post', 'doc', { name: 'a', status: 'draft' }));
    const upd = await rec('put', `doc/${d.id}`, { status: null });
    expect(upd.status, JSON.stringify(upd.body)).toBe(422);
    expect(upd.body.error.details).toEqual([{ field: 'status', rule: 'state_machine', message: "Invalid transition from 'draft' to ''" }]);
  });

  it('no initial injected when absent; same value is no transition', async () => {
    const d = await ok(rec('post', 'doc', { name: 'a' }));
    expect(d.status ?? null).toBeNull();
    const d2 = await ok(rec('post', 'doc', { name: 'a', status: 'draft', total: 0 }));
    const same = await rec('put', `doc/${d2.id}`, { status: 'draft' });
    expect(same.status).toBe(200);
  });

  it('set_field now is RFC 3339 seconds UTC; roles case-insensitive; guard sees old and user', async () => {
    const d = await ok(rec('post', 'doc', { name: 'a', status: 'draft', total: 5 }));
    const sent = await ok(rec('put', `doc/${d.id}`, { status: 'sent' }), 200);
    expect(sent.sent_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const acc = await user('acc@x.io', ['accountant']);
    const other = await user('other@x.io', ['clerk']);
    for (const action of ['read', 'create', 'update'])
      await ok(admin('post', 'permissions', { entity: 'doc', action, roles: ['accountant', 'clerk'] }));
    const denied = await s.client.put(`/api/${app.name}/doc/${d.id}`, { token: other.token, body: { status: 'paid' } });
    expect(denied.status, JSON.stringify(denied.body)).toBe(403);
    expect(denied.body.error.message).toBe("Transition from 'sent' to 'paid' not allowed for your roles");
    const allowed = await s.client.put(`/api/${app.name}/doc/${d.id}`, { token: acc.token, body: { status: 'paid' } });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    const d3 = await ok(rec('post', 'doc', { name: 'a', status: 'draft' }));
    expect((await rec('put', `doc/${d3.id}`, { status: 'void' })).status).toBe(200);
  });

  it('nested child state machines on nested update', async () => {
    const d = await ok(rec('post', 'doc', { name: 'n', items: { data: [{ state: 'new' }, { state: 'new' }] } }));
    const items = await runtime.db.query<{ id: string }>('SELECT id FROM items WHERE doc_id = $1 ORDER BY id', [d.id]);
    const r = await rec('put', `doc/${d.id}`, {
      status: 'bogus',
      items: {
        data: [
          { id: items[0]!.id, state: 'done' },
          { id: items[1]!.id, state: 'gone' },
        ],
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.error.details).toEqual([
      { field: 'status', rule: 'state_machine', message: "Invalid transition from '' to 'bogus'" },
      { field: 'items[1].state', rule: 'state_machine', message: "Invalid transition from 'new' to 'gone'" },
    ]);
  });
});

describe('state machines: admin API', () => {
  it('bad input', async () => {
    const cases: Array<[unknown, number, string | RegExp]> = [
      [{}, 422, 'entity is required'],
      [{ entity: 'nope', field: 'x' }, 422, 'entity not found: nope'],
      [{ entity: 'doc' }, 422, 'field is required'],
      [{ entity: 'doc', field: 'note' }, 422, 'at least one transition is required'],
      [{ entity: 'doc', field: 'note', definition: { transitions: [] } }, 422, 'at least one transition is required'],
      [{ entity: 'doc', field: 'note', definition: { transitions: [{ from: 'a', to: 'b', guard: '1 +' }] } }, 422, /^invalid expression/],
      [[1], 400, /./],
      ['x', 400, /./],
    ];
    for (const [body, status, msg] of cases) {
      const r = await admin('post', 'state-machines', body);
      expect(r.status, JSON.stringify([body, r.body])).toBe(status);
      if (typeof msg === 'string') expect(r.body.error.message, JSON.stringify(r.body)).toBe(msg);
      else expect(r.body.error.message).toMatch(msg);
    }
    const m = await ok(
      admin('post', 'state-machines', {
        entity: 'doc',
        field: 'note',
        definition: {
          transitions: [
            { from: ['a'], to: 'b' },
            { from: ['a', 'b'], to: 'c' },
          ],
        },
      }),
    );
    expect(m.active).toBe(true);
    expect(m.definition.transitions[0].from).toBe('a');
    expect(m.definition.transitions[1].from).toEqual(['a', 'b']);
    const got = await ok(admin('get', `state-machines/${m.id}`), 200);
    expect(got.definition.transitions[0].from).toBe('a');
    expect(got.active).toBe(true);
    const put = await ok(
      admin('put', `state-machines/${m.id}`, { entity: 'doc', field: 'note', definition: { transitions: [{ from: 'x', to: 'y' }] } }),
      200,
    );
    expect(put.active).toBe(true);
    const putBad = await admin('put', `state-machines/${m.id}`, { entity: 'doc', field: 'note', definition: { transitions: [] } });
    expect(putBad.status).toBe(422);
    expect((await admin('put', `state-machines/${m.id}`, 'x')).status).toBe(400);
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [method, path] of [
      ['get', missing],
      ['put', missing],
      ['delete', missing],
      ['get', 'abc'],
      ['delete', 'abc'],
    ] as const) {
      const r = await admin(
        method,
        `state-machines/${path}`,
        method === 'put' ? { entity: 'doc', field: 'note', definition: { transitions: [{ from: 'x', to: 'y' }] } } : undefined,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(404);
      expect(r.body.error.message).toBe(`State machine not found: ${path}`);
    }
    const del = await ok(admin('delete', `state-machines/${m.id}`), 200);
    expect(del).toEqual({ id: m.id, deleted: true });
    const list = await ok(admin('get', 'state-machines'), 200);
    expect(list.map((x: any) => x.entity)).toEqual([...list.map((x: any) => x.entity)].sort());
    for (const row of list) expect(Object.keys(row).sort()).toEqual(['active', 'created_at', 'definition', 'entity', 'field', 'id', 'updated_at']);
  });
});

describe('workflows', () => {
  it('context, condition env, timestamps and instance shape', async () => {
    await ok(
      admin('post', 'workflows', {
        name: 'ctx',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'ctx' },
        context: { a: 'record_id', b: 'trigger.record_id', c: 'record.name', d: 'trigger.record.total', e: 'doc', f: 'record.missing.x' },
        steps: [
          {
            id: 'c1',
            type: 'condition',
            expression: "record.name == 'ctxname' && trigger.record.total == 7 && context.c == 'ctxname'",
            on_true: 'wait',
            on_false: 'end',
          },
          { id: 'wait', type: 'approval', timeout: '1h' },
        ],
      }),
    );
    const d = await ok(rec('post', 'doc', { name: 'ctxname', total: 7, note: 'ctx' }));
    const [inst] = await instancesOf('ctx');
    expect(inst!.context).toEqual({ a: d.id, b: d.id, c: 'ctxname', d: 7, e: null, f: null });
    expect(inst!.current_step).toBe('wait');
    const got = await ok(wfr('get', inst!.id), 200);
    expect(got.created_at).toMatch(RFC3339);
    expect(got.updated_at).toMatch(RFC3339);
    expect(got.current_step_deadline).toMatch(RFC3339);
    expect(got.history[0]).toMatchObject({ step: 'c1', status: 'on_true' });
    expect(got.history[0].at).toMatch(RFC3339);
    const approved = await ok(wfr('post', `${inst!.id}/approve`), 200);
    expect(approved.status).toBe('completed');
    expect(approved.current_step).toBe('');
    expect(approved).not.toHaveProperty('current_step_deadline');
    const again = await wfr('post', `${inst!.id}/reject`);
    expect(again.status).toBe(422);
    expect(again.body.error.message).toBe('workflow instance is not running (status: completed)');
  });

  it('bad ids and bodies on runtime endpoints', async () => {
    for (const [m, p] of [
      ['get', 'abc'],
      ['post', 'abc/approve'],
      ['post', 'abc/reject'],
      ['delete', 'abc'],
    ] as const) {
      const r = await wfr(m, p);
      expect(r.status, `${m} ${p} ${JSON.stringify(r.body)}`).toBe(404);
      expect(r.body.error.code).toBe('NOT_FOUND');
    }
    await ok(
      admin('post', 'workflows', {
        name: 'bodies',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'bodies' },
        steps: [{ id: 'w', type: 'approval' }],
      }),
    );
    await ok(rec('post', 'doc', { name: 'x', note: 'bodies' }));
    const [inst] = await instancesOf('bodies');
    const weird = await s.client.post(`/api/${app.name}/_workflows/${inst!.id}/approve`, { token: app.token, body: [1, 2] });
    // "no body": one that is sent anyway is ignored
    expect(weird.status).toBe(200);
    expect(weird.body.data.status).toBe('completed');
    const raw = await fetch(`${s.rocket.url}/api/${app.name}/_workflows/${inst!.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
      body: '{bad',
    });
    expect(raw.status).toBe(400);
    expect((await raw.json()).error.code).toBe('INVALID_PAYLOAD');
    const clerk = await user('clerk2@x.io', ['clerk']);
    const del = await wfr('delete', inst!.id, clerk.token);
    expect(del.status).toBe(403);
  });

  it('definition changed or deleted while an instance runs', async () => {
    const wf = await ok(
      admin('post', 'workflows', {
        name: 'changing',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'changing' },
        steps: [
          { id: 'w', type: 'approval', timeout: '1h', on_approve: 'a' },
          { id: 'a', type: 'action', actions: [] },
        ],
      }),
    );
    await ok(rec('post', 'doc', { name: 'x', note: 'changing' }));
    const [inst] = await instancesOf('changing');
    await ok(
      admin('put', `workflows/${wf.id}`, {
        name: 'changing2',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'changing' },
        steps: [
          { id: 'w', type: 'approval', on_approve: 'b' },
          { id: 'b', type: 'action', then: 'end' },
        ],
      }),
      200,
    );
    expect((await ok(wfr('get', inst!.id), 200)).current_step).toBe('w');
    const pend = await ok(wfr('get', 'pending'), 200);
    expect(pend.map((i: any) => i.id)).toContain(inst!.id);
    const done = await ok(wfr('post', `${inst!.id}/approve`), 200);
    expect(done.status).toBe('completed');
    expect(done.history.map((h: any) => h.step)).toEqual(['w', 'b']);
    await ok(admin('delete', `workflows/${wf.id}`), 200);
    expect((await wfr('get', inst!.id)).status).toBe(404);
  });

  it('state_change triggers only on a changed non-null value; set_field writes go through type validation', async () => {
    await ok(
      admin('post', 'workflows', {
        name: 'trig',
        trigger: { type: 'state_change', entity: 'doc', field: 'total', to: '42' },
        context: { id: 'record.id' },
        steps: [
          { id: 's', type: 'action', actions: [{ type: 'set_field', entity: 'doc', record_id: 'context.id', field: 'reviewed', value: 'notabool' }] },
        ],
      }),
    );
    const d = await ok(rec('post', 'doc', { name: 'x', total: 42 }));
    await ok(rec('put', `doc/${d.id}`, { total: 42 }), 200);
    const insts = await instancesOf('trig');
    expect(insts.length).toBe(1);
    expect(insts[0]!.status).toBe('failed');
    expect(insts[0]!.error).toContain('reviewed must be boolean');
    expect(insts[0]!.current_step).toBe('s');
  });

  it('triggers from nested children and state-machine set_field; events see old; workflow writes pass rules', async () => {
    await ok(
      admin('post', 'workflows', {
        name: 'child',
        trigger: { type: 'state_change', entity: 'item', field: 'state', to: 'done' },
        context: { id: 'record.id', doc: 'record.doc_id' },
        steps: [{ id: 's', type: 'action', actions: [] }],
      }),
    );
    const d = await ok(rec('post', 'doc', { name: 'n', items: { data: [{ state: 'new' }] } }));
    const items = await runtime.db.query<{ id: string }>('SELECT id FROM items WHERE doc_id = $1', [d.id]);
    await ok(rec('put', `doc/${d.id}`, { items: { data: [{ id: items[0]!.id, state: 'done' }] } }), 200);
    const child = await instancesOf('child');
    expect(child.map((i) => i.context)).toEqual([{ id: items[0]!.id, doc: d.id }]);

    await ok(
      admin('post', 'state-machines', {
        entity: 'doc',
        field: 'note',
        definition: {
          transitions: [
            {
              from: 'n1',
              to: 'n2',
              actions: [
                { type: 'set_field', field: 'name', value: 'auto-name' },
                { type: 'send_event', event: 'ev1' },
              ],
            },
          ],
        },
      }),
    );
    await ok(
      admin('post', 'workflows', {
        name: 'bysm',
        trigger: { type: 'state_change', entity: 'doc', field: 'name', to: 'auto-name' },
        context: { id: 'record.id' },
        steps: [{ id: 's', type: 'action', actions: [] }],
      }),
    );
    await ok(
      admin('post', 'workflows', {
        name: 'byev',
        trigger: { type: 'event', event: 'ev1' },
        context: { id: 'record_id', nm: 'record.name', old: 'trigger.old.note', e: 'trigger.entity' },
        steps: [
          { id: 'c', type: 'condition', expression: "trigger.old.note == 'n1' && record.note == 'n2'", on_true: 'end', on_false: 'x' },
          { id: 'x', type: 'approval' },
        ],
      }),
    );
    const d2 = await ok(rec('post', 'doc', { name: 'n', note: 'n1' }));
    await ok(rec('put', `doc/${d2.id}`, { note: 'n2' }), 200);
    expect((await instancesOf('bysm')).map((i) => i.context)).toEqual([{ id: d2.id }]);
    const [ev] = await instancesOf('byev');
    expect(ev!.context).toEqual({ id: d2.id, nm: 'auto-name', old: 'n1', e: 'doc' });
    expect(ev!.history.map((h) => h.status)).toEqual(['on_true']);

    await ok(
      admin('post', 'rules', {
        entity: 'doc',
        hook: 'before_write',
        type: 'expression',
        definition: { expression: "record.note == 'forbidden'", message: 'no forbidden' },
      }),
    );
    await ok(
      admin('post', 'workflows', {
        name: 'ruled',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'try' },
        context: { id: 'record.id' },
        steps: [
          { id: 's', type: 'action', actions: [{ type: 'set_field', entity: 'doc', record_id: 'context.id', field: 'note', value: 'forbidden' }] },
        ],
      }),
    );
    await ok(rec('post', 'doc', { name: 'n', note: 'try' }));
    const [ruled] = await instancesOf('ruled');
    expect(ruled!.status).toBe('failed');
    expect(ruled!.error).toContain('no forbidden');
  });

  it('a timeout in days is unparseable (no deadline); a non-string timeout is refused; list ordered by name', async () => {
    await ok(
      admin('post', 'workflows', {
        name: 'days',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'days' },
        steps: [{ id: 'w', type: 'approval', timeout: '3d' }],
      }),
    );
    await ok(rec('post', 'doc', { name: 'n', note: 'days' }));
    const [i] = await instancesOf('days');
    const got = await ok(wfr('get', i!.id), 200);
    expect(got).not.toHaveProperty('current_step_deadline');
    const bad = await admin('post', 'workflows', {
      name: 'tn',
      trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'x' },
      steps: [{ id: 'w', type: 'approval', timeout: 5 }],
    });
    expect(bad.status).toBe(422);
    const list = await ok(admin('get', 'workflows'), 200);
    expect(list.map((w: any) => w.name)).toEqual([...list.map((w: any) => w.name)].sort());
  });

  it('nested rows the write ignores are not checked by state machines', async () => {
    const d = await ok(rec('post', 'doc', { name: 'n', items: { data: [{ state: 'new' }] } }));
    const other = await ok(rec('post', 'doc', { name: 'o', items: { data: [{ state: 'new' }] } }));
    const [it1] = await runtime.db.query<{ id: string }>('SELECT id FROM items WHERE doc_id = $1', [d.id]);
    const [it2] = await runtime.db.query<{ id: string }>('SELECT id FROM items WHERE doc_id = $1', [other.id]);
    const app1 = await rec('put', `doc/${d.id}`, { items: { _write_mode: 'append', data: [{ id: it1!.id, state: 'gone' }] } });
    expect(app1.status).toBe(200);
    const diff = await rec('put', `doc/${d.id}`, { items: { data: [{ id: it2!.id, state: 'gone' }] } });
    expect(diff.status).toBe(200);
    const del = await rec('put', `doc/${d.id}`, { items: { data: [{ id: it1!.id, state: 'gone', _delete: true }] } });
    expect(del.status).toBe(200);
    expect((await runtime.db.query<{ state: string }>('SELECT state FROM items WHERE id = $1', [it2!.id]))[0]!.state).toBe('new');
  });

  it('webhook actions: workflow body is the context, state-machine body the final payload, JSON, default POST', async () => {
    await ok(
      admin('post', 'workflows', {
        name: 'hook',
        trigger: { type: 'state_change', entity: 'doc', field: 'note', to: 'hook' },
        context: { id: 'record.id', n: 'record.name' },
        steps: [
          {
            id: 's',
            type: 'action',
            actions: [
              { type: 'webhook', url: `${base}/wf` },
              { type: 'webhook', url: `${base}/wfput`, method: 'put' },
            ],
          },
        ],
      }),
    );
    await ok(
      admin('post', 'state-machines', {
        entity: 'doc',
        field: 'sent_at',
        definition: {
          transitions: [
            {
              from: 'a',
              to: 'b',
              actions: [
                { type: 'webhook', url: `${base}/sm` },
                { type: 'set_field', field: 'name', value: 'after' },
              ],
            },
          ],
        },
      }),
    );
    const d = await ok(rec('post', 'doc', { name: 'nm', note: 'hook', sent_at: 'a' }));
    await ok(rec('put', `doc/${d.id}`, { sent_at: 'b' }), 200);
    // the state-machine webhook is fire-and-forget after commit
    for (let i = 0; i < 100 && !received.some((r) => r.url === '/sm'); i++) await new Promise((r) => setTimeout(r, 50));
    const wf = received.filter((r) => r.url.startsWith('/wf'));
    expect(wf.map((r) => [r.method, r.url, r.type, JSON.parse(r.body)])).toEqual([
      ['POST', '/wf', 'application/json', { id: d.id, n: 'nm' }],
      ['PUT', '/wfput', 'application/json', { id: d.id, n: 'nm' }],
    ]);
    const sm = received.filter((r) => r.url === '/sm');
    expect(sm.map((r) => [r.method, r.type, JSON.parse(r.body)])).toEqual([['POST', 'application/json', { sent_at: 'b', name: 'after' }]]);
  });

  it('a field default is not a sent state; integer states compare as strings', async () => {
    await ok(
      admin('post', 'entities', {
        name: 'ticket',
        table: 'tickets',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'status', type: 'string', default: 'open' },
          { name: 'lvl', type: 'integer' },
          { name: 'flag', type: 'boolean' },
        ],
      }),
    );
    await ok(
      admin('post', 'state-machines', {
        entity: 'ticket',
        field: 'status',
        definition: {
          initial: 'draft',
          transitions: [
            { from: 'draft', to: 'open' },
            { from: 'open', to: 'closed' },
          ],
        },
      }),
    );
    await ok(
      admin('post', 'state-machines', { entity: 'ticket', field: 'lvl', definition: { initial: '1', transitions: [{ from: '1', to: '2' }] } }),
    );
    await ok(
      admin('post', 'state-machines', {
        entity: 'ticket',
        field: 'flag',
        definition: { initial: 'false', transitions: [{ from: 'false', to: 'true' }] },
      }),
    );
    const r = await rec('post', 'ticket', {});
    // the field's default is no sent value: the machine does nothing
    expect(r.status).toBe(201);
    expect(r.body.data.status).toBe('open');
    const t = await ok(rec('post', 'ticket', { lvl: 1, flag: false }));

    const u = await rec('put', `ticket/${t.id}`, { lvl: '2', flag: 'true' });
    expect(u.status).toBe(422);
    const v = await rec('put', `ticket/${t.id}`, { lvl: 2.0, status: 'closed' });
    expect(v.status, JSON.stringify(v.body)).toBe(200);
    expect(v.body.data).toMatchObject({ status: 'closed', lvl: 2 });
  });

  it('a record created by a state-machine create_record inside a workflow set_field write starts its workflows, as its send_event does', async () => {
    await ok(
      admin('post', 'entities', {
        name: 'box',
        table: 'boxes',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'st', type: 'string' },
          { name: 'tag', type: 'string' },
        ],
      }),
    );
    await ok(
      admin('post', 'state-machines', {
        entity: 'box',
        field: 'st',
        definition: {
          transitions: [
            {
              from: 'a',
              to: 'b',
              actions: [
                { type: 'create_record', entity: 'box', data: { tag: 'made' } },
                { type: 'send_event', event: 'box_moved' },
              ],
            },
          ],
        },
      }),
    );
    const noop = [{ id: 's', type: 'action', actions: [] }];
    await ok(
      admin('post', 'workflows', { name: 'box_made', trigger: { type: 'state_change', entity: 'box', field: 'tag', to: 'made' }, steps: noop }),
    );
    await ok(admin('post', 'workflows', { name: 'box_moved', trigger: { type: 'event', event: 'box_moved' }, steps: noop }));
    await ok(
      admin('post', 'workflows', {
        name: 'box_mover',
        trigger: { type: 'state_change', entity: 'box', field: 'tag', to: 'go' },
        context: { id: 'record.id' },
        steps: [{ id: 's', type: 'action', actions: [{ type: 'set_field', entity: 'box', record_id: 'context.id', field: 'st', value: 'b' }] }],
      }),
    );
    // A client's write: both the created box and the event start their workflows.
    const first = await ok(rec('post', 'box', { st: 'a' }));
    await ok(rec('put', `box/${first.id}`, { st: 'b' }), 200);
    expect((await instancesOf('box_made')).length).toBe(1);
    expect((await instancesOf('box_moved')).length).toBe(1);
    // The same transition made by a workflow's set_field: the box write itself starts nothing, but the box it
    // created is a normal write of its entity (state-machines.md create_record), as the event is.
    const second = await ok(rec('post', 'box', { st: 'a', tag: 'go' }));
    expect((await instancesOf('box_mover')).map((i) => i.status)).toEqual(['completed']);
    expect((await rec('get', `box/${second.id}`)).body.data.st).toBe('b');
    expect((await instancesOf('box_moved')).length).toBe(2);
    const started = await instancesOf('box_made');
    expect(started.map((i) => i.status)).toEqual(['completed', 'completed']);
  });
  it('a computed field change starts state_change workflows', async () => {
    await ok(
      admin('post', 'entities', {
        name: 'calc',
        table: 'calcs',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'a', type: 'integer' },
          { name: 'size', type: 'string' },
        ],
      }),
    );
    await ok(
      admin('post', 'rules', {
        entity: 'calc',
        hook: 'before_write',
        type: 'computed',
        definition: { field: 'size', expression: "record.a > 10 ? 'big' : 'small'" },
      }),
    );
    await ok(
      admin('post', 'workflows', {
        name: 'big',
        trigger: { type: 'state_change', entity: 'calc', field: 'size', to: 'big' },
        steps: [{ id: 's', type: 'action', actions: [] }],
      }),
    );
    const c = await ok(rec('post', 'calc', { a: 1 }));
    expect(c.size).toBe('small');
    await ok(rec('put', `calc/${c.id}`, { a: 20 }), 200);
    expect((await instancesOf('big')).length).toBe(1);
  });

  it('a nested child transition runs create_record (paths prefixed) and set_field; its roles answer 403 naming the row', async () => {
    await ok(
      admin('post', 'entities', {
        name: 'crate',
        table: 'crates',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'label', type: 'string' },
        ],
      }),
    );
    await ok(
      admin('post', 'entities', {
        name: 'slot',
        table: 'slots',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'crate_id', type: 'uuid' },
          { name: 'st', type: 'string' },
          { name: 'log', type: 'string' },
        ],
      }),
    );
    await ok(
      admin('post', 'entities', {
        name: 'note',
        table: 'notes',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'body', type: 'string', required: true },
          { name: 'prev', type: 'string' },
        ],
      }),
    );
    await ok(admin('post', 'relations', { name: 'slots', type: 'one_to_many', source: 'crate', target: 'slot', target_key: 'crate_id' }));
    await ok(
      admin('post', 'state-machines', {
        entity: 'slot',
        field: 'st',
        definition: {
          transitions: [
            {
              from: 'a',
              to: 'b',
              actions: [
                { type: 'create_record', entity: 'note', data: { body: 'record.log', prev: 'old.st' } },
                { type: 'set_field', field: 'log', value: 'moved' },
              ],
            },
            { from: 'a', to: 'c', roles: ['boss'] },
          ],
        },
      }),
    );
    const c = await ok(rec('post', 'crate', { label: 'x', slots: { data: [{ st: 'a' }] } }));
    const [slot] = await runtime.db.query<{ id: string }>('SELECT id FROM slots WHERE crate_id = $1', [c.id]);
    const bad = await rec('put', `crate/${c.id}`, { slots: { data: [{ id: slot!.id, st: 'b' }] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'slots[0].actions[0].body', rule: 'required', message: 'body is required' }]);
    const good = await rec('put', `crate/${c.id}`, { slots: { data: [{ id: slot!.id, st: 'b', log: 'hello' }] } });
    expect(good.status).toBe(200);
    expect(await runtime.db.query('SELECT body, prev FROM notes')).toEqual([{ body: 'hello', prev: 'a' }]);
    expect(await runtime.db.query('SELECT st, log FROM slots WHERE id = $1', [slot!.id])).toEqual([{ st: 'b', log: 'moved' }]);
    for (const action of ['read', 'create', 'update']) {
      await ok(admin('post', 'permissions', { entity: 'crate', action, roles: ['worker'] }));
      await ok(admin('post', 'permissions', { entity: 'slot', action, roles: ['worker'] }));
    }
    const w = await user('worker@x.io', ['worker']);
    const c2 = await ok(s.client.post(`/api/${app.name}/crate`, { token: w.token, body: { label: 'y', slots: { data: [{ st: 'a' }] } } }));
    const [slot2] = await runtime.db.query<{ id: string }>('SELECT id FROM slots WHERE crate_id = $1', [c2.id]);
    const denied = await s.client.put(`/api/${app.name}/crate/${c2.id}`, { token: w.token, body: { slots: { data: [{ id: slot2!.id, st: 'c' }] } } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.details).toEqual([
      { field: 'slots[0].st', rule: 'state_machine', message: "Transition from 'a' to 'c' not allowed for your roles" },
    ]);
  });
});
