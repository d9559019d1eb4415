import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { RFC3339, UUID_V4 } from '../support/engine.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Every example schema, created through the admin API (entities in order, then relations), serves
 * create / list / get / update / delete for each of its entities with payloads built from the definitions.
 */

interface Field {
  name: string;
  type: string;
  required?: boolean;
  unique?: boolean;
  enum?: string[];
  auto?: string;
  default?: unknown;
}
interface Entity {
  name: string;
  table: string;
  primary_key: { field: string; type?: string; generated?: boolean };
  soft_delete?: boolean;
  slug?: { field: string; source?: string };
  fields: Field[];
}
interface Relation {
  name: string;
  type: string;
  source: string;
  target: string;
}

const DIR = join(import.meta.dirname, '../fixtures/examples');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const slugify = (t: string) =>
  t
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');

let seq = 0;

/** A valid value for a field, and what the API must return for it. */
function sample(f: Field, fileId: string, file: object): { sent: unknown; returned: unknown } {
  const n = ++seq;
  if (f.enum?.length) return { sent: f.enum[f.enum.length - 1], returned: f.enum[f.enum.length - 1] };
  switch (f.type) {
    case 'string':
    case 'text':
      return f.name.includes('email')
        ? { sent: `user${n}.${randomUUID().slice(0, 8)}@example.com`, returned: undefined }
        : { sent: `${f.name} ${n} ${randomUUID().slice(0, 8)}`, returned: undefined };
    case 'int':
    case 'integer':
      return { sent: 40 + n, returned: 40 + n };
    case 'bigint':
      return { sent: 9007199254740000 + n, returned: 9007199254740000 + n };
    case 'float':
      return { sent: n + 0.25, returned: n + 0.25 };
    case 'decimal':
      return { sent: `${n}.50`, returned: n + 0.5 };
    case 'boolean':
      return { sent: f.default !== true, returned: f.default !== true };
    case 'uuid': {
      const u = randomUUID().toUpperCase();
      return { sent: u, returned: u.toLowerCase() };
    }
    case 'timestamp':
      return { sent: '2024-05-01T12:30:00+02:00', returned: '2024-05-01T10:30:00.000Z' };
    case 'date':
      return { sent: '2024-05-01', returned: '2024-05-01' };
    case 'json':
      return { sent: { n, list: [1, 'two'] }, returned: { n, list: [1, 'two'] } };
    case 'file':
      return { sent: fileId, returned: file };
    default:
      throw new Error(`no sample for ${f.type}`);
  }
}

describe.each(FILES)('%s', (file) => {
  const schema = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { entities: Entity[]; relations: Relation[] };
  let app: { name: string; token: string };
  let runtime: AppRuntime;
  let fileRow: { id: string; filename: string; size: number; mime_type: string };
  const api = (path: string) => `/api/${app.name}${path}`;
  const opts = (body?: unknown) => ({ token: app.token, body });

  beforeAll(async () => {
    app = await s.createApp();
    runtime = (await s.rocket.services.apps.get(app.name))!;
    const [row] = await runtime.db.query<{ id: string }>(
      "INSERT INTO _files (filename, storage_path, mime_type, size) VALUES ('doc.pdf', 'x/doc.pdf', 'application/pdf', 1234) RETURNING id",
    );
    fileRow = { id: row!.id, filename: 'doc.pdf', size: 1234, mime_type: 'application/pdf' };
  });

  it('creates every entity and relation through the admin API', async () => {
    for (const e of schema.entities) {
      const res = await s.client.post(api('/_admin/entities'), opts(e));
      expect(res.status, `${e.name}: ${JSON.stringify(res.body)}`).toBe(201);
      expect(res.body.data).toMatchObject({ name: e.name, table: e.table, soft_delete: Boolean(e.soft_delete) });
      expect(res.body.data.fields.map((f: Field) => f.name)).toEqual(e.fields.map((f) => f.name));
      const cols = await runtime.db.query<{ column_name: string }>(
        'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
        [e.table],
      );
      expect(cols.map((c) => c.column_name).sort()).toEqual(
        [...new Set([...e.fields.map((f) => f.name), ...(e.soft_delete ? ['deleted_at'] : [])])].sort(),
      );
    }
    for (const r of schema.relations) {
      const res = await s.client.post(api('/_admin/relations'), opts(r));
      expect(res.status, `${r.name}: ${JSON.stringify(res.body)}`).toBe(201);
      expect(res.body.data).toMatchObject({ name: r.name, type: r.type, source: r.source, target: r.target });
    }
    const list = await s.client.get(api('/_admin/entities'), opts());
    expect(list.body.data.map((r: { name: string }) => r.name)).toEqual(schema.entities.map((e) => e.name).sort());
    const rels = await s.client.get(api('/_admin/relations'), opts());
    expect(rels.body.data).toHaveLength(schema.relations.length);
  });

  it.each(schema.entities.map((e) => [e.name, e] as const))('%s: create, list, get, update, delete', async (_name, e) => {
    const pk = e.primary_key.field;
    const slugFromSource = e.slug?.source ? e.slug.field : undefined;
    const body: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const f of e.fields) {
      if ((f.name === pk && e.primary_key.generated) || f.auto || (f.name === 'deleted_at' && e.soft_delete) || f.name === slugFromSource) continue;
      const { sent, returned } = sample(f, fileRow.id, fileRow);
      body[f.name] = sent;
      expected[f.name] = returned === undefined ? sent : returned;
    }

    // Create
    const created = await s.client.post(api(`/${e.name}`), opts(body));
    expect(created.status, `${e.name}: ${JSON.stringify(created.body)}`).toBe(201);
    const rec = created.body.data;
    expect(rec).toMatchObject(expected);
    const keys = [...new Set([...e.fields.map((f) => f.name), ...(e.soft_delete ? ['deleted_at'] : [])])].sort();
    expect(Object.keys(rec).sort()).toEqual(keys);
    if (e.primary_key.generated) expect(rec[pk]).toMatch(UUID_V4);
    for (const f of e.fields) {
      if (f.auto) expect(rec[f.name], f.name).toMatch(RFC3339);
    }
    if (e.soft_delete) expect(rec.deleted_at).toBeNull();
    if (slugFromSource) expect(rec[slugFromSource]).toBe(slugify(String(body[e.slug!.source!])));
    const id = rec[pk];

    // Get (by id, and by slug when there is one)
    const got = await s.client.get(api(`/${e.name}/${id}`), opts());
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual(rec);
    if (slugFromSource) {
      const bySlug = await s.client.get(api(`/${e.name}/${rec[slugFromSource]}`), opts());
      expect(bySlug.status).toBe(200);
      expect(bySlug.body.data).toEqual(rec);
    }

    // List
    const list = await s.client.get(api(`/${e.name}?filter[${pk}]=${id}`), opts());
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [rec], meta: { page: 1, per_page: 25, total: 1, next_cursor: null } });
    const all = await s.client.get(api(`/${e.name}?sort=-${pk}`), opts());
    expect(all.body.data.map((r: Record<string, unknown>) => r[pk])).toContain(id);

    // Includes of every relation this entity takes part in
    for (const r of schema.relations.filter((x) => x.source === e.name || x.target === e.name)) {
      const inc = await s.client.get(api(`/${e.name}/${id}?include=${r.name}`), opts());
      expect(inc.status, `${e.name} include=${r.name}: ${JSON.stringify(inc.body)}`).toBe(200);
      const forward = r.source === e.name;
      if (forward && r.type !== 'one_to_one') expect(inc.body.data[r.name]).toEqual([]);
      else if (r.type === 'many_to_many') expect(inc.body.data[r.name]).toEqual([]);
      else expect(inc.body.data[r.name]).toBeNull(); // the sample keys point at nothing
    }

    // Update one plain field
    const plain = (f: Field) => (f.type === 'string' || f.type === 'text') && !f.enum && f.name !== pk && f.name !== slugFromSource;
    const isInt = (f: Field) => (f.type === 'int' || f.type === 'integer') && f.name !== pk;
    const target = e.fields.find((f) => plain(f) && !f.unique) ?? e.fields.find(plain) ?? e.fields.find(isInt);
    expect(target, `${e.name} has an updatable field`).toBeDefined();
    const value = isInt(target!) ? 7 : `updated ${randomUUID()}`;
    const updated = await s.client.put(api(`/${e.name}/${id}`), opts({ [target!.name]: value }));
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    const autoUpdate = e.fields.filter((f) => f.auto === 'update').map((f) => f.name);
    const unchanged = Object.fromEntries(Object.entries(rec).filter(([k]) => !autoUpdate.includes(k)));
    expect(updated.body.data).toMatchObject({ ...unchanged, [target!.name]: value });
    for (const f of autoUpdate) expect(Date.parse(updated.body.data[f])).toBeGreaterThanOrEqual(Date.parse(rec[f]));
    expect((await s.client.get(api(`/${e.name}/${id}`), opts())).body.data).toEqual(updated.body.data);

    // Delete
    const del = await s.client.delete(api(`/${e.name}/${id}`), opts());
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body).toEqual({ data: { id: String(id) } });
    expect((await s.client.get(api(`/${e.name}/${id}`), opts())).status).toBe(404);
    const rows = await runtime.db.query<{ deleted: boolean }>(
      `SELECT ${e.soft_delete ? 'deleted_at IS NOT NULL' : 'true'} AS deleted FROM "${e.table}" WHERE "${pk}" = $1`,
      [id],
    );
    expect(rows).toEqual(e.soft_delete ? [{ deleted: true }] : []);
  });

  it('required fields are enforced as declared', async () => {
    for (const e of schema.entities) {
      const required = e.fields
        .filter((f) => f.required && !f.auto && f.default === undefined && !(f.name === e.primary_key.field && e.primary_key.generated))
        .filter((f) => !(e.slug?.source && e.slug.field === f.name))
        .map((f) => f.name);
      const res = await s.client.post(api(`/${e.name}`), opts({}));
      if (required.length === 0) {
        expect(res.status, e.name).toBe(201);
        continue;
      }
      expect(res.status, e.name).toBe(422);
      expect(res.body.error.details.map((d: { field: string; rule: string }) => `${d.field}:${d.rule}`).sort()).toEqual(
        required.map((n) => `${n}:required`).sort(),
      );
    }
  });
});
