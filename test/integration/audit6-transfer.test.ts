import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, uniqueName } from '../support/server.js';

/** Audit 6: schema export/import (export-import.md) and the multi-app platform (multi-app.md), over HTTP. */

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

type App = { name: string; token: string };
const imp = (app: App, body: unknown) => s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body });
const db = async (app: App) => (await s.rocket.services.apps.get(app.name))!.db;
const entity = (name: string, table: string) => ({
  name,
  table,
  primary_key: { field: 'id', type: 'uuid', generated: true },
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 'label', type: 'string' },
  ],
});

describe('sample rows of join tables (export-import.md §sample_data: "a join_table of a relation in this payload")', () => {
  it('a refused relation opens no table to sample rows: nothing reaches _permissions or _outbox', async () => {
    const app = await s.createApp();
    const res = await imp(app, {
      version: 1,
      relations: [
        // Refused (no such entities, and system tables): their join tables are no join tables of this app.
        {
          name: 'p',
          type: 'many_to_many',
          source: 'ghost',
          target: 'ghost',
          join_table: '_permissions',
          source_join_key: 'entity',
          target_join_key: 'action',
        },
        {
          name: 'o',
          type: 'many_to_many',
          source: 'ghost',
          target: 'ghost',
          join_table: '_outbox',
          source_join_key: 'kind',
          target_join_key: 'payload',
        },
      ],
      sample_data: { _permissions: [{ entity: 'secret', action: 'read' }], _outbox: [{ kind: 'webhook', payload: '{"url":"http://x"}' }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ relations: 0, records: 0 });
    expect(res.body.data.errors).toEqual(['Relation p: source entity not found: ghost', 'Relation o: source entity not found: ghost']);
    const d = await db(app);
    expect(await d.query('SELECT entity, action FROM _permissions')).toEqual([]);
    expect(await d.query('SELECT kind FROM _outbox')).toEqual([]);
  });

  it('a relation skipped because its name exists seeds the join table it has, under its own keys', async () => {
    const app = await s.createApp();
    const entities = [entity('post', 'posts'), entity('tag', 'tags')];
    const stored = {
      name: 'tags',
      type: 'many_to_many',
      source: 'post',
      target: 'tag',
      join_table: 'post_tags',
      source_join_key: 'post_id',
      target_join_key: 'tag_id',
    };
    expect((await imp(app, { version: 1, entities, relations: [stored] })).body.data.summary).toMatchObject({ entities: 2, relations: 1 });
    const [post, tag] = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    const res = await imp(app, {
      version: 1,
      entities,
      // The same name, claiming the entity table `tags` as its join table: the stored relation is the one that counts.
      relations: [{ ...stored, join_table: 'tags', source_join_key: 'label', target_join_key: 'id' }],
      sample_data: { post: [{ id: post, label: 'p' }], tags: [{ label: 'x', id: tag }], post_tags: [{ post_id: post, tag_id: tag }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 0, relations: 0, records: 2 });
    const d = await db(app);
    expect(await d.query('SELECT id FROM tags')).toEqual([]);
    expect(await d.query('SELECT post_id, tag_id FROM post_tags')).toEqual([{ post_id: post, tag_id: tag }]);
  });
});

describe('a large import (export-import.md: "Metadata is reloaded after step 1 and at the end")', () => {
  it('stores many items without reloading the metadata after each, and they take effect at the end', async () => {
    const app = await s.createApp();
    expect((await imp(app, { version: 1, entities: [entity('item', 'items')] })).status).toBe(200);
    const n = 150;
    const doc = {
      version: 1,
      rules: Array.from({ length: n }, (_, i) => ({
        entity: 'item',
        hook: 'before_write',
        type: 'expression',
        definition: { expression: `record.label == 'bad${i}'`, message: `bad ${i}` },
      })),
      permissions: Array.from({ length: n }, (_, i) => ({ entity: 'item', action: 'read', roles: [`reader${i}`] })),
      webhooks: Array.from({ length: n }, (_, i) => ({ entity: 'item', url: `https://hooks.example.com/${i}`, active: false })),
    };
    const d = await db(app);
    const before = d.statements;
    const res = await imp(app, doc);
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ rules: n, permissions: n, webhooks: n });
    // An insert and its audit entry per item, and a handful of statements around them; a reload per item read every
    // metadata table again (and made every other instance do the same).
    expect(d.statements - before).toBeLessThan(3 * (3 * n));
    // In effect for the very next request.
    const refused = await s.client.post(`/api/${app.name}/item`, { token: app.token, body: { label: 'bad7' } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details[0].message).toBe('bad 7');
  });
});

describe('a join table named like a PostgreSQL catalog (metadata.md §2 identifier rules, §5: a DDL failure is a bug)', () => {
  it('is refused with 422 by the admin API and reported by an import, as an entity table of that name is', async () => {
    const app = await s.createApp();
    const keyed = (name: string) => ({
      name,
      table: `${name}s`,
      primary_key: { field: 'id', type: 'string' },
      fields: [{ name: 'id', type: 'string' }],
    });
    expect((await imp(app, { version: 1, entities: [keyed('src'), keyed('tgt')] })).body.data.summary.entities).toBe(2);
    const rel = {
      name: 'mm',
      type: 'many_to_many',
      source: 'src',
      target: 'tgt',
      join_table: 'pg_settings',
      source_join_key: 'name',
      target_join_key: 'setting',
    };
    const res = await s.client.post(`/api/${app.name}/_admin/relations`, {
      token: app.token,
      body: { ...rel, join_table: 'pg_class', source_join_key: 'relname', target_join_key: 'relkind' },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toContain('join_table pg_class collides with an entity or system table');
    const imported = await imp(app, { version: 1, relations: [rel] });
    expect(imported.body.data.errors).toEqual([
      expect.stringContaining('Relation mm: join_table pg_settings collides with an entity or system table'),
    ]);
    expect(await (await db(app)).query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'pg\\_%'`)).toEqual([]);
  });
});

describe('a sample timestamp no Date can hold (export-import.md §sample_data: no validation; a hang is a bug)', () => {
  /** The import answers within `ms`, or the test fails instead of waiting on a wedged server. */
  const timed = async (app: App, body: unknown, ms = 20_000) => {
    const res = await fetch(`${s.rocket.url}/api/${app.name}/_admin/import`, {
      method: 'POST',
      signal: AbortSignal.timeout(ms),
      headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { data: { summary: Record<string, number>; errors?: string[] } } };
  };

  it('is refused by PostgreSQL as a bad value, and the app keeps answering imports', async () => {
    const app = await s.createApp();
    const ev = {
      name: 'ev',
      table: 'evs',
      history: true, // sample rows then go in one transaction each, with their history entry
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'n', type: 'int' },
        { name: 'at', type: 'timestamp' },
      ],
    };
    expect((await timed(app, { version: 1, entities: [ev] })).status).toBe(200);
    for (let round = 0; round < 4; round++) {
      const res = await timed(app, {
        version: 1,
        entities: [ev],
        sample_data: { ev: [{ n: 'x' }, { at: 1e308 }, { at: -1e300, n: 1 }, { n: round }] },
      });
      expect(res.status).toBe(200);
      expect(res.body.data.summary.records).toBe(1);
      expect(res.body.data.errors).toEqual([
        'Record ev: Invalid value: invalid input syntax for type integer: "x"',
        expect.stringMatching(/^Record ev: Invalid value: .*1e\+308/),
        expect.stringMatching(/^Record ev: Invalid value: .*-1e\+300/),
      ]);
    }
    expect(await (await db(app)).query('SELECT n FROM evs ORDER BY n')).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
  });
});

describe('errors of sample rows say what was wrong (export-import.md: "Record <key>: …")', () => {
  it('a row without a NOT NULL field names the field', async () => {
    const app = await s.createApp();
    const person = {
      name: 'person',
      table: 'people',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'email', type: 'string', required: true },
        { name: 'age', type: 'int' },
      ],
    };
    const res = await imp(app, { version: 1, entities: [person], sample_data: { person: [{ age: 3 }, { email: 'a@b.io' }] } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 1, records: 1 });
    expect(res.body.data.errors).toEqual(['Record person: Validation failed: email is required']);
  });
});

describe('sample boolean values (export-import.md §sample_data: rows inserted as given, no validation)', () => {
  it('are stored as PostgreSQL reads them: "true", 1 and "yes" are true, and an unreadable one is reported, not stored as false', async () => {
    const app = await s.createApp();
    const flag = {
      name: 'flag',
      table: 'flags',
      primary_key: { field: 'id', type: 'int' },
      fields: [
        { name: 'id', type: 'int' },
        { name: 'on', type: 'boolean' },
      ],
    };
    const rows = [
      { id: 1, on: true },
      { id: 2, on: 'true' },
      { id: 3, on: 1 },
      { id: 4, on: 'yes' },
      { id: 5, on: false },
      { id: 6, on: 'f' },
      { id: 7, on: 0 },
      { id: 8, on: 'maybe' },
    ];
    const res = await imp(app, { version: 1, entities: [flag], sample_data: { flag: rows } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ records: 7 });
    expect(res.body.data.errors).toEqual(['Record flag: Invalid value: invalid input syntax for type boolean: "maybe"']);
    const list = await s.client.get(`/api/${app.name}/flag?sort=id`, { token: app.token });
    expect(list.body.data.map((r: { id: number; on: boolean }) => [r.id, r.on])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, false],
      [6, false],
      [7, false],
    ]);
  });
});

describe('an app deleted and created again (multi-app.md: delete removes the app; a new app is a fresh one)', () => {
  it('starts with no login locks of the old app, while an app whose name extends it keeps its own', async () => {
    const name = uniqueName('relock');
    const platform = { token: s.platformToken };
    const login = (app: string, password: string) => s.client.post(`/api/${app}/auth/login`, { body: { email: 'admin@localhost', password } });
    const lockOut = async (app: string) => {
      for (let i = 0; i < s.config.loginMaxFailures; i++) expect((await login(app, 'wrong')).status).toBe(401);
      expect((await login(app, 'changeme')).status).toBe(429);
    };
    await s.createApp(name);
    await s.createApp(`${name}-2`);
    await lockOut(name);
    await lockOut(`${name}-2`);
    expect((await s.client.delete(`/api/_platform/apps/${name}`, platform)).status).toBe(200);
    expect((await s.client.post('/api/_platform/apps', { ...platform, body: { name } })).status).toBe(201);
    const fresh = await login(name, 'changeme');
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(200);
    expect((await login(`${name}-2`, 'changeme')).status).toBe(429);
  });
});
