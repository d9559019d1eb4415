import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, UUID_PK, type EngineHarness } from '../support/engine.js';
import type { Response } from '../support/client.js';

// Black-box audit of the HTTP edge (spec README.md §Global conventions, §Error format; rest-api.md §List;
// operations.md §Capacity): request bodies and their encoding, list query parameters, and a database that
// refuses connections. Every case goes over HTTP against a real server and PostgreSQL.

let h: EngineHarness;

beforeAll(async () => {
  // A short wait for a connection keeps the 503 case quick.
  h = await startEngine({ ROCKET_DB_WAIT_MS: '300' });
  await h.entity({
    name: 'note',
    table: 'notes',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
      { name: 'weight', type: 'float' },
    ],
  });
  for (const [title, weight] of [
    ['one', 1],
    ['sixteen', 16],
    ['three', 3],
    ['half', 0.5],
  ] as const) {
    await h.create('note', { title, weight });
  }
});
afterAll(async () => {
  await h?.close();
});

/** A request whose body is the given bytes, exactly. */
async function send(method: string, path: string, body: Uint8Array, contentType: string): Promise<Response<any>> {
  const res = await fetch(`${h.s.rocket.url}${h.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${h.app.token}`, 'content-type': contentType },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

const titles = async (query: string) => {
  const res = await h.get(`/note?${query}`);
  expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
  return (res.body.data as Array<{ title: string }>).map((r) => r.title).sort();
};

describe('JSON bodies are UTF-8 (README.md: an unparseable body → 400, another content type → 415)', () => {
  it('bytes that are no UTF-8 are 400 INVALID_PAYLOAD, not stored as U+FFFD; nothing is written', async () => {
    const before = await h.q<{ n: number }>('SELECT count(*)::int AS n FROM notes');
    // 'caf' + Latin-1 é (0xE9), and a lone continuation byte.
    for (const body of [bytes('{"title":"caf', [0xe9], '"}'), bytes('{"title":"x', [0x80], '"}')]) {
      const res = await send('POST', '/note', body, 'application/json');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' } });
    }
    const [note] = await h.q<{ id: string }>("SELECT id FROM notes WHERE title = 'one'");
    const put = await send('PUT', `/note/${note!.id}`, bytes('{"title":"', [0xff], '"}'), 'application/json');
    expect(put.status).toBe(400);
    expect(put.body.error.code).toBe('INVALID_PAYLOAD');
    // Admin and auth bodies go through the same parser.
    const login = await send('POST', '/auth/login', bytes('{"email":"', [0xc3], '","password":"x"}'), 'application/json');
    expect(login.status).toBe(400);
    expect(login.body.error.code).toBe('INVALID_PAYLOAD');
    expect(await h.q<{ n: number }>('SELECT count(*)::int AS n FROM notes')).toEqual(before);
    expect(await h.q("SELECT title FROM notes WHERE title LIKE '%\uFFFD%'")).toEqual([]);
  });

  it('UTF-8 text, with or without a UTF-8 charset parameter, is stored exactly', async () => {
    for (const contentType of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=us-ascii',
    ]) {
      const title = contentType.includes('ascii') ? 'plain' : `café ✓ ${contentType}`;
      const res = await send('POST', '/note', Buffer.from(JSON.stringify({ title })), contentType);
      expect(res.status, contentType).toBe(201);
      expect(res.body.data.title).toBe(title);
      expect(await h.q('SELECT title FROM notes WHERE id = $1', [res.body.data.id])).toEqual([{ title }]);
      expect((await h.del(`/note/${res.body.data.id}`)).status).toBe(200);
    }
  });

  it('a JSON body declared in another charset is 415 UNSUPPORTED_MEDIA_TYPE, after the entity check; nothing is written', async () => {
    const before = await h.q<{ n: number }>('SELECT count(*)::int AS n FROM notes');
    const cases: Array<[string, Buffer]> = [
      ['application/json; charset=iso-8859-1', bytes('{"title":"caf', [0xe9], '"}')],
      ['application/json; charset=utf-16le', Buffer.from('{"title":"wide"}', 'utf16le')],
      ['application/json; charset=windows-1252', Buffer.from('{"title":"ascii only"}')],
    ];
    for (const [contentType, body] of cases) {
      const res = await send('POST', '/note', body, contentType);
      expect(res.status, contentType).toBe(415);
      expect(res.body).toEqual({
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Unsupported Content-Type '${contentType}': request bodies must be application/json in UTF-8`,
        },
      });
    }
    const admin = await send('POST', '/_admin/entities', Buffer.from('{}'), 'application/json; charset=latin1');
    expect(admin.status).toBe(415);
    expect(admin.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    // A record route checks its entity before its body, whatever the body's type.
    const unknown = await send('POST', '/nope', Buffer.from('{}'), 'application/json; charset=latin1');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('UNKNOWN_ENTITY');
    expect(await h.q<{ n: number }>('SELECT count(*)::int AS n FROM notes')).toEqual(before);
  });
});

describe('compressed JSON bodies (README.md: 415 for a body that is not plain JSON)', () => {
  it('a body with a Content-Encoding other than identity is 415, not read as JSON bytes; nothing is written', async () => {
    const before = await h.q<{ n: number }>('SELECT count(*)::int AS n FROM notes');
    const post = (body: Buffer, encoding: string) =>
      fetch(`${h.s.rocket.url}${h.base}/note`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.app.token}`, 'content-type': 'application/json', 'content-encoding': encoding },
        body,
      });
    // Labelled gzip: compressed, or plain JSON that a server decoding as labelled could not read.
    for (const [body, encoding] of [
      [gzipSync('{"title":"zipped"}'), 'gzip'],
      [Buffer.from('{"title":"labelled"}'), 'gzip'],
      [Buffer.from('{"title":"br"}'), 'br'],
    ] as const) {
      const res = await post(body, encoding);
      expect(res.status, encoding).toBe(415);
      expect(await res.json()).toEqual({
        error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: `Unsupported Content-Encoding '${encoding}': request bodies must be sent uncompressed` },
      });
    }
    expect(await h.q<{ n: number }>('SELECT count(*)::int AS n FROM notes')).toEqual(before);
    const plain = await post(Buffer.from('{"title":"identity"}'), 'identity');
    expect(plain.status).toBe(201);
    expect((await h.del(`/note/${((await plain.json()) as { data: { id: string } }).data.id}`)).status).toBe(200);
  });
});

describe('list filters (rest-api.md §List)', () => {
  it('a float filter value is a decimal number, as in a body: hex, binary and octal literals are 400', async () => {
    for (const value of ['0x10', '0b10000', '0o20', 'Infinity', '1_6']) {
      const res = await h.get(`/note?filter[weight]=${value}`);
      expect(res.status, value).toBe(400);
      expect(res.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: `Invalid filter value for weight: "${value}" is not float` });
    }
    const inList = await h.get('/note?filter[weight.in]=1,0x10');
    expect(inList.status).toBe(400);
    expect(await titles('filter[weight]=16')).toEqual(['sixteen']);
    expect(await titles('filter[weight]=1.6e1')).toEqual(['sixteen']);
    expect(await titles('filter[weight.in]=%201%20,.5')).toEqual(['half', 'one']);
    expect(await titles('filter[weight.gt]=+2')).toEqual(['sixteen', 'three']);
  });

  it('filter keys without their brackets, or with brackets encoded twice, are 400, not ignored (which would widen the result)', async () => {
    for (const key of ['filter', 'filter%255Btitle%255D', 'filter%255btitle.eq%255d']) {
      const res = await h.get(`/note?${key}=one`);
      expect(res.status, key).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
      expect(res.body.error.message).toMatch(/^Invalid filter parameter: filter/);
    }
    // Once-encoded brackets are plain brackets; other parameters are still free.
    expect(await titles('filter%5Btitle%5D=one')).toEqual(['one']);
    expect(await titles('filtered=1&filter[title]=one')).toEqual(['one']);
  });
});

/** One request as written (fetch would resolve `..` segments itself); the status and parsed body of its answer. */
function rawGet(target: string): Promise<{ status: number; body: unknown }> {
  const { hostname, port } = new URL(h.s.rocket.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const split = answer.indexOf('\r\n\r\n');
      resolve({ status: Number(answer.slice(9, 12)), body: JSON.parse(answer.slice(split + 4)) });
    });
    socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  });
}

describe("the framework's own error answers (README.md: the envelope, with the code of the table)", () => {
  it('a console path leaving its folder is 403 FORBIDDEN, not INVALID_PAYLOAD with a 403', async () => {
    for (const target of ['/admin/../package.json', '/admin/%2e%2e/package.json']) {
      const res = await rawGet(target);
      expect(res.status, target).toBe(403);
      expect(res.body, target).toEqual({ error: { code: 'FORBIDDEN', message: 'Forbidden' } });
    }
  });
});

describe('a database that refuses connections (operations.md: 503 with Retry-After, never a 500)', () => {
  it('answers 503 SERVICE_UNAVAILABLE with the envelope while the app database accepts no connections, and serves again afterwards', async () => {
    const mgmt = h.s.rocket.services.platform.db;
    const db = `rocket_${h.app.name}`;
    await mgmt.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
    try {
      await mgmt.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db]);
      for (const res of [await h.get('/note'), await h.post('/note', { title: 'refused' })]) {
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: 'The database refuses connections; try again shortly' } });
        expect(res.headers.get('retry-after')).toBe('2');
      }
    } finally {
      await mgmt.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`);
    }
    expect(await titles('filter[title.in]=one,refused')).toEqual(['one']);
  });
});
