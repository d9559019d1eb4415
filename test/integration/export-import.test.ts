import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const dir = join(import.meta.dirname, '../fixtures/examples');
const examples = readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'));

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const imp = (app: { name: string; token: string }, body: unknown) => s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body });

/** Rules of an example that its own sample rows all violate: reported and skipped (see the employee-management test below). */
const INVERTED_RULES: Record<string, number> = { 'employee-management.json': 1 };

describe('import of the example schemas', () => {
  for (const file of examples) {
    it(`${file}: imports, seeds its sample data, and serves CRUD`, async () => {
      const doc = load(file);
      const app = await s.createApp();
      const res = await imp(app, doc);
      expect(res.status).toBe(200);
      const { summary, errors = [] } = res.body.data;
      expect(res.body.data.message).toBe('Import completed');
      expect(summary.entities).toBe(doc.entities.length);
      expect(summary.relations).toBe(doc.relations.length);
      expect(summary.state_machines).toBe(doc.state_machines.length);
      expect(summary.permissions).toBe(doc.permissions.length);
      expect(summary.workflows).toBe(doc.workflows.length);
      expect(summary.webhooks).toBe(doc.webhooks.length);
      const inverted = INVERTED_RULES[file] ?? 0;
      expect(summary.rules).toBe(doc.rules.length - inverted);
      expect(summary.records).toBeGreaterThan(0);
      expect(errors).toHaveLength(inverted);

      for (const entity of doc.entities) {
        const list = await s.client.get(`/api/${app.name}/${entity.name}?per_page=100`, { token: app.token });
        expect(list.status, entity.name).toBe(200);
        const seeded = (doc.sample_data?.[entity.name] ?? []).length;
        expect(list.body.meta.total, entity.name).toBe(seeded);
      }

      // re-import creates nothing new
      const again = await imp(app, { data: doc });
      expect(again.status).toBe(200);
      const s2 = again.body.data.summary;
      expect([s2.entities, s2.relations, s2.rules, s2.state_machines, s2.permissions, s2.workflows, s2.webhooks]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    });
  }

  it('a record of an imported schema goes through its rules and state machine', async () => {
    const app = await s.createApp();
    expect((await imp(app, load('helpdesk-ticketing.json'))).status).toBe(200);
    const customer = await s.client.post(`/api/${app.name}/customer`, { token: app.token, body: { name: 'Ann', email: 'ann@x.io' } });
    expect(customer.status).toBe(201);
    const short = await s.client.post(`/api/${app.name}/ticket`, {
      token: app.token,
      body: { title: 'bad', description: 'd', customer_id: customer.body.data.id },
    });
    expect(short.status).toBe(422);
    expect(short.body.error.details[0]).toMatchObject({ field: 'title', rule: 'min_length' });
    const ok = await s.client.post(`/api/${app.name}/ticket`, {
      token: app.token,
      body: { title: 'Printer on fire', description: 'd', customer_id: customer.body.data.id, status: 'open' },
    });
    expect(ok.status).toBe(201);
    const skip = await s.client.put(`/api/${app.name}/ticket/${ok.body.data.id}`, { token: app.token, body: { status: 'closed' } });
    expect(skip.status).toBe(422);
  });
});

describe('rules judged against the sample rows', () => {
  const doc = (rows: Array<{ lo: number; hi: number }>, extra: Record<string, unknown> = {}) => ({
    version: 1,
    entities: [
      {
        name: 'span',
        table: 'spans',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'lo', type: 'int' },
          { name: 'hi', type: 'int' },
        ],
      },
    ],
    rules: [
      {
        entity: 'span',
        hook: 'before_write',
        type: 'expression',
        definition: { expression: 'record.hi >= record.lo', message: 'hi < lo' },
        ...extra,
      },
    ],
    sample_data: { span: rows },
  });

  it('a rule every sample row violates is reported and not stored; one they satisfy once, or inactive, is stored', async () => {
    const all = await imp(
      await s.createApp(),
      doc([
        { lo: 1, hi: 2 },
        { lo: 3, hi: 3 },
      ]),
    );
    expect(all.body.data.summary.rules).toBe(0);
    expect(all.body.data.errors).toEqual([
      expect.stringMatching(/^Rule \(span\/before_write\): expression is truthy for every sample row of span \(2\)/),
    ]);
    const some = await imp(
      await s.createApp(),
      doc([
        { lo: 1, hi: 2 },
        { lo: 5, hi: 3 },
      ]),
    );
    expect([some.body.data.summary.rules, some.body.data.errors]).toEqual([1, undefined]);
    const none = await imp(await s.createApp(), doc([]));
    expect(none.body.data.summary.rules).toBe(1);
    const inactive = await imp(await s.createApp(), doc([{ lo: 1, hi: 2 }], { active: false }));
    expect(inactive.body.data.summary.rules).toBe(1);
  });
});

describe('imported workflows', () => {
  it('employee-management: a short leave request is approved by its workflow, outside any user transition', async () => {
    const app = await s.createApp();
    const doc = load('employee-management.json');
    const imported = await imp(app, doc);
    expect(imported.status).toBe(200);
    // The example's date rule states what must hold, but a rule is violated when truthy: every sample leave request
    // would be refused, so the import reports it and stores the other rules (export-import.md names this rule).
    expect(imported.body.data.errors).toEqual([
      expect.stringMatching(/^Rule \(leave_request\/before_write\): expression is truthy for every sample row of leave_request \(\d+\)/),
    ]);
    expect(imported.body.data.summary.rules).toBe(doc.rules.length - 1);
    const rules = await s.client.get(`/api/${app.name}/_admin/rules`, { token: app.token });
    expect(rules.body.data.some((r: any) => r.type === 'expression' && r.entity === 'leave_request')).toBe(false);
    const employee = doc.sample_data.employee[0];
    const res = await s.client.post(`/api/${app.name}/leave_request`, {
      token: app.token,
      body: { employee_id: employee.id, type: 'annual', start_date: '2026-12-01', end_date: '2026-12-02', days: 2, status: 'pending' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const after = await s.client.get(`/api/${app.name}/leave_request/${res.body.data.id}`, { token: app.token });
    expect(after.body.data.status).toBe('approved');
  });

  it('UI configs are upserted on (entity, scope)', async () => {
    const app = await s.createApp();
    const entity = {
      name: 'thing',
      table: 'things',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [{ name: 'id', type: 'uuid' }],
    };
    const first = await imp(app, { version: 1, entities: [entity], ui_configs: [{ entity: 'thing', config: { columns: ['a'] } }] });
    expect(first.body.data.summary.ui_configs).toBe(1);
    const second = await imp(app, {
      version: 1,
      ui_configs: [{ entity: 'thing', scope: 'default', config: { columns: ['b'] } }, { entity: 'ghost' }],
    });
    expect(second.body.data.summary.ui_configs).toBe(1);
    expect(second.body.data.errors).toEqual(['UI config ghost: entity not found: ghost']);
    const got = await s.client.get(`/api/${app.name}/_ui/config/thing`, { token: app.token });
    expect(got.body.data.config).toEqual({ columns: ['b'] });
  });
});

describe('export', () => {
  it('exports definitions as JSON objects in spec order and re-imports into another app identically', async () => {
    const source = await s.createApp();
    await imp(source, load('content-management.json'));
    const exported = await s.client.get(`/api/${source.name}/_admin/export`, { token: source.token });
    expect(exported.status).toBe(200);
    const doc = exported.body.data;
    expect(doc.version).toBe(1);
    expect(doc.exported_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    for (const key of ['entities', 'relations', 'rules', 'state_machines', 'workflows', 'permissions', 'webhooks', 'ui_configs']) {
      expect(Array.isArray(doc[key]), key).toBe(true);
    }
    expect(typeof doc.entities[0]).toBe('object');
    const names = doc.entities.map((e: any) => e.name);
    expect(names).toEqual([...names].sort());
    expect(doc.rules[0]).not.toHaveProperty('id');
    expect(doc.rules[0]).not.toHaveProperty('created_at');

    const target = await s.createApp();
    const res = await imp(target, exported.body); // the envelope is accepted too
    expect(res.status).toBe(200);
    const back = await s.client.get(`/api/${target.name}/_admin/export`, { token: target.token });
    const strip = (d: any) => ({ ...d, exported_at: null });
    expect(strip(back.body.data)).toEqual(strip(doc));
  });

  it('refuses other versions and unparseable bodies, and needs an admin', async () => {
    const app = await s.createApp();
    const v2 = await imp(app, { version: 2, entities: [] });
    expect(v2.status).toBe(422);
    expect(v2.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Unsupported export version: 2' });
    const text = await imp(app, { version: '1', entities: [] });
    expect(text.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Unsupported export version: "1"' });
    const bad = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, raw: '{"version":' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_PAYLOAD');
    const list = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, raw: '[]' });
    expect(list.status).toBe(400);
  });

  it('reports sections that are no arrays and items that are no objects; a name given twice seeds once', async () => {
    const app = await s.createApp();
    const entity = {
      name: 'dup',
      table: 'dups',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'n', type: 'int' },
      ],
    };
    const res = await imp(app, { version: 1, entities: [entity, 1, null, { ...entity }], rules: 'x', sample_data: { dup: [{ n: 1 }] } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 1, records: 1 });
    expect(res.body.data.errors).toEqual([
      'entities[1]: must be an object; skipped',
      'entities[2]: must be an object; skipped',
      'rules: must be an array; skipped',
    ]);
    const rt = await s.rocket.services.apps.get(app.name);
    expect(await rt!.db.query('SELECT n FROM dups')).toEqual([{ n: 1 }]);
  });

  it('reports sample data that is no object, rows that are no array and rows that are no objects; seeds the rest', async () => {
    const app = await s.createApp();
    const uuidPk = { field: 'id', type: 'uuid', generated: true };
    const entities = [
      {
        name: 'box',
        table: 'boxes',
        primary_key: uuidPk,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'n', type: 'int' },
        ],
      },
      {
        name: 'lid',
        table: 'lids',
        primary_key: uuidPk,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'n', type: 'int' },
        ],
      },
    ];
    const relations = [
      {
        name: 'box_lids',
        type: 'many_to_many',
        source: 'box',
        target: 'lid',
        join_table: 'box_lid',
        source_join_key: 'box_id',
        target_join_key: 'lid_id',
      },
    ];
    const notObject = await imp(app, { version: 1, entities, relations, sample_data: [{ n: 1 }] });
    expect(notObject.status).toBe(200);
    expect(notObject.body.data.summary).toMatchObject({ entities: 2, relations: 1 });
    expect(notObject.body.data.summary).not.toHaveProperty('records');
    expect(notObject.body.data.errors).toEqual(['sample_data: must be an object; skipped']);

    const res = await imp(app, { version: 1, entities, relations, sample_data: { box: [{ n: 1 }, 'two', null], lid: { n: 3 }, box_lid: 'x' } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 0, records: 1 });
    expect(res.body.data.errors).toEqual([
      'Record box: row 1 must be an object; skipped',
      'Record box: row 2 must be an object; skipped',
      'Record lid: rows must be an array; skipped',
      'Record box_lid: rows must be an array; skipped',
    ]);
    const rt = await s.rocket.services.apps.get(app.name);
    expect(await rt!.db.query('SELECT n FROM boxes')).toEqual([{ n: 1 }]);
    expect(await rt!.db.query('SELECT n FROM lids')).toEqual([]);
  });

  it('sample rows with their own keys of a generated int key: the next create takes the key after them', async () => {
    const app = await s.createApp();
    const entity = {
      name: 'seq',
      table: 'seqs',
      primary_key: { field: 'id', type: 'bigint', generated: true },
      fields: [
        { name: 'id', type: 'bigint' },
        { name: 'x', type: 'int' },
      ],
    };
    const res = await imp(app, {
      version: 1,
      entities: [entity],
      sample_data: {
        seq: [
          { id: 1, x: 1 },
          { id: 2, x: 2 },
        ],
      },
    });
    expect(res.body.data.summary).toMatchObject({ entities: 1, records: 2 });
    const created = await s.client.post(`/api/${app.name}/seq`, { token: app.token, body: { x: 3 } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data).toEqual({ id: 3, x: 3 });
  });

  it('a sample row without a field named like an Object.prototype member leaves it NULL', async () => {
    const app = await s.createApp();
    const entity = {
      name: 'odd',
      table: 'odds',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'constructor', type: 'text' },
        { name: 'valueOf', type: 'int' },
        { name: 'toString', type: 'string' },
      ],
    };
    const res = await imp(app, { version: 1, entities: [entity], sample_data: { odd: [{ valueOf: 2 }, { constructor: 'c' }] } });
    expect(res.status).toBe(200);
    expect(res.body.data.errors).toBeUndefined();
    expect(res.body.data.summary).toMatchObject({ entities: 1, records: 2 });
    const list = await s.client.get(`/api/${app.name}/odd?sort=valueOf`, { token: app.token });
    expect(list.body.data.map(({ id: _id, ...rest }: Record<string, unknown>) => rest)).toEqual([
      { constructor: null, valueOf: 2, toString: null },
      { constructor: 'c', valueOf: null, toString: null },
    ]);
  });

  it('reports invalid items and keeps going', async () => {
    const app = await s.createApp();
    const res = await imp(app, {
      version: 1,
      entities: [
        {
          name: 'good',
          table: 'goods',
          primary_key: { field: 'id', type: 'uuid', generated: true },
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'n', type: 'int' },
          ],
        },
        { name: 'bad', table: 'bads', primary_key: { field: 'id', type: 'uuid', generated: true }, fields: [{ name: 'id', type: 'money' }] },
        { name: 'nameless' },
      ],
      rules: [{ entity: 'good', hook: 'before_write', type: 'expression', definition: { expression: 'record.n >' } }],
      sample_data: { good: [{ n: 1 }, { n: 'x' }, { zzz: 1 }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 1, rules: 0, records: 1 });
    const errors: string[] = res.body.data.errors;
    expect(errors.some((e) => e.startsWith('Entity bad: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('Rule (good/before_write): invalid expression'))).toBe(true);
    expect(errors.some((e) => e.startsWith('Record good: '))).toBe(true);
  });
});

describe('de-duplication compares items as saving stores them', () => {
  const member = {
    name: 'member',
    table: 'members',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'nick', type: 'string' },
      { name: 'age', type: 'int' },
      { name: 'state', type: 'string' },
    ],
  };
  const setup = async () => {
    const app = await s.createApp();
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    expect((await s.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: member })).status).toBe(201);
    return { app, runtime };
  };
  const counts = async (runtime: { db: { query<T>(sql: string): Promise<T[]> } }) => {
    const tables = ['_rules', '_state_machines', '_workflows', '_webhooks', '_permissions', '_ui_configs'];
    const out: Record<string, number> = {};
    for (const t of tables) out[t] = Number((await runtime.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`))[0]!.n);
    return out;
  };

  it('an export imported into its own app twice creates nothing', async () => {
    const { app, runtime } = await setup();
    const post = async (path: string, body: unknown) => {
      const res = await s.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    // Sent with the defaults spelled out and a threshold as a string: stored normalised.
    await post('rules', {
      entity: 'member',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'min_length', value: '2', message: '', stop_on_fail: false, related_load: [] },
    });
    await post('rules', { entity: 'member', hook: 'before_delete', type: 'expression', definition: { expression: "record.state == 'locked'" } });
    await post('state-machines', {
      entity: 'member',
      field: 'state',
      definition: {
        transitions: [
          { from: 'new', to: 'done', roles: [], guard: '', actions: [{ type: 'webhook', url: 'https://hooks.example.com/sm', method: 'post' }] },
        ],
      },
    });
    await post('workflows', {
      name: 'greet',
      trigger: { type: 'state_change', entity: 'member', field: 'state', to: 'done' },
      steps: [{ id: 'a', type: 'action', actions: [{ type: 'webhook', url: 'https://hooks.example.com/wf' }], then: { goto: 'end' } }],
    });
    await post('webhooks', { entity: 'member', url: 'https://hooks.example.com/wh' });
    await post('permissions', { entity: 'member', action: 'read', roles: ['b', 'a'] });
    const before = await counts(runtime);
    const exported = await s.client.get(`/api/${app.name}/_admin/export`, { token: app.token });
    for (const round of [1, 2]) {
      const res = await imp(app, exported.body.data);
      expect(res.status).toBe(200);
      expect(res.body.data.errors, `round ${round}`).toBeUndefined();
      expect(res.body.data.summary, `round ${round}`).toMatchObject({
        entities: 0,
        relations: 0,
        rules: 0,
        state_machines: 0,
        workflows: 0,
        permissions: 0,
        webhooks: 0,
      });
      expect(await counts(runtime)).toEqual(before);
    }
  });

  it('a rule sent with defaulted keys matches its stored form: imported twice, or twice in one payload, it is stored once', async () => {
    const { app, runtime } = await setup();
    const spelled = {
      entity: 'member',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'max_length', value: '10', message: '', stop_on_fail: false, related_load: [] },
    };
    const bare = {
      entity: 'member',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'nick', operator: 'max_length', value: 10 },
      active: true,
    };
    const first = await imp(app, { version: 1, rules: [spelled, bare, { ...spelled }] });
    expect(first.body.data.summary.rules).toBe(1);
    expect(first.body.data.errors).toBeUndefined();
    for (const doc of [spelled, bare]) {
      const again = await imp(app, { version: 1, rules: [doc] });
      expect(again.body.data.summary.rules).toBe(0);
    }
    const stored = await runtime.db.query<{ definition: unknown }>('SELECT definition FROM _rules');
    expect(stored).toEqual([{ definition: { field: 'nick', operator: 'max_length', value: 10 } }]);
  });

  it('a rule stored before thresholds were normalised matches the same rule as exported elsewhere', async () => {
    const { app, runtime } = await setup();
    // Written as the old server stored it: the threshold as a string, the defaults spelled out.
    await runtime.db.query(
      `INSERT INTO _rules (entity, hook, type, definition)
       VALUES ('member', 'before_write', 'field', '{"field":"age","operator":"min","value":"18","message":"","stop_on_fail":false}'::jsonb)`,
    );
    await runtime.reload();
    const res = await imp(app, {
      version: 1,
      rules: [{ entity: 'member', hook: 'before_write', type: 'field', definition: { field: 'age', operator: 'min', value: 18 } }],
    });
    expect(res.body.data.summary.rules).toBe(0);
    expect((await counts(runtime))._rules).toBe(1);
  });

  it('a rule without hook is reported, not stored as before_write', async () => {
    const { app, runtime } = await setup();
    const res = await imp(app, { version: 1, rules: [{ entity: 'member', type: 'field', definition: { field: 'age', operator: 'min', value: 1 } }] });
    expect(res.status).toBe(200);
    expect(res.body.data.summary.rules).toBe(0);
    expect(res.body.data.errors).toEqual(['Rule (member/?): invalid hook:  (must be before_write or before_delete)']);
    expect((await counts(runtime))._rules).toBe(0);
  });
});
