/**
 * Audit of list/get reads against rest-api.md §List, §Get, §Includes and auth.md §Evaluation: keyset cursors
 * over required fields that still hold NULL, long sorts, repeated include names, and read conditions combined
 * with filters, includes and cursors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let base: string;
let userToken: string;
const email = `${uniqueName('u')}@x.io`;
const uuid = { field: 'id', type: 'uuid', generated: true };

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  base = `/api/${app.name}`;
  const admin = (path: string, body: unknown) => s.client.post(`${base}/_admin/${path}`, { token: app.token, body });
  const ents = [
    {
      name: 'thing',
      table: 'things',
      primary_key: uuid,
      soft_delete: true,
      slug: { field: 'slug', source: 'title' },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'slug', type: 'string', unique: true },
        { name: 'body', type: 'text' },
        { name: 'n', type: 'int' },
        { name: 'big', type: 'bigint' },
        { name: 'amount', type: 'decimal', precision: 2 },
        { name: 'ratio', type: 'float' },
        { name: 'ok', type: 'boolean' },
        { name: 'day', type: 'date' },
        { name: 'at', type: 'timestamp' },
        { name: 'ref', type: 'uuid' },
        { name: 'meta', type: 'json' },
        { name: 'doc', type: 'file' },
        { name: 'status', type: 'string', enum: ['draft', 'sent', 'paid'] },
        { name: 'owner', type: 'string' },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
      ],
    },
    {
      name: 'part',
      table: 'parts',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'thing_id', type: 'uuid' },
        { name: 'label', type: 'string' },
        { name: 'day', type: 'date' },
        { name: 'amount', type: 'decimal', precision: 2 },
        { name: 'dept', type: 'string' },
      ],
    },
    {
      name: 'tag',
      table: 'tags',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
        { name: 'dept', type: 'string' },
      ],
    },
  ];
  for (const e of ents) {
    const r = await admin('entities', e);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  for (const rel of [
    { name: 'parts', type: 'one_to_many', source: 'thing', target: 'part', target_key: 'thing_id', on_delete: 'cascade' },
    {
      name: 'tags',
      type: 'many_to_many',
      source: 'thing',
      target: 'tag',
      join_table: 'thing_tags',
      source_join_key: 'thing_id',
      target_join_key: 'tag_id',
      on_delete: 'detach',
    },
  ]) {
    const r = await admin('relations', rel);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  const u = await admin('users', { email, password: 'pw-123456', roles: ['staff'] });
  expect(u.status).toBe(201);
  userToken = await s.client.login(`${base}/auth/login`, email, 'pw-123456');
});
afterAll(async () => {
  await s?.close();
});

const get = (path: string, token = app.token) => s.client.get(`${base}/${path}`, { token });
const post = (path: string, body: unknown) => s.client.post(`${base}/${path}`, { token: app.token, body });

const walk = async (q: string, token = app.token) => {
  const seen: string[] = [];
  let cursor: string | null | undefined;
  for (let i = 0; i < 50; i++) {
    const r = await get(`${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token);
    if (r.status !== 200) return { status: r.status, body: r.body, seen };
    seen.push(...r.body.data.map((d: { title: string }) => d.title));
    cursor = r.body.meta.next_cursor;
    if (!cursor) break;
  }
  return { status: 200, seen };
};

describe('a repeated include name', () => {
  let runtime: AppRuntime;
  let id: string;
  beforeAll(async () => {
    runtime = (await s.rocket.services.apps.get(app.name))!;
    const t = await post('thing', { title: 'rep', parts: { data: [{ label: 'p1' }, { label: 'p2' }] } });
    expect(t.status, JSON.stringify(t.body)).toBe(201);
    id = t.body.data.id;
  });
  const statements = async (path: string) => {
    await get(path);
    let best = Infinity;
    let body: any;
    for (let i = 0; i < 3; i++) {
      const before = runtime.db.statements;
      const res = await get(path);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      best = Math.min(best, runtime.db.statements - before);
      body = res.body;
    }
    return { n: best, body };
  };

  it('is loaded once: list and get send no more statements than for the name given once', async () => {
    const many = Array.from({ length: 50 }, () => 'parts').join(',');
    const once = await statements('thing?filter[title]=rep&include=parts');
    const repeated = await statements(`thing?filter[title]=rep&include=${many}, parts ,tags,parts`);
    const withTags = await statements('thing?filter[title]=rep&include=parts,tags');
    expect(repeated.n).toBe(withTags.n);
    expect(withTags.n).toBe(once.n + 1);
    expect(repeated.body.data[0].parts.map((p: { label: string }) => p.label).sort()).toEqual(['p1', 'p2']);
    expect(repeated.body.data[0].tags).toEqual([]);
    const getOnce = await statements(`thing/${id}?include=parts`);
    const getMany = await statements(`thing/${id}?include=${many}`);
    expect(getMany.n).toBe(getOnce.n);
    expect(getMany.body.data.parts).toHaveLength(2);
  });
});

describe('cursor over a required field that still holds NULL (metadata.md §Auto-migration: added nullable to a populated table)', () => {
  const def = {
    name: 'rk',
    table: 'rks',
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
    ],
  };
  beforeAll(async () => {
    expect((await post('_admin/entities', def)).status).toBe(201);
    for (const title of ['old1', 'old2', 'old3']) expect((await post('rk', { title })).status).toBe(201);
    const put = await s.client.put(`${base}/_admin/entities/rk`, {
      token: app.token,
      body: { ...def, fields: [...def.fields, { name: 'rank', type: 'int', required: true }, { name: 'at', type: 'timestamp', required: true }] },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    for (const [title, rank] of [
      ['new1', 1],
      ['new2', 2],
      ['new3', 2],
    ] as const) {
      const r = await post('rk', { title, rank, at: `2024-01-0${rank}T00:00:00Z` });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
  });

  for (const sort of ['rank', 'rank,at', 'at,rank,title', 'rank,title']) {
    it(`walks every row once, the NULL ones included: sort=${sort}`, async () => {
      const all = await get(`rk?sort=${sort}&per_page=100`);
      const expected = all.body.data.map((d: { title: string }) => d.title);
      expect(expected).toHaveLength(6);
      const w = await walk(`rk?sort=${sort}&per_page=2`);
      expect(w.status).toBe(200);
      expect(w.seen).toEqual(expected);
    });
  }
});

describe('the keyset knows which columns are NOT NULL', () => {
  it('from the table: a required field created with it is, one added to a populated table is not until its NULLs are gone', async () => {
    const def = {
      name: 'nn',
      table: 'nns',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'a', type: 'int', required: true },
        { name: 'b', type: 'string' },
      ],
    };
    expect((await post('_admin/entities', def)).status).toBe(201);
    expect((await post('nn', { a: 1 })).status).toBe(201);
    const withC = { ...def, fields: [...def.fields, { name: 'c', type: 'date', required: true }] };
    expect((await s.client.put(`${base}/_admin/entities/nn`, { token: app.token, body: withC })).status).toBe(200);
    const fields = async () => {
      const runtime = (await s.rocket.services.apps.get(app.name))!;
      const e = runtime.registry.entities.get('nn')!;
      return Object.fromEntries([...e.fields.values()].map((f) => [f.name, f.notNull]));
    };
    expect(await fields()).toEqual({ id: true, a: true, b: false, c: false });
    const rows = (await get('nn')).body.data as Array<{ id: string }>;
    for (const r of rows) expect((await s.client.put(`${base}/nn/${r.id}`, { token: app.token, body: { c: '2024-01-01' } })).status).toBe(200);
    expect((await s.client.put(`${base}/_admin/entities/nn`, { token: app.token, body: withC })).status).toBe(200);
    expect(await fields()).toEqual({ id: true, a: true, b: false, c: true });
  });
});

describe('read conditions combined with filters, includes and cursors (auth.md §Evaluation, rest-api.md §List)', () => {
  beforeAll(async () => {
    const perm = async (body: unknown) => {
      const r = await post('_admin/permissions', body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    };
    await perm({ entity: 'thing', action: 'read', roles: ['staff'], conditions: [{ field: 'owner', operator: 'eq', value: 'x' }] });
    await perm({
      entity: 'thing',
      action: 'read',
      roles: ['staff'],
      conditions: [
        { field: 'n', operator: 'gte', value: 10 },
        { field: 'status', operator: 'in', value: ['paid'] },
      ],
    });
    await perm({ entity: 'part', action: 'read', roles: ['staff'], conditions: [{ field: 'dept', operator: 'eq', value: 'sales' }] });
    const mk = async (body: unknown) => {
      const r = await post('thing', body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.data as { id: string };
    };
    const v1 = await mk({
      title: 'rc-v1',
      owner: 'x',
      n: 1,
      parts: {
        data: [
          { label: 'sales', dept: 'sales' },
          { label: 'hr', dept: 'hr' },
        ],
      },
    });
    await mk({ title: 'rc-v2', owner: 'y', n: 11, status: 'paid' });
    await mk({ title: 'rc-h3', owner: 'y', n: 11, status: 'sent' });
    await mk({ title: 'rc-v4', owner: 'x', n: null });
    await mk({ title: 'rc-v5', owner: 'x', n: 30 });
    const tag = await post('tag', { label: 'tagged' });
    expect((await s.client.put(`${base}/thing/${v1.id}`, { token: app.token, body: { tags: { data: [{ id: tag.body.data.id }] } } })).status).toBe(
      200,
    );
  });

  it('a policy OR another, ANDed with the filters: data, total and a cursor walk agree', async () => {
    const q = 'thing?filter[title.like]=rc-%25&sort=-n,title';
    const all = await get(`${q}&per_page=100`, userToken);
    // Descending puts NULL first (PostgreSQL's order); rc-h3 is behind both policies.
    expect(all.body.data.map((d: { title: string }) => d.title)).toEqual(['rc-v4', 'rc-v5', 'rc-v2', 'rc-v1']);
    expect(all.body.meta.total).toBe(4);
    const w = await walk(`${q}&per_page=1&count=none`, userToken);
    expect(w.seen).toEqual(all.body.data.map((d: { title: string }) => d.title));
    const filtered = await get('thing?filter[title.like]=rc-%25&filter[n.gte]=5&sort=title', userToken);
    expect(filtered.body.data.map((d: { title: string }) => d.title)).toEqual(['rc-v2', 'rc-v5']);
    expect(filtered.body.meta.total).toBe(2);
  });

  it('includes show only the related rows the caller may read; no read policy at all → [] (not an error)', async () => {
    const res = await get('thing?filter[title]=rc-v1&include=parts,tags', userToken);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data[0].parts.map((p: { label: string }) => p.label)).toEqual(['sales']);
    expect(res.body.data[0].tags).toEqual([]);
    const asAdmin = await get('thing?filter[title]=rc-v1&include=parts,tags');
    expect(asAdmin.body.data[0].parts).toHaveLength(2);
    expect(asAdmin.body.data[0].tags.map((t: { label: string }) => t.label)).toEqual(['tagged']);
  });
});

describe('long sorts with a cursor stay cheap (rest-api.md §List sort, cursor)', () => {
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) expect((await post('thing', { title: `ls-${i}`, n: 100 + i })).status).toBe(201);
  });

  it('a field named again adds nothing to the order: the same page and the same cursor as naming it once', async () => {
    const repeated = Array.from({ length: 400 }, (_, i) => (i % 2 ? '-n' : 'n')).join(',');
    const once = await get('thing?filter[title.like]=ls-%25&sort=n&per_page=1');
    const many = await get(`thing?filter[title.like]=ls-%25&sort=${repeated}&per_page=1`);
    expect(many.status).toBe(200);
    expect(many.body.data).toEqual(once.body.data);
    expect(many.body.meta.next_cursor).toBe(once.body.meta.next_cursor);
    const next = await get(`thing?filter[title.like]=ls-%25&sort=${repeated}&per_page=1&cursor=${encodeURIComponent(many.body.meta.next_cursor)}`);
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect(next.body.data.map((d: { title: string }) => d.title)).toEqual(['ls-1']);
    // Before: the keyset condition held 80,000 comparisons; 300 keys took 20 s and 600 lost the connection.
    // Anything after the primary key orders nothing either; every name is still checked.
    const afterPk = await get('thing?filter[title.like]=ls-%25&sort=id,n,title&per_page=1');
    expect(afterPk.body.meta.next_cursor).toBe((await get('thing?filter[title.like]=ls-%25&sort=id&per_page=1')).body.meta.next_cursor);
    expect((await get('thing?sort=n,n,nope')).status).toBe(400);
  });

  // The keyset of mixed directions is nested (its size grows with the keys, not their square: 11 s → 0.3 s for
  // these 1,100 keys, a figure for the benchmark, not asserted here); this pins that it still walks in order.
  it('a cursor over many distinct keys in mixed directions continues in the same order', async () => {
    const fields = Array.from({ length: 1100 }, (_, i) => ({ name: `f${i}`, type: 'int' }));
    const created = await post('_admin/entities', {
      name: 'wide',
      table: 'wides',
      primary_key: uuid,
      fields: [{ name: 'id', type: 'uuid' }, ...fields],
    });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    for (let i = 0; i < 3; i++) {
      const r = await post('wide', Object.fromEntries(fields.map((f, j) => [f.name, j < 1098 ? 1 : i])));
      expect(r.status).toBe(201);
    }
    const sort = fields.map((f, i) => (i % 2 ? `-${f.name}` : f.name)).join(',');
    const all = (await get(`wide?sort=${sort}&per_page=3`)).body.data.map((d: { id: string }) => d.id);
    const first = await get(`wide?sort=${sort}&per_page=1`);
    expect(first.status).toBe(200);
    const next = await get(`wide?sort=${sort}&per_page=2&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`);
    expect(next.status, JSON.stringify(next.body).slice(0, 300)).toBe(200);
    expect([first.body.data[0].id, ...next.body.data.map((d: { id: string }) => d.id)]).toEqual(all);
  }, 120_000);
});
