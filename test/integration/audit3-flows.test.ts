import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/**
 * Audit of workflows, state machines, webhooks and files against the spec
 * (workflows.md, state-machines.md, webhooks.md, files.md): each test pins a
 * defect found by probing the server over HTTP.
 */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

const { admin, rec } = appCalls(() => ({ server: s, app }));
const instancesOf = (name: string) =>
  runtime.db.query<{ id: string; status: string; current_step: string; current_step_deadline: Date | null; error: string | null }>(
    'SELECT id, status, current_step, current_step_deadline, error FROM _workflow_instances WHERE workflow_name = $1 ORDER BY created_at, id',
    [name],
  );

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const res = await admin('post', 'entities', {
    name: 'job',
    table: 'jobs',
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'state', type: 'string' },
      { name: 'note', type: 'string' },
      { name: 'due', type: 'timestamp' },
      { name: 'big', type: 'bigint' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

describe('workflow approval timeouts', () => {
  it('treats a timeout longer than a duration can hold as unparseable (no deadline), on start and after an approval', async () => {
    // Go-style durations stop at ~2562047h; 3e9 h is past every date, and the instance used to be lost
    // (start) or the approval answered 500 and left the instance half-moved.
    const huge = '3000000000h';
    for (const wf of [
      { name: 'huge_first', steps: [{ id: 'wait', type: 'approval', timeout: huge }] },
      {
        name: 'huge_second',
        steps: [
          { id: 'first', type: 'approval', on_approve: 'wait' },
          { id: 'wait', type: 'approval', timeout: huge },
        ],
      },
    ]) {
      const res = await admin('post', 'workflows', { ...wf, trigger: { type: 'state_change', entity: 'job', field: 'state', to: 'huge' } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const created = await rec('post', 'job', { state: 'huge' });
    expect(created.status).toBe(201);

    const [first] = await instancesOf('huge_first');
    expect(first).toMatchObject({ status: 'running', current_step: 'wait', current_step_deadline: null });

    const [second] = await instancesOf('huge_second');
    expect(second).toMatchObject({ status: 'running', current_step: 'first' });
    const approved = await s.client.post(`/api/${app.name}/_workflows/${second!.id}/approve`, { token: app.token });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.data).toMatchObject({ status: 'running', current_step: 'wait' });
    expect(approved.body.data).not.toHaveProperty('current_step_deadline');
  });
});

describe('workflow state_change triggers', () => {
  const onlyApproval = [{ id: 'wait', type: 'approval' }];

  it('compare timestamps as instants: a create starts the workflow, the same instant sent again in another spelling does not', async () => {
    const res = await admin('post', 'workflows', {
      name: 'on_due',
      trigger: { type: 'state_change', entity: 'job', field: 'due', to: '2025-01-02T03:04:05Z' },
      steps: onlyApproval,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const created = await rec('post', 'job', { due: '2025-01-02T03:04:05Z' });
    expect(created.status).toBe(201);
    expect(await instancesOf('on_due')).toHaveLength(1);
    // Unchanged instants: no new start (the stored value prints as …05.000Z, the request said …05Z).
    for (const due of ['2025-01-02T03:04:05Z', '2025-01-02T04:04:05+01:00']) {
      expect((await rec('put', `job/${created.body.data.id}`, { due })).status).toBe(200);
    }
    expect(await instancesOf('on_due')).toHaveLength(1);
    // A real change to the instant, from another record: starts once.
    const other = await rec('post', 'job', { due: '2024-12-31T00:00:00Z' });
    expect((await rec('put', `job/${other.body.data.id}`, { due: '2025-01-02T03:04:05.000Z' })).status).toBe(200);
    expect(await instancesOf('on_due')).toHaveLength(2);
  });

  it('compare an int8 a double cannot hold by its digits', async () => {
    const res = await admin('post', 'workflows', {
      name: 'on_big',
      trigger: { type: 'state_change', entity: 'job', field: 'big', to: '9007199254740993' },
      steps: onlyApproval,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const created = await s.client.post(`/api/${app.name}/job`, { token: app.token, raw: '{"big": 9007199254740993}' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(await instancesOf('on_big')).toHaveLength(1);
    expect((await rec('put', `job/${created.body.data.id}`, { big: '9007199254740993' })).status).toBe(200);
    expect(await instancesOf('on_big')).toHaveLength(1);
  });
});

describe('state-machine set_field on a file field', () => {
  it('resolves a file id like a sent one (after the state machines), stores null, and 404s an unknown id', async () => {
    const entity = await admin('post', 'entities', {
      name: 'paper',
      table: 'papers',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'stage', type: 'string' },
        { name: 'attachment', type: 'file' },
      ],
    });
    expect(entity.status, JSON.stringify(entity.body)).toBe(201);
    const form = new FormData();
    form.append('file', new Blob(['signed'], { type: 'text/plain' }), 'signed.txt');
    const uploaded = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}` },
      body: form,
    });
    expect(uploaded.status).toBe(201);
    const file = ((await uploaded.json()) as { data: { id: string } }).data;
    const missing = '00000000-0000-4000-8000-000000000000';
    const machine = await admin('post', 'state-machines', {
      entity: 'paper',
      field: 'stage',
      definition: {
        transitions: [
          { from: 'draft', to: 'signed', actions: [{ type: 'set_field', field: 'attachment', value: file.id }] },
          { from: 'signed', to: 'draft', actions: [{ type: 'set_field', field: 'attachment', value: null }] },
          { from: 'draft', to: 'lost', actions: [{ type: 'set_field', field: 'attachment', value: missing }] },
        ],
      },
    });
    expect(machine.status, JSON.stringify(machine.body)).toBe(201);

    const paper = await rec('post', 'paper', { stage: 'draft' });
    expect(paper.status).toBe(201);
    const signed = await rec('put', `paper/${paper.body.data.id}`, { stage: 'signed' });
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    const meta = { id: file.id, filename: 'signed.txt', size: 6, mime_type: 'text/plain' };
    expect(signed.body.data.attachment).toEqual(meta);
    const [row] = await runtime.db.query<{ attachment: unknown }>('SELECT attachment FROM papers WHERE id = $1', [paper.body.data.id]);
    expect(row!.attachment).toEqual(meta);

    // The action's value wins over the one sent (payload[field] = value), also for null.
    const back = await rec('put', `paper/${paper.body.data.id}`, { stage: 'draft', attachment: file.id });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body.data.attachment).toBeNull();

    const lost = await rec('put', `paper/${paper.body.data.id}`, { stage: 'lost' });
    expect(lost.status).toBe(404);
    expect(lost.body.error).toEqual({ code: 'NOT_FOUND', message: `File ${missing} not found` });
    expect((await rec('get', `paper/${paper.body.data.id}`)).body.data.stage).toBe('draft');
  });
});
