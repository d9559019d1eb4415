import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCaller } from '../../src/auth/caller.js';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { RocketError } from '../../src/errors.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let base: string;

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  base = `/api/${app.name}`;
});
afterAll(async () => {
  await s?.close();
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const ROW_KEYS = ['action', 'conditions', 'created_at', 'entity', 'id', 'roles', 'updated_at'];

async function runtime(): Promise<AppRuntime> {
  const rt = await s.rocket.services.apps.get(app.name);
  if (!rt) throw new Error('no app');
  return rt;
}

async function rowsInDb(): Promise<unknown[]> {
  return (await runtime()).db.query('SELECT * FROM _permissions ORDER BY id');
}

const perms = (path = '') => `${base}/_admin/permissions${path}`;
const post = (body: unknown) => s.client.post(perms(), { token: app.token, body });

async function create(body: Record<string, unknown>) {
  const res = await post(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; entity: string; action: string; roles: string[]; conditions?: unknown[] };
}

describe('CRUD', () => {
  it('POST echoes the policy; conditions omitted when empty; roles default []', async () => {
    const conditions = [{ field: 'status', operator: 'in', value: ['draft', 'sent'] }];
    const res = await post({ entity: 'invoice', action: 'update', roles: ['accountant'], conditions });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ id: res.body.data.id, entity: 'invoice', action: 'update', roles: ['accountant'], conditions });
    expect(res.body.data.id).toMatch(/^[0-9a-f-]{36}$/);
    const bare = await post({ entity: 'invoice', action: 'read' });
    expect(bare.status).toBe(201);
    expect(bare.body.data).toEqual({ id: bare.body.data.id, entity: 'invoice', action: 'read', roles: [] });
    const empty = await post({ entity: 'invoice', action: 'create', roles: ['x'], conditions: [] });
    expect(empty.body.data).not.toHaveProperty('conditions');
  });

  it('GET lists rows ordered by entity, action, always with a conditions array (a JSON value)', async () => {
    await create({ entity: 'zeta', action: 'read', roles: ['a'] });
    await create({ entity: 'alpha', action: 'update', roles: ['a'], conditions: [{ field: 'n', operator: 'gt', value: 3 }] });
    await create({ entity: 'alpha', action: 'delete', roles: ['a'] });
    const res = await s.client.get(perms(), { token: app.token });
    expect(res.status).toBe(200);
    const rows = res.body.data as Array<{ entity: string; action: string; conditions: unknown }>;
    const keys = rows.map((r) => `${r.entity}/${r.action}`);
    expect(keys).toEqual([...keys].sort());
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(ROW_KEYS);
      expect(Array.isArray(r.conditions)).toBe(true);
    }
    const alpha = rows.find((r) => r.entity === 'alpha' && r.action === 'update');
    expect(alpha!.conditions).toEqual([{ field: 'n', operator: 'gt', value: 3 }]);
    expect(rows.find((r) => r.entity === 'alpha' && r.action === 'delete')!.conditions).toEqual([]);
  });

  it('GET /:id; unknown and non-UUID ids are 404 "Permission not found: <id>"', async () => {
    const p = await create({ entity: 'ticket', action: 'read', roles: ['agent'] });
    const res = await s.client.get(perms(`/${p.id}`), { token: app.token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(ROW_KEYS);
    expect(res.body.data).toMatchObject({ id: p.id, entity: 'ticket', action: 'read', roles: ['agent'], conditions: [] });
    for (const id of [UNKNOWN_ID, 'nope']) {
      for (const method of ['GET', 'DELETE'] as const) {
        const missing = await s.client.request(method, perms(`/${id}`), { token: app.token });
        expect(missing.status).toBe(404);
        expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: `Permission not found: ${id}` });
      }
    }
  });

  it('PUT replaces the whole policy; 404 is checked first', async () => {
    const p = await create({
      entity: 'order',
      action: 'read',
      roles: ['a', 'b'],
      conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }],
    });
    const res = await s.client.put(perms(`/${p.id}`), { token: app.token, body: { entity: 'order', action: 'delete', roles: ['c'] } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ id: p.id, entity: 'order', action: 'delete', roles: ['c'] });
    const got = await s.client.get(perms(`/${p.id}`), { token: app.token });
    expect(got.body.data).toMatchObject({ entity: 'order', action: 'delete', roles: ['c'], conditions: [] });
    expect(new Date(got.body.data.updated_at) >= new Date(got.body.data.created_at)).toBe(true);
    const withConds = await s.client.put(perms(`/${p.id}`), {
      token: app.token,
      body: { entity: 'order', action: 'update', conditions: [{ field: 'total', operator: 'lte', value: 100 }] },
    });
    expect(withConds.body.data).toEqual({
      id: p.id,
      entity: 'order',
      action: 'update',
      roles: [],
      conditions: [{ field: 'total', operator: 'lte', value: 100 }],
    });
    for (const id of [UNKNOWN_ID, 'nope']) {
      for (const body of [{}, { entity: 'x', action: 'bogus' }, { entity: 'x', action: 'read' }]) {
        const missing = await s.client.put(perms(`/${id}`), { token: app.token, body });
        expect(missing.status).toBe(404);
        expect(missing.body.error.message).toBe(`Permission not found: ${id}`);
      }
    }
  });

  it('DELETE answers {id, deleted:true}, then 404', async () => {
    const p = await create({ entity: 'gone', action: 'read' });
    const del = await s.client.delete(perms(`/${p.id}`), { token: app.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { id: p.id, deleted: true } });
    const again = await s.client.delete(perms(`/${p.id}`), { token: app.token });
    expect(again.status).toBe(404);
  });
});

describe('validation', () => {
  const BAD: Array<[unknown, number, string]> = [
    [{ action: 'read' }, 422, 'entity is required'],
    [{ entity: '', action: 'read' }, 422, 'entity is required'],
    [{ entity: '   ', action: 'read' }, 422, 'entity is required'],
    [{ entity: 'x' }, 422, 'action is required'],
    [{ entity: 'x', action: '' }, 422, 'action is required'],
    [{ entity: 'x', action: 'write' }, 422, 'action must be read, create, update, or delete'],
    [{ entity: 'x', action: 'READ' }, 422, 'action must be read, create, update, or delete'],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'like', value: 'x%' }] },
      422,
      'conditions[0].operator must be one of eq, neq, gt, gte, lt, lte, in, not_in',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', value: 1 }] },
      422,
      'conditions[0].operator must be one of eq, neq, gt, gte, lt, lte, in, not_in',
    ],
    [
      {
        entity: 'x',
        action: 'read',
        conditions: [
          { field: 'a', operator: 'eq', value: 1 },
          { operator: 'eq', value: 1 },
        ],
      },
      422,
      'conditions[1].field is required',
    ],
    [{ entity: 'x', action: 'read', conditions: [{ field: '', operator: 'eq', value: 1 }] }, 422, 'conditions[0].field is required'],
    [{ entity: 'x', action: 'read', conditions: ['status = 1'] }, 422, 'conditions[0] must be an object with field, operator and value'],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'in', value: 'draft' }] },
      422,
      'conditions[0].value must be an array for operator in',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'not_in', value: 3 }] },
      422,
      'conditions[0].value must be an array for operator not_in',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'in', value: [{ x: 1 }] }] },
      422,
      'conditions[0].value must be an array of strings, numbers or booleans for operator in',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'gt', value: 'ten' }] },
      422,
      'conditions[0].value must be a number or a date for operator gt',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'lte', value: [1] }] },
      422,
      'conditions[0].value must be a number or a date for operator lte',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'lt', value: '$user.id' }] },
      422,
      'conditions[0].value must be a number or a date for operator lt',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'eq', value: { a: 1 } }] },
      422,
      'conditions[0].value must be a string, number or boolean for operator eq',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'eq' }] },
      422,
      'conditions[0].value must be a string, number or boolean for operator eq',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'eq', value: '$user.name' }] },
      422,
      'conditions[0].value names an unknown variable $user.name (use $user.id, $user.email, $user.roles)',
    ],
    [
      { entity: 'x', action: 'read', conditions: [{ field: 'a', operator: 'eq', value: '$user.roles' }] },
      422,
      'conditions[0].value $user.roles can only be used with in or not_in',
    ],
    [{ entity: 5, action: 'read' }, 400, 'Invalid request body'],
    [{ entity: 'x', action: 1 }, 400, 'Invalid request body'],
    [{ entity: 'x', action: 'read', roles: 'admin' }, 400, 'Invalid request body'],
    [{ entity: 'x', action: 'read', roles: [true] }, 400, 'Invalid request body'],
    [{ entity: 'x', action: 'read', conditions: { field: 'a' } }, 400, 'Invalid request body'],
    [{ entity: 'x', action: 'read', conditions: 'status=1' }, 400, 'Invalid request body'],
  ];

  it('POST: every bad input answers its 4xx and writes nothing', async () => {
    const before = await rowsInDb();
    for (const [body, status, message] of BAD) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error, JSON.stringify(body)).toEqual({
        code: status === 400 ? 'INVALID_PAYLOAD' : 'VALIDATION_FAILED',
        message,
      });
    }
    for (const raw of ['[]', '"x"', 'null', '{"entity"']) {
      const res = await s.client.post(perms(), { token: app.token, raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    expect(await rowsInDb()).toEqual(before);
  });

  it('PUT: the same checks (action too), nothing changes', async () => {
    const p = await create({ entity: 'keep', action: 'read', roles: ['r'] });
    const before = await rowsInDb();
    for (const [body, status, message] of BAD) {
      const res = await s.client.put(perms(`/${p.id}`), { token: app.token, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.message).toBe(message);
    }
    const raw = await s.client.put(perms(`/${p.id}`), { token: app.token, raw: '[1]' });
    expect(raw.status).toBe(400);
    expect(await rowsInDb()).toEqual(before);
  });

  it('accepts every operator with a fitting value, dates for ordering, and $user variables', async () => {
    const conditions = [
      { field: 'a', operator: 'eq', value: 'x' },
      { field: 'b', operator: 'neq', value: 3 },
      { field: 'c', operator: 'eq', value: true },
      { field: 'd', operator: 'gt', value: 1.5 },
      { field: 'e', operator: 'gte', value: '2024-01-01' },
      { field: 'f', operator: 'lt', value: '2024-01-01T10:00:00Z' },
      { field: 'g', operator: 'lte', value: -2 },
      { field: 'h', operator: 'in', value: ['x', 1] },
      { field: 'i', operator: 'not_in', value: [] },
      { field: 'owner_id', operator: 'eq', value: '$user.id' },
      { field: 'email', operator: 'neq', value: '$user.email' },
      { field: 'team', operator: 'in', value: '$user.roles' },
      { field: 'editor', operator: 'not_in', value: ['$user.id'] },
    ];
    const p = await create({ entity: 'everything', action: 'update', roles: ['r'], conditions });
    expect(p.conditions).toEqual(conditions);
    const got = await s.client.get(perms(`/${p.id}`), { token: app.token });
    expect(got.body.data.conditions).toEqual(conditions);
  });
});

describe('mutations reload the in-memory policies', () => {
  it('create, update and delete take effect on the app runtime at once', async () => {
    const caller = makeCaller('33333333-3333-4333-8333-333333333333', ['Clerk'], 'c@example.com');
    const entity = 'ledger';
    /** "allowed", or the 403 message, from the app's live policy snapshot. */
    const outcome = async (fn: (set: AppRuntime['permissions']) => void): Promise<string> => {
      try {
        fn((await runtime()).permissions);
        return 'allowed';
      } catch (err) {
        expect(err).toBeInstanceOf(RocketError);
        expect((err as RocketError).status).toBe(403);
        return (err as RocketError).message;
      }
    };
    const canCreate = () => outcome((set) => set.check(caller, entity, 'create'));

    expect(await canCreate()).toBe('No permission for create on ledger');
    const p = await create({ entity, action: 'create', roles: ['clerk'] });
    expect(await canCreate()).toBe('allowed');

    await s.client.put(perms(`/${p.id}`), { token: app.token, body: { entity, action: 'create', roles: ['auditor'] } });
    expect(await canCreate()).toBe('Permission denied for create on ledger');

    await s.client.put(perms(`/${p.id}`), {
      token: app.token,
      body: { entity, action: 'read', roles: ['clerk'], conditions: [{ field: 'owner', operator: 'eq', value: '$user.id' }] },
    });
    expect((await runtime()).permissions.readScope(caller, entity)).toEqual({
      kind: 'some',
      groups: [[{ field: 'owner', operator: 'eq', value: caller.id }]],
    });

    await s.client.delete(perms(`/${p.id}`), { token: app.token });
    expect(await outcome((set) => set.readScope(caller, entity))).toBe('No permission for read on ledger');
  });
});
