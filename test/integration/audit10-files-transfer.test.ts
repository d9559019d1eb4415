import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

/** Audit 10: uploads, downloads and file fields (files.md); schema export/import round trips (export-import.md). */

const dir = join(import.meta.dirname, '../fixtures/examples');
const examples = readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'));

const LIMIT = 100_000;
let s: TestServer;
let storage: string;
let app: { name: string; token: string };
let runtime: AppRuntime;

beforeAll(async () => {
  storage = await mkdtemp(join(tmpdir(), 'rocket-audit10-'));
  s = await startTestServer({ ROCKET_STORAGE_PATH: storage, ROCKET_MAX_FILE_SIZE: String(LIMIT) });
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});
afterAll(async () => {
  await s?.close();
  if (storage) await rm(storage, { recursive: true, force: true });
});

type App = { name: string; token: string };
const imp = (to: App, body: unknown) => s.client.post(`/api/${to.name}/_admin/import`, { token: to.token, body });
const exp = async (from: App) => {
  const res = await s.client.get(`/api/${from.name}/_admin/export`, { token: from.token });
  expect(res.status).toBe(200);
  return res.body.data;
};
/** An export without its time stamp, for comparing two. */
const stable = (doc: any) => ({ ...doc, exported_at: null });
const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown, to: App = app) =>
  s.client[method](`/api/${to.name}/${path}`, { token: to.token, body });

interface RawPart {
  name: string;
  filename?: string;
  type?: string;
  data: string | Buffer;
}

/** A hand-written multipart body (FormData cannot send two parts of one name in a chosen order with raw names). */
async function upload(parts: RawPart[]): Promise<{ status: number; body: any }> {
  const boundary = `----a10${uniqueName('')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const res = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat(chunks),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

const storedDirs = async () => (await readdir(join(storage, app.name)).catch(() => [] as string[])).sort();
const fileIds = async () => (await runtime.db.query<{ id: string }>('SELECT id FROM _files ORDER BY id')).map((r) => r.id);
const download = (id: string, init: RequestInit = {}) =>
  fetch(`${s.rocket.url}/api/${app.name}/_files/${id}`, { ...init, headers: { authorization: `Bearer ${app.token}`, ...init.headers } });

describe('uploads with several parts', () => {
  it('keeps the first part named file only: later file parts leave no bytes and no row, even above the limit', async () => {
    const beforeDirs = await storedDirs();
    const beforeRows = await fileIds();
    const res = await upload([
      { name: 'note', data: 'n'.repeat(20_000) }, // a long ignored field is no error
      { name: 'file', filename: 'first.txt', type: 'text/plain', data: 'first' },
      { name: 'file', filename: 'second.txt', type: 'text/plain', data: 'second' },
      { name: 'file', filename: 'huge.bin', data: Buffer.alloc(LIMIT + 1) },
      { name: 'other', filename: 'other.txt', data: 'other' },
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toMatchObject({ filename: 'first.txt', size: 5, mime_type: 'text/plain' });
    expect(await storedDirs()).toEqual([...beforeDirs, res.body.data.id].sort());
    expect(await fileIds()).toEqual([...beforeRows, res.body.data.id].sort());
    expect(await readdir(join(storage, app.name, res.body.data.id))).toEqual(['first.txt']);
  });

  it('answers 413 FILE_TOO_LARGE when the first file part is too large, whatever follows, and stores nothing', async () => {
    const beforeDirs = await storedDirs();
    const beforeRows = await fileIds();
    const res = await upload([
      { name: 'file', filename: 'big.bin', data: Buffer.alloc(LIMIT + 1) },
      { name: 'file', filename: 'small.txt', data: 'small' },
    ]);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { code: 'FILE_TOO_LARGE', message: `File too large: ${LIMIT + 1} bytes (max ${LIMIT})` } });
    expect(await storedDirs()).toEqual(beforeDirs);
    expect(await fileIds()).toEqual(beforeRows);
  });

  it('accepts a file of exactly the limit and serves HEAD with the same headers and no body', async () => {
    const res = await upload([{ name: 'file', filename: 'exact.bin', type: 'application/pdf', data: Buffer.alloc(LIMIT, 7) }]);
    expect(res.status).toBe(201);
    expect(res.body.data.size).toBe(LIMIT);
    const head = await download(res.body.data.id, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/pdf');
    expect(head.headers.get('content-length')).toBe(String(LIMIT));
    expect(head.headers.get('content-disposition')).toBe('inline; filename="exact.bin"');
    expect(head.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await head.text()).toBe('');
    const empty = await upload([{ name: 'file', filename: 'empty.txt', data: '' }]);
    const got = await download(empty.body.data.id);
    expect(got.headers.get('content-length')).toBe('0');
    expect(await got.text()).toBe('');
  });
});

describe('a file referenced by several rows', () => {
  it('rows keep their metadata when the file is deleted; the bytes and download are gone; its UUID then writes nothing', async () => {
    const entity = {
      name: 'sheet',
      table: 'sheets',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'att', type: 'file', nullable: true },
      ],
    };
    expect((await call('post', '_admin/entities', entity)).status).toBe(201);
    const up = (await upload([{ name: 'file', filename: 'shared.png', type: 'image/png', data: 'PNG!' }])).body.data;
    const meta = { id: up.id, filename: 'shared.png', size: 4, mime_type: 'image/png' };
    const a = await call('post', 'sheet', { title: 'a', att: up.id });
    const b = await call('post', 'sheet', { title: 'b', att: up.id });
    expect([a.body.data.att, b.body.data.att]).toEqual([meta, meta]);

    // deleting one row keeps the bytes for the other
    expect((await call('delete', `sheet/${a.body.data.id}`)).status).toBe(200);
    expect(await storedDirs()).toContain(up.id);
    expect(await (await download(up.id)).text()).toBe('PNG!');

    expect((await call('delete', `_files/${up.id}`)).body).toEqual({ data: { deleted: true } });
    expect(await storedDirs()).not.toContain(up.id);
    expect((await call('get', `sheet/${b.body.data.id}`)).body.data.att).toEqual(meta);
    const gone = await download(up.id);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ error: { code: 'NOT_FOUND', message: `File ${up.id} not found` } });

    const count = async () => (await runtime.db.query('SELECT id FROM sheets')).length;
    const before = await count();
    const again = await call('post', 'sheet', { title: 'c', att: up.id });
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({ code: 'NOT_FOUND', message: `File ${up.id} not found` });
    expect(await count()).toBe(before);
    // the stored object is still a valid value to write back
    const back = await call('put', `sheet/${b.body.data.id}`, { att: meta });
    expect(back.status).toBe(200);
    expect(back.body.data.att).toEqual(meta);
  });
});

describe('file fields in nested writes', () => {
  it('a child UUID is resolved like a top-level one; an unknown one aborts the whole write', async () => {
    const pk = { field: 'id', type: 'uuid', generated: true };
    expect(
      (
        await call('post', '_admin/entities', {
          name: 'album',
          table: 'albums',
          primary_key: pk,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'title', type: 'string' },
            { name: 'cover', type: 'file', nullable: true },
          ],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await call('post', '_admin/entities', {
          name: 'photo',
          table: 'photos',
          primary_key: pk,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'album_id', type: 'uuid' },
            { name: 'img', type: 'file', nullable: true },
          ],
        })
      ).status,
    ).toBe(201);
    const rel = { name: 'photos', type: 'one_to_many', source: 'album', target: 'photo', target_key: 'album_id' };
    expect((await call('post', '_admin/relations', rel)).status).toBe(201);
    const up = (await upload([{ name: 'file', filename: 'p.jpg', type: 'image/jpeg', data: 'JPEG' }])).body.data;
    const meta = { id: up.id, filename: 'p.jpg', size: 4, mime_type: 'image/jpeg' };

    const created = await call('post', 'album', {
      title: 'one',
      cover: up.id,
      photos: { data: [{ img: up.id }, { img: JSON.stringify(meta) }, { img: null }] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const got = await call('get', `album/${created.body.data.id}?include=photos`);
    expect(got.body.data.cover).toEqual(meta);
    expect(got.body.data.photos.map((p: any) => p.img)).toEqual(expect.arrayContaining([meta, meta, null]));

    const albums = async () => (await runtime.db.query('SELECT id FROM albums')).length;
    const photos = async () => (await runtime.db.query('SELECT id FROM photos')).length;
    const [na, np] = [await albums(), await photos()];
    const ghost = '00000000-0000-4000-8000-000000000000';
    const refused = await call('post', 'album', { title: 'two', cover: up.id, photos: { data: [{ img: up.id }, { img: ghost }] } });
    expect(refused.status).toBe(404);
    expect(refused.body.error).toEqual({ code: 'NOT_FOUND', message: `File ${ghost} not found` });
    const wrong = await call('post', 'album', { title: 'three', photos: { data: [{ img: 42 }] } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details).toEqual([expect.objectContaining({ field: 'photos[0].img', rule: 'type' })]);
    expect([await albums(), await photos()]).toEqual([na, np]);
  });
});

describe('export → import → export', () => {
  for (const file of examples) {
    it(`${file}: a fresh app given the export exports the same document, and re-imports create nothing`, async () => {
      const source = await s.createApp();
      expect((await imp(source, load(file))).status).toBe(200);
      const first = await exp(source);
      const target = await s.createApp();
      const res = await imp(target, first);
      expect(res.status).toBe(200);
      expect(res.body.data.errors).toBeUndefined();
      for (const key of ['entities', 'relations', 'rules', 'state_machines', 'workflows', 'permissions', 'webhooks', 'ui_configs']) {
        expect(res.body.data.summary[key], key).toBe(first[key].length);
      }
      expect(stable(await exp(target))).toEqual(stable(first));
      // the same document again, into either app: nothing new, nothing changed
      for (const to of [source, target]) {
        const again = await imp(to, { data: first });
        expect(again.body.data.summary).toMatchObject({
          entities: 0,
          relations: 0,
          rules: 0,
          state_machines: 0,
          workflows: 0,
          permissions: 0,
          webhooks: 0,
        });
        expect(stable(await exp(to))).toEqual(stable(first));
      }
    });
  }

  it('every section with non-default values, UI configs of several scopes included, survives the round trip', async () => {
    const source = await s.createApp();
    const admin = async (path: string, body: unknown) => {
      const res = await call('post', `_admin/${path}`, body, source);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(201);
    };
    await admin('entities', {
      name: 'inv',
      table: 'invs',
      soft_delete: true,
      slug: { field: 'code', source: 'title', regenerate_on_update: true },
      primary_key: { field: 'no', type: 'bigint', generated: true },
      fields: [
        { name: 'no', type: 'bigint' },
        { name: 'title', type: 'string', required: true, index: true },
        { name: 'code', type: 'string', unique: true },
        { name: 'total', type: 'decimal', precision: 2, default: 1234.5 },
        { name: 'status', type: 'string', enum: ['draft', 'sent', 'void'], default: 'draft' },
        { name: 'meta', type: 'json', default: 'x' },
        { name: 'att', type: 'file', nullable: true },
        { name: 'at', type: 'timestamp', auto: 'update' },
        { name: 'd', type: 'date' },
        { name: 'ok', type: 'boolean', default: false },
        { name: 'deleted_at', type: 'timestamp', nullable: true },
      ],
    });
    await admin('entities', {
      name: 'line',
      table: 'lines',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'inv_no', type: 'bigint' },
        { name: 'qty', type: 'int' },
      ],
    });
    await admin('entities', {
      name: 'tag',
      table: 'tags',
      primary_key: { field: 'k', type: 'string', generated: false },
      fields: [{ name: 'k', type: 'string' }],
    });
    await admin('relations', {
      name: 'lines',
      type: 'one_to_many',
      source: 'inv',
      target: 'line',
      target_key: 'inv_no',
      ownership: 'source',
      on_delete: 'cascade',
      fetch: 'eager',
      write_mode: 'replace',
    });
    await admin('relations', {
      name: 'tags',
      type: 'many_to_many',
      source: 'inv',
      target: 'tag',
      join_table: 'inv_tags',
      source_join_key: 'inv_no',
      target_join_key: 'tag_k',
      on_delete: 'detach',
    });
    await admin('rules', {
      entity: 'inv',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'total', operator: 'min', value: 0, message: 'neg' },
      priority: 5,
      active: false,
    });
    await admin('rules', {
      entity: 'inv',
      hook: 'before_delete',
      type: 'expression',
      definition: { expression: "record.status == 'sent'", message: 'sent' },
    });
    await admin('rules', { entity: 'line', hook: 'before_write', type: 'computed', definition: { field: 'qty', expression: 'record.qty * 2' } });
    await admin('state-machines', {
      entity: 'inv',
      field: 'status',
      active: false,
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'sent', roles: ['acct'], guard: 'record.total > 0', actions: [{ type: 'set_field', field: 'd', value: 'now' }] },
          { from: ['draft', 'sent'], to: 'void' },
        ],
      },
    });
    await admin('workflows', {
      name: 'sent',
      trigger: { type: 'state_change', entity: 'inv', field: 'status', to: 'sent' },
      context: { id: 'trigger.record_id' },
      steps: [{ id: 's1', type: 'action', actions: [{ type: 'set_field', entity: 'inv', field: 'ok', value: true }] }],
      active: false,
    });
    await admin('permissions', {
      entity: 'inv',
      action: 'read',
      roles: ['b', 'a'],
      conditions: [{ field: 'status', operator: 'eq', value: 'sent' }],
    });
    await admin('permissions', { entity: 'inv', action: 'read', roles: ['a'] });
    await admin('webhooks', {
      entity: 'inv',
      hook: 'after_write',
      url: 'https://example.com/x',
      method: 'PUT',
      headers: { 'X-Key': 'k' },
      condition: "record.status == 'sent'",
      async: true,
      retry: { max_attempts: 5, backoff: 'linear' },
      active: false,
    });
    await admin('ui-configs', { entity: 'inv', config: { columns: ['title'] } });
    await admin('ui-configs', { entity: 'inv', scope: 'mobile', config: { columns: [] } });

    const first = await exp(source);
    expect(first.ui_configs).toEqual([
      { entity: 'inv', scope: 'default', config: { columns: ['title'] } },
      { entity: 'inv', scope: 'mobile', config: { columns: [] } },
    ]);
    const target = await s.createApp();
    const res = await imp(target, first);
    expect(res.body.data).toEqual({
      message: 'Import completed',
      summary: { entities: 3, relations: 2, rules: 3, state_machines: 1, workflows: 1, permissions: 2, webhooks: 1, ui_configs: 2 },
    });
    expect(stable(await exp(target))).toEqual(stable(first));
  });
});

describe('import of an export envelope', () => {
  const note = {
    name: 'memo',
    table: 'memos',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'body', type: 'string' },
    ],
  };

  it('seeds sample_data sent beside the envelope, as it does inside it', async () => {
    const beside = await s.createApp();
    const res = await imp(beside, { data: { version: 1, entities: [note] }, sample_data: { memo: [{ body: 'a' }, { body: 'b' }] } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 1, records: 2 });
    const rows = await s.client.get(`/api/${beside.name}/memo?sort=body`, { token: beside.token });
    expect(rows.body.data.map((r: any) => r.body)).toEqual(['a', 'b']);

    // inside the envelope, the document's own sample_data is the one used
    const inside = await s.createApp();
    const both = await imp(inside, {
      data: { version: 1, entities: [note], sample_data: { memo: [{ body: 'inner' }] } },
      sample_data: { memo: [{ body: 'outer' }] },
    });
    expect(both.body.data.summary).toMatchObject({ entities: 1, records: 1 });
    const inner = await s.client.get(`/api/${inside.name}/memo`, { token: inside.token });
    expect(inner.body.data.map((r: any) => r.body)).toEqual(['inner']);
  });
});

describe('refused import documents', () => {
  it('a missing, null or string version is refused before anything is stored', async () => {
    const to = await s.createApp();
    const doc = load('helpdesk-ticketing.json');
    const { version: _, ...unversioned } = doc;
    for (const [body, shown] of [
      [unversioned, ''],
      [{ ...doc, version: null }, 'null'],
      [{ ...doc, version: '1' }, '"1"'],
      [{ ...doc, version: 1.5 }, '1.5'],
      [{ data: { ...doc, version: 2 } }, '2'],
    ] as const) {
      const res = await imp(to, body);
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      // no version at all names none (the spec gives no text for it)
      if (shown !== '') expect(res.body.error.message).toBe(`Unsupported export version: ${shown}`);
      else expect(res.body.error.message).toMatch(/^Unsupported export version:/);
    }
    for (const raw of ['null', '"x"', '7', '']) {
      const res = await s.client.post(`/api/${to.name}/_admin/import`, { token: to.token, raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    const doc2 = await exp(to);
    expect([doc2.entities, doc2.relations, doc2.rules, doc2.permissions, doc2.webhooks, doc2.workflows]).toEqual([[], [], [], [], [], []]);
    const rt = (await s.rocket.services.apps.get(to.name))!;
    const tables = await rt.db.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_%'`,
    );
    expect(tables).toEqual([]);
  });
});

describe('invalid items are reported, not dropped', () => {
  it('a workflow whose name is no string is listed in errors as its admin API refuses it; a missing name is skipped', async () => {
    const to = await s.createApp();
    const wf = { trigger: { type: 'event', event: 'ping' }, steps: [{ id: 's1', type: 'action', actions: [] }] };
    const byApi = await call('post', '_admin/workflows', { ...wf, name: 5 }, to);
    expect(byApi.status).toBe(422);
    expect(byApi.body.error.message).toBe('workflow name is required');
    const res = await imp(to, { version: 1, workflows: [{ ...wf, name: 5 }, { ...wf, name: ['w'] }, { ...wf }, { ...wf, name: 'ok' }] });
    expect(res.status).toBe(200);
    expect(res.body.data.summary.workflows).toBe(1);
    expect(res.body.data.errors).toEqual(['Workflow ?: workflow name is required', 'Workflow ?: workflow name is required']);
    expect((await exp(to)).workflows.map((w: any) => w.name)).toEqual(['ok']);
  });
});

describe('import body limit', () => {
  it('follows a server body limit raised above the import default', async () => {
    const big = await startTestServer({ ROCKET_BODY_LIMIT: String(24 * 1024 * 1024) });
    try {
      const to = await big.createApp();
      const entity = {
        name: 'note',
        table: 'notes',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'body', type: 'text' },
        ],
      };
      // 17 MiB of sample text: above the import's own 16 MiB, below the server's 24 MiB
      const text = 'x'.repeat(1024 * 1024);
      const rows = Array.from({ length: 17 }, () => ({ body: text }));
      const res = await big.client.post(`/api/${to.name}/_admin/import`, {
        token: to.token,
        body: { version: 1, entities: [entity], sample_data: { note: rows } },
      });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      expect(res.body.data.summary).toMatchObject({ entities: 1, records: 17 });
    } finally {
      await big.close();
    }
  });

  it('keeps its own 16 MiB where the server limit is lower, and answers above it with the 413 envelope', async () => {
    const to = await s.createApp();
    const pad = 'x'.repeat(8 * 1024 * 1024);
    const fits = await imp(to, { version: 1, pad }); // 8 MiB: above the default 1 MiB JSON limit
    expect(fits.status).toBe(200);
    const over = await imp(to, { version: 1, pad: `${pad}${pad}x` });
    expect(over.status).toBe(413);
    expect(over.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body too large' } });
  });
});
