import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnsOf, indexesOf, startEngine, tableExists, UUID_PK, type EngineHarness } from '../support/engine.js';

/** Relation admin API and relation DDL (spec: metadata.md §3, §7). */

let h: EngineHarness;
beforeAll(async () => {
  h = await startEngine();
  await h.entity({
    name: 'customer',
    table: 'customers',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string' },
    ],
  });
  await h.entity({
    name: 'order',
    table: 'orders',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'customer_id', type: 'uuid' },
      { name: 'number', type: 'int' },
    ],
  });
  await h.entity({
    name: 'profile',
    table: 'profiles',
    primary_key: UUID_PK,
    soft_delete: true,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'customer_id', type: 'uuid' },
      { name: 'bio', type: 'string' },
    ],
  });
  await h.entity({
    name: 'passport',
    table: 'passports',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'customer_id', type: 'uuid' },
    ],
  });
  await h.entity({
    name: 'post',
    table: 'posts',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
    ],
  });
  await h.entity({
    name: 'label',
    table: 'labels',
    primary_key: { field: 'code', type: 'int', generated: true },
    fields: [
      { name: 'code', type: 'int' },
      { name: 'text', type: 'string' },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

const rels = (path = '') => `/_admin/relations${path}`;
const ROW_KEYS = ['created_at', 'definition', 'name', 'source', 'target', 'updated_at'];
const relationCount = async () => Number((await h.q<{ n: number }>('SELECT count(*)::int AS n FROM _relations'))[0]!.n);

const o2m = (extra: Record<string, unknown> = {}) => ({
  name: 'orders',
  type: 'one_to_many',
  source: 'customer',
  target: 'order',
  target_key: 'customer_id',
  ...extra,
});
const m2m = (extra: Record<string, unknown> = {}) => ({
  name: 'labels',
  type: 'many_to_many',
  source: 'post',
  target: 'label',
  join_table: 'post_labels',
  source_join_key: 'post_id',
  target_join_key: 'label_code',
  ...extra,
});

async function refused(body: Record<string, unknown>, message: string, field?: string) {
  const before = await relationCount();
  const res = await h.post(rels(), body);
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  expect(res.body.error.code).toBe('VALIDATION_FAILED');
  expect(res.body.error.message).toBe(message);
  if (field) expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  expect(await relationCount()).toBe(before);
  return res;
}

describe('validation (422, nothing stored)', () => {
  it('answers the spec messages', async () => {
    await refused(o2m({ name: undefined }), 'relation name is required', 'name');
    await refused(o2m({ name: '' }), 'relation name is required');
    await refused(o2m({ source: undefined }), 'source and target are required');
    await refused(o2m({ target: '' }), 'source and target are required');
    await refused(o2m({ source: 'nope' }), 'source entity not found: nope', 'source');
    await refused(o2m({ target: 'nope' }), 'target entity not found: nope', 'target');
    await refused(o2m({ type: 'weird' }), 'invalid relation type: weird', 'type');
    await refused(o2m({ type: undefined }), 'invalid relation type: ', 'type');
    await refused(m2m({ join_table: undefined }), 'join_table is required for many_to_many relations', 'join_table');
    expect(await tableExists(h, 'post_labels')).toBe(false);
  });

  it('improved checks: target_key, join keys, on_delete, write_mode, source_key, identifiers', async () => {
    await refused(o2m({ target_key: undefined }), 'target_key is required for one_to_many relations', 'target_key');
    await refused(o2m({ type: 'one_to_one', target_key: '' }), 'target_key is required for one_to_one relations', 'target_key');
    await refused(o2m({ target_key: 'owner_id' }), 'target_key owner_id not found in fields of order', 'target_key');
    // a key that cannot hold the source's primary key (uuid into an int column) would fail every nested write
    await refused(o2m({ target_key: 'number' }), 'target_key number (int) cannot hold the primary key of customer (uuid)', 'target_key');
    await refused(m2m({ source_join_key: undefined }), 'source_join_key is required for many_to_many relations', 'source_join_key');
    await refused(m2m({ target_join_key: '' }), 'target_join_key is required for many_to_many relations', 'target_join_key');
    for (const on_delete of ['destroy', 'CASCADE', 5]) {
      const res = await h.post(rels(), o2m({ on_delete }));
      expect(res.status, String(on_delete)).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('on_delete');
    }
    for (const write_mode of ['merge', 'REPLACE']) {
      const res = await h.post(rels(), o2m({ write_mode }));
      expect(res.status, write_mode).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('write_mode');
    }
    const sk = await h.post(rels(), o2m({ source_key: 'name' }));
    expect(sk.status).toBe(422);
    expect(sk.body.error.details.map((d: { field: string }) => d.field)).toContain('source_key');
    for (const bad of ['post-labels', '1x', 'a b', 'x"; DROP TABLE posts; --']) {
      const res = await h.post(rels(), m2m({ join_table: bad }));
      expect(res.status, bad).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('join_table');
      expect((await h.post(rels(), m2m({ source_join_key: bad }))).status).toBe(422);
      expect((await h.post(rels(), o2m({ name: bad }))).status).toBe(422);
    }
    // A join key named like a PostgreSQL system column could never be a column of the join table.
    await refused(m2m({ source_join_key: 'xmin' }), 'source_join_key "xmin" is a PostgreSQL system column', 'source_join_key');
    await refused(m2m({ target_join_key: 'CTID' }), 'target_join_key "CTID" is a PostgreSQL system column', 'target_join_key');
    expect(await tableExists(h, 'post_labels')).toBe(false);
    // A join table may not be a system table or an entity's table.
    expect((await h.post(rels(), m2m({ join_table: '_users' }))).status).toBe(422);
    expect((await h.post(rels(), m2m({ join_table: 'orders' }))).status).toBe(422);
    expect(await relationCount()).toBe(0);
    expect(await tableExists(h, 'post-labels')).toBe(false);
    expect((await columnsOf(h, 'orders')).size).toBe(3);
  });

  it('set_null needs a nullable key, and the key stays nullable', async () => {
    await h.entity({
      name: 'strict_child',
      table: 'strict_children',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'customer_id', type: 'uuid', required: true },
        { name: 'loose_id', type: 'uuid', required: true, nullable: true },
      ],
    });
    const base = { type: 'one_to_many', source: 'customer', target: 'strict_child', on_delete: 'set_null' };
    await refused(
      { ...base, name: 'strict1', target_key: 'customer_id' },
      'on_delete set_null needs strict_child.customer_id to be nullable',
      'on_delete',
    );
    await refused({ ...base, name: 'strict2', target_key: 'id' }, 'on_delete set_null needs strict_child.id to be nullable', 'on_delete');
    const ok = await h.post(rels(), { ...base, name: 'strict3', target_key: 'loose_id' });
    expect(ok.status).toBe(201);
    const tighten = await h.put('/_admin/entities/strict_child', {
      table: 'strict_children',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'customer_id', type: 'uuid', required: true },
        { name: 'loose_id', type: 'uuid', required: true },
      ],
    });
    expect(tighten.status).toBe(422);
    expect(tighten.body.error.message).toBe('field loose_id must stay nullable: relation strict3 sets it to null on delete');
    expect((await h.del(rels('/strict3'))).status).toBe(200);
    expect((await h.del('/_admin/entities/strict_child')).status).toBe(200);
  });

  it('a relation named like a field of its source or target is refused, and so is an entity field named like its relation', async () => {
    const clash = (rel: string, entity: string) =>
      `relation ${rel} has the name of a field of ${entity}: include=${rel} would replace the field's value`;
    // the relation saved second: named like a field of the source, of the target, or the target's deleted_at
    await refused(o2m({ name: 'name' }), clash('name', 'customer'), 'name');
    await refused(o2m({ name: 'number' }), clash('number', 'order'), 'name');
    await refused(o2m({ name: 'deleted_at', target: 'profile' }), clash('deleted_at', 'profile'), 'name');
    await refused(m2m({ name: 'title' }), clash('title', 'post'), 'name');
    expect(await tableExists(h, 'post_labels')).toBe(false);
    // the entity saved second: a field named like a relation where it is source or target
    expect((await h.post(rels(), o2m({ name: 'buyer_orders' }))).status).toBe(201);
    const customer = (await h.get('/_admin/entities/customer')).body.data.definition;
    const order = (await h.get('/_admin/entities/order')).body.data.definition;
    for (const def of [customer, order]) {
      const fields = [...def.fields, { name: 'buyer_orders', type: 'string' }];
      const res = await h.put(`/_admin/entities/${def.name}`, { ...def, fields });
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: clash('buyer_orders', def.name),
        details: [{ field: `fields[${fields.length - 1}].name`, message: clash('buyer_orders', def.name) }],
      });
      expect((await h.get(`/_admin/entities/${def.name}`)).body.data.definition).toEqual(def);
      expect((await columnsOf(h, def.table)).has('buyer_orders')).toBe(false);
    }
    expect((await h.del(rels('/buyer_orders'))).status).toBe(200);
    // soft delete adds deleted_at to the records: turning it on is refused while a relation of the entity has that name
    expect((await h.post(rels(), o2m({ name: 'deleted_at' }))).status).toBe(201);
    const soft = await h.put('/_admin/entities/order', { ...order, soft_delete: true });
    expect(soft.status).toBe(422);
    expect(soft.body.error.details).toEqual([{ field: 'soft_delete', message: clash('deleted_at', 'order') }]);
    expect((await h.get('/_admin/entities/order')).body.data.definition.soft_delete).toBe(false);
    expect((await h.del(rels('/deleted_at'))).status).toBe(200);
    expect(await relationCount()).toBe(0);
  });

  it('answers 400 for a body that is not a JSON object', async () => {
    for (const raw of ['{', '[]', '"x"']) {
      const res = await h.raw('POST', rels(), raw, { 'content-type': 'application/json' });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
  });
});

describe('create, list, get', () => {
  it('creates a one_to_many relation: normalised echo with defaults, FK index on the target', async () => {
    const res = await h.post(rels(), o2m({ on_delete: 'cascade', fetch: 'eager', extra: 'dropped' }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toEqual({
      name: 'orders',
      type: 'one_to_many',
      source: 'customer',
      target: 'order',
      source_key: 'id',
      target_key: 'customer_id',
      ownership: 'none',
      on_delete: 'cascade',
      fetch: 'eager',
      write_mode: 'diff',
    });
    const fk = (await indexesOf(h, 'orders')).filter((i) => !i.primary && i.columns.join() === 'customer_id');
    expect(fk).toHaveLength(1);
    expect(fk[0]!.unique).toBe(false);
    // No foreign key constraints are created.
    expect(await h.q("SELECT 1 FROM information_schema.table_constraints WHERE constraint_type = 'FOREIGN KEY' AND table_name = 'orders'")).toEqual(
      [],
    );
  });

  it('409 for a duplicate name', async () => {
    const res = await h.post(rels(), o2m({ target: 'passport' }));
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'Relation already exists: orders' });
    expect((await h.q<{ target: string }>("SELECT target FROM _relations WHERE name = 'orders'"))[0]!.target).toBe('order');
  });

  it('creates a many_to_many join table: key columns typed like the PKs, NOT NULL, composite PK, no FKs', async () => {
    const res = await h.post(rels(), m2m({ on_delete: 'detach', write_mode: 'append', ownership: 'source' }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toEqual({
      name: 'labels',
      type: 'many_to_many',
      source: 'post',
      target: 'label',
      source_key: 'id',
      join_table: 'post_labels',
      source_join_key: 'post_id',
      target_join_key: 'label_code',
      ownership: 'source',
      on_delete: 'detach',
      fetch: 'lazy',
      write_mode: 'append',
    });
    const cols = await columnsOf(h, 'post_labels');
    expect([...cols.keys()]).toEqual(['post_id', 'label_code']);
    expect(cols.get('post_id')).toMatchObject({ data_type: 'uuid', is_nullable: 'NO' });
    expect(cols.get('label_code')).toMatchObject({ data_type: 'integer', is_nullable: 'NO' });
    const pk = (await indexesOf(h, 'post_labels')).find((i) => i.primary);
    expect(pk?.columns).toEqual(['post_id', 'label_code']);
    expect(
      await h.q("SELECT 1 FROM information_schema.table_constraints WHERE constraint_type = 'FOREIGN KEY' AND table_name = 'post_labels'"),
    ).toEqual([]);
  });

  it('reuses an existing join table as it is', async () => {
    await h.q('CREATE TABLE premade_links (post_id uuid NOT NULL, label_code int NOT NULL, note text)');
    const res = await h.post(rels(), m2m({ name: 'premade', join_table: 'premade_links' }));
    expect(res.status).toBe(201);
    expect([...(await columnsOf(h, 'premade_links')).keys()]).toEqual(['post_id', 'label_code', 'note']);
  });

  it('an existing table without the key columns is refused (422, nothing stored or altered)', async () => {
    await h.q('CREATE TABLE odd_links (a int, b int)');
    const res = await h.post(rels(), m2m({ name: 'odd', join_table: 'odd_links' }));
    expect(res.status).toBe(422);
    expect(res.body.error.message).toBe('join_table odd_links has no column post_id');
    expect(await h.q("SELECT 1 FROM _relations WHERE name = 'odd'")).toEqual([]);
    expect([...(await columnsOf(h, 'odd_links')).keys()]).toEqual(['a', 'b']);
  });

  it('lists rows ordered by name and gets one; unknown → 404', async () => {
    const list = await h.get(rels());
    expect(list.status).toBe(200);
    expect(list.body.data.map((r: { name: string }) => r.name)).toEqual(['labels', 'orders', 'premade']);
    const row = list.body.data[1];
    expect(Object.keys(row).sort()).toEqual(ROW_KEYS);
    expect(row).toMatchObject({ name: 'orders', source: 'customer', target: 'order' });
    expect(row.definition).toMatchObject({ name: 'orders', type: 'one_to_many', target_key: 'customer_id', on_delete: 'cascade' });
    expect(new Date(row.created_at).toISOString()).toBe(row.created_at);

    const one = await h.get(rels('/labels'));
    expect(one.status).toBe(200);
    expect(one.body.data.definition.join_table).toBe('post_labels');
    const missing = await h.get(rels('/nope'));
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'Relation not found: nope' });
  });
});

describe('one_to_one', () => {
  it('adds a unique index (partial on a soft-delete target): a second live child → 409', async () => {
    await h.relation({ name: 'profile', type: 'one_to_one', source: 'customer', target: 'profile', target_key: 'customer_id' });
    const uq = (await indexesOf(h, 'profiles')).filter((i) => i.unique && !i.primary);
    expect(uq).toEqual([expect.objectContaining({ columns: ['customer_id'], predicate: '(deleted_at IS NULL)' })]);

    const c = await h.create('customer', { name: 'Ann' });
    const first = await h.create('profile', { customer_id: c.id, bio: 'one' });
    const second = await h.post('/profile', { customer_id: c.id, bio: 'two' });
    expect(second.status).toBe(409);
    expect(second.body.error).toEqual({ code: 'CONFLICT', message: 'A record with this value already exists' });
    expect(await h.q('SELECT bio FROM profiles WHERE customer_id = $1', [c.id])).toEqual([{ bio: 'one' }]);

    // Another customer's profile is fine; moving a profile onto a taken customer is not.
    const other = await h.create('customer', { name: 'Bob' });
    const p2 = await h.create('profile', { customer_id: other.id, bio: 'bob' });
    const move = await h.put(`/profile/${p2.id}`, { customer_id: c.id });
    expect(move.status).toBe(409);

    // Once the first is soft-deleted, a new live one may take its place.
    expect((await h.del(`/profile/${first.id}`)).status).toBe(200);
    const third = await h.post('/profile', { customer_id: c.id, bio: 'three' });
    expect(third.status).toBe(201);
  });

  it('hard-delete targets get a plain unique index', async () => {
    await h.relation({ name: 'passport', type: 'one_to_one', source: 'customer', target: 'passport', target_key: 'customer_id' });
    const uq = (await indexesOf(h, 'passports')).filter((i) => i.unique && !i.primary);
    expect(uq).toEqual([expect.objectContaining({ columns: ['customer_id'], predicate: null })]);
    const c = await h.create('customer', { name: 'Cy' });
    await h.create('passport', { customer_id: c.id });
    expect((await h.post('/passport', { customer_id: c.id })).status).toBe(409);
    // NULL keys are not children of anyone: any number may exist.
    await h.create('passport', { customer_id: null });
    await h.create('passport', { customer_id: null });
  });

  it('refuses (422, nothing stored) when existing rows already share a key', async () => {
    await h.entity({
      name: 'visa',
      table: 'visas',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'customer_id', type: 'uuid' },
      ],
    });
    const c = await h.create('customer', { name: 'Di' });
    await h.create('visa', { customer_id: c.id });
    await h.create('visa', { customer_id: c.id });
    const res = await h.post(rels(), { name: 'visa', type: 'one_to_one', source: 'customer', target: 'visa', target_key: 'customer_id' });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(await h.q("SELECT 1 FROM _relations WHERE name = 'visa'")).toEqual([]);
    expect((await indexesOf(h, 'visas')).filter((i) => !i.primary)).toEqual([]);
  });
  it('turning a one_to_one into one_to_many, or deleting it, lets the target hold several children again', async () => {
    for (const name of ['ticket', 'badge']) {
      await h.entity({
        name,
        table: `${name}s`,
        primary_key: UUID_PK,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'customer_id', type: 'uuid' },
        ],
      });
      await h.relation({ name: `${name}_of`, type: 'one_to_one', source: 'customer', target: name, target_key: 'customer_id' });
    }
    const c = await h.create('customer', { name: 'Eve' });
    await h.create('ticket', { customer_id: c.id });
    await h.create('badge', { customer_id: c.id });
    expect((await h.post('/ticket', { customer_id: c.id })).status).toBe(409);

    const changed = await h.put(rels('/ticket_of'), { type: 'one_to_many', source: 'customer', target: 'ticket', target_key: 'customer_id' });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect((await indexesOf(h, 'tickets')).filter((i) => i.unique && !i.primary)).toEqual([]);
    expect((await h.post('/ticket', { customer_id: c.id })).status).toBe(201);
    const included = await h.get(`/customer/${c.id}?include=ticket_of`);
    expect(included.body.data.ticket_of).toHaveLength(2);

    expect((await h.del(rels('/badge_of'))).status).toBe(200);
    expect((await indexesOf(h, 'badges')).filter((i) => i.unique && !i.primary)).toEqual([]);
    expect((await h.post('/badge', { customer_id: c.id })).status).toBe(201);
    expect(await h.q('SELECT count(*)::int AS n FROM badges WHERE customer_id = $1', [c.id])).toEqual([{ n: 2 }]);
  });
});

describe('update and delete', () => {
  it('PUT replaces the definition (name from the URL) and takes effect at once', async () => {
    const c = await h.create('customer', { name: 'Ed' });
    await h.create('order', { customer_id: c.id, number: 1 });
    const res = await h.put(rels('/orders'), o2m({ name: 'ignored', on_delete: 'restrict' }));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'orders', on_delete: 'restrict' });
    expect(await h.q("SELECT 1 FROM _relations WHERE name = 'ignored'")).toEqual([]);
    const row = await h.get(rels('/orders'));
    expect(row.body.data.definition.on_delete).toBe('restrict');
    expect(new Date(row.body.data.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(row.body.data.created_at).getTime());
    const del = await h.del(`/customer/${c.id}`);
    expect(del.status).toBe(409);
    expect(del.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 1 related order records exist' });
  });

  it('PUT: 404 unknown, 422 invalid (unchanged), 400 bad body', async () => {
    const missing = await h.put(rels('/ghost'), o2m());
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'Relation not found: ghost' });
    const before = (await h.get(rels('/orders'))).body.data.definition;
    const invalid = await h.put(rels('/orders'), o2m({ on_delete: 'explode' }));
    expect(invalid.status).toBe(422);
    const invalid2 = await h.put(rels('/orders'), o2m({ target: 'nope' }));
    expect(invalid2.status).toBe(422);
    expect(invalid2.body.error.message).toBe('target entity not found: nope');
    const bad = await h.raw('PUT', rels('/orders'), 'nope', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect((await h.get(rels('/orders'))).body.data.definition).toEqual(before);
  });

  it('PUT never creates or alters join tables: a missing one is refused (422), an existing one is used', async () => {
    const res = await h.put(rels('/labels'), m2m({ join_table: 'post_labels_v2' }));
    expect(res.status).toBe(422);
    expect(res.body.error.message).toBe('join_table post_labels_v2 does not exist');
    expect(await tableExists(h, 'post_labels_v2')).toBe(false);
    expect((await h.get(rels('/labels'))).body.data.definition.join_table).toBe('post_labels');
    const keys = await h.put(rels('/labels'), m2m({ join_table: 'premade_links', target_join_key: 'note' }));
    expect(keys.status).toBe(200);
    const missingKey = await h.put(rels('/labels'), m2m({ join_table: 'premade_links', source_join_key: 'pid' }));
    expect(missingKey.status).toBe(422);
    expect(missingKey.body.error.message).toBe('join_table premade_links has no column pid');
    expect([...(await columnsOf(h, 'premade_links')).keys()]).toEqual(['post_id', 'label_code', 'note']);
    expect((await h.put(rels('/labels'), m2m())).status).toBe(200);
  });

  it('DELETE removes the relation (not the join table); includes by that name stop resolving', async () => {
    const p = await h.create('post', { title: 'x' });
    expect((await h.get(`/post/${p.id}?include=labels`)).status).toBe(200);
    const res = await h.del(rels('/labels'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { name: 'labels', deleted: true } });
    expect(await h.q("SELECT 1 FROM _relations WHERE name = 'labels'")).toEqual([]);
    expect(await tableExists(h, 'post_labels')).toBe(true);
    const inc = await h.get(`/post/${p.id}?include=labels`);
    expect(inc.status).toBe(400);
    expect(inc.body.error).toEqual({ code: 'UNKNOWN_FIELD', message: 'Unknown include: labels' });
    const again = await h.del(rels('/labels'));
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({ code: 'NOT_FOUND', message: 'Relation not found: labels' });
  });

  it('an entity PUT that drops a field a relation uses is refused', async () => {
    const res = await h.put('/_admin/entities/order', {
      table: 'orders',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'number', type: 'int' },
      ],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect((await h.get('/_admin/entities/order')).body.data.definition.fields).toHaveLength(3);
  });

  it('deleting an entity removes relations where it is source or target', async () => {
    const res = await h.del('/_admin/entities/customer');
    expect(res.status).toBe(200);
    const names = (await h.get(rels())).body.data.map((r: { name: string }) => r.name);
    expect(names).toEqual(['premade']);
  });
});
