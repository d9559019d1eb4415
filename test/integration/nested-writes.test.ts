import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;

const uuid = { field: 'id', type: 'uuid', generated: true };

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const admin = (path: string, body: unknown) => s.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
  const entities = [
    {
      name: 'invoice',
      table: 'invoices',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'number', type: 'string', required: true, unique: true },
        { name: 'total', type: 'decimal', precision: 2 },
      ],
    },
    {
      name: 'item',
      table: 'items',
      primary_key: uuid,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid', required: true },
        { name: 'name', type: 'string', required: true },
        { name: 'qty', type: 'int' },
        { name: 'kind', type: 'string', enum: ['good', 'service'] },
      ],
    },
    {
      name: 'tax_line',
      table: 'tax_lines',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'item_id', type: 'uuid', required: true },
        { name: 'rate', type: 'decimal', precision: 2, required: true },
        { name: 'code', type: 'string', unique: true },
      ],
    },
    {
      name: 'tag',
      table: 'tags',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
      ],
    },
    {
      name: 'profile',
      table: 'profiles',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid' },
        { name: 'note', type: 'string' },
      ],
    },
    {
      name: 'note',
      table: 'notes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid' },
        { name: 'body', type: 'string' },
      ],
    },
  ];
  for (const e of entities) expect((await admin('entities', e)).status).toBe(201);
  const relations = [
    { name: 'items', type: 'one_to_many', source: 'invoice', target: 'item', target_key: 'invoice_id', on_delete: 'cascade' },
    { name: 'tax_lines', type: 'one_to_many', source: 'item', target: 'tax_line', target_key: 'item_id', on_delete: 'cascade' },
    {
      name: 'tags',
      type: 'many_to_many',
      source: 'invoice',
      target: 'tag',
      join_table: 'invoice_tags',
      source_join_key: 'invoice_id',
      target_join_key: 'tag_id',
      on_delete: 'detach',
    },
    { name: 'profile', type: 'one_to_one', source: 'invoice', target: 'profile', target_key: 'invoice_id', on_delete: 'cascade' },
    { name: 'notes', type: 'one_to_many', source: 'invoice', target: 'note', target_key: 'invoice_id', write_mode: 'replace' },
  ];
  for (const r of relations) expect((await admin('relations', r)).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

let seq = 0;
const num = () => `INV-${++seq}-${Date.now()}`;
const post = (entity: string, body: unknown, query = '') => s.client.post(`/api/${app.name}/${entity}${query}`, { token: app.token, body });
const put = (entity: string, id: string, body: unknown, query = '') =>
  s.client.put(`/api/${app.name}/${entity}/${id}${query}`, { token: app.token, body });
const q = (sql: string, params: unknown[] = []) => runtime.db.query<any>(sql, params as never[]);

async function invoiceWithItems(names: string[]) {
  const res = await post('invoice', { number: num(), items: { data: names.map((name) => ({ name, qty: 1 })) } }, '?include=items');
  expect(res.status).toBe(201);
  return res.body.data as { id: string; items: Array<{ id: string; name: string }> };
}

describe('create with nested rows', () => {
  it('writes three levels in one request, propagating each parent key', async () => {
    const res = await post('invoice', {
      number: num(),
      total: 10,
      items: {
        data: [
          { name: 'a', qty: 1, tax_lines: { data: [{ rate: 0.2 }, { rate: 0.05 }] } },
          { name: 'b', qty: 2, invoice_id: '00000000-0000-4000-8000-000000000000' },
          { name: 'c', tax_lines: { data: [{ rate: 0.1 }] } },
        ],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).not.toHaveProperty('items');
    const id = res.body.data.id;
    const items = await q('SELECT id, name, invoice_id FROM items WHERE invoice_id = $1 ORDER BY name', [id]);
    expect(items.map((i: any) => i.name)).toEqual(['a', 'b', 'c']);
    const lines = await q('SELECT t.rate, i.name FROM tax_lines t JOIN items i ON i.id = t.item_id WHERE i.invoice_id = $1 ORDER BY t.rate', [id]);
    expect(lines).toEqual([
      { rate: 0.05, name: 'a' },
      { rate: 0.1, name: 'c' },
      { rate: 0.2, name: 'a' },
    ]);
  });

  it("an inserted child's key is the parent's whatever it sends, so a value of the wrong type is no error", async () => {
    const res = await post('invoice', {
      number: num(),
      items: {
        data: [
          { name: 'k', invoice_id: 'not-a-uuid' },
          { name: 'l', invoice_id: 7 },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const items = await q('SELECT name, invoice_id FROM items WHERE invoice_id = $1 ORDER BY name', [res.body.data.id]);
    expect(items).toEqual([
      { name: 'k', invoice_id: res.body.data.id },
      { name: 'l', invoice_id: res.body.data.id },
    ]);
  });

  it('returns the written relations when asked with include=', async () => {
    const res = await post('invoice', { number: num(), items: { data: [{ name: 'x' }] }, tags: { data: [] } }, '?include=items,tags');
    expect(res.status).toBe(201);
    expect(res.body.data.items).toHaveLength(1);
    expect(res.body.data.items[0]).toMatchObject({ name: 'x', invoice_id: res.body.data.id });
    expect(res.body.data.tags).toEqual([]);
  });

  it('a plain parent with plain children is written in one statement, whatever the number of children', async () => {
    const count = async (n: number) => {
      const before = runtime.db.statements;
      const res = await post('invoice', { number: num(), items: { data: Array.from({ length: n }, (_, i) => ({ name: `i${i}` })) } });
      expect(res.status).toBe(201);
      return runtime.db.statements - before;
    };
    expect(await count(3)).toBe(1);
    expect(await count(10)).toBe(1);
  });

  it('with rules in play the tree runs in a transaction that batches child inserts', async () => {
    const rule = await s.client.post(`/api/${app.name}/_admin/rules`, {
      token: app.token,
      body: { entity: 'item', hook: 'before_write', type: 'field', definition: { field: 'name', operator: 'min_length', value: 1 } },
    });
    expect(rule.status).toBe(201);
    try {
      const count = async (n: number) => {
        const before = runtime.db.statements;
        const res = await post('invoice', { number: num(), items: { data: Array.from({ length: n }, (_, i) => ({ name: `i${i}` })) } });
        expect(res.status).toBe(201);
        return runtime.db.statements - before;
      };
      await count(1); // the first write after a metadata change loads the webhook and workflow catalogs
      const three = await count(3);
      expect(await count(10)).toBe(three);
      expect(three).toBeLessThanOrEqual(4); // BEGIN, parent INSERT, one child INSERT, COMMIT
      const bad = await post('invoice', { number: num(), items: { data: [{ name: '' }] } });
      expect(bad.status).toBe(422);
    } finally {
      await s.client.delete(`/api/${app.name}/_admin/rules/${rule.body.data.id}`, { token: app.token });
    }
  });

  it('a child that fails in the one-statement path leaves no parent behind', async () => {
    const number = num();
    const res = await post('invoice', { number, profile: { data: [{ note: 'a' }, { note: 'b' }] } });
    expect(res.status).toBe(409);
    expect(await q('SELECT 1 FROM invoices WHERE number = $1', [number])).toHaveLength(0);
  });

  it('a plain create or update (no nested rows, rules, machines or observers) is one statement', async () => {
    const before = runtime.db.statements;
    const created = await post('tag', { label: 'solo' });
    expect(created.status).toBe(201);
    expect(runtime.db.statements - before).toBe(1);
    const mid = runtime.db.statements;
    const updated = await put('tag', created.body.data.id, { label: 'solo2' });
    expect(updated.status).toBe(200);
    expect(updated.body.data.label).toBe('solo2');
    expect(runtime.db.statements - mid).toBe(1);
    const missing = await put('tag', '00000000-0000-4000-8000-000000000000', { label: 'x' });
    expect(missing.status).toBe(404);
    const missingBad = await put('tag', '00000000-0000-4000-8000-000000000000', { nope: 1 });
    expect(missingBad.status).toBe(404);
  });

  it('a failing grandchild rolls the whole tree back and names its path', async () => {
    const number = num();
    const res = await post('invoice', {
      number,
      items: { data: [{ name: 'ok' }, { name: 'bad', tax_lines: { data: [{ rate: 0.1 }, { rate: 'abc' }] } }] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual([{ field: 'items[1].tax_lines[1].rate', rule: 'type', message: 'rate must be decimal' }]);
    expect(await q('SELECT 1 FROM invoices WHERE number = $1', [number])).toHaveLength(0);
  });

  it('a database conflict deep in the tree rolls everything back (409)', async () => {
    const code = `C-${Date.now()}`;
    expect((await post('invoice', { number: num(), items: { data: [{ name: 'x', tax_lines: { data: [{ rate: 1, code }] } }] } })).status).toBe(201);
    const number = num();
    const res = await post('invoice', { number, items: { data: [{ name: 'y', tax_lines: { data: [{ rate: 1, code }] } }] } });
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'A record with this value already exists' });
    expect(await q('SELECT 1 FROM invoices WHERE number = $1', [number])).toHaveLength(0);
    expect(await q(`SELECT 1 FROM items WHERE name = 'y'`)).toHaveLength(0);
  });

  it('validates children like top-level rows: required, enum, type, unknown keys', async () => {
    const number = num();
    const res = await post('invoice', { number, items: { data: [{ qty: 'many' }, { name: 'x', kind: 'gift' }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'items[0].qty', rule: 'type', message: 'qty must be int' },
        { field: 'items[0].name', rule: 'required', message: 'name is required' },
        { field: 'items[1].kind', rule: 'enum', message: 'kind must be one of: good, service' },
      ]),
    );
    expect(res.body.error.details).toHaveLength(3);
    const unknown = await post('invoice', { number, items: { data: [{ name: 'x', colour: 'red', tax_lines: { data: [{ rate: 1, bogus: 1 }] } }] } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details).toEqual([
      { field: 'items[0].colour', rule: 'unknown', message: 'Unknown field or relation: colour' },
      { field: 'items[0].tax_lines[0].bogus', rule: 'unknown', message: 'Unknown field or relation: bogus' },
    ]);
    expect(await q('SELECT 1 FROM invoices WHERE number = $1', [number])).toHaveLength(0);
  });

  it('refuses malformed nested payloads with the row path', async () => {
    const number = num();
    // Only {"data": [objects…]} is a nested write; any other value under the relation's name is an unknown key.
    const unknown = [{ field: 'items', rule: 'unknown', message: 'Unknown field or relation: items' }];
    for (const items of [{ data: { name: 'x' } }, [{ name: 'x' }], { data: ['x'] }, { data: [{ name: 'x' }, 1] }, null, 'x']) {
      const res = await post('invoice', { number, items });
      expect(res.status, JSON.stringify(items)).toBe(422);
      expect(res.body.error.details, JSON.stringify(items)).toEqual(unknown);
    }
    const deep = await post('invoice', { number, items: { data: [{ name: 'x', tax_lines: [{ rate: 1 }] }] } });
    expect(deep.status).toBe(422);
    expect(deep.body.error.details).toEqual([{ field: 'items[0].tax_lines', rule: 'unknown', message: 'Unknown field or relation: tax_lines' }]);
    const deleteNew = await post('invoice', { number, items: { data: [{ name: 'x', _delete: true }] } });
    expect(deleteNew.status).toBe(422);
    expect(deleteNew.body.error.details[0].field).toBe('items[0]._delete');
    const deleteNotTrue = await post('invoice', { number, items: { data: [{ name: 'x', _delete: 'yes' }] } });
    expect(deleteNotTrue.status).toBe(422);
    expect(await q('SELECT 1 FROM invoices WHERE number = $1', [number])).toHaveLength(0);
  });

  it('an unknown _write_mode falls back to the relation default', async () => {
    const res = await post('invoice', { number: num(), items: { _write_mode: 'sideways', data: [{ name: 'x' }] } }, '?include=items');
    expect(res.status).toBe(201);
    expect(res.body.data.items).toHaveLength(1);
  });
});

describe('update modes for one_to_many', () => {
  it('diff inserts, updates and deletes in one payload and leaves the rest alone', async () => {
    const inv = await invoiceWithItems(['a', 'b', 'c']);
    const [a, b, c] = inv.items.sort((x, y) => x.name.localeCompare(y.name));
    const res = await put(
      'invoice',
      inv.id,
      { items: { data: [{ id: a!.id, name: 'a2' }, { id: b!.id, _delete: true }, { name: 'd' }] } },
      '?include=items',
    );
    expect(res.status).toBe(200);
    expect(res.body.data.items.map((i: any) => i.name).sort()).toEqual(['a2', 'c', 'd']);
    const stored = await q('SELECT name, deleted_at FROM items WHERE id = $1', [b!.id]);
    expect(stored[0].deleted_at).not.toBeNull(); // item soft-deletes
    expect((await q('SELECT name FROM items WHERE id = $1', [c!.id]))[0].name).toBe('c');
  });

  it('replace removes children not mentioned (soft for soft-delete targets, hard otherwise)', async () => {
    const inv = await invoiceWithItems(['a', 'b']);
    const [a, b] = inv.items.sort((x, y) => x.name.localeCompare(y.name));
    const res = await put('invoice', inv.id, { items: { _write_mode: 'replace', data: [{ id: a!.id, qty: 9 }, { name: 'n' }] } }, '?include=items');
    expect(res.status).toBe(200);
    expect(res.body.data.items.map((i: any) => [i.name, i.qty]).sort()).toEqual([
      ['a', 9],
      ['n', null],
    ]);
    expect((await q('SELECT deleted_at FROM items WHERE id = $1', [b!.id]))[0].deleted_at).not.toBeNull();

    // notes: hard-delete entity, replace is the relation's default mode
    const created = await post('invoice', { number: num(), notes: { data: [{ body: 'one' }, { body: 'two' }] } }, '?include=notes');
    const keep = created.body.data.notes.find((n: any) => n.body === 'one');
    const upd = await put('invoice', created.body.data.id, { notes: { data: [{ id: keep.id }] } }, '?include=notes');
    expect(upd.body.data.notes.map((n: any) => n.body)).toEqual(['one']);
    expect(await q('SELECT body FROM notes WHERE invoice_id = $1', [created.body.data.id])).toEqual([{ body: 'one' }]);
  });

  it('replace deletes rows sent with _delete', async () => {
    const inv = await invoiceWithItems(['a', 'b']);
    const [a, b] = inv.items.sort((x, y) => x.name.localeCompare(y.name));
    const res = await put(
      'invoice',
      inv.id,
      { items: { _write_mode: 'replace', data: [{ id: a!.id }, { id: b!.id, _delete: true }] } },
      '?include=items',
    );
    expect(res.body.data.items.map((i: any) => i.name)).toEqual(['a']);
  });

  it('append inserts new rows and ignores rows with keys', async () => {
    const inv = await invoiceWithItems(['a']);
    const res = await put(
      'invoice',
      inv.id,
      { items: { _write_mode: 'append', data: [{ id: inv.items[0]!.id, name: 'changed' }, { id: inv.items[0]!.id, _delete: true }, { name: 'b' }] } },
      '?include=items',
    );
    expect(res.status).toBe(200);
    expect(res.body.data.items.map((i: any) => i.name).sort()).toEqual(['a', 'b']);
  });

  it('never touches a child that belongs to another parent', async () => {
    const mine = await invoiceWithItems(['mine']);
    const other = await invoiceWithItems(['theirs']);
    const theirs = other.items[0]!;
    const upd = await put('invoice', mine.id, { items: { data: [{ id: theirs.id, name: 'hijacked' }] } });
    expect(upd.status).toBe(200);
    const del = await put('invoice', mine.id, { items: { _write_mode: 'replace', data: [{ id: theirs.id, _delete: true }] } });
    expect(del.status).toBe(200);
    const row = await q('SELECT name, invoice_id, deleted_at FROM items WHERE id = $1', [theirs.id]);
    expect(row).toEqual([{ name: 'theirs', invoice_id: other.id, deleted_at: null }]);
  });

  it('updates grandchildren under an existing child (depth 3 on update)', async () => {
    const res = await post('invoice', { number: num(), items: { data: [{ name: 'a', tax_lines: { data: [{ rate: 0.1 }] } }] } });
    const invId = res.body.data.id;
    const item = (await q('SELECT id FROM items WHERE invoice_id = $1', [invId]))[0];
    const line = (await q('SELECT id FROM tax_lines WHERE item_id = $1', [item.id]))[0];
    const upd = await put('invoice', invId, { items: { data: [{ id: item.id, tax_lines: { data: [{ id: line.id, rate: 0.3 }, { rate: 0.4 }] } }] } });
    expect(upd.status).toBe(200);
    const lines = await q('SELECT rate FROM tax_lines WHERE item_id = $1 ORDER BY rate', [item.id]);
    expect(lines).toEqual([{ rate: 0.3 }, { rate: 0.4 }]);
  });

  it('clearing a required child field on update is refused', async () => {
    const inv = await invoiceWithItems(['a']);
    const res = await put('invoice', inv.id, { items: { data: [{ id: inv.items[0]!.id, name: '' }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'items[0].name', rule: 'required', message: 'name is required' }]);
  });
});

describe('one_to_one', () => {
  it('keeps at most one live child', async () => {
    const res = await post('invoice', { number: num(), profile: { data: [{ note: 'first' }] } }, '?include=profile');
    expect(res.status).toBe(201);
    expect(res.body.data.profile).toMatchObject({ note: 'first' });
    const second = await put('invoice', res.body.data.id, { profile: { data: [{ note: 'second' }] } });
    expect(second.status).toBe(409);
    const two = await post('invoice', { number: num(), profile: { data: [{ note: 'a' }, { note: 'b' }] } });
    expect(two.status).toBe(409);
    const swap = await put('invoice', res.body.data.id, { profile: { _write_mode: 'replace', data: [{ note: 'swapped' }] } }, '?include=profile');
    expect(swap.status).toBe(200);
    expect(swap.body.data.profile).toMatchObject({ note: 'swapped' });
  });
});

describe('many_to_many links', () => {
  let tags: string[];
  beforeAll(async () => {
    tags = [];
    for (const label of ['red', 'green', 'blue']) tags.push((await post('tag', { label })).body.data.id);
  });

  it('diff adds and removes links; replace detaches the rest; append ignores existing', async () => {
    const [red, green, blue] = tags as [string, string, string];
    const created = await post('invoice', { number: num(), tags: { data: [{ id: red }, { id: green }] } }, '?include=tags');
    expect(created.status).toBe(201);
    expect(created.body.data.tags.map((t: any) => t.label).sort()).toEqual(['green', 'red']);
    const id = created.body.data.id;
    const diff = await put('invoice', id, { tags: { data: [{ id: red, _delete: true }, { id: blue }] } }, '?include=tags');
    expect(diff.body.data.tags.map((t: any) => t.label).sort()).toEqual(['blue', 'green']);
    const replace = await put('invoice', id, { tags: { _write_mode: 'replace', data: [{ id: red }] } }, '?include=tags');
    expect(replace.body.data.tags.map((t: any) => t.label)).toEqual(['red']);
    const append = await put('invoice', id, { tags: { _write_mode: 'append', data: [{ id: red }, { id: green }, {}] } }, '?include=tags');
    expect(append.body.data.tags.map((t: any) => t.label).sort()).toEqual(['green', 'red']);
    expect(await q('SELECT count(*)::int AS n FROM invoice_tags WHERE invoice_id = $1', [id])).toEqual([{ n: 2 }]);
    // target rows are never modified by link writes
    expect((await q('SELECT label FROM tags WHERE id = $1', [red]))[0].label).toBe('red');
  });

  it('refuses links to records that do not exist, naming the row', async () => {
    const number = num();
    const res = await post('invoice', { number, tags: { data: [{ id: tags[0] }, { id: '00000000-0000-4000-8000-000000000000' }] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('tags[1].id');
    const bad = await post('invoice', { number, tags: { data: [{ id: 'nope' }] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0]).toMatchObject({ field: 'tags[0].id', rule: 'type' });
    expect(await q('SELECT 1 FROM invoices WHERE number = $1', [number])).toHaveLength(0);
  });
});
