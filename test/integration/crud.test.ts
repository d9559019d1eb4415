import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISSING_UUID, RFC3339, startEngine, UUID_PK, UUID_V4, type EngineHarness } from '../support/engine.js';

/** Dynamic CRUD: value encoding, validation, defaults, keys, slugs, soft/hard delete (spec: rest-api.md). */

let h: EngineHarness;

const ALL_TYPES = {
  name: 'thing',
  table: 'things',
  primary_key: UUID_PK,
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 's', type: 'string' },
    { name: 't', type: 'text' },
    { name: 'i', type: 'int' },
    { name: 'ig', type: 'integer' },
    { name: 'b', type: 'bigint' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'decimal', precision: 2 },
    { name: 'dn', type: 'decimal' },
    { name: 'bo', type: 'boolean' },
    { name: 'u', type: 'uuid' },
    { name: 'ts', type: 'timestamp' },
    { name: 'dt', type: 'date' },
    { name: 'j', type: 'json' },
    { name: 'fi', type: 'file' },
  ],
};
const THING_KEYS = ALL_TYPES.fields.map((f) => f.name).sort();

beforeAll(async () => {
  h = await startEngine();
  await h.entity(ALL_TYPES);
  await h.entity({
    name: 'task',
    table: 'tasks',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string', required: true },
      { name: 'status', type: 'string', enum: ['open', 'done'], default: 'open' },
      { name: 'priority', type: 'int', default: 3 },
      { name: 'note', type: 'string', required: true, default: 'n/a' },
      { name: 'flag', type: 'boolean', default: false },
      { name: 'optional', type: 'string', required: true, nullable: true },
      { name: 'code', type: 'string', unique: true },
      { name: 'created_at', type: 'timestamp', auto: 'create' },
      { name: 'updated_at', type: 'timestamp', auto: 'update' },
    ],
  });
  await h.entity({
    name: 'counter',
    table: 'counters',
    primary_key: { field: 'id', type: 'int', generated: true },
    fields: [
      { name: 'id', type: 'int' },
      { name: 'label', type: 'string' },
    ],
  });
  await h.entity({
    name: 'big',
    table: 'bigs',
    primary_key: { field: 'id', type: 'bigint', generated: true },
    fields: [
      { name: 'id', type: 'bigint' },
      { name: 'label', type: 'string' },
    ],
  });
  await h.entity({
    name: 'country',
    table: 'countries',
    primary_key: { field: 'code', type: 'string' },
    fields: [
      { name: 'code', type: 'string' },
      { name: 'name', type: 'string', required: true },
    ],
  });
  await h.entity({
    name: 'token',
    table: 'tokens',
    primary_key: { field: 'id', type: 'uuid', generated: false },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'v', type: 'string' },
    ],
  });
  await h.entity({
    name: 'article',
    table: 'articles',
    primary_key: UUID_PK,
    soft_delete: true,
    slug: { field: 'slug', source: 'title' },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string', required: true },
      { name: 'slug', type: 'string', required: true, unique: true },
      { name: 'body', type: 'text' },
    ],
  });
  await h.entity({
    name: 'page',
    table: 'pages',
    primary_key: UUID_PK,
    slug: { field: 'slug', source: 'title', regenerate_on_update: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
      { name: 'slug', type: 'string', unique: true },
    ],
  });
  await h.entity({
    name: 'note',
    table: 'notes',
    primary_key: UUID_PK,
    soft_delete: true,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'text', type: 'string' },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

const count = async (table: string, where = 'TRUE') =>
  Number((await h.q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`))[0]!.n);

/** POST expecting 422 with exactly these details, and no row written. */
async function invalid(entity: string, table: string, body: unknown, details: unknown[]) {
  const before = await count(table);
  const res = await h.post(`/${entity}`, body);
  expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(422);
  expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Validation failed', details });
  expect(await count(table)).toBe(before);
}

describe('value encoding round trip', () => {
  it('every field type comes back with the spec encoding, on create, get and list', async () => {
    const res = await h.post('/thing', {
      s: 'hello',
      t: 'long text ✓',
      i: 42,
      ig: -7,
      b: 9007199254740991,
      f: 1.5,
      d: 12.34,
      dn: 0.000123,
      bo: true,
      u: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      ts: '2024-03-01T12:34:56.789+02:00',
      dt: '2024-02-29',
      j: { a: [1, 'x', null], b: { c: true } },
      fi: null,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const rec = res.body.data;
    expect(Object.keys(rec).sort()).toEqual(THING_KEYS);
    expect(rec.id).toMatch(UUID_V4);
    expect(rec).toEqual({
      id: rec.id,
      s: 'hello',
      t: 'long text ✓',
      i: 42,
      ig: -7,
      b: 9007199254740991,
      f: 1.5,
      d: 12.34,
      dn: 0.000123,
      bo: true,
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ts: rec.ts,
      dt: '2024-02-29',
      j: { a: [1, 'x', null], b: { c: true } },
      fi: null,
    });
    expect(rec.ts).toMatch(RFC3339);
    expect(Date.parse(rec.ts)).toBe(Date.parse('2024-03-01T10:34:56.789Z'));

    const got = await h.get(`/thing/${rec.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ data: rec });
    const list = await h.get(`/thing?filter[id]=${rec.id}`);
    expect(list.body).toEqual({ data: [rec], meta: { page: 1, per_page: 25, total: 1, next_cursor: null } });

    const [row] = await h.q(
      `SELECT d::text AS d, b::text AS b, jsonb_typeof(j) AS jt, j->'b'->>'c' AS jc, dt::text AS dt, u::text AS u, ts = '2024-03-01T10:34:56.789Z'::timestamptz AS ts_ok
         FROM things WHERE id = $1`,
      [rec.id],
    );
    expect(row).toEqual({
      d: '12.34',
      b: '9007199254740991',
      jt: 'object',
      jc: 'true',
      dt: '2024-02-29',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ts_ok: true,
    });
  });

  it('json fields hold any JSON value and never come back as a JSON-encoded string', async () => {
    for (const j of [[1, 2, 3], 5, 'plain string', true, { nested: { deep: [{}] } }, '{"looks":"like json"}']) {
      const rec = await h.create('thing', { j });
      expect(rec.j).toEqual(j);
      expect((await h.get(`/thing/${rec.id}`)).body.data.j).toEqual(j);
      const [row] = await h.q('SELECT jsonb_typeof(j) AS t FROM things WHERE id = $1', [rec.id]);
      expect(row.t).toBe(Array.isArray(j) ? 'array' : j === null ? 'null' : typeof j === 'object' ? 'object' : typeof j);
    }
  });

  it('accepted request forms: digit strings, numeric strings, numbers/booleans for strings, datetime for date', async () => {
    const rec = await h.create('thing', {
      s: 12.5,
      t: false,
      i: '42',
      b: '9223372036854775807',
      f: '2.25',
      d: '99.99',
      dt: '2024-05-06T23:30:00Z',
      ts: '2024-01-02T03:04:05Z',
    });
    expect(rec).toMatchObject({ s: '12.5', t: 'false', i: 42, f: 2.25, d: 99.99, dt: '2024-05-06', ts: '2024-01-02T03:04:05.000Z' });
    expect(typeof rec.b).toBe('number');
    const [row] = await h.q('SELECT b::text AS b FROM things WHERE id = $1', [rec.id]);
    expect(row.b).toBe('9223372036854775807');
  });

  it('timestamps at the ends of the four-digit-year range round trip', async () => {
    const lo = await h.create('thing', { ts: '0001-01-01T00:00:00Z', dt: '0001-01-01' });
    expect(lo).toMatchObject({ ts: '0001-01-01T00:00:00.000Z', dt: '0001-01-01' });
    const hi = await h.create('thing', { ts: '9999-12-31T23:59:59.999Z', dt: '9999-12-31' });
    expect(hi).toMatchObject({ ts: '9999-12-31T23:59:59.999Z', dt: '9999-12-31' });
    expect((await h.get(`/thing/${hi.id}`)).body.data.ts).toBe('9999-12-31T23:59:59.999Z');
  });

  it('timestamps are read as PostgreSQL reads them: no offset = UTC, short offsets, early years', async () => {
    const cases: Array<[string, string]> = [
      ['2024-01-01T10:00:00', '2024-01-01T10:00:00.000Z'],
      ['2024-01-01 10:00', '2024-01-01T10:00:00.000Z'],
      ['2024-01-01T10:00:00+02', '2024-01-01T08:00:00.000Z'],
      ['2024-01-01T10:00:00-0130', '2024-01-01T11:30:00.000Z'],
      ['2024-01-01', '2024-01-01T00:00:00.000Z'],
      ['0049-06-01 12:00:00Z', '0049-06-01T12:00:00.000Z'],
      ['0099-12-31T23:59:59.5Z', '0099-12-31T23:59:59.500Z'],
    ];
    for (const [sent, expected] of cases) {
      const rec = await h.create('thing', { ts: sent });
      expect(rec.ts, sent).toBe(expected);
      const [row] = await h.q("SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS ts FROM things WHERE id = $1", [rec.id]);
      expect(`${row.ts}Z`, sent).toBe(expected);
    }
  });

  it('null is accepted for every optional field', async () => {
    const body = Object.fromEntries(ALL_TYPES.fields.filter((f) => f.name !== 'id').map((f) => [f.name, null]));
    const rec = await h.create('thing', body);
    expect(rec).toEqual({ id: rec.id, ...body });
  });

  it('integer and decimal edges of the column range are stored', async () => {
    // decimal precision 2 → NUMERIC(18,2): 16 integer digits fit.
    const rec = await h.create('thing', { i: 2147483647, ig: -2147483648, d: -9999999999999998, b: -9007199254740991 });
    expect(rec).toMatchObject({ i: 2147483647, ig: -2147483648, d: -9999999999999998, b: -9007199254740991 });
    const [row] = await h.q('SELECT d::text AS d FROM things WHERE id = $1', [rec.id]);
    expect(row.d).toBe('-9999999999999998.00');
    const sci = await h.create('thing', { d: '1.5e3', f: '-2E-3' });
    expect(sci).toMatchObject({ d: 1500, f: -0.002 });
  });

  it('decimal strings are stored exactly, beyond what a double holds, and filtered exactly', async () => {
    const big = await h.create('thing', { d: '9999999999999999.99', dn: '3.14159265358979323846264338327950288' });
    const near = await h.create('thing', { d: '999999999999999.99' });
    // rounding to the column's 2 places; a carry into a 17th integer digit would not fit
    const rounded = await h.create('thing', { d: '9999999999999999.994', dn: '-0.000000000000000000001' });
    const rows = await h.q('SELECT id, d::text AS d, dn::text AS dn FROM things WHERE id = ANY($1::uuid[])', [[big.id, near.id, rounded.id]]);
    const byId = Object.fromEntries(rows.map((r: { id: string; d: string; dn: string | null }) => [r.id, r]));
    expect(byId[big.id]).toMatchObject({ d: '9999999999999999.99', dn: '3.14159265358979323846264338327950288' });
    expect(byId[near.id].d).toBe('999999999999999.99');
    expect(byId[rounded.id]).toMatchObject({ d: '9999999999999999.99', dn: '-0.000000000000000000001' });
    const updated = await h.put(`/thing/${near.id}`, { d: '123456789012345.67' });
    expect(updated.status).toBe(200);
    expect((await h.q('SELECT d::text AS d FROM things WHERE id = $1', [near.id]))[0].d).toBe('123456789012345.67');
    // a filter compares the exact value: 999999999999999.99 is not 1000000000000000
    const hit = await h.get(`/thing?filter[d]=123456789012345.67&filter[id]=${near.id}`);
    expect(hit.body.data.map((r: { id: string }) => r.id)).toEqual([near.id]);
    const miss = await h.get(`/thing?filter[d]=123456789012345.68&filter[id]=${near.id}`);
    expect(miss.body.data).toEqual([]);
  });
});

describe('type errors → 422 {field, rule:"type"}', () => {
  const cases: Array<[string, unknown, string]> = [
    ['i', 'abc', 'int'],
    ['i', 1.5, 'int'],
    ['i', 2147483648, 'int'],
    ['i', -2147483649, 'int'],
    ['i', '99999999999', 'int'],
    ['i', true, 'int'],
    ['ig', [1], 'integer'],
    ['b', '9223372036854775808', 'bigint'],
    ['b', 1.5, 'bigint'],
    ['b', 'x', 'bigint'],
    ['f', 'x', 'float'],
    ['f', {}, 'float'],
    // biome-ignore lint/correctness/noPrecisionLoss: a JSON number beyond 2^53 is what this case sends
    ['d', 12345678901234567, 'decimal'],
    ['d', '12345678901234567.5', 'decimal'],
    ['d', 'abc', 'decimal'],
    ['d', true, 'decimal'],
    ['d', 1e21, 'decimal'],
    ['d', 1e300, 'decimal'],
    ['d', '1e+21', 'decimal'],
    ['d', '9999999999999999.995', 'decimal'],
    ['dn', '1e100000', 'decimal'],
    ['bo', 'yes', 'boolean'],
    ['bo', 1, 'boolean'],
    ['bo', 'true', 'boolean'],
    ['u', 'not-a-uuid', 'uuid'],
    ['u', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1', 'uuid'],
    ['u', 5, 'uuid'],
    ['ts', 'yesterday', 'timestamp'],
    ['ts', '2024-13-01T00:00:00Z', 'timestamp'],
    ['ts', '2024-02-30T00:00:00Z', 'timestamp'],
    ['ts', 1700000000, 'timestamp'],
    ['ts', '0001-01-01T00:30:00+01:00', 'timestamp'],
    ['ts', '9999-12-31T23:30:00-01:00', 'timestamp'],
    ['ts', '2024-01-01T25:00:00Z', 'timestamp'],
    ['ts', '2024-01-01T23:59:60Z', 'timestamp'],
    ['ts', '2024-01-01T24:00:01Z', 'timestamp'],
    ['ts', '2024-01-01T10:00:00+16:00', 'timestamp'],
    ['ts', '2024-01-01T10:00:00+05:60', 'timestamp'],
    ['dt', '2024-02-30', 'date'],
    ['dt', '2023-02-29', 'date'],
    ['dt', 'abc', 'date'],
    ['dt', '10000-01-01', 'date'],
    ['dt', '0000-01-01', 'date'],
    ['dt', 20240101, 'date'],
    ['dt', '2024-01-01T25:00:00Z', 'date'],
    ['dt', '2024-01-01T23:60:00Z', 'date'],
    ['dt', '2024-01-01T23:59:60Z', 'date'],
    ['dt', '2024-01-01T10:00:00+16:00', 'date'],
    ['s', 'a\u0000b', 'string'],
    ['s', { a: 1 }, 'string'],
    ['s', ['x'], 'string'],
    ['t', 'nul\u0000', 'text'],
    ['j', { a: 'x\u0000y' }, 'json'],
    ['fi', 'not-a-file-id', 'file'],
  ];
  it.each(cases)('%s = %j', async (field, value, type) => {
    await invalid('thing', 'things', { [field]: value }, [{ field, rule: 'type', message: `${field} must be ${type}` }]);
  });

  it('lone UTF-16 surrogates (valid JSON escapes, not storable text) are type errors', async () => {
    for (const [field, raw, type] of [
      ['s', '"x\\ud800y"', 'string'],
      ['t', '"\\udc00"', 'text'],
      ['j', '{"\\ud83d":1}', 'json'],
      ['j', '["ok", "\\ud83d"]', 'json'],
    ]) {
      const before = await count('things');
      const res = await h.raw('POST', '/thing', `{"${field}":${raw}}`, { 'content-type': 'application/json' });
      expect(res.status, raw).toBe(422);
      expect(res.body.error.details).toEqual([{ field, rule: 'type', message: `${field} must be ${type}` }]);
      expect(await count('things')).toBe(before);
    }
    // A proper surrogate pair is fine.
    const ok = await h.raw('POST', '/thing', '{"s":"\\ud83d\\ude00","j":{"k":"\\ud83d\\ude00"}}', { 'content-type': 'application/json' });
    expect(ok.status).toBe(201);
    expect(ok.body.data).toMatchObject({ s: '😀', j: { k: '😀' } });
  });

  it('collects every type error into one 422', async () => {
    const res = await h.post('/thing', { i: 'x', bo: 'y', s: 'ok' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'i', rule: 'type', message: 'i must be int' },
      { field: 'bo', rule: 'type', message: 'bo must be boolean' },
    ]);
  });

  it('a time of day is checked even where only the date is kept; 24:00:00 is the next midnight', async () => {
    const rec = await h.create('thing', { dt: '2024-01-01T24:00:00Z', ts: '2024-01-01T24:00:00Z' });
    expect(rec).toMatchObject({ dt: '2024-01-01', ts: '2024-01-02T00:00:00.000Z' });
    const res = await h.put(`/thing/${rec.id}`, { dt: '2024-01-02T25:00:00Z' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'dt', rule: 'type', message: 'dt must be date' }]);
    expect(await h.q('SELECT dt::text AS dt FROM things WHERE id = $1', [rec.id])).toEqual([{ dt: '2024-01-01' }]);
    const filter = await h.get('/thing?filter[dt]=2024-01-01T25:00:00Z');
    expect(filter.status).toBe(400);
    expect(filter.body.error.code).toBe('INVALID_PAYLOAD');
  });

  it('the same checks apply to updates, and nothing changes', async () => {
    const rec = await h.create('thing', { i: 1, s: 'keep' });
    const res = await h.put(`/thing/${rec.id}`, { i: 2147483648, s: 'changed' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'i', rule: 'type', message: 'i must be int' }]);
    expect(await h.q('SELECT i, s FROM things WHERE id = $1', [rec.id])).toEqual([{ i: 1, s: 'keep' }]);
  });
});

describe('required, enum, defaults, auto timestamps', () => {
  it('required fields: absent, null and "" are refused; fields with a default are satisfied by it', async () => {
    const details = [{ field: 'title', rule: 'required', message: 'title is required' }];
    await invalid('task', 'tasks', {}, details);
    await invalid('task', 'tasks', { title: null }, details);
    await invalid('task', 'tasks', { title: '' }, details);
    // required + nullable is not required; note has a default.
    const rec = await h.create('task', { title: 'x' });
    expect(rec).toMatchObject({ title: 'x', note: 'n/a', optional: null });
  });

  it('a default covers an absent required field only: null is still refused', async () => {
    await invalid('task', 'tasks', { title: 'x', note: null }, [{ field: 'note', rule: 'required', message: 'note is required' }]);
  });

  it('a default covers an absent required field only: "" is still refused', async () => {
    await invalid('task', 'tasks', { title: 'x', note: '' }, [{ field: 'note', rule: 'required', message: 'note is required' }]);
  });

  it('enum: the value must be a member, on create and update', async () => {
    await invalid('task', 'tasks', { title: 'x', status: 'bad' }, [{ field: 'status', rule: 'enum', message: 'status must be one of: open, done' }]);
    const rec = await h.create('task', { title: 'x', status: 'done' });
    const res = await h.put(`/task/${rec.id}`, { status: 'closed' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'status', rule: 'enum', message: 'status must be one of: open, done' }]);
    expect((await h.get(`/task/${rec.id}`)).body.data.status).toBe('done');
  });

  it('defaults fill absent fields; an explicit null is kept', async () => {
    const rec = await h.create('task', { title: 'defaults' });
    expect(rec).toMatchObject({ status: 'open', priority: 3, note: 'n/a', flag: false });
    const withNull = await h.create('task', { title: 'nulls', priority: null, flag: null });
    expect(withNull).toMatchObject({ priority: null, flag: null, status: 'open' });
  });

  it('auto timestamps are set by the server; client values for them and for a generated PK are ignored', async () => {
    const start = Date.now();
    const res = await h.post('/task', { title: 'auto', id: MISSING_UUID, created_at: '2000-01-01T00:00:00Z', updated_at: '2000-01-01T00:00:00Z' });
    expect(res.status).toBe(201);
    const rec = res.body.data;
    expect(rec.id).not.toBe(MISSING_UUID);
    expect(rec.id).toMatch(UUID_V4);
    expect(rec.created_at).toMatch(RFC3339);
    expect(Date.parse(rec.created_at)).toBeGreaterThanOrEqual(start - 5000);
    expect(rec.updated_at).toBe(rec.created_at);
    expect(await count('tasks', `id = '${MISSING_UUID}'`)).toBe(0);
  });

  it('client values for auto fields and deleted_at are ignored on update too', async () => {
    const rec = await h.create('task', { title: 'auto-upd' });
    const res = await h.put(`/task/${rec.id}`, { created_at: '2000-01-01T00:00:00Z', updated_at: '2000-01-01T00:00:00Z' });
    expect(res.status).toBe(200);
    expect(res.body.data.created_at).toBe(rec.created_at);
    expect(Date.parse(res.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(rec.updated_at));
    const n = await h.create('note', { text: 'x' });
    const upd = await h.put(`/note/${n.id}`, { deleted_at: '2020-01-01T00:00:00Z', text: 'y' });
    expect(upd.status).toBe(200);
    expect(upd.body.data).toEqual({ id: n.id, text: 'y', deleted_at: null });
    expect((await h.get(`/note/${n.id}`)).status).toBe(200);
  });
});

describe('update', () => {
  it('is partial: only sent fields change; auto-update fields move on, created_at stays', async () => {
    const rec = await h.create('task', { title: 'partial', status: 'open', priority: 1 });
    await new Promise((r) => setTimeout(r, 15));
    const res = await h.put(`/task/${rec.id}`, { priority: 2, created_at: '2000-01-01T00:00:00Z', id: MISSING_UUID });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ...rec, priority: 2, updated_at: res.body.data.updated_at });
    expect(Date.parse(res.body.data.updated_at)).toBeGreaterThan(Date.parse(rec.updated_at));
    expect((await h.get(`/task/${rec.id}`)).body.data).toEqual(res.body.data);
  });

  it('{} bumps auto-update fields and changes nothing else; without auto fields it is a 200 no-op', async () => {
    const rec = await h.create('task', { title: 'empty' });
    await new Promise((r) => setTimeout(r, 15));
    const res = await h.put(`/task/${rec.id}`, {});
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ...rec, updated_at: res.body.data.updated_at });
    expect(Date.parse(res.body.data.updated_at)).toBeGreaterThan(Date.parse(rec.updated_at));

    const c = await h.create('country', { code: 'xx', name: 'Nowhere' });
    const noop = await h.put('/country/xx', {});
    expect(noop.status).toBe(200);
    expect(noop.body.data).toEqual(c);
  });

  it('clearing a required field → 422 rule required; nothing changes', async () => {
    const rec = await h.create('task', { title: 'keep' });
    for (const title of [null, '']) {
      const res = await h.put(`/task/${rec.id}`, { title });
      expect(res.status).toBe(422);
      expect(res.body.error.details).toEqual([{ field: 'title', rule: 'required', message: 'title is required' }]);
    }
    // A required field with a default may not be cleared either.
    const note = await h.put(`/task/${rec.id}`, { note: null });
    expect(note.status).toBe(422);
    expect(note.body.error.details).toEqual([{ field: 'note', rule: 'required', message: 'note is required' }]);
    expect(await h.q('SELECT title, note FROM tasks WHERE id = $1', [rec.id])).toEqual([{ title: 'keep', note: 'n/a' }]);
    // Absent required fields are fine on update.
    expect((await h.put(`/task/${rec.id}`, { priority: 9 })).status).toBe(200);
  });

  it('unknown keys → 422 rule unknown', async () => {
    const rec = await h.create('task', { title: 'u' });
    const res = await h.put(`/task/${rec.id}`, { titel: 'typo' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'titel', rule: 'unknown', message: 'Unknown field or relation: titel' }]);
  });
});

describe('unknown keys', () => {
  it('one detail per unknown key, and nothing else is checked', async () => {
    await invalid('task', 'tasks', { status: 'bad', bogus: 1, other: { x: 1 } }, [
      { field: 'bogus', rule: 'unknown', message: 'Unknown field or relation: bogus' },
      { field: 'other', rule: 'unknown', message: 'Unknown field or relation: other' },
    ]);
  });

  it('deleted_at of a soft-delete entity is not unknown; its client value is ignored', async () => {
    const res = await h.post('/note', { text: 'x', deleted_at: '2020-01-01T00:00:00Z' });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ id: res.body.data.id, text: 'x', deleted_at: null });
    expect((await h.get(`/note/${res.body.data.id}`)).status).toBe(200);
  });
});

describe('primary keys', () => {
  it('generated int and bigint PKs come from the database as numbers', async () => {
    const a = await h.create('counter', { label: 'a', id: 999 });
    const b = await h.create('counter', { label: 'b' });
    expect(a).toEqual({ id: 1, label: 'a' });
    expect(b).toEqual({ id: 2, label: 'b' });
    expect((await h.get('/counter/2')).body.data).toEqual(b);
    const big = await h.create('big', { label: 'x' });
    expect(big).toEqual({ id: 1, label: 'x' });
    expect((await h.get('/big/1')).body.data).toEqual(big);
  });

  it('ids that cannot be a PK value answer 404, not 500', async () => {
    for (const id of ['abc', '1.5', '99999999999', '-', '%27']) {
      const res = await h.get(`/counter/${id}`);
      expect(res.status, id).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    const huge = await h.get('/big/99999999999999999999999');
    expect(huge.status).toBe(404);
    for (const id of ['not-a-uuid', '123', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1z']) {
      const get = await h.get(`/thing/${id}`);
      expect(get.status, id).toBe(404);
      expect(get.body.error).toEqual({ code: 'NOT_FOUND', message: `thing with id ${id} not found` });
      expect((await h.put(`/thing/${id}`, { s: 'x' })).status).toBe(404);
      expect((await h.del(`/thing/${id}`)).status).toBe(404);
    }
    // A NUL can be no key or slug: 404, not a database error.
    expect((await h.get('/article/a%00b')).status).toBe(404);
    expect((await h.get('/country/a%00b')).status).toBe(404);
    expect((await h.put('/article/a%00b', { body: 'x' })).status).toBe(404);
    expect((await h.del('/article/a%00b')).status).toBe(404);
    const missing = await h.get(`/thing/${MISSING_UUID}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: `thing with id ${MISSING_UUID} not found` });
  });

  it('uppercase UUIDs find the record', async () => {
    const rec = await h.create('thing', { s: 'upper' });
    const res = await h.get(`/thing/${rec.id.toUpperCase()}`);
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(rec.id);
  });

  it('client-supplied string PK: required on create, unique, never changed by update', async () => {
    await invalid('country', 'countries', { name: 'Germany' }, [{ field: 'code', rule: 'required', message: 'code is required' }]);
    await invalid('country', 'countries', { code: '', name: 'Germany' }, [{ field: 'code', rule: 'required', message: 'code is required' }]);
    const de = await h.create('country', { code: 'de', name: 'Germany' });
    expect(de).toEqual({ code: 'de', name: 'Germany' });
    expect((await h.get('/country/de')).body.data).toEqual(de);
    const dup = await h.post('/country', { code: 'de', name: 'Again' });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toEqual({ code: 'CONFLICT', message: 'A record with this value already exists' });
    const upd = await h.put('/country/de', { code: 'fr', name: 'Deutschland' });
    expect(upd.status).toBe(200);
    expect(upd.body.data).toEqual({ code: 'de', name: 'Deutschland' });
    expect(await h.q("SELECT code FROM countries WHERE code IN ('de', 'fr')")).toEqual([{ code: 'de' }]);
    // Any text is a valid string key, including ones that look like numbers or UUIDs.
    await h.create('country', { code: '42', name: 'Numeric' });
    expect((await h.get('/country/42')).body.data.name).toBe('Numeric');
  });

  it('non-generated uuid PK: the client must send it', async () => {
    await invalid('token', 'tokens', { v: 'x' }, [{ field: 'id', rule: 'required', message: 'id is required' }]);
    await invalid('token', 'tokens', { id: 'nope', v: 'x' }, [{ field: 'id', rule: 'type', message: 'id must be uuid' }]);
    const id = 'B1EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
    const rec = await h.create('token', { id, v: 'x' });
    expect(rec).toEqual({ id: id.toLowerCase(), v: 'x' });
  });
});

describe('unique', () => {
  it('duplicate on create or update → 409 CONFLICT and nothing changes', async () => {
    const a = await h.create('task', { title: 'a', code: 'U-1' });
    const dup = await h.post('/task', { title: 'b', code: 'U-1' });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toEqual({ code: 'CONFLICT', message: 'A record with this value already exists' });
    expect(await count('tasks', "code = 'U-1'")).toBe(1);
    const b = await h.create('task', { title: 'b', code: 'U-2' });
    const upd = await h.put(`/task/${b.id}`, { code: 'U-1', title: 'changed' });
    expect(upd.status).toBe(409);
    expect(await h.q('SELECT title, code FROM tasks WHERE id = $1', [b.id])).toEqual([{ title: 'b', code: 'U-2' }]);
    expect((await h.get(`/task/${a.id}`)).body.data.code).toBe('U-1');
    // NULLs never collide.
    await h.create('task', { title: 'n1' });
    await h.create('task', { title: 'n2' });
  });
});

describe('slugs', () => {
  it('generates unique slugs from the source; an explicit slug is stored as given', async () => {
    const a = await h.create('article', { title: 'Héllo, World!' });
    const b = await h.create('article', { title: 'Hello world' });
    const c = await h.create('article', { title: '  hello -- WORLD  ' });
    expect([a.slug, b.slug, c.slug]).toEqual(['hello-world', 'hello-world-2', 'hello-world-3']);
    const d = await h.create('article', { title: 'Anything', slug: 'Custom Slug' });
    expect(d.slug).toBe('Custom Slug');
    const e = await h.create('article', { title: 'Ünïcödé ßtraße', slug: '' });
    expect(e.slug).toBe('unicode-tra-e');
  });

  it('a required slug field with a source is not required; without a source value it is', async () => {
    await invalid('article', 'articles', { body: 'x' }, [{ field: 'title', rule: 'required', message: 'title is required' }]);
  });

  it('GET/PUT/DELETE look records up by slug', async () => {
    const rec = await h.create('article', { title: 'Lookup Me' });
    expect(rec.slug).toBe('lookup-me');
    const got = await h.get('/article/lookup-me');
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual(rec);
    expect((await h.get(`/article/${rec.id}`)).body.data).toEqual(rec);

    const upd = await h.put('/article/lookup-me', { body: 'updated by slug', title: 'Renamed' });
    expect(upd.status).toBe(200);
    expect(upd.body.data).toEqual({ ...rec, body: 'updated by slug', title: 'Renamed' }); // no regeneration
    expect(await h.q('SELECT body FROM articles WHERE id = $1', [rec.id])).toEqual([{ body: 'updated by slug' }]);

    const missing = await h.get('/article/no-such-slug');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'article with id no-such-slug not found' });

    const del = await h.del('/article/lookup-me');
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { id: 'lookup-me' } });
    expect((await h.get('/article/lookup-me')).status).toBe(404);
  });

  it('regenerate_on_update: only when the source changes and no slug is sent', async () => {
    const p = await h.create('page', { title: 'First Title' });
    expect(p.slug).toBe('first-title');
    const same = await h.put(`/page/${p.id}`, { title: 'First Title' });
    expect(same.body.data.slug).toBe('first-title');
    const changed = await h.put(`/page/${p.id}`, { title: 'Second Title' });
    expect(changed.body.data.slug).toBe('second-title');
    const explicit = await h.put(`/page/${p.id}`, { title: 'Third', slug: 'kept' });
    expect(explicit.body.data.slug).toBe('kept');
    const other = await h.put(`/page/${p.id}`, { slug: 'kept-2' });
    expect(other.body.data).toEqual({ id: p.id, title: 'Third', slug: 'kept-2' });
    // The record's own slug does not count as taken.
    const self = await h.put('/page/kept-2', { title: 'Kept 2' });
    expect(self.body.data.slug).toBe('kept-2');
  });

  it('an id that does not look like a PK by the spec patterns (uppercase UUID, signed digits) is tried as a slug first, then as the PK', async () => {
    const upperSlug = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
    const a = await h.create('article', { title: 'Upper', slug: upperSlug });
    const got = await h.get(`/article/${upperSlug}`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(got.body.data).toEqual(a);
    // The PK fallback still finds a record by its id in capitals.
    expect((await h.get(`/article/${a.id.toUpperCase()}`)).body.data).toEqual(a);

    await h.entity({
      name: 'ticket',
      table: 'tickets',
      primary_key: { field: 'id', type: 'int', generated: true },
      slug: { field: 'ref', source: 'title' },
      fields: [
        { name: 'id', type: 'int' },
        { name: 'title', type: 'string' },
        { name: 'ref', type: 'string', unique: true },
      ],
    });
    const t = await h.create('ticket', { title: 'x', ref: '-5' });
    const bySlug = await h.get('/ticket/-5');
    expect(bySlug.status, JSON.stringify(bySlug.body)).toBe(200);
    expect(bySlug.body.data).toEqual(t);
    const upd = await h.put('/ticket/-5', { title: 'y' });
    expect(upd.status).toBe(200);
    expect(await h.q('SELECT title FROM tickets WHERE id = $1', [t.id])).toEqual([{ title: 'y' }]);
    expect((await h.get(`/ticket/${t.id}`)).body.data.ref).toBe('-5');
  });

  // Soft-deleted rows keep their slug in the unique index, so the new record gets the next free one.
  it('a slug held only by a soft-deleted record does not block a new record', async () => {
    const a = await h.create('article', { title: 'Recycled' });
    expect((await h.del(`/article/${a.id}`)).status).toBe(200);
    const res = await h.post('/article', { title: 'Recycled' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.slug).toBe('recycled-2');
    expect((await h.get(`/article/${res.body.data.slug}`)).body.data.id).toBe(res.body.data.id);
  });
});

describe('decimals a double cannot hold', () => {
  /** A request whose body is sent, and whose answer is read, as text: JSON.parse would round the values under test. */
  async function exchange(method: string, path: string, raw?: string): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${h.app.token}` };
    if (raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${h.s.client.baseUrl}${h.base}${path}`, { method, headers, body: raw });
    return { status: res.status, text: await res.text() };
  }
  const stored = async (id: string) => (await h.q('SELECT d::text AS d, dn::text AS dn, s, j::text AS j FROM things WHERE id = $1', [id]))[0];

  it('JSON numbers are stored exactly and every read answers them exactly', async () => {
    const created = await exchange(
      'POST',
      '/thing',
      '{"d": 99999999999999.99, "dn": 1.000000000000000000001, "s": 12345678901234567890, "j": {"n": 99999999999999.99}}',
    );
    expect(created.status, created.text).toBe(201);
    expect(created.text).toContain('"d":99999999999999.99,"dn":1.000000000000000000001,');
    const id = JSON.parse(created.text).data.id as string;
    expect(await stored(id)).toEqual({
      d: '99999999999999.99',
      dn: '1.000000000000000000001',
      s: '12345678901234567890',
      j: '{"n": 99999999999999.99}',
    });
    for (const path of [`/thing/${id}`, `/thing?filter[id]=${id}`, '/thing?filter[d]=99999999999999.99&filter[dn]=1.000000000000000000001']) {
      const read = await exchange('GET', path);
      expect(read.status, path).toBe(200);
      expect(read.text, path).toContain(`"id":"${id}"`);
      expect(read.text, path).toContain('"d":99999999999999.99,"dn":1.000000000000000000001,');
      expect(read.text, path).toContain('"j":{"n":99999999999999.99}'); // a json field's numbers too
    }
    // Filters compare exactly: the doubles nearest to the values are other values.
    expect((await h.get(`/thing?filter[d]=99999999999999.98&filter[id]=${id}`)).body.data).toEqual([]);
    expect((await h.get(`/thing?filter[dn]=1&filter[id]=${id}`)).body.data).toEqual([]);
    expect((await h.get(`/thing?filter[dn.gt]=1&filter[id]=${id}`)).body.data).toHaveLength(1);

    const updated = await exchange('PUT', `/thing/${id}`, '{"d": -99999999999999.99, "dn": 0.30000000000000000001}');
    expect(updated.status, updated.text).toBe(200);
    expect(updated.text).toContain('"d":-99999999999999.99,"dn":0.30000000000000000001,');
    expect(await stored(id)).toMatchObject({ d: '-99999999999999.99', dn: '0.30000000000000000001' });
    // Values a double holds stay plain numbers.
    const plain = await exchange('POST', '/thing', '{"d": 12.5, "dn": 0.30000000000000004}');
    expect(plain.text).toContain('"d":12.5,"dn":0.30000000000000004,');
  });

  it('nested writes, includes and history answer them exactly', async () => {
    await h.entity({
      name: 'invoice',
      table: 'invoices',
      history: true,
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'total', type: 'decimal', precision: 2 },
      ],
    });
    await h.entity({
      name: 'invoice_line',
      table: 'invoice_lines',
      history: true,
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'invoice_id', type: 'uuid' },
        { name: 'amount', type: 'decimal' },
      ],
    });
    await h.relation({ name: 'lines', type: 'one_to_many', source: 'invoice', target: 'invoice_line', target_key: 'invoice_id' });
    const created = await exchange(
      'POST',
      '/invoice?include=lines',
      '{"total": 99999999999999.99, "lines": {"data": [{"amount": 1.000000000000000000001}]}}',
    );
    expect(created.status, created.text).toBe(201);
    expect(created.text).toContain('"total":99999999999999.99');
    expect(created.text).toContain('"amount":1.000000000000000000001');
    const invoice = JSON.parse(created.text).data;
    const line = invoice.lines[0].id as string;
    expect(await h.q('SELECT total::text AS total FROM invoices WHERE id = $1', [invoice.id])).toEqual([{ total: '99999999999999.99' }]);
    expect(await h.q('SELECT amount::text AS amount FROM invoice_lines WHERE id = $1', [line])).toEqual([{ amount: '1.000000000000000000001' }]);

    expect((await exchange('GET', `/invoice/${invoice.id}?include=lines`)).text).toMatch(
      /"total":99999999999999\.99,"lines":\[\{[^\]]*"amount":1\.000000000000000000001/,
    );
    expect((await exchange('GET', `/invoice_line/${line}?include=invoice`)).text).toContain('"invoice":{"id":');
    expect((await exchange('GET', `/invoice_line/${line}?include=invoice`)).text).toContain('"total":99999999999999.99}');

    expect((await exchange('PUT', `/invoice/${invoice.id}`, '{"total": -99999999999999.99}')).status).toBe(200);
    const history = await exchange('GET', `/invoice/${invoice.id}/_history`);
    expect(history.status).toBe(200);
    expect(history.text).toContain('"total":{"to":-99999999999999.99,"from":99999999999999.99}');
    expect(history.text).toContain('"total":{"to":99999999999999.99,"from":null}');
    expect((await exchange('GET', `/invoice_line/${line}/_history`)).text).toContain('"amount":{"to":1.000000000000000000001,"from":null}');
  });

  it('field rules check them (as their nearest double)', async () => {
    await h.entity({
      name: 'charge',
      table: 'charges',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'amount', type: 'decimal' },
      ],
    });
    const rule = await h.s.client.post(`${h.base}/_admin/rules`, {
      token: h.app.token,
      body: { entity: 'charge', hook: 'before_write', type: 'field', definition: { field: 'amount', operator: 'max', value: 1000 } },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const over = await exchange('POST', '/charge', '{"amount": 99999999999999.99}');
    expect(over.status, over.text).toBe(422);
    expect(JSON.parse(over.text).error.details[0]).toMatchObject({ field: 'amount', rule: 'max' });
    const within = await exchange('POST', '/charge', '{"amount": 999.9999999999999999999}');
    expect(within.status, within.text).toBe(201);
    expect(await count('charges')).toBe(1);
  });
});

describe('slugs under concurrency', () => {
  beforeAll(async () => {
    await h.entity({
      name: 'post',
      table: 'posts',
      primary_key: UUID_PK,
      slug: { field: 'slug', source: 'title', regenerate_on_update: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'slug', type: 'string', unique: true },
        { name: 'parent_id', type: 'uuid' },
      ],
    });
    await h.relation({ name: 'replies', type: 'one_to_many', source: 'post', target: 'post', target_key: 'parent_id' });
  });
  const expected = (base: string, n: number) => [base, ...Array.from({ length: n - 1 }, (_, i) => `${base}-${i + 2}`)].sort();

  it('concurrent creates of one title all succeed, each with its own slug', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => h.post('/post', { title: 'Same Title' })));
    expect(
      answers.map((a) => a.status),
      JSON.stringify(answers.map((a) => a.body)),
    ).toEqual(Array(8).fill(201));
    expect(answers.map((a) => a.body.data.slug).sort()).toEqual(expected('same-title', 8));
    const rows = await h.q<{ slug: string }>(`SELECT slug FROM posts WHERE title = 'Same Title'`);
    expect(rows.map((r) => r.slug).sort()).toEqual(expected('same-title', 8));
  });

  it('concurrent updates regenerating one slug all succeed, each with its own slug', async () => {
    const posts = await Promise.all(Array.from({ length: 6 }, (_, i) => h.create('post', { title: `Draft ${i}` })));
    const answers = await Promise.all(posts.map((p) => h.put(`/post/${p.id}`, { title: 'Final Name' })));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(answers.map((a) => a.body.data.slug).sort()).toEqual(expected('final-name', 6));
  });

  it('rows of one write with the same title get distinct slugs; an explicit duplicate is still a 409', async () => {
    const res = await h.post('/post?include=replies', { title: 'Thread', replies: { data: [{ title: 'Re' }, { title: 'Re' }, { title: 'Re' }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.replies.map((r: { slug: string }) => r.slug).sort()).toEqual(expected('re', 3));
    const dup = await h.post('/post', { title: 'Other', slug: 're' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    expect(await count('posts', `title = 'Other'`)).toBe(0);
  });
});

describe('delete', () => {
  it('soft delete hides the row from get, list, update and delete but keeps it in the table', async () => {
    const rec = await h.create('note', { text: 'soft' });
    expect(rec.deleted_at).toBeNull();
    const res = await h.del(`/note/${rec.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { id: rec.id } });
    expect((await h.get(`/note/${rec.id}`)).status).toBe(404);
    expect((await h.get(`/note?filter[id]=${rec.id}`)).body).toEqual({ data: [], meta: { page: 1, per_page: 25, total: 0, next_cursor: null } });
    expect((await h.put(`/note/${rec.id}`, { text: 'x' })).status).toBe(404);
    const again = await h.del(`/note/${rec.id}`);
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({ code: 'NOT_FOUND', message: `note with id ${rec.id} not found` });
    const rows = await h.q<{ text: string; deleted_at: Date | null }>('SELECT text, deleted_at FROM notes WHERE id = $1', [rec.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.text).toBe('soft');
    expect(rows[0]!.deleted_at).toBeInstanceOf(Date);
  });

  it('hard delete removes the row', async () => {
    const rec = await h.create('task', { title: 'hard' });
    const res = await h.del(`/task/${rec.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { id: rec.id } });
    expect(await count('tasks', `id = '${rec.id}'`)).toBe(0);
    expect((await h.del(`/task/${rec.id}`)).status).toBe(404);
  });

  it('the id is echoed as sent', async () => {
    await h.create('counter', { label: 'gone' });
    const res = await h.del('/counter/3');
    expect(res.body).toEqual({ data: { id: '3' } });
  });
});

describe('request errors', () => {
  it('a body that is not a JSON object → 400 "Invalid JSON body" (create and update)', async () => {
    const rec = await h.create('task', { title: 'body' });
    for (const raw of ['{"title":', '[1,2]', '"str"', 'null', '42', '']) {
      const post = await h.raw('POST', '/task', raw, { 'content-type': 'application/json' });
      expect(post.status, raw).toBe(400);
      expect(post.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
      const put = await h.raw('PUT', `/task/${rec.id}`, raw, { 'content-type': 'application/json' });
      expect(put.status, raw).toBe(400);
      expect(put.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
    }
    const form = await h.raw('POST', '/task', 'title=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await h.q('SELECT title FROM tasks WHERE id = $1', [rec.id])).toEqual([{ title: 'body' }]);
  });

  it('a body that is not JSON is read after the entity, record and permission checks (404, 403 first)', async () => {
    const json = { 'content-type': 'application/json' };
    const unknownEntity = await h.raw('POST', '/nope', 'garbage', json);
    expect([unknownEntity.status, unknownEntity.body.error.code]).toEqual([404, 'UNKNOWN_ENTITY']);
    const missing = await h.raw('PUT', `/task/${MISSING_UUID}`, 'garbage', json);
    expect([missing.status, missing.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const email = `late-body-${Date.now()}@example.com`;
    expect((await h.post('/_admin/users', { email, password: 'pw-123456', roles: ['nobody'] })).status).toBe(201);
    const token = await h.s.client.login(`/api/${h.app.name}/auth/login`, email, 'pw-123456');
    const denied = await h.s.client.request('POST', `/api/${h.app.name}/task`, { token, raw: 'garbage', headers: json });
    expect([denied.status, denied.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const rule = await h.post('/_admin/rules', { entity: 'task', hook: 'before_write', type: 'expression', definition: { expression: 'false' } });
    expect(rule.status).toBe(201);
    const noRule = await h.raw('PUT', `/_admin/rules/${MISSING_UUID}`, 'garbage', json);
    expect([noRule.status, noRule.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const badRule = await h.raw('PUT', `/_admin/rules/${rule.body.data.id}`, 'garbage', json);
    expect(badRule.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid request body' });
    const noEntity = await h.raw('PUT', '/_admin/entities/nope', '{"name":', json);
    expect([noEntity.status, noEntity.body.error.code]).toEqual([404, 'NOT_FOUND']);
    // so is a body of another content type (415), on the same routes
    const text = { 'content-type': 'text/plain' };
    const textUnknown = await h.raw('POST', '/nope', '{"title":"x"}', text);
    expect([textUnknown.status, textUnknown.body.error.code]).toEqual([404, 'UNKNOWN_ENTITY']);
    const textMissing = await h.raw('PUT', `/task/${MISSING_UUID}`, '{"title":"x"}', text);
    expect([textMissing.status, textMissing.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const textDenied = await h.s.client.request('POST', `/api/${h.app.name}/task`, { token, raw: '{"title":"x"}', headers: text });
    expect([textDenied.status, textDenied.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const textNoRule = await h.raw('PUT', `/_admin/rules/${MISSING_UUID}`, '{}', text);
    expect([textNoRule.status, textNoRule.body.error.code]).toEqual([404, 'NOT_FOUND']);
    for (const [method, path] of [
      ['POST', '/task'],
      ['PUT', `/_admin/rules/${rule.body.data.id}`],
    ] as const) {
      const late = await h.raw(method, path, '{"title":"x"}', text);
      expect([late.status, late.body.error.code], path).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
      expect(late.body.error.message).toBe("Unsupported Content-Type 'text/plain': request bodies must be application/json");
    }
    expect((await h.del(`/_admin/rules/${rule.body.data.id}`)).status).toBe(200);
  });

  it('an unknown include on a write is refused before anything is written', async () => {
    const before = await count('tasks');
    const post = await h.post('/task?include=bogus', { title: 'not written' });
    expect(post.status).toBe(400);
    expect(post.body.error).toEqual({ code: 'UNKNOWN_FIELD', message: 'Unknown include: bogus' });
    expect(await count('tasks')).toBe(before);
    const rec = await h.create('task', { title: 'kept' });
    const put = await h.put(`/task/${rec.id}?include=bogus`, { title: 'changed' });
    expect(put.status).toBe(400);
    expect(await h.q('SELECT title FROM tasks WHERE id = $1', [rec.id])).toEqual([{ title: 'kept' }]);
  });

  it('unknown entity → 404 UNKNOWN_ENTITY; no token → 401', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', `/nope/${MISSING_UUID}`],
      ['POST', '/nope'],
      ['PUT', `/nope/${MISSING_UUID}`],
      ['DELETE', `/nope/${MISSING_UUID}`],
    ] as const) {
      const res = await h.s.client.request(method, `${h.base}${path}`, {
        token: h.app.token,
        body: method === 'POST' || method === 'PUT' ? {} : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error).toEqual({ code: 'UNKNOWN_ENTITY', message: 'Unknown entity: nope' });
    }
    const anon = await h.s.client.get(`${h.base}/task`);
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('UNAUTHORIZED');
  });
});
