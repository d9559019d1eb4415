import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, UUID_PK, type EngineHarness } from '../support/engine.js';

/** DELETE and on_delete of every relation kind, following the tree (spec: rest-api.md §Delete). */

let h: EngineHarness;

const id = { name: 'id', type: 'uuid' };
const named = { name: 'name', type: 'string' };

beforeAll(async () => {
  h = await startEngine();
});
afterAll(async () => {
  await h?.close();
});

/** A parent → child → grandchild chain of three entities with the given soft_delete flags and on_delete rules. */
async function chain(prefix: string, soft: [boolean, boolean, boolean], rules: [string, string]) {
  const [a, b, c] = [`${prefix}_customer`, `${prefix}_order`, `${prefix}_item`];
  await h.entity({ name: a, table: `${a}s`, primary_key: UUID_PK, soft_delete: soft[0], fields: [id, named] });
  await h.entity({ name: b, table: `${b}s`, primary_key: UUID_PK, soft_delete: soft[1], fields: [id, named, { name: 'customer_id', type: 'uuid' }] });
  await h.entity({ name: c, table: `${c}s`, primary_key: UUID_PK, soft_delete: soft[2], fields: [id, named, { name: 'order_id', type: 'uuid' }] });
  await h.relation({ name: `${prefix}_orders`, type: 'one_to_many', source: a, target: b, target_key: 'customer_id', on_delete: rules[0] });
  await h.relation({ name: `${prefix}_items`, type: 'one_to_many', source: b, target: c, target_key: 'order_id', on_delete: rules[1] });
  return { a, b, c };
}

/** Two customers, each with two orders of two items. */
async function seed(e: { a: string; b: string; c: string }) {
  const out: Array<{ customer: any; orders: any[]; items: any[] }> = [];
  for (const cn of ['x', 'y']) {
    const customer = await h.create(e.a, { name: cn });
    const orders = [];
    const items = [];
    for (const on of [1, 2]) {
      const order = await h.create(e.b, { name: `${cn}${on}`, customer_id: customer.id });
      orders.push(order);
      for (const iname of ['a', 'b']) items.push(await h.create(e.c, { name: `${cn}${on}${iname}`, order_id: order.id }));
    }
    out.push({ customer, orders, items });
  }
  return out;
}

/** name → deleted? for every row of a table (absent rows are 'gone'). */
async function state(table: string, soft: boolean) {
  const rows = await h.q<{ name: string; deleted: boolean }>(
    `SELECT name, ${soft ? 'deleted_at IS NOT NULL' : 'false'} AS deleted FROM ${table} ORDER BY name`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.deleted ? 'deleted' : 'live']));
}

describe('cascade follows the tree', () => {
  it('soft customer → soft orders → hard items', async () => {
    const e = await chain('s', [true, true, false], ['cascade', 'cascade']);
    const [x] = await seed(e);
    const res = await h.del(`/${e.a}/${x!.customer.id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ data: { id: x!.customer.id } });
    expect(await state('s_customers', true)).toEqual({ x: 'deleted', y: 'live' });
    expect(await state('s_orders', true)).toEqual({ x1: 'deleted', x2: 'deleted', y1: 'live', y2: 'live' });
    expect(await state('s_items', false)).toEqual({ y1a: 'live', y1b: 'live', y2a: 'live', y2b: 'live' });
    // The API hides what was soft-deleted.
    expect((await h.get(`/${e.b}/${x!.orders[0].id}`)).status).toBe(404);
    expect((await h.get(`/${e.b}`)).body.meta.total).toBe(2);
  });

  it('hard customer → hard orders → hard items', async () => {
    const e = await chain('h', [false, false, false], ['cascade', 'cascade']);
    const [x, y] = await seed(e);
    expect((await h.del(`/${e.a}/${x!.customer.id}`)).status).toBe(200);
    expect(await state('h_customers', false)).toEqual({ y: 'live' });
    expect(await state('h_orders', false)).toEqual({ y1: 'live', y2: 'live' });
    expect(await state('h_items', false)).toEqual({ y1a: 'live', y1b: 'live', y2a: 'live', y2b: 'live' });
    // Deleting a middle row cascades only downwards.
    expect((await h.del(`/${e.b}/${y!.orders[0].id}`)).status).toBe(200);
    expect(await state('h_customers', false)).toEqual({ y: 'live' });
    expect(await state('h_items', false)).toEqual({ y2a: 'live', y2b: 'live' });
  });

  it('all soft: every level gets the same deleted_at; already-deleted children keep theirs', async () => {
    const e = await chain('a', [true, true, true], ['cascade', 'cascade']);
    const [x] = await seed(e);
    expect((await h.del(`/${e.c}/${x!.items[0].id}`)).status).toBe(200);
    const [earlier] = await h.q<{ deleted_at: Date }>("SELECT deleted_at FROM a_items WHERE name = 'x1a'");
    await new Promise((r) => setTimeout(r, 20));
    expect((await h.del(`/${e.a}/${x!.customer.id}`)).status).toBe(200);
    expect(await state('a_items', true)).toEqual({
      x1a: 'deleted',
      x1b: 'deleted',
      x2a: 'deleted',
      x2b: 'deleted',
      y1a: 'live',
      y1b: 'live',
      y2a: 'live',
      y2b: 'live',
    });
    const stamps = await h.q<{ name: string; at: string }>(
      "SELECT name, deleted_at::text AS at FROM a_customers WHERE name = 'x' UNION ALL SELECT name, deleted_at::text FROM a_orders WHERE name LIKE 'x%' UNION ALL SELECT name, deleted_at::text FROM a_items WHERE name LIKE 'x%' AND name <> 'x1a'",
    );
    expect(new Set(stamps.map((s) => s.at)).size).toBe(1);
    const [after] = await h.q<{ deleted_at: Date }>("SELECT deleted_at FROM a_items WHERE name = 'x1a'");
    expect(after!.deleted_at.getTime()).toBe(earlier!.deleted_at.getTime());
  });

  it('a self-referencing tree is deleted to any depth without looping', async () => {
    await h.entity({ name: 'node', table: 'nodes', primary_key: UUID_PK, fields: [id, named, { name: 'parent_id', type: 'uuid' }] });
    await h.relation({ name: 'children', type: 'one_to_many', source: 'node', target: 'node', target_key: 'parent_id', on_delete: 'cascade' });
    const root = await h.create('node', { name: 'root' });
    let parent = root;
    for (let d = 1; d <= 5; d++) parent = await h.create('node', { name: `d${d}`, parent_id: parent.id });
    const other = await h.create('node', { name: 'other' });
    // A cycle: root's parent is its own descendant.
    await h.q('UPDATE nodes SET parent_id = $1 WHERE id = $2', [parent.id, root.id]);
    expect((await h.del(`/node/${root.id}`)).status).toBe(200);
    expect(await state('nodes', false)).toEqual({ other: 'live' });
    expect(other.parent_id).toBeNull();
  });
});

describe('set_null, restrict, detach', () => {
  beforeAll(async () => {
    await h.entity({ name: 'owner', table: 'owners', primary_key: UUID_PK, soft_delete: true, fields: [id, named] });
    await h.entity({ name: 'pet', table: 'pets', primary_key: UUID_PK, soft_delete: true, fields: [id, named, { name: 'owner_id', type: 'uuid' }] });
    await h.entity({
      name: 'bill',
      table: 'bills',
      primary_key: UUID_PK,
      soft_delete: true,
      fields: [id, named, { name: 'owner_id', type: 'uuid' }],
    });
    await h.entity({ name: 'diary', table: 'diaries', primary_key: UUID_PK, fields: [id, named, { name: 'owner_id', type: 'uuid' }] });
    await h.relation({ name: 'pets', type: 'one_to_many', source: 'owner', target: 'pet', target_key: 'owner_id', on_delete: 'set_null' });
    await h.relation({ name: 'bills', type: 'one_to_many', source: 'owner', target: 'bill', target_key: 'owner_id', on_delete: 'restrict' });
    await h.relation({ name: 'diaries', type: 'one_to_many', source: 'owner', target: 'diary', target_key: 'owner_id', on_delete: 'detach' });
  });

  it('set_null clears the key on every child, soft-deleted ones included', async () => {
    const o = await h.create('owner', { name: 'o1' });
    const live = await h.create('pet', { name: 'live', owner_id: o.id });
    const gone = await h.create('pet', { name: 'gone', owner_id: o.id });
    expect((await h.del(`/pet/${gone.id}`)).status).toBe(200);
    const other = await h.create('owner', { name: 'o2' });
    const kept = await h.create('pet', { name: 'kept', owner_id: other.id });
    expect((await h.del(`/owner/${o.id}`)).status).toBe(200);
    expect(await h.q('SELECT name, owner_id, deleted_at IS NOT NULL AS deleted FROM pets ORDER BY name')).toEqual([
      { name: 'gone', owner_id: null, deleted: true },
      { name: 'kept', owner_id: other.id, deleted: false },
      { name: 'live', owner_id: null, deleted: false },
    ]);
    expect((await h.get(`/pet/${live.id}`)).body.data.owner_id).toBeNull();
    expect(kept.owner_id).toBe(other.id);
  });

  it('restrict: live children → 409 and nothing changes; soft-deleted children do not count', async () => {
    const o = await h.create('owner', { name: 'r1' });
    const pet = await h.create('pet', { name: 'rpet', owner_id: o.id });
    const b1 = await h.create('bill', { name: 'b1', owner_id: o.id });
    const b2 = await h.create('bill', { name: 'b2', owner_id: o.id });
    const res = await h.del(`/owner/${o.id}`);
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 2 related bill records exist' });
    expect(await h.q('SELECT deleted_at FROM owners WHERE id = $1', [o.id])).toEqual([{ deleted_at: null }]);
    expect(await h.q('SELECT owner_id FROM pets WHERE id = $1', [pet.id])).toEqual([{ owner_id: o.id }]);
    expect((await h.get(`/owner/${o.id}`)).status).toBe(200);

    expect((await h.del(`/bill/${b1.id}`)).status).toBe(200);
    const one = await h.del(`/owner/${o.id}`);
    expect(one.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 1 related bill records exist' });
    expect((await h.del(`/bill/${b2.id}`)).status).toBe(200);
    expect((await h.del(`/owner/${o.id}`)).status).toBe(200);
    expect(await h.q('SELECT owner_id FROM pets WHERE id = $1', [pet.id])).toEqual([{ owner_id: null }]);
  });

  it('detach and an empty on_delete leave one_to_many children alone', async () => {
    const o = await h.create('owner', { name: 'd1' });
    const d = await h.create('diary', { name: 'dd', owner_id: o.id });
    expect((await h.del(`/owner/${o.id}`)).status).toBe(200);
    expect(await h.q('SELECT owner_id FROM diaries WHERE id = $1', [d.id])).toEqual([{ owner_id: o.id }]);
  });
});

describe('restrict deep in the chain aborts the whole delete', () => {
  it('customer → orders (cascade) → payments (restrict): 409, nothing deleted at any level', async () => {
    const e = await chain('r', [true, true, false], ['cascade', 'cascade']);
    await h.entity({ name: 'r_payment', table: 'r_payments', primary_key: UUID_PK, fields: [id, named, { name: 'order_id', type: 'uuid' }] });
    await h.relation({ name: 'r_payments', type: 'one_to_many', source: e.b, target: 'r_payment', target_key: 'order_id', on_delete: 'restrict' });
    const [x] = await seed(e);
    await h.create('r_payment', { name: 'p', order_id: x!.orders[1].id });
    const before = [await state('r_customers', true), await state('r_orders', true), await state('r_items', false)];
    const res = await h.del(`/${e.a}/${x!.customer.id}`);
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 1 related r_payment records exist' });
    expect([await state('r_customers', true), await state('r_orders', true), await state('r_items', false)]).toEqual(before);
    expect(before[2]).toHaveProperty('x1a', 'live');
    // Removing the payment unblocks the delete.
    await h.q("DELETE FROM r_payments WHERE name = 'p'");
    expect((await h.del(`/${e.a}/${x!.customer.id}`)).status).toBe(200);
    expect(await state('r_items', false)).toEqual({ y1a: 'live', y1b: 'live', y2a: 'live', y2b: 'live' });
  });
});

describe('many_to_many', () => {
  beforeAll(async () => {
    await h.entity({ name: 'post', table: 'posts', primary_key: UUID_PK, soft_delete: true, fields: [id, named] });
    await h.entity({
      name: 'tag',
      table: 'tags',
      primary_key: { field: 'code', type: 'int', generated: true },
      fields: [{ name: 'code', type: 'int' }, named],
    });
    for (const on_delete of ['detach', 'cascade', 'set_null', 'restrict', '']) {
      const n = on_delete || 'none';
      await h.relation({
        name: `tags_${n}`,
        type: 'many_to_many',
        source: 'post',
        target: 'tag',
        join_table: `post_tags_${n}`,
        source_join_key: 'post_id',
        target_join_key: 'tag_code',
        on_delete,
      });
    }
  });

  const links = async (table: string) =>
    h.q<{ name: string; tag: string }>(
      `SELECT p.name, t.name AS tag FROM ${table} j JOIN posts p ON p.id = j.post_id JOIN tags t ON t.code = j.tag_code ORDER BY 1, 2`,
    );

  it('detach, cascade and set_null remove the join rows of the deleted record only; targets stay; empty keeps them', async () => {
    const t = await h.create('tag', { name: 't' });
    const u = await h.create('tag', { name: 'u' });
    const p1 = await h.create('post', { name: 'p1' });
    const p2 = await h.create('post', { name: 'p2' });
    for (const n of ['detach', 'cascade', 'set_null', 'none']) {
      await h.q(`INSERT INTO post_tags_${n} (post_id, tag_code) VALUES ($1, $3), ($1, $4), ($2, $3)`, [p1.id, p2.id, t.code, u.code]);
    }
    expect((await h.del(`/post/${p1.id}`)).status).toBe(200);
    for (const n of ['detach', 'cascade', 'set_null']) expect(await links(`post_tags_${n}`), n).toEqual([{ name: 'p2', tag: 't' }]);
    expect(await links('post_tags_none')).toEqual([
      { name: 'p1', tag: 't' },
      { name: 'p1', tag: 'u' },
      { name: 'p2', tag: 't' },
    ]);
    expect(await h.q('SELECT name FROM tags ORDER BY name')).toEqual([{ name: 't' }, { name: 'u' }]);
  });

  it('restrict with join rows → 409, nothing changes; without → deleted', async () => {
    const t = await h.create('tag', { name: 'rt' });
    const p = await h.create('post', { name: 'rp' });
    await h.q('INSERT INTO post_tags_restrict (post_id, tag_code) VALUES ($1, $2)', [p.id, t.code]);
    await h.q('INSERT INTO post_tags_detach (post_id, tag_code) VALUES ($1, $2)', [p.id, t.code]);
    const res = await h.del(`/post/${p.id}`);
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'Cannot delete: 1 related tag records exist' });
    expect(await links('post_tags_detach')).toContainEqual({ name: 'rp', tag: 'rt' });
    expect(await h.q('SELECT deleted_at FROM posts WHERE id = $1', [p.id])).toEqual([{ deleted_at: null }]);
    await h.q('DELETE FROM post_tags_restrict');
    expect((await h.del(`/post/${p.id}`)).status).toBe(200);
    expect(await links('post_tags_detach')).not.toContainEqual({ name: 'rp', tag: 'rt' });
  });

  it('deleting the target side leaves join rows alone (relations act from their source)', async () => {
    const t = await h.create('tag', { name: 'tt' });
    const p = await h.create('post', { name: 'tp' });
    await h.q('INSERT INTO post_tags_cascade (post_id, tag_code) VALUES ($1, $2)', [p.id, t.code]);
    expect((await h.del(`/tag/${t.code}`)).status).toBe(200);
    expect(await h.q('SELECT count(*)::int AS n FROM post_tags_cascade WHERE post_id = $1', [p.id])).toEqual([{ n: 1 }]);
    expect((await h.get(`/post/${p.id}?include=tags_cascade`)).body.data.tags_cascade).toEqual([]);
  });
});

describe('key types', () => {
  it('a parent key that cannot be a value of the child key type has no children (no error)', async () => {
    await h.entity({ name: 'land', table: 'lands', primary_key: { field: 'code', type: 'string' }, fields: [{ name: 'code', type: 'string' }] });
    await h.entity({ name: 'city', table: 'cities', primary_key: UUID_PK, fields: [id, named, { name: 'land_code', type: 'int' }] });
    await h.relation({ name: 'cities', type: 'one_to_many', source: 'land', target: 'city', target_key: 'land_code', on_delete: 'restrict' });
    await h.create('land', { code: 'de' });
    await h.create('land', { code: '7' });
    await h.create('city', { name: 'c', land_code: 7 });
    expect((await h.del('/land/de')).status).toBe(200);
    const blocked = await h.del('/land/7');
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.message).toBe('Cannot delete: 1 related city records exist');
  });
});
