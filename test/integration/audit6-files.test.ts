import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Audit 6: file uploads, file fields and the content types around them (spec: files.md, README §Global conventions). */

let s: TestServer;
let storage: string;
let app: { name: string; token: string };
let runtime: AppRuntime;

interface Answer {
  status: number;
  body: any;
}

async function post(path: string, init: { headers?: Record<string, string>; body?: BodyInit; duplex?: 'half' }): Promise<Answer> {
  const res = await fetch(`${s.rocket.url}/api/${app.name}${path}`, {
    method: 'POST',
    ...init,
    headers: { authorization: `Bearer ${app.token}`, ...init.headers },
  } as RequestInit);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

const fileCount = async () => (await runtime.db.query('SELECT id FROM _files')).length;
const storedDirs = async () => readdir(join(storage, app.name)).catch(() => []);

beforeAll(async () => {
  storage = await mkdtemp(join(tmpdir(), 'rocket-audit6-files-'));
  s = await startTestServer({ ROCKET_STORAGE_PATH: storage });
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});

afterAll(async () => {
  await s?.close();
  if (storage) await rm(storage, { recursive: true, force: true });
});

describe('upload content types', () => {
  it('answers 415 to a body sent without any Content-Type, like every JSON route, and stores nothing', async () => {
    const before = await fileCount();
    const bytes = new TextEncoder().encode('--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc\r\n--x--\r\n');
    // fetch sends a byte array without a Content-Type header
    const sized = await post('/_files/upload', { body: bytes });
    expect(sized.status).toBe(415);
    expect(sized.body).toEqual({
      error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported Content-Type (none): request bodies must be multipart/form-data' },
    });
    const chunked = await post('/_files/upload', {
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      }),
      duplex: 'half',
    });
    expect(chunked.status).toBe(415);
    expect(chunked.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    // the same body on a JSON route: the convention the upload route now follows
    const record = await post('/_admin/entities', { body: bytes });
    expect(record.status).toBe(415);
    expect(record.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    // no body at all still has no file in it
    const empty = await post('/_files/upload', {});
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({ error: { code: 'INVALID_PAYLOAD', message: 'Missing file in form data' } });
    expect(await fileCount()).toBe(before);
    expect(await storedDirs()).toEqual([]);
  });

  it('names multipart/form-data, not JSON, when the upload route refuses a body type', async () => {
    // `multipart` alone is no media type at all: the HTTP framework refuses it before the route runs
    for (const type of ['multipart', 'text/plain', 'application/json']) {
      const res = await post('/_files/upload', { headers: { 'content-type': type }, body: '{}' });
      expect(res.status, type).toBe(415);
      expect(res.body, type).toEqual({
        error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: `Unsupported Content-Type '${type}': request bodies must be multipart/form-data` },
      });
    }
    // JSON routes keep naming JSON
    const record = await post('/_admin/entities', { headers: { 'content-type': 'multipart' }, body: '{}' });
    expect(record.body.error.message).toBe("Unsupported Content-Type 'multipart': request bodies must be application/json");
  });
});

describe('bodies sent to routes that do not exist', () => {
  const multipart = () => {
    const form = new FormData();
    form.append('file', new Blob(['abc'], { type: 'text/plain' }), 'a.txt');
    return form;
  };

  it('answers 404 "Route not found" whatever the body, and stores nothing', async () => {
    const before = await fileCount();
    const cases: Array<[string, { headers?: Record<string, string>; body: BodyInit }]> = [
      // an upload posted to a wrong path is not told to send JSON
      ['/_files/uploads', { body: multipart() }],
      ['/_files/00000000-0000-4000-8000-000000000000', { body: multipart() }],
      ['/_files/upload/extra', { body: multipart() }],
      ['/_admin/nothing', { headers: { 'content-type': 'text/plain' }, body: 'abc' }],
      ['/_workflows/x/nothing', { headers: { 'content-type': 'application/json' }, body: '{' }],
    ];
    for (const [path, init] of cases) {
      const res = await post(path, init);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual({ error: { code: 'NOT_FOUND', message: `Route not found: POST /api/${app.name}${path}` } });
    }
    const root = await fetch(`${s.rocket.url}/nothing`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'abc' });
    expect(root.status).toBe(404);
    expect((await root.json()).error.code).toBe('NOT_FOUND');
    // a body above the JSON body limit (1 MiB) does not turn an unknown route into a 413
    const big = JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) });
    for (const path of ['/_files/uploads', '/_admin/nothing']) {
      const res = await post(path, { headers: { 'content-type': 'application/json' }, body: big });
      expect(res.status, path).toBe(404);
      expect(res.body.error, path).toEqual({ code: 'NOT_FOUND', message: `Route not found: POST /api/${app.name}${path}` });
    }
    // while a known JSON route still refuses it
    const record = await post('/_admin/entities', { headers: { 'content-type': 'application/json' }, body: big });
    expect(record.status).toBe(413);
    expect(await fileCount()).toBe(before);
  });
});

describe('numbers inside a file value (an object is stored as given)', () => {
  const BIG = '12345678901234567890';
  const LONG = '0.1000000000000000055511151231257827';

  beforeAll(async () => {
    // an app whose only JSON columns are file fields: no json, bigint or decimal field anywhere
    const res = await s.client.post(`/api/${app.name}/_admin/entities`, {
      token: app.token,
      body: {
        name: 'photo',
        table: 'photos',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'title', type: 'string' },
          { name: 'image', type: 'file' },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  const text = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${s.rocket.url}/api/${app.name}${path}`, {
      method,
      headers: { authorization: `Bearer ${app.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
  const stored = async (id: string) =>
    (await runtime.db.query<{ image: string }>('SELECT image::text AS image FROM photos WHERE id = $1', [id]))[0]!.image;

  it('answers them as the numbers sent, not as strings, in create, get and list responses', async () => {
    const created = await text('POST', '/photo', `{"title":"exact","image":{"id":"ext-1","size":${BIG},"ratio":${LONG}}}`);
    expect(created.status, created.text).toBe(201);
    const exact = `"size":${BIG}`;
    expect(created.text).toContain(exact);
    expect(created.text).toContain(`"ratio":${LONG}`);
    const id = (JSON.parse(created.text) as { data: { id: string } }).data.id;
    expect(await stored(id)).toContain(`"size": ${BIG}`);
    const got = await text('GET', `/photo/${id}`);
    expect(got.text).toContain(exact);
    expect(got.text).toContain(`"ratio":${LONG}`);
    const listed = await text('GET', '/photo?filter[title]=exact');
    expect(listed.text).toContain(exact);
    const updated = await text('PUT', `/photo/${id}`, '{"title":"exact"}');
    expect(updated.status).toBe(200);
    expect(updated.text).toContain(exact);
  });

  it('keeps them exact when the stored value comes back as a JSON string (legacy clients)', async () => {
    const asString = JSON.stringify(`{"id":"ext-2","size":${BIG}}`);
    const created = await text('POST', '/photo', `{"title":"legacy","image":${asString}}`);
    expect(created.status, created.text).toBe(201);
    const id = (JSON.parse(created.text) as { data: { id: string } }).data.id;
    expect(await stored(id)).toBe(`{"id": "ext-2", "size": ${BIG}}`);
    expect((await text('GET', `/photo/${id}`)).text).toContain(`"size":${BIG}`);
  });
});
