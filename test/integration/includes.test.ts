import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISSING_UUID, startEngine, UUID_PK, type EngineHarness } from '../support/engine.js';

/** include= on list and get: name resolution, every relation kind both ways, query count (spec: rest-api.md §Includes). */

let h: EngineHarness;

const id = { name: 'id', type: 'uuid' };

beforeAll(async () => {
  h = await startEngine();
  await h.entity({ name: 'customer', table: 'customers', primary_key: UUID_PK, fields: [id, { name: 'name', type: 'string' }] });
  await h.entity({
    name: 'order',
    table: 'orders',
    primary_key: UUID_PK,
    soft_delete: true,
    fields: [id, { name: 'customer_id', type: 'uuid' }, { name: 'number', type: 'int' }],
  });
  await h.entity({
    name: 'profile',
    table: 'profiles',
    primary_key: UUID_PK,
    fields: [id, { name: 'customer_id', type: 'uuid' }, { name: 'bio', type: 'string' }],
  });
  await h.entity({
    name: 'tag',
    table: 'tags',
    primary_key: { field: 'code', type: 'int', generated: true },
    soft_delete: true,
    fields: [
      { name: 'code', type: 'int' },
      { name: 'label', type: 'string' },
    ],
  });
  await h.entity({
    name: 'note',
    table: 'notes',
    primary_key: UUID_PK,
    fields: [id, { name: 'customer_id', type: 'uuid' }, { name: 'body', type: 'string' }],
  });
  await h.entity({
    name: 'line',
    table: 'lines',
    primary_key: UUID_PK,
    fields: [id, { name: 'order_id', type: 'uuid' }, { name: 'sku', type: 'string' }],
  });

  await h.relation({ name: 'orders', type: 'one_to_many', source: 'customer', target: 'order', target_key: 'customer_id' });
  await h.relation({ name: 'profile', type: 'one_to_one', source: 'customer', target: 'profile', target_key: 'customer_id' });
  await h.relation({
    name: 'tags',
    type: 'many_to_many',
    source: 'order',
    target: 'tag',
    join_table: 'order_tag_links',
    source_join_key: 'order_id',
    target_join_key: 'tag_code',
  });
  await h.relation({ name: 'customer_notes', type: 'one_to_many', source: 'customer', target: 'note', target_key: 'customer_id' });
  await h.relation({ name: 'lines', type: 'one_to_many', source: 'order', target: 'line', target_key: 'order_id' });
});
afterAll(async () => {
  await h?.close();
});

const link = (orderId: string, tag: number) => h.q('INSERT INTO order_tag_links (order_id, tag_code) VALUES ($1, $2)', [orderId, tag]);
const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r]));
const sortBy = <T>(rows: T[], key: keyof T) => [...rows].sort((a, b) => String(a[key]).localeCompare(String(b[key])));

describe('forward relations', () => {
  let ann: any, bob: any, o1: any, o2: any, gone: any, p: any, t1: any, t2: any;
  beforeAll(async () => {
    ann = await h.create('customer', { name: 'Ann' });
    bob = await h.create('customer', { name: 'Bob' });
    o1 = await h.create('order', { customer_id: ann.id, number: 1 });
    o2 = await h.create('order', { customer_id: ann.id, number: 2 });
    gone = await h.create('order', { customer_id: ann.id, number: 3 });
    expect((await h.del(`/order/${gone.id}`)).status).toBe(200);
    p = await h.create('profile', { customer_id: ann.id, bio: 'hi' });
    t1 = await h.create('tag', { label: 'red' });
    t2 = await h.create('tag', { label: 'blue' });
    await link(o1.id, t1.code);
    await link(o1.id, t2.code);
  });

  it('one_to_many → array of live children with their declared fields only (no undeclared deleted_at); [] when none', async () => {
    const res = await h.get(`/customer?include=orders&filter[id.in]=${ann.id},${bob.id}`);
    expect(res.status).toBe(200);
    const rows = byId(res.body.data);
    expect(Object.keys(rows.get(ann.id)).sort()).toEqual(['id', 'name', 'orders']);
    expect(sortBy(rows.get(ann.id).orders, 'number')).toEqual([
      { id: o1.id, customer_id: ann.id, number: 1 },
      { id: o2.id, customer_id: ann.id, number: 2 },
    ]);
    expect(rows.get(bob.id).orders).toEqual([]);
    expect(res.body.meta.total).toBe(2);
  });

  it('one_to_one → object or null', async () => {
    const res = await h.get(`/customer/${ann.id}?include=profile`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ...ann, profile: { id: p.id, customer_id: ann.id, bio: 'hi' } });
    const none = await h.get(`/customer/${bob.id}?include=profile`);
    expect(none.body.data).toEqual({ ...bob, profile: null });
  });

  it('many_to_many → array of linked live targets; [] when none', async () => {
    const res = await h.get(`/order?include=tags&filter[id.in]=${o1.id},${o2.id}`);
    expect(res.status).toBe(200);
    const rows = byId(res.body.data);
    expect(sortBy(rows.get(o1.id).tags, 'code')).toEqual([
      { code: t1.code, label: 'red' },
      { code: t2.code, label: 'blue' },
    ]);
    expect(rows.get(o2.id).tags).toEqual([]);
    expect(rows.get(o1.id).deleted_at).toBeNull();
    // rest-api.md §Includes: included rows carry only declared fields, no deleted_at unless declared.
    expect(Object.keys(rows.get(o1.id).tags[0]).sort()).toEqual(['code', 'label']);
  });

  it('several includes at once, names trimmed; get and list agree', async () => {
    const get = await h.get(`/customer/${ann.id}?include=orders , profile,customer_notes`);
    expect(get.status).toBe(200);
    expect(Object.keys(get.body.data).sort()).toEqual(['customer_notes', 'id', 'name', 'orders', 'profile']);
    const list = await h.get(`/customer?filter[id]=${ann.id}&include=orders , profile,customer_notes`);
    expect(list.body.data[0]).toEqual(get.body.data);
  });

  it('included rows never carry nested includes', async () => {
    const res = await h.get(`/customer/${ann.id}?include=orders`);
    for (const o of res.body.data.orders) expect(Object.keys(o).sort()).toEqual(['customer_id', 'id', 'number']);
  });

  it('a soft-deleted target disappears from includes', async () => {
    const t3 = await h.create('tag', { label: 'green' });
    await link(o2.id, t3.code);
    expect((await h.get(`/order/${o2.id}?include=tags`)).body.data.tags).toEqual([{ code: t3.code, label: 'green' }]);
    expect((await h.del(`/tag/${t3.code}`)).status).toBe(200);
    expect((await h.get(`/order/${o2.id}?include=tags`)).body.data.tags).toEqual([]);
  });
});

describe('reverse relations', () => {
  let cy: any, o: any, orphan: any, t: any, line: any;
  beforeAll(async () => {
    cy = await h.create('customer', { name: 'Cy' });
    o = await h.create('order', { customer_id: cy.id, number: 10 });
    orphan = await h.create('order', { customer_id: null, number: 11 });
    await h.create('order', { customer_id: MISSING_UUID, number: 12 });
    t = await h.create('tag', { label: 'shared' });
    await link(o.id, t.code);
    await link(orphan.id, t.code);
    line = await h.create('line', { order_id: o.id, sku: 'A' });
  });

  it('reverse one_to_many → the parent object, or null for a NULL or dangling key (key always present)', async () => {
    const res = await h.get(`/order?include=customer&filter[number.in]=10,11,12&sort=number`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: any) => r.customer)).toEqual([{ id: cy.id, name: 'Cy' }, null, null]);
    expect(res.body.data.every((r: object) => 'customer' in r)).toBe(true);
    const one = await h.get(`/order/${orphan.id}?include=customer`);
    expect(one.body.data).toEqual({ ...orphan, customer: null });
    expect(one.body.data.deleted_at).toBeNull();
  });

  it('a relation may also be included by its own name from the target side', async () => {
    const res = await h.get(`/order/${o.id}?include=orders`);
    expect(res.status).toBe(200);
    expect(res.body.data.orders).toEqual({ id: cy.id, name: 'Cy' });
  });

  it('reverse one_to_one → the parent object', async () => {
    const prof = await h.create('profile', { customer_id: cy.id, bio: 'cy' });
    const res = await h.get(`/profile/${prof.id}?include=customer`);
    expect(res.body.data).toEqual({ ...prof, customer: { id: cy.id, name: 'Cy' } });
    const byName = await h.get(`/profile/${prof.id}?include=profile`);
    expect(byName.body.data.profile).toEqual({ id: cy.id, name: 'Cy' });
  });

  it('reverse many_to_many → array of sources linked through the join table', async () => {
    const res = await h.get(`/tag/${t.code}?include=order`);
    expect(res.status).toBe(200);
    expect(sortBy(res.body.data.order, 'number')).toEqual([
      { id: o.id, customer_id: cy.id, number: 10 },
      { id: orphan.id, customer_id: null, number: 11 },
    ]);
    const byName = await h.get(`/tag/${t.code}?include=tags`);
    expect(sortBy(byName.body.data.tags, 'number').map((r: any) => r.number)).toEqual([10, 11]);
    const lonely = await h.create('tag', { label: 'lonely' });
    expect((await h.get(`/tag/${lonely.code}?include=order`)).body.data.order).toEqual([]);
  });

  it('a soft-deleted parent is excluded from reverse includes', async () => {
    expect((await h.del(`/order/${orphan.id}`)).status).toBe(200);
    const res = await h.get(`/tag/${t.code}?include=order`);
    expect(res.body.data.order.map((r: any) => r.number)).toEqual([10]);
    const l2 = await h.create('line', { order_id: orphan.id, sku: 'B' });
    const rev = await h.get(`/line?include=order&filter[id.in]=${line.id},${l2.id}&sort=sku`);
    expect(rev.body.data.map((r: any) => r.order?.number ?? null)).toEqual([10, null]);
    // The included soft-delete parent has its declared fields only.
    expect(rev.body.data[0].order).toEqual({ id: o.id, customer_id: cy.id, number: 10 });
  });
});

describe('keys whose types differ between the two sides', () => {
  beforeAll(async () => {
    await h.entity({ name: 'club', table: 'clubs', primary_key: UUID_PK, fields: [id, { name: 'name', type: 'string' }] });
    await h.entity({ name: 'member', table: 'members', primary_key: UUID_PK, fields: [id, { name: 'club_ref', type: 'string' }] });
    await h.entity({
      name: 'team',
      table: 'teams',
      primary_key: { field: 'id', type: 'int', generated: true },
      fields: [{ name: 'id', type: 'int' }],
    });
    await h.entity({ name: 'player', table: 'players', primary_key: UUID_PK, fields: [id, { name: 'team_id', type: 'bigint' }] });
    await h.relation({ name: 'members', type: 'one_to_many', source: 'club', target: 'member', target_key: 'club_ref', on_delete: 'cascade' });
    await h.relation({ name: 'players', type: 'one_to_many', source: 'team', target: 'player', target_key: 'team_id', on_delete: 'set_null' });
  });

  it("a stored key that is no value of the other side's PK type simply matches nothing", async () => {
    const club = await h.create('club', { name: 'c' });
    const upper = await h.create('member', { club_ref: club.id.toUpperCase() });
    const exact = await h.create('member', { club_ref: club.id });
    const junk = await h.create('member', { club_ref: 'not-a-uuid' });
    const rev = await h.get(`/member?include=club&filter[id.in]=${upper.id},${exact.id},${junk.id}`);
    expect(rev.status, JSON.stringify(rev.body)).toBe(200);
    const byMember = byId(rev.body.data);
    expect(byMember.get(exact.id).club).toEqual({ id: club.id, name: 'c' });
    expect(byMember.get(junk.id).club).toBeNull();
    const fwd = await h.get(`/club/${club.id}?include=members`);
    expect(fwd.body.data.members.map((m: any) => m.id)).toEqual([exact.id]);

    const team = await h.create('team', {});
    const p1 = await h.create('player', { team_id: team.id });
    const p2 = await h.create('player', { team_id: 99999999999 });
    const players = await h.get(`/player?include=team&filter[id.in]=${p1.id},${p2.id}`);
    expect(players.status, JSON.stringify(players.body)).toBe(200);
    const byPlayer = byId(players.body.data);
    expect(byPlayer.get(p1.id).team).toEqual({ id: team.id });
    expect(byPlayer.get(p2.id).team).toBeNull();
    expect((await h.get(`/team/${team.id}?include=players`)).body.data.players).toEqual([{ id: p1.id, team_id: team.id }]);

    // Cascades match the same way.
    expect((await h.del(`/team/${team.id}`)).status).toBe(200);
    expect(await h.q('SELECT team_id FROM players WHERE id = $1', [p1.id])).toEqual([{ team_id: null }]);
    expect((await h.del(`/club/${club.id}`)).status).toBe(200);
    expect(await h.q('SELECT club_ref FROM members ORDER BY club_ref')).toEqual([{ club_ref: club.id.toUpperCase() }, { club_ref: 'not-a-uuid' }]);
  });
});

describe('include= on write responses', () => {
  it('POST and PUT return the requested relations as read after commit', async () => {
    const c = await h.create('customer', { name: 'Wes' });
    const post = await h.post('/order?include=customer,tags', { customer_id: c.id, number: 77 });
    expect(post.status).toBe(201);
    expect(post.body.data).toMatchObject({ number: 77, customer: { id: c.id, name: 'Wes' }, tags: [] });
    const put = await h.put(`/order/${post.body.data.id}?include=customer`, { customer_id: null });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ customer_id: null, customer: null });
  });
});

describe('name resolution', () => {
  it('relation name; else the other entity name; else <entity>_<name>', async () => {
    const c = await h.create('customer', { name: 'Di' });
    const o = await h.create('order', { customer_id: c.id, number: 20 });
    const n = await h.create('note', { customer_id: c.id, body: 'b' });
    const res = await h.get(`/customer/${c.id}?include=order,notes,note`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.order).toEqual([{ id: o.id, customer_id: c.id, number: 20 }]);
    expect(res.body.data.notes).toEqual([{ id: n.id, customer_id: c.id, body: 'b' }]);
    expect(res.body.data.note).toEqual(res.body.data.notes);
    const rev = await h.get(`/note/${n.id}?include=customer`);
    expect(rev.body.data.customer).toEqual({ id: c.id, name: 'Di' });
  });

  it('unknown or unrelated include names → 400 UNKNOWN_FIELD on list and get', async () => {
    const c = await h.create('customer', { name: 'Ed' });
    for (const include of ['bogus', 'line', 'tags', 'orders,bogus', 'Orders', 'customer']) {
      const list = await h.get(`/customer?include=${include}`);
      expect(list.status, include).toBe(400);
      expect(list.body.error.code).toBe('UNKNOWN_FIELD');
      expect(list.body.error.message).toMatch(/^Unknown include: /);
      const get = await h.get(`/customer/${c.id}?include=${include}`);
      expect(get.status, include).toBe(400);
    }
    const msg = await h.get(`/customer/${c.id}?include=orders, bogus`);
    expect(msg.body.error).toEqual({ code: 'UNKNOWN_FIELD', message: 'Unknown include: bogus' });
  });

  it('get: a missing record is 404 before an unknown include is judged (rest-api.md §Get order)', async () => {
    const res = await h.get('/customer/00000000-0000-4000-8000-000000000000?include=bogus');
    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('an unknown include is refused even when the list is empty', async () => {
    const res = await h.get('/customer?filter[name]=nobody&include=bogus');
    expect(res.status).toBe(400);
  });
});

describe('statement count', () => {
  beforeAll(async () => {
    // 25 customers, each with two orders (one tagged) and a profile; inserted directly for speed.
    await h.q("INSERT INTO customers (name) SELECT 'bulk-' || lpad(g::text, 2, '0') FROM generate_series(1, 25) g");
    await h.q("INSERT INTO orders (customer_id, number) SELECT c.id, n FROM customers c, generate_series(100, 101) n WHERE c.name LIKE 'bulk-%'");
    await h.q("INSERT INTO profiles (customer_id, bio) SELECT id, name FROM customers WHERE name LIKE 'bulk-%'");
    await h.q("INSERT INTO notes (customer_id, body) SELECT id, name FROM customers WHERE name LIKE 'bulk-%'");
    const tag = await h.create('tag', { label: 'bulk' });
    await h.q('INSERT INTO order_tag_links (order_id, tag_code) SELECT id, $1 FROM orders WHERE number = 100', [tag.code]);
  });

  /** SQL statements one GET sends through the app's pool (the smallest of three runs, to ignore any background work). */
  async function statements(path: string): Promise<{ n: number; body: any }> {
    const db = (await h.runtime()).db;
    await h.get(path); // warm caches (token/user status)
    let best = Infinity;
    let body: any;
    for (let i = 0; i < 3; i++) {
      const before = db.statements;
      const res = await h.get(path);
      const n = db.statements - before;
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      body = res.body;
      best = Math.min(best, n);
    }
    return { n: best, body };
  }

  it('list + one_to_many include: the same small number of statements for 5 and for 25 rows', async () => {
    const five = await statements('/customer?filter[name.like]=bulk-%25&sort=name&per_page=5&include=orders');
    const all = await statements('/customer?filter[name.like]=bulk-%25&sort=name&per_page=25&include=orders');
    expect(five.body.data).toHaveLength(5);
    expect(all.body.data).toHaveLength(25);
    expect(all.body.data.every((c: any) => c.orders.length === 2)).toBe(true);
    expect(all.n).toBe(five.n);
    expect(all.n).toBeLessThanOrEqual(2);
  });

  it('every relation kind and direction stays bounded', async () => {
    const cases: Array<[string, number]> = [
      ['/customer?filter[name.like]=bulk-%25&include=profile', 2],
      ['/customer?filter[name.like]=bulk-%25&include=orders,profile,notes', 4],
      ['/order?filter[number.in]=100,101&include=customer', 2],
      ['/order?filter[number.in]=100,101&include=tags,customer', 3],
      ['/profile?include=customer', 2],
    ];
    for (const [path, max] of cases) {
      const five = await statements(`${path}&per_page=5`);
      const all = await statements(`${path}&per_page=25`);
      expect(all.body.data, path).toHaveLength(25);
      expect(all.n, path).toBe(five.n);
      expect(all.n, path).toBeLessThanOrEqual(max);
    }
    const tagged = await h.get('/order?filter[number]=100&include=tags&per_page=25');
    expect(tagged.body.data.every((o: any) => o.tags.length === 1 && o.tags[0].label === 'bulk')).toBe(true);
    const reverseM2m = await statements('/tag?filter[label]=bulk&include=order');
    expect(reverseM2m.body.data[0].order).toHaveLength(25);
    expect(reverseM2m.n).toBeLessThanOrEqual(2);
  });

  it('get with includes is bounded too', async () => {
    const [c] = await h.q<{ id: string }>("SELECT id FROM customers WHERE name = 'bulk-01'");
    const res = await statements(`/customer/${c!.id}?include=orders,profile,notes`);
    expect(res.body.data.orders).toHaveLength(2);
    expect(res.n).toBeLessThanOrEqual(4);
  });
});
