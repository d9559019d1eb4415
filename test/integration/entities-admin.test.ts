import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnsOf, indexesOf, startEngine, tableExists, UUID_PK, UUID_V4, type EngineHarness } from '../support/engine.js';

/** Entity admin API and auto-migration (spec: metadata.md §2, §5, §6). */

let h: EngineHarness;
beforeAll(async () => {
  h = await startEngine();
});
afterAll(async () => {
  await h?.close();
});

const ents = (path = '') => `/_admin/entities${path}`;
const ROW_KEYS = ['created_at', 'definition', 'name', 'table_name', 'updated_at'];

const minimal = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  table: `${name}s`,
  primary_key: UUID_PK,
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 'title', type: 'string' },
  ],
  ...extra,
});

async function storedDefinition(name: string) {
  const rows = await h.q<{ definition: unknown; table_name: string }>('SELECT definition, table_name FROM _entities WHERE name = $1', [name]);
  return rows[0];
}

/** A 422 for `body`, with nothing stored or migrated afterwards. */
async function refused(body: Record<string, unknown>, message: string | RegExp, field?: string) {
  const res = await h.post(ents(), body);
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  expect(res.body.error.code).toBe('VALIDATION_FAILED');
  if (typeof message === 'string') expect(res.body.error.message).toBe(message);
  else expect(res.body.error.message).toMatch(message);
  if (field !== undefined) expect(res.body.error.details?.map((d: { field: string }) => d.field)).toContain(field);
  if (typeof body.name === 'string') expect(await storedDefinition(body.name)).toBeUndefined();
  if (typeof body.table === 'string') expect(await tableExists(h, body.table)).toBe(false);
  return res;
}

/** A 422 for `body` naming a table that exists already: no definition stored. */
async function refusedOnTable(body: Record<string, unknown>) {
  const res = await h.post(ents(), body);
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  expect(res.body.error.code).toBe('VALIDATION_FAILED');
  expect(await storedDefinition(body.name as string)).toBeUndefined();
  return res;
}

describe('create', () => {
  it('echoes the normalised definition: unknown keys dropped, false/empty optional keys omitted', async () => {
    const res = await h.post(ents(), {
      name: 'invoice',
      table: 'invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true, extra: 1 },
      soft_delete: true,
      slug: { field: 'slug', source: 'title', regenerate_on_update: false, junk: 'x' },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true, unique: false, nullable: false, enum: [], label: 'Title' },
        { name: 'slug', type: 'string', unique: true },
        { name: 'status', type: 'string', default: 'draft', enum: ['draft', 'sent', 'paid'] },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'ratio', type: 'decimal', precision: 0 },
        { name: 'note', type: 'text', nullable: true, required: true },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
      ],
      description: 'dropped',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const expected = {
      name: 'invoice',
      table: 'invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      soft_delete: true,
      slug: { field: 'slug', source: 'title' },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'slug', type: 'string', unique: true },
        { name: 'status', type: 'string', default: 'draft', enum: ['draft', 'sent', 'paid'] },
        { name: 'total', type: 'decimal', precision: 2 },
        { name: 'ratio', type: 'decimal' },
        { name: 'note', type: 'text', required: true, nullable: true },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
      ],
    };
    expect(res.body).toEqual({ data: expected });
    expect(await storedDefinition('invoice')).toEqual({ definition: expected, table_name: 'invoices' });
  });

  it('keeps falsy defaults (false, 0, "") in the echo: they are values, not unset flags', async () => {
    const res = await h.post(ents(), {
      name: 'falsy',
      table: 'falsies',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'flag', type: 'boolean', default: false },
        { name: 'zero', type: 'int', default: 0, required: false },
        { name: 'empty', type: 'string', default: '', required: true },
        { name: 'none', type: 'string', default: null, auto: '', enum: null, precision: null },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.fields).toEqual([
      { name: 'id', type: 'uuid' },
      { name: 'flag', type: 'boolean', default: false },
      { name: 'zero', type: 'int', default: 0 },
      { name: 'empty', type: 'string', required: true, default: '' },
      { name: 'none', type: 'string' },
    ]);
    expect(await h.create('falsy', {})).toMatchObject({ flag: false, zero: 0, empty: '', none: null });
  });

  it('fills primary_key type/generated and soft_delete when left out', async () => {
    const res = await h.post(ents(), { name: 'plain', table: 'plains', primary_key: { field: 'code' }, fields: [{ name: 'code', type: 'string' }] });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      name: 'plain',
      table: 'plains',
      primary_key: { field: 'code', type: 'string', generated: false },
      soft_delete: false,
      fields: [{ name: 'code', type: 'string' }],
    });
    const intPk = await h.post(ents(), {
      name: 'counter',
      table: 'counters',
      primary_key: { field: 'n', generated: true },
      fields: [{ name: 'n', type: 'integer' }],
    });
    expect(intPk.status).toBe(201);
    expect(intPk.body.data.primary_key).toEqual({ field: 'n', type: 'int', generated: true });
  });

  it('creates the table: column types, NOT NULL, defaults, PK generation, deleted_at, indexes', async () => {
    const cols = await columnsOf(h, 'invoices');
    expect([...cols.keys()]).toEqual(['id', 'title', 'slug', 'status', 'total', 'ratio', 'note', 'created_at', 'updated_at', 'deleted_at']);
    expect(cols.get('id')).toMatchObject({ data_type: 'uuid', is_nullable: 'NO', column_default: 'gen_random_uuid()' });
    expect(cols.get('title')).toMatchObject({ data_type: 'text', is_nullable: 'NO', column_default: null });
    expect(cols.get('slug')).toMatchObject({ data_type: 'text', is_nullable: 'YES' });
    expect(cols.get('status')).toMatchObject({ data_type: 'text', is_nullable: 'YES' });
    expect(cols.get('status')!.column_default).toMatch(/^'draft'::text$/);
    expect(cols.get('total')).toMatchObject({ data_type: 'numeric', numeric_precision: 18, numeric_scale: 2 });
    expect(cols.get('ratio')).toMatchObject({ data_type: 'numeric', numeric_precision: null, numeric_scale: null });
    expect(cols.get('note')).toMatchObject({ data_type: 'text', is_nullable: 'YES' }); // required + nullable → nullable
    expect(cols.get('created_at')).toMatchObject({ data_type: 'timestamp with time zone' });
    expect(cols.get('deleted_at')).toMatchObject({ data_type: 'timestamp with time zone', is_nullable: 'YES' });

    const idx = await indexesOf(h, 'invoices');
    expect(idx.find((i) => i.primary)).toMatchObject({ columns: ['id'] });
    expect(idx.find((i) => i.name === 'idx_invoices_slug')).toMatchObject({ unique: true, columns: ['slug'], predicate: null });
    expect(idx.find((i) => i.name === 'idx_invoices_deleted_at')).toMatchObject({
      unique: false,
      columns: ['deleted_at'],
      predicate: '(deleted_at IS NULL)',
    });
    expect(idx.filter((i) => i.unique && !i.primary).map((i) => i.columns)).toEqual([['slug']]);

    const counters = await columnsOf(h, 'counters');
    expect(counters.get('n')).toMatchObject({ data_type: 'integer', is_identity: 'YES' });
    const plains = await columnsOf(h, 'plains');
    expect([...plains.keys()]).toEqual(['code']); // no deleted_at without soft_delete
  });

  it('maps every field type to its column type', async () => {
    const types = ['string', 'text', 'int', 'integer', 'bigint', 'float', 'decimal', 'boolean', 'uuid', 'timestamp', 'date', 'json', 'file'];
    await h.entity({
      name: 'typed',
      table: 'typed_rows',
      primary_key: { field: 'pk', type: 'bigint', generated: true },
      fields: [{ name: 'pk', type: 'bigint' }, ...types.map((t) => ({ name: `f_${t}`, type: t }))],
    });
    const cols = await columnsOf(h, 'typed_rows');
    const got = Object.fromEntries(types.map((t) => [t, cols.get(`f_${t}`)!.data_type]));
    expect(got).toEqual({
      string: 'text',
      text: 'text',
      int: 'integer',
      integer: 'integer',
      bigint: 'bigint',
      float: 'double precision',
      decimal: 'numeric',
      boolean: 'boolean',
      uuid: 'uuid',
      timestamp: 'timestamp with time zone',
      date: 'date',
      json: 'jsonb',
      file: 'jsonb',
    });
    expect(cols.get('pk')).toMatchObject({ data_type: 'bigint', is_identity: 'YES' });
  });

  it('quotes string defaults: a quote in a default is data, not SQL', async () => {
    await h.entity({
      name: 'quoted',
      table: 'quoted_rows',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'who', type: 'string', default: "O'Brien'); DROP TABLE quoted_rows; --" },
        { name: 'n', type: 'int', default: 7 },
        { name: 'ok', type: 'boolean', default: false },
      ],
    });
    const rec = await h.create('quoted', {});
    expect(rec).toMatchObject({ who: "O'Brien'); DROP TABLE quoted_rows; --", n: 7, ok: false });
    const [row] = await h.q('SELECT who, n, ok FROM quoted_rows');
    expect(row).toEqual({ who: "O'Brien'); DROP TABLE quoted_rows; --", n: 7, ok: false });
  });

  it('accepts mixed-case identifiers and SQL reserved words as names (they are quoted)', async () => {
    await h.entity({
      name: 'LineItem',
      table: 'LineItems',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order', type: 'int' },
        { name: 'user', type: 'string' },
        { name: 'Select', type: 'string' },
      ],
    });
    expect(await tableExists(h, 'LineItems')).toBe(true);
    const rec = await h.create('LineItem', { order: 2, user: 'u', Select: 's' });
    expect(rec).toEqual({ id: rec.id, order: 2, user: 'u', Select: 's' });
    const list = await h.get('/LineItem?filter[order.gte]=1&sort=-order,user');
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([rec]);
  });
});

describe('create: 422 validation (nothing stored, nothing migrated)', () => {
  it('answers the spec messages for missing pieces', async () => {
    await refused({ table: 'nonames', primary_key: UUID_PK, fields: [{ name: 'id', type: 'uuid' }] }, 'entity name is required', 'name');
    await refused({ name: '', table: 'nonames', primary_key: UUID_PK, fields: [{ name: 'id', type: 'uuid' }] }, 'entity name is required');
    await refused({ name: 'notable', primary_key: UUID_PK, fields: [{ name: 'id', type: 'uuid' }] }, 'table name is required', 'table');
    await refused({ name: 'nofields', table: 'nofields', primary_key: UUID_PK, fields: [] }, 'entity must have at least one field', 'fields');
    await refused({ name: 'nofields', table: 'nofields', primary_key: UUID_PK }, 'entity must have at least one field');
    await refused({ name: 'nopk', table: 'nopks', fields: [{ name: 'id', type: 'uuid' }] }, 'primary key field is required', 'primary_key.field');
    await refused(
      { name: 'nopk', table: 'nopks', primary_key: { field: '' }, fields: [{ name: 'id', type: 'uuid' }] },
      'primary key field is required',
    );
    await refused(
      { name: 'badpk', table: 'badpks', primary_key: { field: 'uid' }, fields: [{ name: 'id', type: 'uuid' }] },
      'primary key field uid not found in fields',
      'primary_key.field',
    );
  });

  it('answers the slug messages', async () => {
    const base = (slug: unknown, extra: object[] = []) => ({
      name: 'sluggy',
      table: 'sluggies',
      primary_key: UUID_PK,
      slug,
      fields: [{ name: 'id', type: 'uuid' }, { name: 'title', type: 'string' }, ...extra],
    });
    await refused(base({ field: 'slug' }), 'slug field "slug" not found in fields', 'slug.field');
    await refused(base({ field: 'slug' }, [{ name: 'slug', type: 'int', unique: true }]), 'slug field "slug" must be of type string or text');
    await refused(base({ field: 'slug' }, [{ name: 'slug', type: 'string' }]), 'slug field "slug" must have unique: true');
    await refused(
      base({ field: 'slug', source: 'headline' }, [{ name: 'slug', type: 'text', unique: true }]),
      'slug source field "headline" not found in fields',
      'slug.source',
    );
    // The valid form is accepted.
    const ok = await h.post(ents(), base({ field: 'slug', source: 'title' }, [{ name: 'slug', type: 'text', unique: true }]));
    expect(ok.status).toBe(201);
  });

  it('refuses bad identifiers for entity, table and field names', async () => {
    for (const name of ['bad-name', '1abc', 'a b', 'x"y', 'é', 'a'.repeat(64)]) {
      await refused(minimal(name, { table: 'goodtable' }), /entity name/, 'name');
      await refused(minimal('goodname', { table: name }), /table name/, 'table');
      const res = await refused(
        {
          name: 'goodname',
          table: 'goodtable',
          primary_key: UUID_PK,
          fields: [
            { name: 'id', type: 'uuid' },
            { name, type: 'string' },
          ],
        },
        /fields\[1\]\.name/,
        'fields[1].name',
      );
      expect(res.body.error.details[0].rule).toBe('definition');
    }
    // 63 characters is the longest identifier.
    const long = `e${'x'.repeat(62)}`;
    expect((await h.post(ents(), minimal(long, { table: long }))).status).toBe(201);
  });

  it('refuses unknown field types with the field path', async () => {
    const res = await refused(
      {
        name: 'untyped',
        table: 'untyped',
        primary_key: UUID_PK,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'a', type: 'string' },
          { name: 'b', type: 'int' },
          { name: 'c', type: 'varchar' },
        ],
      },
      /fields\[3\]\.type/,
      'fields[3].type',
    );
    expect(res.body.error.details[0]).toMatchObject({ field: 'fields[3].type' });
    await refused({ ...minimal('untyped2'), fields: [{ name: 'id', type: 'uuid' }, { name: 'x' }] }, /fields\[1\]\.type/, 'fields[1].type');
    await refused({ ...minimal('untyped3'), fields: [{ name: 'id', type: 'UUID' }] }, /fields\[0\]\.type/, 'fields[0].type');
  });

  it('refuses reserved entity names and system table names', async () => {
    for (const name of ['auth', '_admin', '_ui', '_workflows', '_files', '_events']) {
      await refused(minimal(name, { table: `t${name}` }), /reserved/, 'name');
    }
    for (const table of [
      '_entities',
      '_relations',
      '_rules',
      '_state_machines',
      '_workflows',
      '_workflow_instances',
      '_users',
      '_refresh_tokens',
      '_permissions',
      '_webhooks',
      '_webhook_logs',
      '_files',
      '_ui_configs',
      '_invites',
      '_events',
    ]) {
      const res = await h.post(ents(), minimal('sysclash', { table }));
      expect(res.status, table).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('table');
    }
    expect(await storedDefinition('sysclash')).toBeUndefined();
    // The system tables are untouched: still no `title` column in _users.
    expect((await columnsOf(h, '_users')).has('title')).toBe(false);
  });

  it('refuses duplicate field names and PostgreSQL system column names', async () => {
    await refused(
      {
        ...minimal('dupe'),
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'a', type: 'string' },
          { name: 'a', type: 'int' },
        ],
      },
      /duplicate/,
      'fields[2].name',
    );
    for (const name of ['xmin', 'ctid', 'oid', 'tableoid', 'cmax']) {
      await refused(
        {
          ...minimal('syscol'),
          fields: [
            { name: 'id', type: 'uuid' },
            { name, type: 'string' },
          ],
        },
        /system column/,
        'fields[1].name',
      );
    }
  });

  it('refuses defaults that are not valid values of the field type', async () => {
    const cases: Array<[string, unknown]> = [
      ['int', 'abc'],
      ['int', 1.5],
      ['int', 2147483648],
      ['bigint', '9223372036854775808'],
      ['float', 'x'],
      ['decimal', 'ten'],
      ['boolean', 'yes'],
      ['boolean', 1],
      ['uuid', 'not-a-uuid'],
      ['date', '2024-13-01'],
      ['date', '2023-02-29'],
      ['timestamp', 'yesterday'],
      ['string', { a: 1 }],
      ['string', 'a\u0000b'],
      ['json', 'a\u0000b'],
      ['text', '\ud800'],
    ];
    for (const [type, dflt] of cases) {
      const res = await h.post(ents(), {
        ...minimal('dflt'),
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'a', type: 'string' },
          { name: 'v', type, default: dflt },
        ],
      });
      expect(res.status, `${type} ${JSON.stringify(dflt)}: ${JSON.stringify(res.body)}`).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('fields[2].default');
    }
    // A default outside the enum can never be stored.
    await refused(
      {
        ...minimal('dflt'),
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 's', type: 'string', enum: ['a', 'b'], default: 'c' },
        ],
      },
      /fields\[1\]\.default/,
      'fields[1].default',
    );
    expect(await storedDefinition('dflt')).toBeUndefined();
    expect(await tableExists(h, 'dflts')).toBe(false);
  });

  it('refuses precision outside 0–18', async () => {
    for (const precision of [-1, 19, 2.5, '2']) {
      await refused(
        {
          ...minimal('prec'),
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'amount', type: 'decimal', precision },
          ],
        },
        /precision/,
        'fields[1].precision',
      );
    }
    const ok = await h.post(ents(), {
      ...minimal('prec'),
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'amount', type: 'decimal', precision: 18 },
      ],
    });
    expect(ok.status).toBe(201);
    expect((await columnsOf(h, 'precs')).get('amount')).toMatchObject({ numeric_precision: 18, numeric_scale: 18 });
  });

  it('refuses a non-timestamp deleted_at on a soft-delete entity', async () => {
    await refused(
      {
        ...minimal('softbad', { soft_delete: true }),
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'deleted_at', type: 'string' },
        ],
      },
      /deleted_at/,
    );
  });

  it('answers 400 for a body that is not a JSON object', async () => {
    for (const raw of ['{"name":', '[1,2]', '"entity"', 'null', '12']) {
      const res = await h.raw('POST', ents(), raw, { 'content-type': 'application/json' });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
  });

  it('refuses a table name held by an index or sequence of the database (422, not a DDL failure)', async () => {
    await h.entity({
      name: 'seqheld',
      table: 'seqhelds',
      primary_key: { field: 'id', type: 'int', generated: true },
      fields: [{ name: 'id', type: 'int' }],
    });
    for (const table of ['seqhelds_pkey', 'seqhelds_id_seq']) {
      const res = await h.post(ents(), minimal('squatter', { table }));
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      const message = `table name ${table} is already used by another object of the database (an index, sequence, view or type)`;
      expect(res.body.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: `table: ${message}`,
        details: [{ field: 'table', rule: 'migration', message }],
      });
      expect(await storedDefinition('squatter')).toBeUndefined();
    }
    const moved = await h.put(ents('/seqheld'), {
      table: 'seqhelds_pkey',
      primary_key: { field: 'id', type: 'int', generated: true },
      fields: [{ name: 'id', type: 'int' }],
    });
    expect(moved.status).toBe(422);
    expect((await storedDefinition('seqheld'))!.table_name).toBe('seqhelds');
  });
});

describe('create: 409 conflicts', () => {
  it('refuses a duplicate name and a table already used by another entity', async () => {
    await h.entity(minimal('dup'));
    const again = await h.post(ents(), minimal('dup', { table: 'other_dups' }));
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({ code: 'CONFLICT', message: 'Entity already exists: dup' });
    expect(await tableExists(h, 'other_dups')).toBe(false);

    const sameTable = await h.post(ents(), minimal('dup2', { table: 'dups' }));
    expect(sameTable.status).toBe(409);
    expect(sameTable.body.error.code).toBe('CONFLICT');
    expect(await storedDefinition('dup2')).toBeUndefined();
    expect((await storedDefinition('dup'))!.table_name).toBe('dups');
  });
});

describe('list and get', () => {
  it('lists rows ordered by name with the row shape; definition is a JSON value', async () => {
    const res = await h.get(ents());
    expect(res.status).toBe(200);
    const names = res.body.data.map((r: { name: string }) => r.name);
    expect(names.length).toBeGreaterThan(3);
    // Ordered by name as the database orders text (its collation decides where "LineItem" goes).
    expect(names).toEqual((await h.q<{ name: string }>('SELECT name FROM _entities ORDER BY name')).map((r) => r.name));
    expect(names).toEqual(expect.arrayContaining(['LineItem', 'counter', 'invoice', 'plain', 'typed']));
    expect(Object.keys(res.body)).toEqual(['data']);
    const invoice = res.body.data.find((r: { name: string }) => r.name === 'invoice');
    expect(Object.keys(invoice).sort()).toEqual(ROW_KEYS);
    expect(invoice.table_name).toBe('invoices');
    expect(typeof invoice.definition).toBe('object');
    expect(invoice.definition.fields[0]).toEqual({ name: 'id', type: 'uuid' });
    expect(new Date(invoice.created_at).toISOString()).toBe(invoice.created_at);
  });

  it('gets one row; unknown → 404', async () => {
    const res = await h.get(ents('/invoice'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(ROW_KEYS);
    expect(res.body.data.definition.slug).toEqual({ field: 'slug', source: 'title' });
    const missing = await h.get(ents('/nope'));
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'Entity not found: nope' });
  });

  it('requires an admin', async () => {
    const anon = await h.s.client.get(`${h.base}/_admin/entities`);
    expect(anon.status).toBe(401);
    const email = `viewer${Date.now()}@example.com`;
    expect((await h.post('/_admin/users', { email, password: 'pw-123456', roles: ['viewer'] })).status).toBe(201);
    const token = await h.s.client.login(`${h.base}/auth/login`, email, 'pw-123456');
    for (const [method, path] of [
      ['GET', '/_admin/entities'],
      ['POST', '/_admin/entities'],
      ['PUT', '/_admin/entities/invoice'],
      ['DELETE', '/_admin/entities/invoice'],
      ['POST', '/_admin/relations'],
    ] as const) {
      const res = await h.s.client.request(method, `${h.base}${path}`, {
        token,
        body: method === 'POST' || method === 'PUT' ? minimal('sneaky') : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expect(await storedDefinition('sneaky')).toBeUndefined();
    expect(await storedDefinition('invoice')).toBeDefined();
  });
});

describe('update (PUT)', () => {
  it('adds columns (never drops), serves them on the very next request, name comes from the URL', async () => {
    await h.entity({
      name: 'person',
      table: 'people',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'legacy', type: 'string' },
      ],
    });
    const before = await h.create('person', { name: 'Ann', legacy: 'keep me' });
    const res = await h.put(ents('/person'), {
      name: 'ignored',
      table: 'people',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
        { name: 'nick', type: 'string', required: true },
        { name: 'age', type: 'int', required: true },
        { name: 'level', type: 'int', required: true, default: 5 },
        { name: 'score', type: 'decimal', precision: 1, default: 1.5 },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.name).toBe('person');
    expect(res.body.data.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'name', 'nick', 'age', 'level', 'score']);
    expect(await storedDefinition('ignored')).toBeUndefined();

    const cols = await columnsOf(h, 'people');
    expect([...cols.keys()]).toEqual(['id', 'name', 'legacy', 'nick', 'age', 'level', 'score']);
    expect(cols.get('nick')).toMatchObject({ data_type: 'text', is_nullable: 'NO' });
    expect(cols.get('age')).toMatchObject({ data_type: 'integer', is_nullable: 'YES' });
    expect(cols.get('level')).toMatchObject({ data_type: 'integer', is_nullable: 'NO' });
    const [row] = await h.q('SELECT name, legacy, nick, age, level, score FROM people WHERE id = $1', [before.id]);
    expect(row).toEqual({ name: 'Ann', legacy: 'keep me', nick: '', age: null, level: 5, score: 1.5 });

    // The removed field is invisible to the API; the new ones are live.
    const got = await h.get(`/person/${before.id}`);
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual({ id: before.id, name: 'Ann', nick: '', age: null, level: 5, score: 1.5 });
    const unknown = await h.post('/person', { name: 'Bob', nick: 'b', age: 3, legacy: 'x' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details).toEqual([{ field: 'legacy', rule: 'unknown', message: 'Unknown field or relation: legacy' }]);
    const created = await h.post('/person', { name: 'Bob', nick: 'b', age: 3 });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ nick: 'b', age: 3, level: 5, score: 1.5 });
  });

  it('adds deleted_at when soft_delete is switched on', async () => {
    const res = await h.put(ents('/person'), {
      table: 'people',
      primary_key: UUID_PK,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    expect(res.status).toBe(200);
    expect((await columnsOf(h, 'people')).get('deleted_at')).toMatchObject({ data_type: 'timestamp with time zone' });
    const list = await h.get('/person');
    expect(list.body.data.every((r: Record<string, unknown>) => r.deleted_at === null)).toBe(true);
  });

  it('refuses unsafe type changes and keeps the old definition and column', async () => {
    await h.entity({
      name: 'gadget',
      table: 'gadgets',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
        { name: 'n', type: 'int' },
      ],
    });
    await h.create('gadget', { label: 'abc', n: 1 });
    const before = await storedDefinition('gadget');
    for (const change of [
      [
        { name: 'label', type: 'int' },
        { name: 'n', type: 'int' },
      ],
      [
        { name: 'label', type: 'string' },
        { name: 'n', type: 'boolean' },
      ],
      [
        { name: 'label', type: 'json' },
        { name: 'n', type: 'int' },
      ],
    ]) {
      const res = await h.put(ents('/gadget'), { table: 'gadgets', primary_key: UUID_PK, fields: [{ name: 'id', type: 'uuid' }, ...change] });
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect(await storedDefinition('gadget')).toEqual(before);
    const cols = await columnsOf(h, 'gadgets');
    expect(cols.get('label')!.data_type).toBe('text');
    expect(cols.get('n')!.data_type).toBe('integer');
    const list = await h.get('/gadget');
    expect(list.body.data).toEqual([expect.objectContaining({ label: 'abc', n: 1 })]);
  });

  it('allows a widening change (int → bigint) and keeps the data', async () => {
    await h.entity({
      name: 'widen',
      table: 'widens',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'n', type: 'int' },
      ],
    });
    await h.create('widen', { n: 2147483647 });
    const res = await h.put(ents('/widen'), {
      table: 'widens',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'n', type: 'bigint' },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await columnsOf(h, 'widens')).get('n')!.data_type).toBe('bigint');
    expect((await h.create('widen', { n: 2147483648 })).n).toBe(2147483648);
    expect((await h.get('/widen?sort=n')).body.data.map((r: { n: number }) => r.n)).toEqual([2147483647, 2147483648]);
  });

  it('changes that would lose, corrupt or strand data are refused with 422, nothing half-applied', async () => {
    const idField = { name: 'id', type: 'uuid' };
    await h.entity({
      name: 'ledger',
      table: 'ledgers',
      primary_key: UUID_PK,
      soft_delete: true,
      fields: [idField, { name: 'code', type: 'string' }, { name: 'amt', type: 'decimal', precision: 4 }, { name: 'qty', type: 'int' }],
    });
    const row = await h.create('ledger', { code: 'a', amt: 12.3456, qty: 1 });
    const rule = await h.post('/_admin/rules', {
      entity: 'ledger',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'qty', operator: 'min', value: 0 },
    });
    expect(rule.status).toBe(201);
    const put = (change: Record<string, unknown>) =>
      h.put(ents('/ledger'), {
        table: 'ledgers',
        primary_key: UUID_PK,
        soft_delete: true,
        fields: [idField, { name: 'code', type: 'string' }, { name: 'amt', type: 'decimal', precision: 4 }, { name: 'qty', type: 'int' }],
        ...change,
      });
    const refusedPut = async (change: Record<string, unknown>, message: RegExp) => {
      const res = await put(change);
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error.message).toMatch(message);
    };
    // the key of a table with rows cannot move to another column
    await refusedPut({ primary_key: { field: 'code', type: 'string' } }, /^primary_key cannot change on table ledgers/);
    // fewer decimal places would round a stored 12.3456
    await refusedPut(
      { fields: [idField, { name: 'code', type: 'string' }, { name: 'amt', type: 'decimal', precision: 1 }, { name: 'qty', type: 'int' }] },
      /existing values of amt have more than 1 decimal places/,
    );
    // a field a field rule names
    await refusedPut(
      { fields: [idField, { name: 'code', type: 'string' }, { name: 'amt', type: 'decimal', precision: 4 }] },
      /field qty is used by a field rule/,
    );
    // soft delete off while soft-deleted rows exist would bring them back
    expect((await h.del(`/ledger/${row.id}`)).status).toBe(200);
    await refusedPut({ soft_delete: false }, /soft_delete cannot be turned off while ledgers holds soft-deleted rows/);
    const [stored] = await h.q<{ amt: string }>('SELECT amt::text FROM ledgers WHERE id = $1', [row.id]);
    expect(stored!.amt).toBe('12.3456');
    expect((await storedDefinition('ledger'))!.definition).toMatchObject({ soft_delete: true, primary_key: { field: 'id' } });
    // more places are fine, and so are fewer once no stored value would round
    expect(
      (
        await put({
          fields: [idField, { name: 'code', type: 'string' }, { name: 'amt', type: 'decimal', precision: 6 }, { name: 'qty', type: 'int' }],
        })
      ).status,
    ).toBe(200);
  });

  it('a required field removed from the metadata no longer blocks creates (its column keeps its data, without NOT NULL)', async () => {
    const idField = { name: 'id', type: 'uuid' };
    await h.entity({
      name: 'card',
      table: 'cards',
      primary_key: UUID_PK,
      fields: [idField, { name: 'name', type: 'string', required: true }, { name: 'n', type: 'int' }],
    });
    const kept = await h.create('card', { name: 'kept', n: 1 });
    expect((await h.put(ents('/card'), { table: 'cards', primary_key: UUID_PK, fields: [idField, { name: 'n', type: 'int' }] })).status).toBe(200);
    expect((await h.post('/card', { n: 2 })).status).toBe(201);
    expect(await h.q('SELECT name FROM cards WHERE id = $1', [kept.id])).toEqual([{ name: 'kept' }]);
  });

  it('refuses making a field required while rows hold NULL; allows it once they do not', async () => {
    await h.entity({
      name: 'memo',
      table: 'memos',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'body', type: 'string' },
        { name: 'n', type: 'int' },
      ],
    });
    const rec = await h.create('memo', { body: null, n: 1 });
    const def = (required: boolean) => ({
      table: 'memos',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'body', type: 'string', required },
        { name: 'n', type: 'int', required },
      ],
    });
    const res = await h.put(ents('/memo'), def(true));
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('fields[1].required');
    expect((await storedDefinition('memo'))!.definition).toMatchObject({ fields: [{ name: 'id' }, { name: 'body', type: 'string' }, { name: 'n' }] });
    expect((await storedDefinition('memo'))!.definition).not.toHaveProperty('fields.1.required');
    expect((await columnsOf(h, 'memos')).get('body')!.is_nullable).toBe('YES');

    expect((await h.put(`/memo/${rec.id}`, { body: 'now set' })).status).toBe(200);
    const ok = await h.put(ents('/memo'), def(true));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const cols = await columnsOf(h, 'memos');
    expect(cols.get('body')!.is_nullable).toBe('NO');
    expect(cols.get('n')!.is_nullable).toBe('NO');
    const missing = await h.post('/memo', { n: 2 });
    expect(missing.status).toBe(422);
    expect(missing.body.error.details).toEqual([{ field: 'body', rule: 'required', message: 'body is required' }]);
  });

  it('a required int added to a populated table is added nullable, and saving the entity again still works', async () => {
    const base = [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
    ];
    await h.entity({ name: 'slate', table: 'slates', primary_key: UUID_PK, fields: base });
    const old = await h.create('slate', { title: 'before' });
    const withRank = (title: Record<string, unknown> = {}) => ({
      table: 'slates',
      primary_key: UUID_PK,
      fields: [{ ...base[0] }, { ...base[1], ...title }, { name: 'rank', type: 'int', required: true }],
    });
    const added = await h.put(ents('/slate'), withRank());
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect((await columnsOf(h, 'slates')).get('rank')!.is_nullable).toBe('YES');
    // another change to the entity (the old row still holds NULL in rank)
    const again = await h.put(ents('/slate'), withRank({ unique: true }));
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((await storedDefinition('slate'))!.definition).toMatchObject({
      fields: [{ name: 'id' }, { name: 'title', unique: true }, { name: 'rank' }],
    });
    expect((await h.post('/slate', { title: 'x' })).status).toBe(422); // required for new rows all the same
    // once no row holds NULL any more, a save makes the column NOT NULL
    expect((await h.put(`/slate/${old.id}`, { rank: 1 })).status).toBe(200);
    expect((await h.put(ents('/slate'), withRank())).status).toBe(200);
    expect((await columnsOf(h, 'slates')).get('rank')!.is_nullable).toBe('NO');
  });

  it('refuses making a field unique while rows hold duplicates, and rolls the definition back', async () => {
    await h.entity({
      name: 'dupval',
      table: 'dupvals',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'code', type: 'string' },
      ],
    });
    await h.create('dupval', { code: 'x' });
    await h.create('dupval', { code: 'x' });
    const res = await h.put(ents('/dupval'), {
      table: 'dupvals',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'code', type: 'string', unique: true },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect((await storedDefinition('dupval'))!.definition).toEqual({
      name: 'dupval',
      table: 'dupvals',
      primary_key: UUID_PK,
      soft_delete: false,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'code', type: 'string' },
      ],
    });
    expect((await indexesOf(h, 'dupvals')).filter((i) => i.unique && !i.primary)).toEqual([]);
  });

  it('changing table creates the new table and keeps the old one with its data', async () => {
    await h.entity({
      name: 'moving',
      table: 'moving_old',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'v', type: 'string' },
      ],
    });
    await h.create('moving', { v: 'old row' });
    const res = await h.put(ents('/moving'), {
      table: 'moving_new',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'v', type: 'string' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.data.table).toBe('moving_new');
    expect((await storedDefinition('moving'))!.table_name).toBe('moving_new');
    expect(await h.q('SELECT v FROM moving_old')).toEqual([{ v: 'old row' }]);
    expect(await tableExists(h, 'moving_new')).toBe(true);
    const list = await h.get('/moving');
    expect(list.body).toEqual({ data: [], meta: { page: 1, per_page: 25, total: 0, next_cursor: null } });
  });

  it('PUT answers 404 for an unknown entity, 422 for an invalid definition, 409 for a taken table, 400 for a bad body', async () => {
    const missing = await h.put(ents('/ghost'), minimal('ghost'));
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'Entity not found: ghost' });
    expect(await tableExists(h, 'ghosts')).toBe(false);

    const before = await storedDefinition('gadget');
    const invalid = await h.put(ents('/gadget'), {
      table: 'gadgets',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'x', type: 'money' },
      ],
    });
    expect(invalid.status).toBe(422);
    expect(invalid.body.error.details.map((d: { field: string }) => d.field)).toContain('fields[1].type');
    const taken = await h.put(ents('/gadget'), { table: 'people', primary_key: UUID_PK, fields: [{ name: 'id', type: 'uuid' }] });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('CONFLICT');
    const bad = await h.raw('PUT', ents('/gadget'), '{oops', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_PAYLOAD');
    expect(await storedDefinition('gadget')).toEqual(before);
  });
});

describe('index names', () => {
  it('tables whose idx_<table>_<field> names coincide each get their own unique index', async () => {
    await h.entity({
      name: 'ord',
      table: 'order',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'item_code', type: 'string', unique: true },
      ],
    });
    await h.entity({
      name: 'ord_item',
      table: 'order_item',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'code', type: 'string', unique: true },
      ],
    });
    for (const [entity, field] of [
      ['ord', 'item_code'],
      ['ord_item', 'code'],
    ]) {
      await h.create(entity!, { [field!]: 'same' });
      const dup = await h.post(`/${entity}`, { [field!]: 'same' });
      expect(dup.status, entity).toBe(409);
    }
    // Dropping uniqueness on one table leaves the other table's index alone.
    const res = await h.put(ents('/ord'), {
      table: 'order',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'item_code', type: 'string' },
      ],
    });
    expect(res.status).toBe(200);
    expect((await h.post('/ord', { item_code: 'same' })).status).toBe(201);
    expect((await h.post('/ord_item', { code: 'same' })).status).toBe(409);
    expect((await indexesOf(h, 'order_item')).filter((i) => i.unique && !i.primary).map((i) => i.columns)).toEqual([['code']]);
    expect((await indexesOf(h, 'order')).filter((i) => i.unique && !i.primary)).toEqual([]);
  });

  it('a unique field whose index name is taken by a system index is still unique', async () => {
    // _invites has an index named idx_invites_token.
    await h.entity({
      name: 'invite',
      table: 'invites',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'token', type: 'string', unique: true },
      ],
    });
    await h.create('invite', { token: 't' });
    expect((await h.post('/invite', { token: 't' })).status).toBe(409);
  });
});

describe('primary key generation switched on by PUT', () => {
  it('int PK: an identity continuing after the existing rows', async () => {
    const def = (generated: boolean) => ({
      table: 'tickets',
      primary_key: { field: 'n', type: 'int', generated },
      fields: [
        { name: 'n', type: 'int' },
        { name: 'v', type: 'string' },
      ],
    });
    await h.entity({ name: 'ticket', ...def(false) });
    await h.create('ticket', { n: 41, v: 'a' });
    expect((await h.put(ents('/ticket'), def(true))).status).toBe(200);
    expect((await columnsOf(h, 'tickets')).get('n')!.is_identity).toBe('YES');
    expect(await h.create('ticket', { v: 'b' })).toEqual({ n: 42, v: 'b' });
    expect((await h.put(ents('/ticket'), def(true))).status).toBe(200); // idempotent
    expect(await h.create('ticket', { v: 'c' })).toEqual({ n: 43, v: 'c' });
  });

  it('uuid PK: a gen_random_uuid() default', async () => {
    const def = (generated: boolean) => ({
      table: 'badges',
      primary_key: { field: 'id', type: 'uuid', generated },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'v', type: 'string' },
      ],
    });
    await h.entity({ name: 'badge', ...def(false) });
    expect((await h.put(ents('/badge'), def(true))).status).toBe(200);
    const rec = await h.create('badge', { v: 'x' });
    expect(rec.id).toMatch(UUID_V4);
  });
});

describe('delete', () => {
  it('removes the metadata and its relations but keeps the table and its data', async () => {
    await h.entity({
      name: 'doomed',
      table: 'doomed_rows',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'v', type: 'string' },
        { name: 'person_id', type: 'uuid' },
      ],
    });
    await h.relation({ name: 'doomed_people', type: 'one_to_many', source: 'person', target: 'doomed', target_key: 'person_id' });
    await h.relation({ name: 'doomed_self', type: 'one_to_many', source: 'doomed', target: 'doomed', target_key: 'person_id' });
    await h.create('doomed', { v: 'data' });

    const res = await h.del(ents('/doomed'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { name: 'doomed', deleted: true } });
    expect(await storedDefinition('doomed')).toBeUndefined();
    expect(await h.q("SELECT name FROM _relations WHERE name IN ('doomed_people', 'doomed_self')")).toEqual([]);
    expect(await h.q('SELECT v FROM doomed_rows')).toEqual([{ v: 'data' }]);

    const records = await h.get('/doomed');
    expect(records.status).toBe(404);
    expect(records.body.error).toEqual({ code: 'UNKNOWN_ENTITY', message: 'Unknown entity: doomed' });
    const include = await h.get('/person?include=doomed_people');
    expect(include.status).toBe(400);
    const again = await h.del(ents('/doomed'));
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({ code: 'NOT_FOUND', message: 'Entity not found: doomed' });
  });

  it('rules and state machines go with the entity; permissions and webhooks stay', async () => {
    await h.entity({
      name: 'tmp',
      table: 'tmps',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
      ],
    });
    await h.q(`INSERT INTO _rules (entity, type, definition) VALUES ('tmp', 'field', '{}')`);
    await h.q(`INSERT INTO _state_machines (entity, field, definition) VALUES ('tmp', 'status', '{}')`);
    await h.q(`INSERT INTO _permissions (entity, action, roles) VALUES ('tmp', 'read', '{x}')`);
    await h.q(`INSERT INTO _webhooks (entity, url) VALUES ('tmp', 'http://127.0.0.1:9/hook')`);
    expect((await h.del(ents('/tmp'))).status).toBe(200);
    const left = await h.q<{ t: string; n: number }>(
      `SELECT '_rules' AS t, count(*)::int AS n FROM _rules WHERE entity = 'tmp'
       UNION ALL SELECT '_state_machines', count(*)::int FROM _state_machines WHERE entity = 'tmp'
       UNION ALL SELECT '_permissions', count(*)::int FROM _permissions WHERE entity = 'tmp'
       UNION ALL SELECT '_webhooks', count(*)::int FROM _webhooks WHERE entity = 'tmp'`,
    );
    expect(Object.fromEntries(left.map((r) => [r.t, r.n]))).toEqual({ _rules: 0, _state_machines: 0, _permissions: 1, _webhooks: 1 });
    expect(await tableExists(h, 'tmps')).toBe(true);
  });

  it('re-creating a deleted entity on the kept table serves the old rows', async () => {
    const res = await h.post(ents(), {
      name: 'doomed',
      table: 'doomed_rows',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'v', type: 'string' },
      ],
    });
    expect(res.status).toBe(201);
    const list = await h.get('/doomed');
    expect(list.body.data.map((r: { v: string }) => r.v)).toEqual(['data']);
  });

  it('an existing table keeps its primary key: another one (or a join table) is a 422, not a DDL failure', async () => {
    await h.entity({
      name: 'keyed',
      table: 'keyed_rows',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'code', type: 'string' },
      ],
    });
    await h.create('keyed', { code: 'k1' });
    expect((await h.del(ents('/keyed'))).status).toBe(200);
    const other = await refusedOnTable({
      name: 'keyed',
      table: 'keyed_rows',
      primary_key: { field: 'code' },
      fields: [{ name: 'code', type: 'string' }],
    });
    expect(other.body.error.message).toBe('primary_key.field: table keyed_rows already exists with primary key (id), not code');
    expect(other.body.error.details).toEqual([
      { field: 'primary_key.field', rule: 'migration', message: 'table keyed_rows already exists with primary key (id), not code' },
    ]);
    expect((await columnsOf(h, 'keyed_rows')).get('id')?.is_nullable).toBe('NO');

    await h.entity({ name: 'label', table: 'labels', primary_key: UUID_PK, fields: [{ name: 'id', type: 'uuid' }] });
    await h.relation({
      name: 'person_labels',
      type: 'many_to_many',
      source: 'person',
      target: 'label',
      join_table: 'person_label_links',
      source_join_key: 'person_id',
      target_join_key: 'label_id',
    });
    const join = await refusedOnTable({
      name: 'link',
      table: 'person_label_links',
      primary_key: { field: 'person_id' },
      fields: [
        { name: 'person_id', type: 'uuid' },
        { name: 'label_id', type: 'uuid' },
        { name: 'note', type: 'string', required: true },
      ],
    });
    expect(join.body.error.details[0].field).toBe('primary_key.field');
    expect([...(await columnsOf(h, 'person_label_links')).keys()].sort()).toEqual(['label_id', 'person_id']);
  });
});
