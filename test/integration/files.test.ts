import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DEFAULT_LIMIT = 10 * 1024 * 1024;

let s: TestServer;
let storage: string;
let app: { name: string; token: string };
let runtime: AppRuntime;
let user: { id: string; token: string };
let adminId: string;

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function answer(res: globalThis.Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* raw bytes stay text */
  }
  return { status: res.status, headers: res.headers, body };
}

/** POST a FormData to the upload route (fetch writes the multipart body). */
async function upload(form: FormData, opts: { server?: TestServer; appName?: string; token?: string | null } = {}): Promise<Answer> {
  const server = opts.server ?? s;
  const token = opts.token === undefined ? app.token : opts.token;
  const res = await fetch(`${server.rocket.url}/api/${opts.appName ?? app.name}/_files/upload`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  return answer(res);
}

const fileForm = (data: BlobPart, filename: string, type = 'text/plain') => {
  const form = new FormData();
  form.append('file', new Blob([data], { type }), filename);
  return form;
};

interface RawPart {
  name: string;
  /** The raw `filename` parameter, written as given (quotes and escapes are the caller's). */
  filenameParam?: string;
  type?: string;
  data: string | Buffer;
}

/** A hand-written multipart body, for file names and parts that FormData would encode differently. */
function multipartBody(parts: RawPart[]): { body: Buffer; contentType: string } {
  const boundary = `----rocket${uniqueName('')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filenameParam !== undefined) head += `; filename=${p.filenameParam}`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`, 'utf8'), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function rawUpload(parts: RawPart[], opts: { server?: TestServer; appName?: string } = {}): Promise<Answer> {
  const { body, contentType } = multipartBody(parts);
  const server = opts.server ?? s;
  const res = await fetch(`${server.rocket.url}/api/${opts.appName ?? app.name}/_files/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.token}`, 'content-type': contentType },
    body,
  });
  return answer(res);
}

const get = (path: string, token = app.token) => s.client.get(`/api/${app.name}${path}`, { token });
const del = (path: string, token = app.token) => s.client.delete(`/api/${app.name}${path}`, { token });
const fileRows = () => runtime.db.query<{ id: string }>('SELECT id FROM _files');
const appDirEntries = async (root: string, name: string) => (existsSync(join(root, name)) ? readdir(join(root, name)) : []);

beforeAll(async () => {
  storage = await mkdtemp(join(tmpdir(), 'rocket-files-'));
  s = await startTestServer({ ROCKET_STORAGE_PATH: storage });
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const admin = (await runtime.db.query<{ id: string }>(`SELECT id FROM _users WHERE email = 'admin@localhost'`))[0]!;
  adminId = admin.id;
  const email = `${uniqueName('u')}@x.io`;
  const created = await s.client.post(`/api/${app.name}/_admin/users`, {
    token: app.token,
    body: { email, password: 'pw-123456', roles: ['staff'] },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  user = { id: created.body.data.id, token: await s.client.login(`/api/${app.name}/auth/login`, email, 'pw-123456') };
});

afterAll(async () => {
  await s?.close();
  if (storage) await rm(storage, { recursive: true, force: true });
});

describe('upload', () => {
  it('stores the bytes at <storage>/<app>/<id>/<filename> and answers 201 {id, filename, size, mime_type, url}', async () => {
    const res = await upload(fileForm('hello, files', 'hello.txt'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { id } = res.body.data;
    expect(res.body).toEqual({
      data: { id: expect.stringMatching(UUID), filename: 'hello.txt', size: 12, mime_type: 'text/plain', url: `/api/${app.name}/_files/${id}` },
    });
    const path = join(storage, app.name, id, 'hello.txt');
    expect(await readFile(path, 'utf8')).toBe('hello, files');
    const rows = await runtime.db.query<any>('SELECT * FROM _files WHERE id = $1', [id]);
    expect(rows[0]).toMatchObject({ id, filename: 'hello.txt', storage_path: path, mime_type: 'text/plain', size: 12, uploaded_by: adminId });
  });

  it('takes the part named file among other fields and files, which are ignored; any app user may upload', async () => {
    const form = new FormData();
    form.append('note', 'ignored');
    form.append('other', new Blob(['not this one'], { type: 'text/csv' }), 'other.csv');
    form.append('file', new Blob([new Uint8Array([0, 1, 2, 255])], { type: 'application/x-thing' }), 'bin.dat');
    form.append('file', new Blob(['second file part'], { type: 'text/plain' }), 'second.txt');
    form.append('after', 'also ignored');
    const res = await upload(form, { token: user.token });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toMatchObject({ filename: 'bin.dat', size: 4, mime_type: 'application/x-thing' });
    expect([...(await readFile(join(storage, app.name, res.body.data.id, 'bin.dat')))]).toEqual([0, 1, 2, 255]);
    expect(await readdir(join(storage, app.name, res.body.data.id))).toEqual(['bin.dat']);
    const row = (await runtime.db.query<any>('SELECT uploaded_by FROM _files WHERE id = $1', [res.body.data.id]))[0];
    expect(row.uploaded_by).toBe(user.id);
  });

  it('keeps the declared type, defaults to application/octet-stream, and accepts an empty file', async () => {
    const untyped = await upload(fileForm('x', 'blob.bin', ''));
    expect(untyped.body.data.mime_type).toBe('application/octet-stream');
    const svg = await rawUpload([{ name: 'file', filenameParam: '"pic.svg"', type: 'image/svg+xml', data: '<svg/>' }]);
    expect(svg.body.data.mime_type).toBe('image/svg+xml');
    const junk = await rawUpload([{ name: 'file', filenameParam: '"j.bin"', type: 'not a type', data: 'x' }]);
    expect(junk.body.data.mime_type).toBe('application/octet-stream');
    // a part without any Content-Type header (multipart's own default would be text/plain)
    const bare = await rawUpload([{ name: 'file', filenameParam: '"photo.png"', data: 'x' }]);
    expect(bare.body.data.mime_type).toBe('application/octet-stream');
    const served = await fetch(`${s.rocket.url}/api/${app.name}/_files/${bare.body.data.id}`, { headers: { authorization: `Bearer ${app.token}` } });
    expect(served.headers.get('content-type')).toBe('application/octet-stream');
    const declared = await rawUpload([{ name: 'file', filenameParam: '"notes.txt"', type: 'text/plain', data: 'x' }]);
    expect(declared.body.data.mime_type).toBe('text/plain');
    const empty = await upload(fileForm('', 'empty.txt'));
    expect(empty.status).toBe(201);
    expect(empty.body.data.size).toBe(0);
    expect(await readFile(join(storage, app.name, empty.body.data.id, 'empty.txt'), 'utf8')).toBe('');
  });

  it("stores the part's own Content-Type whole, parameters included, and serves it back", async () => {
    const cases: Array<[string, string]> = [
      ['text/plain; charset=utf-8', 'text/plain; charset=utf-8'],
      ['Text/CSV;charset="UTF-8"; header=present', 'text/csv;charset="UTF-8"; header=present'],
      // unreadable parameters are dropped, the declared type is kept
      ['text/plain; charset', 'text/plain'],
    ];
    for (const [sent, stored] of cases) {
      const res = await rawUpload([{ name: 'file', filenameParam: '"t.txt"', type: sent, data: 'héllo' }]);
      expect(res.status, sent).toBe(201);
      expect(res.body.data.mime_type, sent).toBe(stored);
      const row = (await runtime.db.query<{ mime_type: string }>('SELECT mime_type FROM _files WHERE id = $1', [res.body.data.id]))[0]!;
      expect(row.mime_type).toBe(stored);
      const served = await fetch(`${s.rocket.url}/api/${app.name}/_files/${res.body.data.id}`, { headers: { authorization: `Bearer ${app.token}` } });
      expect(served.headers.get('content-type')).toBe(stored);
      expect(await served.text()).toBe('héllo');
    }
  });

  it('sanitises file names: base name only, no control characters or quotes, empty/./.. → file, at most 255 bytes', async () => {
    const cases: Array<[string, string]> = [
      ['"../../etc/passwd"', 'passwd'],
      ['"a/b/../c.txt"', 'c.txt'],
      ['"C:\\\\Users\\\\me\\\\report.pdf"', 'report.pdf'],
      ['".."', 'file'],
      ['"."', 'file'],
      ['"dir/.."', 'file'],
      ['""', 'file'],
      ['"\u0001\u001f\u007f"', 'file'],
      ['"a\u0001b\tc\u007fd\u0085.txt"', 'abcd.txt'],
      ['"say \\"hi\\" it\'s.txt"', 'say hi its.txt'],
      ['"..\u0001"', 'file'],
      [`"${'a'.repeat(300)}.txt"`, 'a'.repeat(255)],
      [`"${'é'.repeat(200)}"`, 'é'.repeat(127)],
      ['"résumé 文件.pdf"', 'résumé 文件.pdf'],
    ];
    for (const [param, expected] of cases) {
      const res = await rawUpload([{ name: 'file', filenameParam: param, type: 'text/plain', data: 'x' }]);
      expect(res.status, `${param}: ${JSON.stringify(res.body)}`).toBe(201);
      expect(res.body.data.filename, param).toBe(expected);
      expect(Buffer.byteLength(res.body.data.filename)).toBeLessThanOrEqual(255);
      expect(await readdir(join(storage, app.name, res.body.data.id)), param).toEqual([expected]);
    }
    // nothing was written outside the app's directory
    expect(existsSync(join(storage, 'etc'))).toBe(false);
    expect((await readdir(storage)).sort()).toEqual([app.name]);
  });

  it('answers 400 "Missing file in form data" without a file part named file', async () => {
    const missing = { error: { code: 'INVALID_PAYLOAD', message: 'Missing file in form data' } };
    const fieldOnly = new FormData();
    fieldOnly.append('file', 'just text');
    const otherName = new FormData();
    otherName.append('upload', new Blob(['x']), 'x.txt');
    const before = (await fileRows()).length;
    for (const form of [fieldOnly, otherName, new FormData()]) {
      const res = await upload(form);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(missing);
    }
    // a body of another type is 415 (README's code table), JSON and text alike
    const json = await s.client.post(`/api/${app.name}/_files/upload`, { token: app.token, body: { file: 'x' } });
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const text = await s.client.post(`/api/${app.name}/_files/upload`, { token: app.token, raw: 'abc', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const noBody = await s.client.post(`/api/${app.name}/_files/upload`, { token: app.token });
    expect(noBody.body).toEqual(missing);
    const noBoundary = await s.client.post(`/api/${app.name}/_files/upload`, {
      token: app.token,
      raw: 'x',
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body).toEqual(missing);
    // a body cut off inside the file part: nothing is kept
    const { body, contentType } = multipartBody([{ name: 'file', filenameParam: '"cut.txt"', type: 'text/plain', data: 'abc' }]);
    const cut = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}`, 'content-type': contentType },
      body: body.subarray(0, body.length - 30),
    });
    expect(cut.status).toBe(400);
    expect(await cut.json()).toEqual(missing);
    expect((await fileRows()).length).toBe(before);
  });

  it('needs an authenticated caller', async () => {
    const res = await upload(fileForm('x', 'x.txt'), { token: null });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });

  it('accepts files above the JSON body limit up to storage.max_file_size, and refuses one byte more with 413 FILE_TOO_LARGE', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    const ok = await upload(fileForm(big, 'big.bin', 'application/octet-stream'));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.data.size).toBe(big.length);
    const atLimit = await upload(fileForm(Buffer.alloc(DEFAULT_LIMIT, 1), 'limit.bin'));
    expect(atLimit.status).toBe(201);
    expect(atLimit.body.data.size).toBe(DEFAULT_LIMIT);

    const before = (await fileRows()).length;
    const dirs = (await appDirEntries(storage, app.name)).length;
    const over = await upload(fileForm(Buffer.alloc(DEFAULT_LIMIT + 1, 1), 'over.bin'));
    expect(over.status).toBe(413);
    expect(over.body).toEqual({
      error: { code: 'FILE_TOO_LARGE', message: `File too large: ${DEFAULT_LIMIT + 1} bytes (max ${DEFAULT_LIMIT})` },
    });
    expect((await fileRows()).length).toBe(before);
    expect((await appDirEntries(storage, app.name)).length).toBe(dirs);
  });
});

describe('upload size limit (storage.max_file_size = 1000)', () => {
  let small: TestServer;
  let smallStorage: string;
  let smallApp: { name: string; token: string };
  let smallRuntime: AppRuntime;

  beforeAll(async () => {
    smallStorage = await mkdtemp(join(tmpdir(), 'rocket-files-small-'));
    small = await startTestServer({ ROCKET_STORAGE_PATH: smallStorage, ROCKET_MAX_FILE_SIZE: '1000' });
    smallApp = await small.createApp();
    smallRuntime = (await small.rocket.services.apps.get(smallApp.name))!;
  });
  afterAll(async () => {
    await small?.close();
    if (smallStorage) await rm(smallStorage, { recursive: true, force: true });
  });

  const send = (form: FormData) => upload(form, { server: small, appName: smallApp.name, token: smallApp.token });
  const tooLarge = (size: number) => ({ error: { code: 'FILE_TOO_LARGE', message: `File too large: ${size} bytes (max 1000)` } });

  it('enforces the limit while streaming and leaves nothing on disk or in _files', async () => {
    const ok = await send(fileForm(Buffer.alloc(1000, 1), 'ok.bin'));
    expect(ok.status).toBe(201);
    const keep = await readdir(join(smallStorage, smallApp.name));
    expect(keep).toEqual([ok.body.data.id]);

    const over = await send(fileForm(Buffer.alloc(1001, 1), 'over.bin'));
    expect(over.status).toBe(413);
    expect(over.body).toEqual(tooLarge(1001));
    const much = await send(fileForm(Buffer.alloc(300_000, 1), 'much.bin'));
    expect(much.body).toEqual(tooLarge(300_000));

    // no Content-Length: the stream itself is cut off at the limit
    const { body, contentType } = multipartBody([
      { name: 'file', filenameParam: '"chunked.bin"', type: 'application/octet-stream', data: Buffer.alloc(5000, 2) },
    ]);
    const chunked = await fetch(`${small.rocket.url}/api/${smallApp.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${smallApp.token}`, 'content-type': contentType },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < body.length; i += 700) controller.enqueue(body.subarray(i, i + 700));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toEqual(tooLarge(5000));

    expect(await readdir(join(smallStorage, smallApp.name))).toEqual(keep);
    expect((await smallRuntime.db.query('SELECT id FROM _files')).map((r: any) => r.id)).toEqual([ok.body.data.id]);
  });

  it('refuses a body whose declared length is too large before reading it, also with FILE_TOO_LARGE', async () => {
    const { body, contentType } = multipartBody([
      { name: 'file', filenameParam: '"huge.bin"', type: 'application/octet-stream', data: Buffer.alloc(1024 * 1024 + 2000, 3) },
    ]);
    const res = await fetch(`${small.rocket.url}/api/${smallApp.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${smallApp.token}`, 'content-type': contentType },
      body,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual(tooLarge(body.length));
    // non-multipart bodies get the same answer, never PAYLOAD_TOO_LARGE or INTERNAL_ERROR
    const json = await fetch(`${small.rocket.url}/api/${smallApp.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${smallApp.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(json.status).toBe(413);
    expect((await json.json()).error.code).toBe('FILE_TOO_LARGE');
    expect((await smallRuntime.db.query('SELECT id FROM _files')).length).toBe(1);
  });
});

describe('serve, delete, list', () => {
  it('serves the bytes with Content-Type, Content-Disposition and nosniff to any app user', async () => {
    const up = await upload(fileForm('<h1>hi</h1>', 'page.html', 'text/html'));
    const res = await fetch(`${s.rocket.url}/api/${app.name}/_files/${up.body.data.id}`, { headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<h1>hi</h1>');
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('content-length')).toBe('11');
    expect(res.headers.get('content-disposition')).toBe('inline; filename="page.html"');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    const head = await fetch(`${s.rocket.url}/api/${app.name}/_files/${up.body.data.id}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('11');
    expect(await head.text()).toBe('');
    // upper-case ids work too
    expect((await get(`/_files/${up.body.data.id.toUpperCase()}`)).status).toBe(200);
  });

  it('serves binary bytes unchanged', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const up = await upload(fileForm(bytes, 'all.bin', 'application/octet-stream'));
    const res = await fetch(`${s.rocket.url}/api/${app.name}/_files/${up.body.data.id}`, { headers: { authorization: `Bearer ${app.token}` } });
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('escapes quotes in Content-Disposition and sends non-ASCII names as filename*', async () => {
    // a stored name with quotes and a backslash-free path (uploads never produce one; imported rows may)
    const id = '6f1c2a9e-1d2b-4c3d-8e4f-0a1b2c3d4e5f';
    const name = 'say "hi".txt';
    await mkdir(join(storage, app.name, id), { recursive: true });
    await writeFile(join(storage, app.name, id, name), 'quoted');
    await runtime.db.query(`INSERT INTO _files (id, filename, storage_path, mime_type, size) VALUES ($1, $2, $3, 'text/plain', 6)`, [
      id,
      name,
      join(storage, app.name, id, name),
    ]);
    const quoted = await get(`/_files/${id}`);
    expect(quoted.status).toBe(200);
    expect(quoted.body).toBe('quoted');
    expect(quoted.headers.get('content-disposition')).toBe('inline; filename="say \\"hi\\".txt"');

    const up = await rawUpload([{ name: 'file', filenameParam: '"résumé 文件.pdf"', type: 'application/pdf', data: '%PDF' }]);
    const res = await get(`/_files/${up.body.data.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(
      `inline; filename="r_sum_ __.pdf"; filename*=UTF-8''${encodeURIComponent('résumé 文件.pdf')}`,
    );
  });

  it('answers 404 "File <id> not found" for unknown, non-UUID and byte-less files', async () => {
    for (const id of ['nope', '../../etc/passwd', '00000000-0000-4000-8000-000000000000']) {
      const res = await get(`/_files/${encodeURIComponent(id)}`);
      expect(res.status, id).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: `File ${id} not found` } });
      const d = await del(`/_files/${encodeURIComponent(id)}`);
      expect(d.status, id).toBe(404);
      expect(d.body.error.message).toBe(`File ${id} not found`);
    }
    const up = await upload(fileForm('gone', 'gone.txt'));
    await unlink(join(storage, app.name, up.body.data.id, 'gone.txt'));
    const res = await get(`/_files/${up.body.data.id}`);
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe(`File ${up.body.data.id} not found`);
    // missing bytes do not stop a delete
    expect((await del(`/_files/${up.body.data.id}`)).body).toEqual({ data: { deleted: true } });
    expect(existsSync(join(storage, app.name, up.body.data.id))).toBe(false);
  });

  it('deletes (admins only) the bytes, the per-file directory and the row', async () => {
    const up = await upload(fileForm('bye', 'bye.txt'));
    const id = up.body.data.id;
    const denied = await del(`/_files/${id}`, user.token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    expect(existsSync(join(storage, app.name, id, 'bye.txt'))).toBe(true);

    const res = await del(`/_files/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { deleted: true } });
    expect(existsSync(join(storage, app.name, id))).toBe(false);
    expect(await runtime.db.query('SELECT 1 FROM _files WHERE id = $1', [id])).toEqual([]);
    expect((await get(`/_files/${id}`)).status).toBe(404);
    expect((await del(`/_files/${id}`)).status).toBe(404);
  });

  it('lists files newest first for admins (with or without the trailing slash); 403 for other users', async () => {
    const first = (await upload(fileForm('1', 'first.txt'))).body.data;
    const second = (await upload(fileForm('22', 'second.txt', 'text/csv'), { token: user.token })).body.data;
    for (const path of ['/_files', '/_files/']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      const list = res.body.data as any[];
      expect(list[0]).toEqual({
        id: second.id,
        filename: 'second.txt',
        mime_type: 'text/csv',
        size: 2,
        uploaded_by: user.id,
        created_at: expect.any(String),
      });
      expect(list[1]).toMatchObject({ id: first.id, filename: 'first.txt', size: 1, uploaded_by: adminId });
      expect(res.body.meta).toBeUndefined();
      const times = list.map((f) => Date.parse(f.created_at));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      expect(list.length).toBe((await fileRows()).length);
    }
    const denied = await get('/_files', user.token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
  });
});

describe('file fields in records', () => {
  beforeAll(async () => {
    const res = await s.client.post(`/api/${app.name}/_admin/entities`, {
      token: app.token,
      body: {
        name: 'product',
        table: 'products',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'name', type: 'string', required: true },
          { name: 'image', type: 'file' },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
  const post = (body: unknown) => s.client.post(`/api/${app.name}/product`, { token: app.token, body });
  const products = () => runtime.db.query<any>('SELECT * FROM products');

  it('replaces a file UUID with the file metadata object, on create and update', async () => {
    const file = (await upload(fileForm('PNGDATA', 'photo.png', 'image/png'))).body.data;
    const meta = { id: file.id, filename: 'photo.png', size: 7, mime_type: 'image/png' };
    const created = await post({ name: 'Laptop', image: file.id });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data.image).toEqual(meta);
    const got = await get(`/product/${created.body.data.id}`);
    expect(got.body.data.image).toEqual(meta);
    const stored = (await runtime.db.query<any>('SELECT image FROM products WHERE id = $1', [created.body.data.id]))[0];
    expect(stored.image).toEqual(meta);

    const other = (await upload(fileForm('GIF', 'anim.gif', 'image/gif'))).body.data;
    const updated = await s.client.put(`/api/${app.name}/product/${created.body.data.id}`, {
      token: app.token,
      body: { image: other.id.toUpperCase() },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data.image).toEqual({ id: other.id, filename: 'anim.gif', size: 3, mime_type: 'image/gif' });

    // deleting the file keeps the record's stored object; deleting the record keeps the file
    expect((await del(`/_files/${other.id}`)).status).toBe(200);
    expect((await get(`/product/${created.body.data.id}`)).body.data.image).toMatchObject({ id: other.id });
    expect((await del(`/product/${created.body.data.id}`)).status).toBe(200);
    expect((await get(`/_files/${file.id}`)).status).toBe(200);
  });

  it('answers 404 "File <uuid> not found" for an unknown UUID and writes nothing', async () => {
    const before = (await products()).length;
    const ghost = '11111111-2222-4333-8444-555555555555';
    const res = await post({ name: 'Ghost', image: ghost });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: `File ${ghost} not found` } });
    expect((await products()).length).toBe(before);
  });

  it('stores an object as given, null as null, and refuses anything else with 422 rule type', async () => {
    const object = { id: 'external', url: 'https://cdn.example/x.png', nested: { a: [1, 2] } };
    const asObject = await post({ name: 'Obj', image: object });
    expect(asObject.status).toBe(201);
    expect(asObject.body.data.image).toEqual(object);
    const asNull = await post({ name: 'Null', image: null });
    expect(asNull.status).toBe(201);
    expect(asNull.body.data.image).toBe(null);

    const before = (await products()).length;
    for (const bad of ['not-a-uuid', 42, true, ['a'], '']) {
      const res = await post({ name: 'Bad', image: bad });
      expect(res.status, JSON.stringify(bad)).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'image', rule: 'type' })]);
    }
    expect((await products()).length).toBe(before);
  });
});

describe('app deletion', () => {
  it('removes the app upload directory', async () => {
    const other = await s.createApp();
    const res = await upload(fileForm('doomed', 'doomed.txt'), { appName: other.name, token: other.token });
    expect(res.status).toBe(201);
    expect(existsSync(join(storage, other.name, res.body.data.id, 'doomed.txt'))).toBe(true);
    const deleted = await s.client.delete(`/api/_platform/apps/${other.name}`, { token: s.platformToken });
    expect(deleted.status).toBe(200);
    expect(existsSync(join(storage, other.name))).toBe(false);
    // the other app's files are untouched
    expect(existsSync(join(storage, app.name))).toBe(true);
  });
});
