import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, UUID_PK, type EngineHarness } from '../support/engine.js';

/** List `count` strategies and keyset `cursor` pagination (spec: rest-api.md §List). */

let h: EngineHarness;
beforeAll(async () => {
  // A low threshold so a few hundred rows are "many" for count=estimated.
  h = await startEngine({ ROCKET_COUNT_ESTIMATE_THRESHOLD: '100' });
  await h.entity({
    name: 'item',
    table: 'items',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'n', type: 'int', required: true },
      { name: 'grp', type: 'string' },
      { name: 'score', type: 'decimal', precision: 2 },
      { name: 'big', type: 'bigint' },
      { name: 'at', type: 'timestamp' },
      { name: 'created_at', type: 'timestamp', auto: 'create' },
    ],
  });
  // 300 rows: groups of ties, NULLs in grp/score/at, timestamps that differ only in microseconds,
  // bigints past 2^53 that differ only in the last digit.
  await h.q(
    `INSERT INTO items (n, grp, score, big, at, created_at)
     SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'g' || (g % 5) END,
            CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 13) * 1.25 END,
            9007199254740993 + (g % 4),
            CASE WHEN g % 9 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00.000001+00' + make_interval(secs => (g % 6) * 0.000001) END,
            timestamptz '2026-02-01 00:00:00+00' + make_interval(secs => g % 17)
       FROM generate_series(1, 300) g`,
  );
  await h.q('ANALYZE items');
});
afterAll(async () => {
  await h?.close();
});

const ids = (body: { data: Array<{ id: string }> }) => body.data.map((r) => r.id);

/** Every page of a list through next_cursor; the ids in order. */
async function walk(query: string, perPage: number | ((i: number) => number)): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const pp = typeof perPage === 'number' ? perPage : perPage(i);
    const res = await h.get(`/item?${query}&per_page=${pp}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    out.push(...ids(res.body));
    cursor = res.body.meta.next_cursor;
    if (cursor === null) return out;
    expect(res.body.data).toHaveLength(pp);
  }
  throw new Error('did not end');
}

/** The whole list in the same order, by offset pages of 100. */
async function all(query: string): Promise<string[]> {
  const out: string[] = [];
  for (let page = 1; page <= 3; page++) out.push(...ids((await h.get(`/item?${query}&per_page=100&page=${page}`)).body));
  return out;
}

describe('count', () => {
  it('exact (default): the total; none: no total and no count query', async () => {
    const exact = await h.get('/item?count=exact&per_page=2');
    expect(exact.body.meta).toEqual({ page: 1, per_page: 2, total: 300, next_cursor: expect.any(String) });
    expect((await h.get('/item?per_page=2')).body.meta.total).toBe(300);
    const rt = await h.runtime();
    const before = rt.db.statements;
    const none = await h.get('/item?count=none&per_page=2&filter[grp]=g1');
    expect(rt.db.statements - before).toBe(1);
    expect(none.status).toBe(200);
    expect(none.body.meta).toEqual({ page: 1, per_page: 2, next_cursor: expect.any(String) });
    expect('total' in none.body.meta).toBe(false);
    expect(none.body.data).toHaveLength(2);
  });

  it('estimated: the planner estimate with total_estimated above the threshold, the exact count below it', async () => {
    const many = await h.get('/item?count=estimated&per_page=3');
    expect(many.status).toBe(200);
    expect(many.body.meta.total_estimated).toBe(true);
    expect(many.body.meta.total).toBeGreaterThanOrEqual(100);
    expect(many.body.data).toHaveLength(3);
    // n <= 20 matches 20 rows: below the threshold of 100, so counted.
    const few = await h.get('/item?count=estimated&filter[n.lte]=20');
    expect(few.body.meta).toEqual({ page: 1, per_page: 25, total: 20, next_cursor: null });
    expect(few.body.data).toHaveLength(20);
  });

  for (const bad of ['EXACT', 'approx', '', 'exact,none']) {
    it(`count=${JSON.stringify(bad)} → 400 INVALID_PAYLOAD`, async () => {
      const res = await h.get(`/item?count=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    });
  }
});

describe('cursor', () => {
  const sorts = [
    '',
    'sort=-created_at',
    'sort=created_at',
    'sort=grp,-n',
    'sort=-grp',
    'sort=grp',
    'sort=score,at',
    'sort=-at,-score',
    'sort=big',
    'sort=-big,grp',
    'sort=at',
    'sort=-id',
  ];
  for (const sort of sorts) {
    it(`walks every row once, in the list's order: ${sort || '(no sort)'}`, async () => {
      const expected = await all(sort);
      expect(expected).toHaveLength(300);
      expect(new Set(expected).size).toBe(300);
      expect(await walk(sort, 7)).toEqual(expected);
    });
  }

  it('with a filter, per_page changing between pages, and count=none / estimated', async () => {
    const q = 'filter[grp.in]=g1,g2&sort=-at';
    const expected = await all(q);
    expect(await walk(q, (i) => [3, 10, 1, 25][i % 4]!)).toEqual(expected);
    expect(await walk(`${q}&count=none`, 50)).toEqual(expected);
    expect(await walk(`${q}&count=estimated`, 50)).toEqual(expected);
  });

  it('page is ignored with a cursor; total counts the whole list; null on the last page', async () => {
    const first = await h.get('/item?sort=n&per_page=10');
    const next = await h.get(`/item?sort=n&per_page=10&page=7&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`);
    expect(next.status).toBe(200);
    expect(next.body.data.map((r: { n: number }) => r.n)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(next.body.meta.total).toBe(300);
    const last = await h.get('/item?sort=n&per_page=10&page=30');
    expect(last.body.data).toHaveLength(10);
    expect(last.body.meta.next_cursor).toBeNull();
    // A cursor taken from an offset page continues right after it.
    const deep = await h.get('/item?sort=n&per_page=10&page=20');
    const after = await h.get(`/item?sort=n&per_page=5&cursor=${encodeURIComponent(deep.body.meta.next_cursor)}`);
    expect(after.body.data.map((r: { n: number }) => r.n)).toEqual([201, 202, 203, 204, 205]);
  });

  it('equivalent filters (x = x.eq, any order) accept the cursor', async () => {
    const first = await h.get('/item?filter[grp]=g1&filter[n.gt]=10&sort=n&per_page=5');
    const c = encodeURIComponent(first.body.meta.next_cursor);
    const same = await h.get(`/item?filter[n.gt]=10&filter[grp.eq]=g1&sort=n&per_page=5&cursor=${c}`);
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(same.body.data[0].n).toBeGreaterThan(first.body.data[4].n);
  });

  describe('bad cursors → 400 INVALID_PAYLOAD', () => {
    let cursor: string;
    beforeAll(async () => {
      cursor = (await h.get('/item?filter[grp]=g1&sort=n&per_page=5')).body.meta.next_cursor;
    });
    const refused = async (query: string) => {
      const res = await h.get(`/item?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    };
    it('malformed', async () => {
      for (const bad of ['', 'abc', '.', 'x.y', '%%%', 'a'.repeat(9000)]) await refused(`sort=n&filter[grp]=g1&cursor=${encodeURIComponent(bad)}`);
    });
    it('tampered values (MAC kept)', async () => {
      const [payload, mac] = cursor.split('.');
      const values = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      values[0] = '1';
      const forged = `${Buffer.from(JSON.stringify(values)).toString('base64url')}.${mac}`;
      await refused(`sort=n&filter[grp]=g1&cursor=${encodeURIComponent(forged)}`);
    });
    it('tampered MAC', async () => {
      const flipped = cursor.slice(0, -1) + (cursor.endsWith('A') ? 'B' : 'A');
      await refused(`sort=n&filter[grp]=g1&cursor=${encodeURIComponent(flipped)}`);
    });
    it('made for another sort', async () => {
      await refused(`sort=-n&filter[grp]=g1&cursor=${encodeURIComponent(cursor)}`);
      await refused(`filter[grp]=g1&cursor=${encodeURIComponent(cursor)}`);
    });
    it('made for other filters', async () => {
      await refused(`sort=n&cursor=${encodeURIComponent(cursor)}`);
      await refused(`sort=n&filter[grp]=g2&cursor=${encodeURIComponent(cursor)}`);
      await refused(`sort=n&filter[grp]=g1&filter[n.gt]=0&cursor=${encodeURIComponent(cursor)}`);
    });
    it('made for another entity', async () => {
      await h.entity({
        name: 'other',
        table: 'others',
        primary_key: UUID_PK,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'n', type: 'int' },
          { name: 'grp', type: 'string' },
        ],
      });
      const res = await h.get(`/other?sort=n&filter[grp]=g1&cursor=${encodeURIComponent(cursor)}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    });
  });
});
