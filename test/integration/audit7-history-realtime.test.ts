import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SseReader } from '../support/sse.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Audit of history.md and realtime.md over HTTP: defects found by probing, one test each.
vi.setConfig({ testTimeout: 60_000 });
let s: TestServer;
let app: { name: string; token: string };

const uuid = { field: 'id', type: 'uuid', generated: true };
const base = () => `/api/${app.name}`;
const call = (method: 'get' | 'post' | 'put', path: string, body?: unknown, token = app.token) =>
  s.client[method](`${base()}${path}`, { token, body });

async function created(path: string, body: unknown, token = app.token) {
  const res = await call('post', path, body, token);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

const streams = new Set<SseReader>();
afterEach(() => {
  for (const r of streams) r.close();
  streams.clear();
});

async function subscribe(query: string, token: string): Promise<SseReader> {
  const r = await SseReader.open(s.rocket.url, `${base()}/_realtime?${query}`, { authorization: `Bearer ${token}` });
  if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status} ${JSON.stringify(r.body)}`);
  streams.add(r);
  await r.waitFor(1, 'ready');
  return r;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  const res = await s.client.post(`${base()}/_admin/entities`, {
    token: app.token,
    body: {
      name: 'note',
      table: 'notes',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
      ],
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 60_000);
afterAll(async () => {
  await s?.close();
});

/** Raw HTTP/1.1 on one kept-alive connection: what the server wrote, as text. */
function rawConnection() {
  const url = new URL(s.rocket.url);
  const socket = net.connect(Number(url.port), url.hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  return {
    socket,
    text: () => received,
    send: (request: string) => socket.write(request),
    async until(cond: (text: string) => boolean, timeoutMs = 10_000): Promise<boolean> {
      for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
        if (cond(received)) return true;
        await new Promise((done) => setTimeout(done, 50));
      }
      return cond(received);
    },
  };
}

describe('HEAD on the stream endpoint', () => {
  it('answers the headers only: no stream opens, no frames follow, and the connection serves the next request', async () => {
    const conn = rawConnection();
    try {
      const auth = `Authorization: Bearer ${app.token}\r\nHost: test\r\n`;
      conn.send(`HEAD ${base()}/_realtime?entities=note HTTP/1.1\r\n${auth}\r\n`);
      expect(await conn.until((t) => t.includes('\r\n\r\n'))).toBe(true);
      expect(conn.text()).toMatch(/^HTTP\/1\.1 200 /);
      expect(conn.text()).toMatch(/content-type: text\/event-stream/i);
      expect(s.rocket.services.realtime!.streamCount).toBe(0);
      // A HEAD answer has no body: the next bytes on the connection are the next response.
      conn.send(`GET ${base()}/note HTTP/1.1\r\n${auth}\r\n`);
      expect(await conn.until((t) => (t.match(/HTTP\/1\.1 /g) ?? []).length >= 2)).toBe(true);
      const second = conn.text().slice(conn.text().indexOf('\r\n\r\n') + 4);
      expect(second).toMatch(/^HTTP\/1\.1 200 /);
      expect(conn.text()).not.toContain('event: ready');
    } finally {
      conn.socket.destroy();
    }
  });
});

describe('$user.email read conditions of an open stream', () => {
  it("follow the user's email once it changes, as REST does (tokens survive an email change)", async () => {
    await created('/_admin/entities', {
      name: 'memo',
      table: 'memos',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'owner', type: 'string' },
        { name: 'n', type: 'int' },
      ],
    });
    await created('/_admin/permissions', {
      entity: 'memo',
      action: 'read',
      roles: ['member'],
      conditions: [{ field: 'owner', operator: 'eq', value: '$user.email' }],
    });
    const user = await created('/_admin/users', { email: 'old@example.com', password: 'secret-pass-1', roles: ['member'] });
    const token = await s.client.login(`${base()}/auth/login`, 'old@example.com', 'secret-pass-1');
    const stream = await subscribe('entities=memo', token);
    const renamed = await call('put', `/_admin/users/${user.id}`, { email: 'new@example.com', roles: ['member'] });
    expect(renamed.status).toBe(200);

    // REST reads the new email at once, with the same token.
    const mine = await created('/memo', { owner: 'new@example.com', n: 0 });
    const gone = await created('/memo', { owner: 'old@example.com', n: 0 });
    expect((await call('get', `/memo/${mine.id}`, undefined, token)).status).toBe(200);
    expect((await call('get', `/memo/${gone.id}`, undefined, token)).status).toBe(404);

    // The stream does too: rows of the new email arrive (within the spec's second for user changes; polled generously).
    let seen = false;
    for (let n = 1; n <= 20 && !seen; n++) {
      await created('/memo', { owner: 'new@example.com', n });
      await stream
        .until(() => stream.events.some((e) => e.event === 'change' && e.data.record.n === n), 1000)
        .then(
          () => (seen = true),
          () => undefined,
        );
    }
    expect(seen).toBe(true);
    // …and rows of the old email, which the user can no longer read, do not.
    await created('/memo', { owner: 'old@example.com', n: 100 });
    await created('/memo', { owner: 'new@example.com', n: 101 });
    await stream.until(() => stream.events.some((e) => e.event === 'change' && e.data.record.n === 101), 10_000);
    const owners = stream.events.filter((e) => e.event === 'change' && e.data.record.n >= 100).map((e) => e.data.record.owner);
    expect(owners).toEqual(['new@example.com']);
  });
});
