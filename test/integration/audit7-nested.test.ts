import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let clerk: string;

const uuid = { field: 'id', type: 'uuid', generated: true };

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const admin = (path: string, body: unknown) => s.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
  const entities = [
    {
      name: 'proj',
      table: 'projs',
      primary_key: uuid,
      soft_delete: true,
      slug: { field: 'slug', source: 'title' },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'slug', type: 'string', unique: true },
        { name: 'dept', type: 'string' },
      ],
    },
    {
      name: 'task',
      table: 'tasks',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'proj_id', type: 'uuid', required: true },
        { name: 'name', type: 'string', required: true },
        { name: 'state', type: 'string' },
      ],
    },
    {
      name: 'step',
      table: 'steps',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'task_id', type: 'uuid', required: true },
        { name: 'label', type: 'string', required: true },
      ],
    },
    {
      name: 'check',
      table: 'checks',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'step_id', type: 'uuid', required: true },
        { name: 'n', type: 'int', required: true },
      ],
    },
    {
      name: 'label',
      table: 'labels',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'text', type: 'string' },
        { name: 'dept', type: 'string' },
      ],
    },
    {
      name: 'code',
      table: 'codes',
      primary_key: { field: 'code', type: 'string', generated: false },
      fields: [
        { name: 'code', type: 'string' },
        { name: 'proj_id', type: 'uuid' },
        { name: 'v', type: 'int' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('entities', e)).status, e.name).toBe(201);
  const relations = [
    { name: 'tasks', type: 'one_to_many', source: 'proj', target: 'task', target_key: 'proj_id', on_delete: 'cascade' },
    { name: 'steps', type: 'one_to_many', source: 'task', target: 'step', target_key: 'task_id', on_delete: 'cascade' },
    { name: 'checks', type: 'one_to_many', source: 'step', target: 'check', target_key: 'step_id', on_delete: 'cascade' },
    { name: 'codes', type: 'one_to_many', source: 'proj', target: 'code', target_key: 'proj_id', on_delete: 'set_null' },
    {
      name: 'labels',
      type: 'many_to_many',
      source: 'proj',
      target: 'label',
      join_table: 'proj_labels',
      source_join_key: 'proj_id',
      target_join_key: 'label_id',
      on_delete: 'detach',
    },
  ];
  for (const r of relations) expect((await admin('relations', r)).status, r.name).toBe(201);
  expect((await admin('users', { email: 'clerk7@x.io', password: 'pw-123456', roles: ['clerk'] })).status).toBe(201);
  const perms = [
    { entity: 'proj', action: 'read', roles: ['clerk'] },
    { entity: 'proj', action: 'create', roles: ['clerk'] },
    { entity: 'proj', action: 'update', roles: ['clerk'] },
    { entity: 'proj', action: 'delete', roles: ['clerk'] },
    { entity: 'task', action: 'create', roles: ['clerk'] },
    { entity: 'task', action: 'read', roles: ['clerk'], conditions: [{ field: 'state', operator: 'eq', value: 'open' }] },
    { entity: 'task', action: 'update', roles: ['clerk'], conditions: [{ field: 'state', operator: 'eq', value: 'open' }] },
    { entity: 'code', action: 'create', roles: ['clerk'] },
    { entity: 'code', action: 'update', roles: ['clerk'] },
  ];
  for (const p of perms) expect((await admin('permissions', p)).status).toBe(201);
  clerk = await s.client.login(`/api/${app.name}/auth/login`, 'clerk7@x.io', 'pw-123456');
});
afterAll(async () => {
  await s?.close();
});

const post = (entity: string, body: unknown, query = '', token = app.token) => s.client.post(`/api/${app.name}/${entity}${query}`, { token, body });
const put = (entity: string, id: string, body: unknown, query = '', token = app.token) =>
  s.client.put(`/api/${app.name}/${entity}/${id}${query}`, { token, body });
const get = (path: string, token = app.token) => s.client.get(`/api/${app.name}/${path}`, { token });
const q = (sql: string, params: unknown[] = []) => runtime.db.query<any>(sql, params as never[]);

async function deepProject(title: string) {
  const res = await post(
    'proj',
    { title, tasks: { data: [{ name: 't1', state: 'open', steps: { data: [{ label: 's1', checks: { data: [{ n: 1 }, { n: 2 }] } }] } }] } },
    '?include=tasks',
  );
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const pid = res.body.data.id as string;
  const tid = res.body.data.tasks[0].id as string;
  const sid = (await q('SELECT id FROM steps WHERE task_id = $1', [tid]))[0].id as string;
  const checks = (await q('SELECT id FROM checks WHERE step_id = $1 ORDER BY n', [sid])).map((r: { id: string }) => r.id) as string[];
  return { pid, tid, sid, checks };
}

describe('append ignores _delete rows (rest-api.md §Nested writes, append column)', () => {
  it('a _delete row whose client-chosen key exists nowhere is not inserted', async () => {
    const p = await post('proj', { title: 'Append del' });
    const res = await put('proj', p.body.data.id, {
      codes: {
        _write_mode: 'append',
        data: [
          { code: 'ghost-1', v: 1, _delete: true },
          { code: 'real-1', v: 2 },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await q('SELECT code FROM codes WHERE proj_id = $1 ORDER BY code', [p.body.data.id])).toEqual([{ code: 'real-1' }]);
  });

  it('a _delete row naming a current child leaves it alone', async () => {
    const { pid, tid } = await deepProject('Append del 2');
    const res = await put('proj', pid, { tasks: { _write_mode: 'append', data: [{ id: tid, _delete: true }] } });
    expect(res.status).toBe(200);
    expect(await q('SELECT deleted_at FROM tasks WHERE id = $1', [tid])).toEqual([{ deleted_at: null }]);
  });
});

describe('a child named twice in one payload, once with _delete', () => {
  it('stays deleted as it was: the other row does not update the removed row', async () => {
    const { pid, tid } = await deepProject('Twice');
    const res = await put(
      'proj',
      pid,
      {
        tasks: {
          data: [
            { id: tid, _delete: true },
            { id: tid, name: 'zombie' },
          ],
        },
      },
      '?include=tasks',
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.tasks).toEqual([]);
    const [row] = await q('SELECT name, deleted_at IS NOT NULL AS gone FROM tasks WHERE id = $1', [tid]);
    expect(row).toEqual({ name: 't1', gone: true });
  });

  it('a hard-deleted child gets no new children through the other row (no orphans)', async () => {
    const { pid, tid, sid } = await deepProject('Twice hard');
    const res = await put('proj', pid, {
      tasks: {
        data: [
          {
            id: tid,
            steps: {
              data: [
                { id: sid, _delete: true },
                { id: sid, label: 'z', checks: { data: [{ n: 9 }] } },
              ],
            },
          },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await q('SELECT 1 FROM steps WHERE id = $1', [sid])).toEqual([]);
    expect(await q('SELECT n FROM checks WHERE step_id = $1', [sid])).toEqual([]);
  });

  it('the same child updated twice: the last row wins', async () => {
    const { pid, tid } = await deepProject('Twice upd');
    const res = await put('proj', pid, {
      tasks: {
        data: [
          { id: tid, name: 'a' },
          { id: tid, name: 'b' },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(await q('SELECT name FROM tasks WHERE id = $1', [tid])).toEqual([{ name: 'b' }]);
  });
});

describe('bad nested inputs', () => {
  it('_delete with a key of the wrong type is reported once, as a type problem', async () => {
    const { pid } = await deepProject('Bad del key');
    const res = await put('proj', pid, { tasks: { data: [{ id: 'nope', _delete: true }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'tasks[0].id', rule: 'type', message: 'id must be uuid' }]);
    const missing = await put('proj', pid, { tasks: { data: [{ _delete: true }] } });
    expect(missing.body.error.details).toEqual([{ field: 'tasks[0]._delete', rule: 'invalid', message: '_delete needs the id of an existing row' }]);
  });

  it('data not an array, rows not objects, a _write_mode of the wrong type', async () => {
    const { pid, tid } = await deepProject('Bad shapes');
    for (const tasks of [{ data: {} }, { data: 'x' }, { data: [1, null] }, null, []]) {
      const res = await put('proj', pid, { tasks });
      expect(res.status, JSON.stringify(tasks)).toBe(422);
      expect(res.body.error.details).toEqual([{ field: 'tasks', rule: 'unknown', message: 'Unknown field or relation: tasks' }]);
    }
    // an unusable mode falls back to the relation default (diff): the child not mentioned stays
    const res = await put('proj', pid, { tasks: { _write_mode: 5, data: [] } });
    expect(res.status).toBe(200);
    expect(await q('SELECT deleted_at FROM tasks WHERE id = $1', [tid])).toEqual([{ deleted_at: null }]);
  });
});

describe('four levels deep', () => {
  it('an error at the deepest level of an update rolls every level back and names the full path', async () => {
    const { pid, tid, sid, checks } = await deepProject('Deep');
    const res = await put('proj', pid, {
      title: 'Deep changed',
      tasks: {
        data: [
          {
            id: tid,
            name: 'T',
            steps: { data: [{ id: sid, label: 'S', checks: { data: [{ id: checks[0], n: 5 }, { n: 'x' }, { id: checks[1], n: null }] } }] },
          },
        ],
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'tasks[0].steps[0].checks[1].n', rule: 'type', message: 'n must be int' },
      { field: 'tasks[0].steps[0].checks[2].n', rule: 'required', message: 'n is required' },
    ]);
    expect(await q('SELECT title FROM projs WHERE id = $1', [pid])).toEqual([{ title: 'Deep' }]);
    expect(await q('SELECT name FROM tasks WHERE id = $1', [tid])).toEqual([{ name: 't1' }]);
    expect(await q('SELECT n FROM checks WHERE step_id = $1 ORDER BY n', [sid])).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a restrict under a nested _delete aborts the whole request', async () => {
    const admin = (path: string, body: unknown) => s.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
    expect(
      (
        await admin('entities', {
          name: 'pin',
          table: 'pins',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'check_id', type: 'uuid' },
          ],
        })
      ).status,
    ).toBe(201);
    expect(
      (await admin('relations', { name: 'pins', type: 'one_to_many', source: 'check', target: 'pin', target_key: 'check_id', on_delete: 'restrict' }))
        .status,
    ).toBe(201);
    const { pid, tid, checks } = await deepProject('Restrict');
    expect((await post('pin', { check_id: checks[0] })).status).toBe(201);
    const res = await put('proj', pid, { title: 'R2', tasks: { data: [{ id: tid, _delete: true }] } });
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 1 related pin records exist' });
    expect(await q('SELECT title FROM projs WHERE id = $1', [pid])).toEqual([{ title: 'Restrict' }]);
    expect(await q('SELECT deleted_at FROM tasks WHERE id = $1', [tid])).toEqual([{ deleted_at: null }]);
    expect((await q('SELECT count(*)::int AS n FROM checks WHERE id = ANY($1::uuid[])', [checks]))[0].n).toBe(2);
  });
});

describe('child permissions and includes for a non-admin caller', () => {
  it('create, update and delete rights are checked per child row, naming its path', async () => {
    const denied = await post('proj', { title: 'C1', tasks: { data: [{ name: 'x', steps: { data: [{ label: 'y' }] } }] } }, '', clerk);
    expect(denied.status).toBe(403);
    expect(denied.body.error.details).toEqual([{ field: 'tasks[0].steps[0]', rule: 'permission', message: 'No permission for create on step' }]);
    const made = await post(
      'proj',
      {
        title: 'C2',
        tasks: {
          data: [
            { name: 'c', state: 'closed' },
            { name: 'o', state: 'open' },
          ],
        },
      },
      '',
      clerk,
    );
    expect(made.status).toBe(201);
    const pid = made.body.data.id as string;
    const closed = (await q("SELECT id FROM tasks WHERE proj_id = $1 AND state = 'closed'", [pid]))[0].id;
    const open = (await q("SELECT id FROM tasks WHERE proj_id = $1 AND state = 'open'", [pid]))[0].id;
    const upd = await put('proj', pid, { tasks: { data: [{ id: closed, name: 'z' }] } }, '', clerk);
    expect(upd.status).toBe(403);
    expect(upd.body.error.details).toEqual([{ field: 'tasks[0]', rule: 'permission', message: 'Permission denied for update on task' }]);
    expect((await put('proj', pid, { tasks: { data: [{ id: open, name: 'z' }] } }, '', clerk)).status).toBe(200);
    const gone = await put('proj', pid, { tasks: { data: [{ id: open, _delete: true }] } }, '', clerk);
    expect(gone.status).toBe(403);
    expect(gone.body.error.details[0].field).toBe('tasks[0]');
    expect((await put('proj', pid, { tasks: { _write_mode: 'replace', data: [] } }, '', clerk)).status).toBe(403);
    expect(await q('SELECT count(*)::int AS n FROM tasks WHERE proj_id = $1 AND deleted_at IS NULL', [pid])).toEqual([{ n: 2 }]);
  });

  it('includes hold only readable rows, nothing for unreadable entities, with filters, sort and cursor', async () => {
    const label = await post('label', { text: 'L' });
    const made = await post('proj', {
      title: 'Inc-A',
      tasks: {
        data: [
          { name: 'c', state: 'closed' },
          { name: 'o', state: 'open' },
        ],
      },
      codes: { data: [{ code: 'inc-a', v: 1 }] },
      labels: { data: [{ id: label.body.data.id }] },
    });
    expect(made.status).toBe(201);
    expect((await post('proj', { title: 'Inc-B', tasks: { data: [{ name: 'b', state: 'open' }] } })).status).toBe(201);
    const one = await get(`proj/${made.body.data.id}?include=tasks,codes,labels`, clerk);
    expect(one.status).toBe(200);
    expect(one.body.data.tasks.map((t: { name: string }) => t.name)).toEqual(['o']);
    expect(one.body.data.codes).toEqual([]);
    expect(one.body.data.labels).toEqual([]);
    const first = await get('proj?include=tasks&sort=-title&per_page=1&filter[title.like]=Inc-%25', clerk);
    expect(first.body.data.map((p: { title: string; tasks: Array<{ name: string }> }) => [p.title, p.tasks.map((t) => t.name)])).toEqual([
      ['Inc-B', ['b']],
    ]);
    const next = await get(
      `proj?include=tasks&sort=-title&per_page=1&filter[title.like]=Inc-%25&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`,
      clerk,
    );
    expect(next.status).toBe(200);
    expect(next.body.data.map((p: { title: string; tasks: Array<{ name: string }> }) => [p.title, p.tasks.map((t) => t.name)])).toEqual([
      ['Inc-A', ['o']],
    ]);
  });
});
