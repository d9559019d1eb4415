import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexesOf, startEngine, UUID_PK, type EngineHarness } from '../support/engine.js';

/** Declared indexes: entity key `indexes`, field option `index` (spec: metadata.md §2, §5). */

let h: EngineHarness;
beforeAll(async () => {
  h = await startEngine();
});
afterAll(async () => {
  await h?.close();
});

const ents = (path = '') => `/_admin/entities${path}`;

const product = (name: string, extra: Record<string, unknown> = {}, fields: Record<string, unknown>[] = []) => ({
  name,
  table: `${name}s`,
  primary_key: UUID_PK,
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 'sku', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'qty', type: 'int' },
    { name: 'data', type: 'json' },
    { name: 'created_at', type: 'timestamp', auto: 'create' },
    ...fields,
  ],
  ...extra,
});

/** Rocket's declared indexes on a table (by their ownership comment), with opclasses. */
async function declared(table: string) {
  return h.q<{ name: string; unique: boolean; valid: boolean; columns: string[]; opclasses: string[] }>(
    `SELECT c.relname::text AS name, i.indisunique AS unique, i.indisvalid AS valid,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            ARRAY(SELECT oc.opcname::text FROM unnest(i.indclass::oid[]) WITH ORDINALITY k(n, o)
                    JOIN pg_opclass oc ON oc.oid = k.n ORDER BY k.o) AS opclasses
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname = $1 AND obj_description(c.oid, 'pg_class') = 'rocket: declared index' ORDER BY 1`,
    [table],
  );
}

async function storedDefinition(name: string) {
  const rows = await h.q<{ definition: any }>('SELECT definition FROM _entities WHERE name = $1', [name]);
  return rows[0]?.definition;
}

/** EXPLAIN of a statement with sequential scans priced out, so the plan shows whether an index can serve it. */
async function planOf(sql: string, params: unknown[] = []): Promise<string> {
  const rt = await h.runtime();
  return rt.db.transaction(async (tx) => {
    await tx.query('SET LOCAL enable_seqscan = off');
    const rows = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params as never[]);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

describe('create', () => {
  it('field index: a plain index, plus a text_pattern_ops one on string fields; echoed and stored', async () => {
    const def = product('ixa', {}, []);
    def.fields[1] = { name: 'sku', type: 'string', index: true };
    def.fields[3] = { name: 'qty', type: 'int', index: true };
    const res = await h.post(ents(), def);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.fields[1]).toEqual({ name: 'sku', type: 'string', index: true });
    expect(res.body.data.fields[3]).toEqual({ name: 'qty', type: 'int', index: true });
    expect(res.body.data.indexes).toBeUndefined();
    expect(await declared('ixas')).toEqual([
      { name: 'ixas_qty_idx', unique: false, valid: true, columns: ['qty'], opclasses: ['int4_ops'] },
      { name: 'ixas_sku_idx', unique: false, valid: true, columns: ['sku'], opclasses: ['text_ops'] },
      { name: 'ixas_sku_pattern_idx', unique: false, valid: true, columns: ['sku'], opclasses: ['text_pattern_ops'] },
    ]);
    const got = await h.get(ents('/ixa'));
    expect(got.body.data.definition.fields[1]).toEqual({ name: 'sku', type: 'string', index: true });
  });

  it('index: false is dropped from the echo; a unique string field with index gets only the pattern index', async () => {
    const res = await h.post(ents(), {
      ...product('ixb'),
      fields: [
        { name: 'id', type: 'uuid', index: true },
        { name: 'code', type: 'string', unique: true, index: true },
        { name: 'note', type: 'string', index: false },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.fields[2]).toEqual({ name: 'note', type: 'string' });
    // The primary key and the unique field already have an index for equality and sort.
    expect(await declared('ixbs')).toEqual([
      { name: 'ixbs_code_pattern_idx', unique: false, valid: true, columns: ['code'], opclasses: ['text_pattern_ops'] },
    ]);
  });

  it('indexes: composite, unique and named ones are created, echoed (unique only when true) and served', async () => {
    const res = await h.post(
      ents(),
      product('ixc', {
        indexes: [
          { fields: ['status', 'created_at'] },
          { fields: ['sku'], unique: true, name: 'ixc_by_sku' },
          { fields: ['qty'], unique: false, junk: 1 },
        ],
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.indexes).toEqual([
      { fields: ['status', 'created_at'] },
      { fields: ['sku'], unique: true, name: 'ixc_by_sku' },
      { fields: ['qty'] },
    ]);
    expect((await storedDefinition('ixc')).indexes).toEqual(res.body.data.indexes);
    expect(await declared('ixcs')).toEqual([
      { name: 'ixc_by_sku', unique: true, valid: true, columns: ['sku'], opclasses: ['text_ops'] },
      { name: 'ixcs_qty_idx', unique: false, valid: true, columns: ['qty'], opclasses: ['int4_ops'] },
      {
        name: 'ixcs_status_created_at_idx',
        unique: false,
        valid: true,
        columns: ['status', 'created_at'],
        opclasses: ['text_ops', 'timestamptz_ops'],
      },
    ]);
    // A unique declared index is enforced like a unique field: 409.
    expect((await h.post('/ixc', { sku: 'A1' })).status).toBe(201);
    const dup = await h.post('/ixc', { sku: 'A1' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    expect(await planOf(`SELECT * FROM ixcs WHERE status = $1 ORDER BY created_at DESC LIMIT 25`, ['x'])).toContain('ixcs_status_created_at_idx');
  });

  it('a prefix like on a string field with index: true can be served by its pattern index', async () => {
    await h.entity({
      ...product('ixd'),
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', index: true },
      ],
    });
    for (const title of ['alpha', 'alpine', 'beta']) await h.create('ixd', { title });
    const list = await h.get('/ixd?filter[title.like]=alp%25&sort=title');
    expect(list.status).toBe(200);
    expect(list.body.data.map((r: { title: string }) => r.title)).toEqual(['alpha', 'alpine']);
    expect(await planOf(`SELECT * FROM ixds WHERE title LIKE 'alp%'`)).toContain('ixds_title_pattern_idx');
  });

  it('long derived names stay within 63 bytes and distinct', async () => {
    const long = 'f'.repeat(60);
    const res = await h.post(ents(), {
      name: 'ixe',
      table: 'ixes',
      primary_key: UUID_PK,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: `${long}a`, type: 'int' },
        { name: `${long}b`, type: 'int' },
      ],
      indexes: [{ fields: [`${long}a`] }, { fields: [`${long}b`] }, { fields: [`${long}a`, `${long}b`] }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const names = (await declared('ixes')).map((i) => i.name);
    expect(names).toHaveLength(3);
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
  });
});

describe('update', () => {
  it('adding, changing and removing indexes on a populated table: built, rebuilt, dropped', async () => {
    await h.entity(product('ixf'));
    for (let i = 0; i < 50; i++) await h.create('ixf', { sku: `S${i}`, status: i % 2 ? 'a' : 'b', qty: i });
    let res = await h.put(ents('/ixf'), product('ixf', { indexes: [{ fields: ['status'] }, { fields: ['qty'], name: 'ixf_named' }] }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await declared('ixfs')).map((i) => [i.name, i.columns, i.valid])).toEqual([
      ['ixf_named', ['qty'], true],
      ['ixfs_status_idx', ['status'], true],
    ]);
    // Same name, other fields: the index of that name is rebuilt on the new fields.
    res = await h.put(ents('/ixf'), product('ixf', { indexes: [{ fields: ['status'] }, { fields: ['sku', 'qty'], name: 'ixf_named' }] }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await declared('ixfs')).map((i) => [i.name, i.columns])).toEqual([
      ['ixf_named', ['sku', 'qty']],
      ['ixfs_status_idx', ['status']],
    ]);
    // A new column and an index on it in one call.
    // A new column indexed in the same call; the indexes no longer declared are dropped.
    res = await h.put(ents('/ixf'), product('ixf', { indexes: [{ fields: ['color', 'qty'] }] }, [{ name: 'color', type: 'string', index: true }]));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await declared('ixfs')).map((i) => [i.name, i.columns, i.valid])).toEqual([
      ['ixfs_color_idx', ['color'], true],
      ['ixfs_color_pattern_idx', ['color'], true],
      ['ixfs_color_qty_idx', ['color', 'qty'], true],
    ]);
    expect((await indexesOf(h, 'ixfs')).map((i) => i.name)).not.toContain('ixf_named');
  });

  it('a removed declaration drops the index; indexes Rocket did not declare are left alone', async () => {
    await h.entity(product('ixg', { indexes: [{ fields: ['qty'] }] }));
    await h.q('CREATE INDEX ixg_manual ON ixgs (status)');
    const res = await h.put(ents('/ixg'), product('ixg'));
    expect(res.status).toBe(200);
    expect(res.body.data.indexes).toBeUndefined();
    expect(await declared('ixgs')).toEqual([]);
    expect((await indexesOf(h, 'ixgs')).map((i) => i.name)).toContain('ixg_manual');
  });

  it('a unique index over duplicate rows → 422 naming the index; definition and indexes unchanged', async () => {
    await h.entity(product('ixh', { indexes: [{ fields: ['qty'] }] }));
    await h.create('ixh', { sku: 'same' });
    await h.create('ixh', { sku: 'same' });
    const res = await h.put(ents('/ixh'), product('ixh', { indexes: [{ fields: ['sku'], unique: true }] }));
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual([
      { field: 'indexes[0].unique', rule: 'migration', message: 'cannot build index ixhs_sku_idx: rows hold duplicate values' },
    ]);
    expect((await storedDefinition('ixh')).indexes).toEqual([{ fields: ['qty'] }]);
    // No half-built (invalid) index is left behind, and the old one is still there.
    expect((await indexesOf(h, 'ixhs')).map((i) => i.name)).not.toContain('ixhs_sku_idx');
    expect((await declared('ixhs')).map((i) => i.name)).toEqual(['ixhs_qty_idx']);
  });

  it('a failing transaction after the concurrent build drops the index it built', async () => {
    await h.entity(product('ixi'));
    await h.create('ixi', { sku: 'x' });
    // qty becomes required while a row holds NULL: the column step fails inside the transaction.
    const def = product('ixi', { indexes: [{ fields: ['status'] }] });
    def.fields[3] = { name: 'qty', type: 'int', required: true };
    const res = await h.put(ents('/ixi'), def);
    expect(res.status).toBe(422);
    expect(await declared('ixis')).toEqual([]);
    expect((await indexesOf(h, 'ixis')).map((i) => i.name)).not.toContain('ixis_status_idx');
  });

  it('an index name held by another table or by an index Rocket does not own → 422', async () => {
    await h.entity(product('ixj'));
    let res = await h.put(ents('/ixj'), product('ixj', { indexes: [{ fields: ['qty'], name: 'ixas' }] }));
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('indexes[0].name');
    await h.q('CREATE INDEX ixj_manual ON ixjs (status)');
    res = await h.put(ents('/ixj'), product('ixj', { indexes: [{ fields: ['qty'], name: 'ixj_manual' }] }));
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('indexes[0].name');
    expect((await indexesOf(h, 'ixjs')).find((i) => i.name === 'ixj_manual')?.columns).toEqual(['status']);
  });
});

describe('validation: bad inputs → 422 with the path, nothing stored', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['indexes not an array', { indexes: { fields: ['qty'] } }, 'indexes'],
    ['an entry not an object', { indexes: ['qty'] }, 'indexes[0]'],
    ['fields missing', { indexes: [{ unique: true }] }, 'indexes[0].fields'],
    ['fields empty', { indexes: [{ fields: [] }] }, 'indexes[0].fields'],
    ['fields not a list', { indexes: [{ fields: 'qty' }] }, 'indexes[0].fields'],
    ['unknown field', { indexes: [{ fields: ['qty', 'nope'] }] }, 'indexes[0].fields[1]'],
    ['a non-string field name', { indexes: [{ fields: [3] }] }, 'indexes[0].fields[0]'],
    ['a field twice in one index', { indexes: [{ fields: ['qty', 'qty'] }] }, 'indexes[0].fields[1]'],
    ['the same field list twice', { indexes: [{ fields: ['qty', 'sku'] }, { fields: ['qty', 'sku'], unique: true }] }, 'indexes[1].fields'],
    [
      'the same name twice',
      {
        indexes: [
          { fields: ['qty'], name: 'ix_same' },
          { fields: ['sku'], name: 'ix_same' },
        ],
      },
      'indexes[1].name',
    ],
    ['a name that is not an identifier', { indexes: [{ fields: ['qty'], name: 'bad name' }] }, 'indexes[0].name'],
    ['a reserved name prefix', { indexes: [{ fields: ['qty'], name: 'idx_mine' }] }, 'indexes[0].name'],
    ['unique not a boolean', { indexes: [{ fields: ['qty'], unique: 'yes' }] }, 'indexes[0].unique'],
    ['a json field', { indexes: [{ fields: ['data'] }] }, 'indexes[0].fields[0]'],
    ['more than 32 fields', { indexes: [{ fields: Array.from({ length: 33 }, () => 'qty') }] }, 'indexes[0].fields'],
  ];
  for (const [what, extra, path] of cases) {
    it(what, async () => {
      const res = await h.post(ents(), product('ixbad', extra));
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(path);
      expect(await storedDefinition('ixbad')).toBeUndefined();
    });
  }

  it('field index not a boolean; index on a json field; index: true plus the same single-field entry', async () => {
    const bad = async (fields: Record<string, unknown>[], extra: Record<string, unknown>, path: string) => {
      const res = await h.post(ents(), product('ixbad', extra, fields));
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(path);
    };
    await bad([{ name: 'extra', type: 'int', index: 'yes' }], {}, 'fields[6].index');
    await bad([{ name: 'extra', type: 'json', index: true }], {}, 'fields[6].index');
    await bad([{ name: 'extra', type: 'int', index: true }], { indexes: [{ fields: ['extra'] }] }, 'indexes[0].fields');
    // A declared name equal to a derived one.
    await bad([{ name: 'extra', type: 'int', index: true }], { indexes: [{ fields: ['qty'], name: 'ixbads_extra_idx' }] }, 'indexes[0].name');
    expect(await storedDefinition('ixbad')).toBeUndefined();
  });

  it('PUT with a bad index leaves the stored definition and the indexes as they were', async () => {
    await h.entity(product('ixk', { indexes: [{ fields: ['qty'] }] }));
    const res = await h.put(ents('/ixk'), product('ixk', { indexes: [{ fields: ['qty'] }, { fields: ['nope'] }] }));
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('indexes[1].fields[0]');
    expect((await storedDefinition('ixk')).indexes).toEqual([{ fields: ['qty'] }]);
    expect((await declared('ixks')).map((i) => i.name)).toEqual(['ixks_qty_idx']);
  });
});

describe('export / import', () => {
  it('indexes travel with the entity definition and are created by the import', async () => {
    await h.entity(
      product('ixl', { indexes: [{ fields: ['status', 'qty'], name: 'ixl_status_qty' }] }, [{ name: 'code', type: 'string', index: true }]),
    );
    const exp = await h.s.client.get(`/api/${h.app.name}/_admin/export`, { token: h.app.token });
    expect(exp.status).toBe(200);
    const entity = exp.body.data.entities.find((e: { name: string }) => e.name === 'ixl');
    expect(entity.indexes).toEqual([{ fields: ['status', 'qty'], name: 'ixl_status_qty' }]);
    expect(entity.fields.find((f: { name: string }) => f.name === 'code')).toEqual({ name: 'code', type: 'string', index: true });

    const other = await h.s.createApp();
    const imp = await h.s.client.post(`/api/${other.name}/_admin/import`, {
      token: other.token,
      body: {
        ...exp.body.data,
        entities: [entity],
        relations: [],
        rules: [],
        state_machines: [],
        workflows: [],
        permissions: [],
        webhooks: [],
        ui_configs: [],
      },
    });
    expect(imp.status).toBe(200);
    expect(imp.body.data.summary.entities).toBe(1);
    expect(imp.body.data.errors).toBeUndefined();
    const got = await h.s.client.get(`/api/${other.name}/_admin/entities/ixl`, { token: other.token });
    expect(got.body.data.definition.indexes).toEqual([{ fields: ['status', 'qty'], name: 'ixl_status_qty' }]);
    const rt = await h.s.rocket.services.apps.get(other.name);
    const names = await rt!.db.query<{ name: string }>(
      `SELECT c.relname::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = 'ixls' AND obj_description(c.oid, 'pg_class') = 'rocket: declared index' ORDER BY 1`,
    );
    expect(names.map((r) => r.name)).toEqual(['ixl_status_qty', 'ixls_code_idx', 'ixls_code_pattern_idx']);
  });
});
