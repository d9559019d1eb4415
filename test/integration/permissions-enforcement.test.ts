import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

let s: TestServer;
let app: { name: string; token: string };
const uuid = { field: 'id', type: 'uuid', generated: true };
const users: Record<string, { token: string; id: string }> = {};

const { admin } = appCalls(() => ({ server: s, app }));
const as = (who: string, method: 'post' | 'put' | 'get' | 'delete', path: string, body?: unknown) =>
  s.client[method](`/api/${app.name}/${path}`, { token: who === 'admin' ? app.token : users[who]!.token, body });
const policy = async (body: unknown) => expect((await admin('post', 'permissions', body)).status).toBe(201);

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  for (const e of [
    {
      name: 'lead',
      table: 'leads',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'department', type: 'string' },
        { name: 'status', type: 'string' },
        { name: 'owner_id', type: 'uuid' },
        { name: 'score', type: 'int' },
      ],
    },
    {
      name: 'note',
      table: 'notes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'lead_id', type: 'uuid' },
        { name: 'body', type: 'string' },
        { name: 'private', type: 'boolean' },
      ],
    },
    {
      name: 'secret',
      table: 'secrets',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'lead_id', type: 'uuid' },
      ],
    },
  ])
    expect((await admin('post', 'entities', e)).status).toBe(201);
  for (const r of [
    { name: 'notes', type: 'one_to_many', source: 'lead', target: 'note', target_key: 'lead_id' },
    { name: 'secrets', type: 'one_to_many', source: 'lead', target: 'secret', target_key: 'lead_id' },
  ])
    expect((await admin('post', 'relations', r)).status).toBe(201);
  for (const [name, roles] of [
    ['sales', ['sales']],
    ['rep', ['Rep']],
    ['rep2', ['rep']],
    ['nobody', ['guest']],
  ] as const) {
    const created = await admin('post', 'users', { email: `${name}@x.io`, password: 'pw-123456', roles });
    const token = await s.client.login(`/api/${app.name}/auth/login`, `${name}@x.io`, 'pw-123456');
    users[name] = { token, id: created.body.data.id };
  }
  await policy({ entity: 'lead', action: 'read', roles: ['sales'], conditions: [{ field: 'department', operator: 'eq', value: 'sales' }] });
  await policy({ entity: 'lead', action: 'update', roles: ['sales'], conditions: [{ field: 'status', operator: 'eq', value: 'draft' }] });
  await policy({ entity: 'lead', action: 'create', roles: ['sales', 'rep'] });
  await policy({ entity: 'lead', action: 'read', roles: ['rep'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
  await policy({ entity: 'lead', action: 'update', roles: ['rep'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
  await policy({ entity: 'lead', action: 'delete', roles: ['rep'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
  await policy({ entity: 'note', action: 'read', roles: ['sales'], conditions: [{ field: 'private', operator: 'eq', value: false }] });
  await policy({ entity: 'note', action: 'read', roles: ['sales'], conditions: [{ field: 'body', operator: 'eq', value: 'shared' }] });
  await policy({ entity: 'note', action: 'create', roles: ['sales'] });

  const rows = [
    ['a', 'sales', 'draft'],
    ['b', 'sales', 'published'],
    ['c', 'sales', 'draft'],
    ['d', 'support', 'draft'],
    ['e', 'hr', 'draft'],
  ];
  for (const [name, department, status] of rows) {
    const res = await as('admin', 'post', 'lead', {
      name,
      department,
      status,
      owner_id: name === 'd' ? users.rep!.id : null,
      notes: {
        data: [
          { body: 'open', private: false },
          { body: 'hidden', private: true },
          { body: 'shared', private: true },
        ],
      },
      secrets: { data: [{}] },
    });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await s?.close();
});

const leadId = async (name: string) => {
  const res = await as('admin', 'get', `lead?filter[name]=${name}`);
  return res.body.data[0].id as string;
};

describe('row-level read filters', () => {
  it('list shows only permitted rows and counts only them', async () => {
    const mine = await as('sales', 'get', 'lead?sort=name');
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((l: any) => l.name)).toEqual(['a', 'b', 'c']);
    expect(mine.body.meta.total).toBe(3);
    const all = await as('admin', 'get', 'lead');
    expect(all.body.meta.total).toBe(5);
    const filtered = await as('sales', 'get', 'lead?filter[status]=draft');
    expect(filtered.body.meta.total).toBe(2);
  });

  it('get of an invisible row is 404, a visible one 200', async () => {
    expect((await as('sales', 'get', `lead/${await leadId('d')}`)).status).toBe(404);
    expect((await as('sales', 'get', `lead/${await leadId('a')}`)).status).toBe(200);
  });

  it('includes return only permitted related rows (OR of policies), and nothing for entities without a read policy', async () => {
    const res = await as('sales', 'get', `lead/${await leadId('a')}?include=notes,secrets`);
    expect(res.status).toBe(200);
    expect(res.body.data.notes.map((n: any) => n.body).sort()).toEqual(['open', 'shared']);
    expect(res.body.data.secrets).toEqual([]);
    const admins = await as('admin', 'get', `lead/${await leadId('a')}?include=notes,secrets`);
    expect(admins.body.data.notes).toHaveLength(3);
    expect(admins.body.data.secrets).toHaveLength(1);
  });

  it('$user.id policies: each user sees and edits only their own rows', async () => {
    const list = await as('rep', 'get', 'lead');
    expect(list.body.data.map((l: any) => l.name)).toEqual(['d']);
    const other = await as('rep2', 'get', 'lead');
    expect(other.body.data).toEqual([]);
    const d = await leadId('d');
    expect((await as('rep', 'put', `lead/${d}`, { score: 5 })).status).toBe(200);
    const stolen = await as('rep2', 'put', `lead/${d}`, { score: 6 });
    expect(stolen.status).toBe(403);
    expect((await as('rep2', 'delete', `lead/${d}`)).status).toBe(403);
    expect((await as('admin', 'get', `lead/${d}`)).body.data.score).toBe(5);
  });
});

describe('ordering conditions', () => {
  it('a fractional bound on an int field compares numerically on read, as on update', async () => {
    const gauge = {
      name: 'gauge',
      table: 'gauges',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'n', type: 'int' },
      ],
    };
    expect((await admin('post', 'entities', gauge)).status).toBe(201);
    const low = (await as('admin', 'post', 'gauge', { n: 5 })).body.data.id as string;
    const high = (await as('admin', 'post', 'gauge', { n: 50 })).body.data.id as string;
    await admin('post', 'users', { email: 'gauger@x.io', password: 'pw-123456', roles: ['gauger'] });
    const token = await s.client.login(`/api/${app.name}/auth/login`, 'gauger@x.io', 'pw-123456');
    const get = (path: string) => s.client.get(`/api/${app.name}/${path}`, { token });
    await policy({ entity: 'gauge', action: 'read', roles: ['gauger'], conditions: [{ field: 'n', operator: 'lt', value: 10.5 }] });
    await policy({ entity: 'gauge', action: 'update', roles: ['gauger'], conditions: [{ field: 'n', operator: 'lt', value: 10.5 }] });
    const list = await get('gauge');
    expect(list.body.data.map((g: { id: string }) => g.id)).toEqual([low]);
    expect(list.body.meta.total).toBe(1);
    expect((await get(`gauge/${low}`)).status).toBe(200);
    expect((await get(`gauge/${high}`)).status).toBe(404);
    expect((await s.client.put(`/api/${app.name}/gauge/${low}`, { token, body: { n: 6 } })).status).toBe(200);
    expect((await s.client.put(`/api/${app.name}/gauge/${high}`, { token, body: { n: 7 } })).status).toBe(403);
    await policy({ entity: 'gauge', action: 'read', roles: ['gauger'], conditions: [{ field: 'n', operator: 'gte', value: 49.9 }] });
    expect((await get('gauge?sort=n')).body.data.map((g: { id: string }) => g.id)).toEqual([low, high]);
  });
});

describe('write policies', () => {
  it('update conditions are checked against the stored row', async () => {
    const draft = await as('sales', 'put', `lead/${await leadId('a')}`, { score: 1 });
    expect(draft.status).toBe(200);
    const published = await as('sales', 'put', `lead/${await leadId('b')}`, { score: 1 });
    expect(published.status).toBe(403);
    expect(published.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied for update on lead' });
    expect((await as('admin', 'get', `lead/${await leadId('b')}`)).body.data.score).toBeNull();
  });

  it('no policy means 403 on list, get, create, update and delete', async () => {
    const list = await as('nobody', 'get', 'lead');
    expect(list.status).toBe(403);
    expect(list.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied for read on lead' });
    expect((await as('nobody', 'post', 'lead', { name: 'z' })).status).toBe(403);
    expect((await as('sales', 'delete', `lead/${await leadId('a')}`)).status).toBe(403);
    const none = await as('sales', 'get', 'secret');
    expect(none.status).toBe(403);
    expect(none.body.error.message).toBe('No permission for read on secret');
  });

  it('nested writes check the child entity policy and name the row', async () => {
    const ok = await as('sales', 'post', 'lead', { name: 'n1', department: 'sales', notes: { data: [{ body: 'x' }] } });
    expect(ok.status).toBe(201);
    const denied = await as('sales', 'post', 'lead', { name: 'n2', department: 'sales', secrets: { data: [{}] } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('secrets[0]');
    expect((await as('admin', 'get', 'lead?filter[name]=n2')).body.meta.total).toBe(0);
  });

  it('an admin needs no policy', async () => {
    expect((await as('admin', 'put', `lead/${await leadId('e')}`, { score: 2 })).status).toBe(200);
  });
});

describe('conditions decide alike on list and on update', () => {
  type Cond = { field: string; operator: string; value: unknown };
  const ID1 = 'aaaaaaaa-0000-4000-8000-000000000001';
  const ID3 = 'aaaaaaaa-0000-4000-8000-000000000003';
  // One row per column of values; r5 is all nulls. Decimal `d` is NUMERIC(18,2), `dn` unconstrained NUMERIC.
  const rows: Record<string, Record<string, unknown>> = {
    r1: {
      s: 'abc',
      txt: '10.0',
      i: 5,
      big: 5,
      f: 1.5,
      d: 1.5,
      dn: '1.50',
      flag: true,
      u: ID1,
      ts: '2024-01-01T10:00:00Z',
      day: '2024-01-01',
      j: { a: 1 },
    },
    r2: {
      s: '10',
      txt: '1e3',
      i: 10,
      big: '9007199254740993',
      f: 0.1,
      d: 10,
      dn: '0.10000000000000000001',
      flag: false,
      u: '$prober',
      ts: '2024-06-01T12:00:00.123456Z',
      day: '2024-06-01',
      j: 'abc',
    },
    r3: {
      s: '2024-03-01T00:00:00+01:00',
      txt: '0x10',
      i: -3,
      big: -3,
      f: 1e21,
      d: 0.1,
      dn: '1234567890123456.70',
      flag: true,
      u: ID3,
      ts: '1999-12-31T23:59:59.999Z',
      day: '1999-12-31',
      j: 5,
    },
    r4: {
      s: '',
      txt: '1.50',
      i: 0,
      big: 0,
      f: -0.5,
      d: 0,
      dn: 1e-7,
      flag: false,
      u: ID1,
      ts: '2024-01-01T10:00:00.0005Z',
      day: '2024-02-29',
      j: [1],
    },
    r5: {},
    r6: {
      s: ' 5',
      txt: '1e5000',
      i: 2147483647,
      big: '-9223372036854775808',
      f: 1e-7,
      d: '9999999999999999.99',
      dn: '1e400',
      flag: true,
      ts: '2024-02-29T23:59:59.999999Z',
      day: '0001-01-01',
    },
    r7: {
      s: 'Draft',
      txt: '1e50000',
      i: -2147483648,
      big: '9223372036854775807',
      f: 100,
      d: -1.25,
      dn: -5,
      ts: '0001-01-01T00:00:00Z',
      day: '9999-12-31',
    },
    r8: { s: '2024-02-30', txt: '2024-06-01 12:00:00.1239999', i: 1, big: 1, f: 5, d: 5, dn: 5, ts: '2024-06-01T12:00:00.123Z', day: '2024-03-01' },
  };
  const numbers = (field: string, bounds: unknown[]): Cond[] =>
    bounds.flatMap((value) => ['gt', 'gte', 'lt', 'lte'].map((operator) => ({ field, operator, value })));
  const equal = (field: string, values: unknown[], lists: unknown[][] = []): Cond[] => [
    ...values.flatMap((value) => ['eq', 'neq'].map((operator) => ({ field, operator, value }))),
    ...lists.flatMap((value) => ['in', 'not_in'].map((operator) => ({ field, operator, value }))),
  ];
  const dates = ['2024-01-01', '2024-01-01T10:00:00Z', '2024-06-01T12:00:00.123Z', '2024-03-01T00:00:00+01:00', '0001-01-01T00:30:00+01:00'];
  const cases: Cond[] = [
    ...equal(
      's',
      ['abc', '10', 10, '', 'ABC', '$user.email'],
      [
        ['abc', '10', 'x'],
        [10, ''],
        ['$user.id', 'Draft'],
      ],
    ),
    ...numbers('s', [0, 5, -1, dates[0], dates[3], dates[4]]),
    ...equal('txt', ['1.50', 1.5, '10.0', 10], [['1.50', 1e3]]),
    ...numbers('txt', [1.5, 1000, '2024-06-01T12:00:00.123Z', '2024-06-01T12:00:00.124Z']),
    ...equal('i', [5, '5', '5.0', '-3', 2147483647, 'abc', 1e21], [[5, '10', '5.0', 'x'], []]),
    ...numbers('i', [10.5, -3.5, 2147483647, 1e21, -1e21, dates[0]]),
    ...equal('big', ['9007199254740993', 2 ** 53 + 1, -3, '-9223372036854775808', '05'], [['9007199254740993', 0]]),
    ...numbers('big', [0, 2 ** 53, 2 ** 63, -(2 ** 63), 1.5]),
    ...equal('f', [1.5, '1.5', '1.50', 1e21, '1e+21', '1e21', 0.1, 1e-7, '0.0000001', 100], [[1.5, '0.1', 1e21, '100.0']]),
    ...numbers('f', [0.1, 1.5, 1e21, 1e-7]),
    ...equal('d', [1.5, '1.5', '1.50', 10, '10.00', 0.1, '9999999999999999.99', 0, '-0', -1.25], [['1.5', '1.50', 10, 0]]),
    ...numbers('d', [0.1, 1.5, 1e16, -1.25]),
    ...equal(
      'dn',
      [1.5, '1.50', '0.10000000000000000001', '1234567890123456.7', '1234567890123456.70', 1e-7, '0.0000001', -5],
      [['1.5', '1234567890123456.7', `1${'0'.repeat(400)}`]],
    ),
    ...numbers('dn', [0.1, 1e21, 1e-7, 1234567890123456.8]),
    ...equal('flag', [true, 'true', false, 'false', 'TRUE', 1, 't'], [[true], ['false', 'x']]),
    ...numbers('flag', [0, 1, dates[0]]),
    ...equal('u', ['$user.id', ID1, ID1.toUpperCase(), 'x'], [['$user.id', ID3], '$user.roles' as unknown as unknown[]]),
    ...numbers('u', [0, dates[0]]),
    ...equal(
      'ts',
      ['2024-01-01T10:00:00.000Z', '2024-01-01T10:00:00Z', '2024-06-01T12:00:00.123Z', '1999-12-31T23:59:59.999Z', '0001-01-01T00:00:00.000Z'],
      [['2024-01-01T10:00:00.000Z', '1999-12-31T23:59:59.999Z', '2024-02-29T23:59:59.999Z', 'x']],
    ),
    ...numbers('ts', [-1, dates[1], dates[2], dates[4], '2024-01-01T10:00:00.001Z', '2024-02-29T23:59:59.999Z']),
    ...equal('day', ['2024-01-01', '2024-1-1', '2024-01-01T00:00:00.000Z', '0001-01-01'], [['2024-01-01', '1999-12-31', 'x']]),
    ...numbers('day', [dates[0], dates[3], dates[4], '9999-12-31T23:59:59+01:00']),
    ...equal('j', ['abc', 5, '{"a":1}'], [['abc', 5]]),
    ...numbers('j', [1, dates[0]]),
  ];
  // What the spec's rules give for some of them (the rest is checked by agreement alone).
  const expected: Array<[Cond, string[]]> = [
    [{ field: 'd', operator: 'eq', value: '1.5' }, ['r1']],
    [{ field: 'd', operator: 'eq', value: '1.50' }, []],
    [{ field: 'dn', operator: 'eq', value: '1234567890123456.7' }, ['r3']],
    [{ field: 'dn', operator: 'eq', value: 1e-7 }, ['r4']],
    [{ field: 'big', operator: 'eq', value: '9007199254740993' }, ['r2']],
    [{ field: 'i', operator: 'eq', value: '5.0' }, []],
    [{ field: 'flag', operator: 'eq', value: 'true' }, ['r1', 'r3', 'r6']],
    [{ field: 'ts', operator: 'eq', value: '2024-01-01T10:00:00.000Z' }, ['r1', 'r4']],
    [{ field: 'ts', operator: 'eq', value: '2024-01-01T10:00:00Z' }, []],
    [{ field: 'u', operator: 'eq', value: ID1.toUpperCase() }, []],
    [{ field: 'u', operator: 'eq', value: '$user.id' }, ['r2']],
    [{ field: 's', operator: 'gt', value: 5 }, ['r2']],
    [{ field: 's', operator: 'lt', value: 5 }, ['r1', 'r3', 'r4', 'r6', 'r7', 'r8']],
    [{ field: 'txt', operator: 'gt', value: 1000 }, ['r6']],
    [{ field: 's', operator: 'gte', value: '2024-03-01T00:00:00+01:00' }, ['r3']],
    [{ field: 'txt', operator: 'lte', value: '2024-06-01T12:00:00.123Z' }, ['r8']],
    [{ field: 'i', operator: 'lt', value: 10.5 }, ['r1', 'r2', 'r3', 'r4', 'r7', 'r8']],
    [{ field: 'flag', operator: 'lt', value: 1 }, ['r1', 'r2', 'r3', 'r4', 'r6']],
    [{ field: 'j', operator: 'neq', value: 'abc' }, []],
  ];

  it('for every operator, column type and value, a row is listed exactly when PUT may update it', async () => {
    const probe = {
      name: 'probe',
      table: 'probes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
        { name: 'touch', type: 'int' },
        { name: 's', type: 'string' },
        { name: 'txt', type: 'text' },
        { name: 'i', type: 'int' },
        { name: 'big', type: 'bigint' },
        { name: 'f', type: 'float' },
        { name: 'd', type: 'decimal', precision: 2 },
        { name: 'dn', type: 'decimal' },
        { name: 'flag', type: 'boolean' },
        { name: 'u', type: 'uuid' },
        { name: 'ts', type: 'timestamp' },
        { name: 'day', type: 'date' },
        { name: 'j', type: 'json' },
      ],
    };
    expect((await admin('post', 'entities', probe)).status).toBe(201);
    const prober = (await admin('post', 'users', { email: 'prober@x.io', password: 'pw-123456', roles: ['prober'] })).body.data.id as string;
    const token = await s.client.login(`/api/${app.name}/auth/login`, 'prober@x.io', 'pw-123456');
    const ids: Record<string, string> = {};
    for (const [label, values] of Object.entries(rows)) {
      const body = { label, ...values, ...(values.u === '$prober' ? { u: prober } : {}) };
      const res = await as('admin', 'post', 'probe', body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids[label] = res.body.data.id;
    }
    const policyIds: Record<string, string> = {};
    for (const action of ['read', 'update']) {
      const res = await admin('post', 'permissions', {
        entity: 'probe',
        action,
        roles: ['prober'],
        conditions: [{ field: 'i', operator: 'eq', value: 0 }],
      });
      policyIds[action] = res.body.data.id;
    }
    const decide = async (c: Cond) => {
      for (const action of ['read', 'update']) {
        const res = await admin('put', `permissions/${policyIds[action]}`, { entity: 'probe', action, roles: ['prober'], conditions: [c] });
        expect(res.status, `${JSON.stringify(c)}: ${JSON.stringify(res.body)}`).toBe(200);
      }
      const [list, ...puts] = await Promise.all([
        s.client.get(`/api/${app.name}/probe?per_page=100`, { token }),
        ...Object.values(ids).map((id) => s.client.put(`/api/${app.name}/probe/${id}`, { token, body: { touch: 1 } })),
      ]);
      expect(list!.status, JSON.stringify(list!.body)).toBe(200);
      const listed = (list!.body.data as Array<{ label: string }>).map((r) => r.label).sort();
      expect(list!.body.meta.total).toBe(listed.length);
      const labels = Object.keys(ids);
      for (const res of puts) if (res.status !== 200) expect(res.status, JSON.stringify(res.body)).toBe(403);
      const updatable = labels.filter((_, n) => puts[n]!.status === 200);
      return { listed, updatable: updatable.sort() };
    };
    expect(cases.length).toBeGreaterThan(300);
    const disagreements: string[] = [];
    for (const c of cases) {
      const { listed, updatable } = await decide(c);
      if (JSON.stringify(listed) !== JSON.stringify(updatable)) {
        disagreements.push(`${c.field} ${c.operator} ${JSON.stringify(c.value)}: listed [${listed}], updatable [${updatable}]`);
      }
    }
    expect(disagreements).toEqual([]);
    const wrong: string[] = [];
    for (const [c, labels] of expected) {
      const { listed } = await decide(c);
      if (JSON.stringify(listed) !== JSON.stringify(labels)) wrong.push(`${c.field} ${c.operator} ${JSON.stringify(c.value)}: listed [${listed}]`);
    }
    expect(wrong).toEqual([]);
  }, 300_000);
});
