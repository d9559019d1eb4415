import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

// Issue 19: differences that hit clients written for the legacy API.

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

const { admin, rec } = appCalls(() => ({ server: s, app }));

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const entities = [
    {
      name: 'doc',
      table: 'docs',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'attachment', type: 'file' },
      ],
    },
    {
      name: 'member',
      table: 'members',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'nick', type: 'string' },
        { name: 'age', type: 'int' },
        { name: 'code', type: 'string' },
        { name: 'state', type: 'string' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('post', 'entities', e)).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

describe('a stored file value sent back as a JSON string', () => {
  it('is accepted and stored as the object; other strings stay 422', async () => {
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'hello.txt');
    const up = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const fileId = ((await up.json()) as { data: { id: string } }).data.id;
    const created = await rec('post', 'doc', { title: 'a', attachment: fileId });
    expect(created.status).toBe(201);
    const stored = created.body.data.attachment;
    expect(stored).toMatchObject({ id: fileId, filename: 'hello.txt', size: 5 });

    // The legacy admin app edits the record and sends the file back as a string.
    const updated = await rec('put', `doc/${created.body.data.id}`, { title: 'b', attachment: JSON.stringify(stored) });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.data.attachment).toEqual(stored);
    const [row] = await runtime.db.query<{ attachment: unknown }>('SELECT attachment FROM docs WHERE id = $1', [created.body.data.id]);
    expect(row!.attachment).toEqual(stored);

    for (const bad of ['not json', '{"filename":"x.txt"}', '[1,2]', '{"id":""}', '{broken']) {
      const res = await rec('put', `doc/${created.body.data.id}`, { attachment: bad });
      expect(res.status, bad).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details[0]).toMatchObject({ field: 'attachment', rule: 'type' });
    }
  });
});

describe('field rules are checked when written', () => {
  it('converts a numeric string threshold, so the rule fires', async () => {
    const res = await admin('post', 'rules', {
      entity: 'member',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'min_length', value: '2' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.definition.value).toBe(2);
    const stored = await admin('get', `rules/${res.body.data.id}`);
    expect(stored.body.data.definition.value).toBe(2);
    const short = await rec('post', 'member', { nick: 'a' });
    expect(short.status).toBe(422);
    expect(short.body.error.details[0]).toMatchObject({ field: 'nick', rule: 'min_length' });
    expect((await rec('post', 'member', { nick: 'ab' })).status).toBe(201);
    const max = await admin('post', 'rules', {
      entity: 'member',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'age', operator: 'max', value: ' 1.5e2 ' },
    });
    expect(max.status).toBe(201);
    expect(max.body.data.definition.value).toBe(150);
    expect((await rec('post', 'member', { age: 151 })).status).toBe(422);
    expect((await admin('delete', `rules/${res.body.data.id}`)).status).toBe(200);
    expect((await admin('delete', `rules/${max.body.data.id}`)).status).toBe(200);
  });

  it.each([
    [{ field: 'nope', operator: 'min', value: 1 }, 'definition.field'],
    [{ field: 'age', operator: 'at_least', value: 1 }, 'definition.operator'],
    [{ field: 'age', value: 1 }, 'definition.operator'],
    [{ field: 'age', operator: 'min' }, 'definition.value'],
    [{ field: 'age', operator: 'min', value: 'two' }, 'definition.value'],
    [{ field: 'age', operator: 'min', value: [1] }, 'definition.value'],
    [{ field: 'nick', operator: 'min_length', value: '-1' }, 'definition.value'],
    [{ field: 'nick', operator: 'max_length', value: 2.5 }, 'definition.value'],
    [{ field: 'code', operator: 'pattern', value: 5 }, 'definition.value'],
    [{ field: 'code', operator: 'pattern', value: '([a-z' }, 'definition.value'],
    [{ field: 'code', operator: 'pattern', value: '(?=x)' }, 'definition.value'],
  ])('refuses %j with 422 naming %s', async (definition, key) => {
    const res = await admin('post', 'rules', { entity: 'member', hook: 'before_write', type: 'field', definition });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toContain(key);
  });

  it('checks rules arriving through import the same way', async () => {
    const res = await admin('post', 'import', {
      version: 1,
      rules: [
        {
          entity: 'member',
          hook: 'before_write',
          type: 'field',
          definition: { field: 'age', operator: 'min', value: '18' },
          priority: 0,
          active: true,
        },
        {
          entity: 'member',
          hook: 'before_write',
          type: 'field',
          definition: { field: 'age', operator: 'min', value: 'adult' },
          priority: 1,
          active: true,
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.data.summary.rules).toBe(1);
    expect(JSON.stringify(res.body.data.errors)).toContain('definition.value');
    const rules = (await admin('get', 'rules')).body.data.filter((r: any) => r.entity === 'member');
    expect(rules).toHaveLength(1);
    expect(rules[0].definition.value).toBe(18);
    expect((await rec('post', 'member', { age: 17 })).status).toBe(422);
    expect((await rec('post', 'member', { age: 18 })).status).toBe(201);
    expect((await admin('delete', `rules/${rules[0].id}`)).status).toBe(200);
  });

  it('keeps rules stored with string thresholds before the upgrade working', async () => {
    // Written as the old server stored them: the threshold as a string.
    const [row] = await runtime.db.query<{ id: string }>(
      `INSERT INTO _rules (entity, hook, type, definition, priority, active)
       VALUES ('member', 'before_write', 'field', '{"field":"nick","operator":"max_length","value":"3"}'::jsonb, 0, true) RETURNING id`,
    );
    await runtime.reload();
    const long = await rec('post', 'member', { nick: 'abcd' });
    expect(long.status).toBe(422);
    expect(long.body.error.details[0]).toMatchObject({ field: 'nick', rule: 'max_length' });
    expect((await rec('post', 'member', { nick: 'abc' })).status).toBe(201);
    expect((await admin('delete', `rules/${row!.id}`)).status).toBe(200);
  });
});

describe('state machine transitions', () => {
  it('say what "from" accepts when it is no state name', async () => {
    for (const from of [3, [], [3], null]) {
      const res = await admin('post', 'state-machines', {
        entity: 'member',
        field: 'state',
        definition: { initial: 'new', transitions: [{ from, to: 'done' }] },
      });
      expect(res.status).toBe(422);
      expect(res.body.error.message).toMatch(/transitions\[0\]\.from (must be a state name or an array of state names|must name at least one state)/);
    }
  });

  it('take "" as the state of a record whose field is null, so such records can enter the machine', async () => {
    const machine = await admin('post', 'state-machines', {
      entity: 'member',
      field: 'state',
      definition: {
        transitions: [
          { from: [''], to: 'new' },
          { from: ['', 'new'], to: 'done' },
        ],
      },
    });
    expect(machine.status, JSON.stringify(machine.body)).toBe(201);
    expect(machine.body.data.definition.transitions.map((t: { from: unknown }) => t.from)).toEqual(['', ['', 'new']]);
    const created = await rec('post', 'member', { nick: 'stateless' });
    expect(created.status).toBe(201);
    expect(created.body.data.state).toBeNull();
    const entered = await rec('put', `member/${created.body.data.id}`, { state: 'new' });
    expect([entered.status, entered.body.data?.state]).toEqual([200, 'new']);
    const back = await rec('put', `member/${created.body.data.id}`, { state: 'other' });
    expect(back.status).toBe(422);
    expect(back.body.error.details[0]).toMatchObject({ field: 'state', rule: 'state_machine', message: "Invalid transition from 'new' to 'other'" });
    expect((await admin('delete', `state-machines/${machine.body.data.id}`)).status).toBe(200);
  });
});

describe('GET /_admin/ai/status', () => {
  it('answers not configured to app admins, like the platform route', async () => {
    const res = await admin('get', 'ai/status');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { configured: false, model: '' } });
    const anonymous = await s.client.get(`/api/${app.name}/_admin/ai/status`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHORIZED');
  });
});
