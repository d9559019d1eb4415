import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Readiness, metrics and shutdown (operations.md §Health and metrics, §Shutdown)
 * over HTTP. A local webhook receiver that answers only when told lets a test
 * hold a write (and its pool connection) open for as long as it needs.
 */

const TOKEN = 'metrics-token-0123456789';
const uuid = { field: 'id', type: 'uuid', generated: true };
const note = {
  name: 'note',
  table: 'notes',
  primary_key: uuid,
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 'body', type: 'string' },
  ],
};

/** A receiver whose calls wait until released; `arrived` resolves at the n-th call. */
function holdingReceiver() {
  const waiting: Array<() => void> = [];
  let calls = 0;
  const arrivals: Array<{ n: number; resolve: () => void }> = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      for (const a of arrivals) if (calls >= a.n) a.resolve();
      waiting.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
  });
  return {
    server,
    async listen() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    },
    arrived: (n: number) => new Promise<void>((resolve) => (calls >= n ? resolve() : arrivals.push({ n, resolve }))),
    release() {
      for (const w of waiting.splice(0)) w();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('readiness and metrics', () => {
  let s: TestServer;
  let app: { name: string; token: string };
  const receiver = holdingReceiver();
  let hookUrl: string;

  beforeAll(async () => {
    hookUrl = await receiver.listen();
    s = await startTestServer({ ROCKET_METRICS: 'true', ROCKET_METRICS_TOKEN: TOKEN });
    app = await s.createApp();
    expect((await s.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: note })).status).toBe(201);
  });
  afterAll(async () => {
    receiver.release();
    await s?.close();
    await receiver.close();
  });

  const scrape = async () => {
    const res = await s.client.get('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.body as string;
  };

  it('GET /ready answers 200 {"status":"ready"} while the management database answers', async () => {
    const res = await s.client.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready' });
  });

  it('/metrics refuses a missing or wrong token with 401 and the envelope', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: TOKEN }]) {
      const res = await s.client.get('/metrics', { headers });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
    // the scheme is case-insensitive, as on every route
    for (const scheme of ['bearer', 'BEARER'])
      expect((await s.client.get('/metrics', { headers: { authorization: `${scheme} ${TOKEN}` } })).status).toBe(200);
  });

  it('exposes every listed series, and they move under load', async () => {
    const before = await scrape();
    for (const name of [
      'rocket_http_requests_total',
      'rocket_http_request_duration_seconds_bucket',
      'rocket_db_pool_in_use',
      'rocket_db_pool_waiting',
      'rocket_realtime_subscribers',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(before).toContain(`${name}`);
    }

    // requests by family and status
    await Promise.all(Array.from({ length: 20 }, () => s.client.get(`/api/${app.name}/note`, { token: app.token })));
    await s.client.get(`/api/${app.name}/nothing-here`, { token: app.token });
    const afterLoad = await scrape();
    expect(
      sample(afterLoad, 'rocket_http_requests_total', { family: 'records', status: '200' }) -
        sample(before, 'rocket_http_requests_total', { family: 'records', status: '200' }),
    ).toBe(20);
    expect(sample(afterLoad, 'rocket_http_requests_total', { family: 'records', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(
      sample(afterLoad, 'rocket_http_request_duration_seconds_count', { family: 'records' }) -
        sample(before, 'rocket_http_request_duration_seconds_count', { family: 'records' }),
    ).toBe(21);

    // a write held open by a synchronous webhook holds a pool connection of the app's database
    const sync = await s.client.post(`/api/${app.name}/_admin/webhooks`, {
      token: app.token,
      body: { entity: 'note', hook: 'before_write', async: false, url: hookUrl },
    });
    expect(sync.status).toBe(201);
    const held = s.client.post(`/api/${app.name}/note`, { token: app.token, body: { body: 'held' } });
    await receiver.arrived(1);
    const during = await scrape();
    expect(sample(during, 'rocket_db_pool_in_use', { database: `rocket_${app.name}` })).toBeGreaterThanOrEqual(1);
    receiver.release();
    expect((await held).status).toBe(201);
    const afterWrite = await scrape();
    expect(sample(afterWrite, 'rocket_db_pool_in_use', { database: `rocket_${app.name}` })).toBe(0);
    expect(sample(afterWrite, 'rocket_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect((await s.client.delete(`/api/${app.name}/_admin/webhooks/${sync.body.data.id}`, { token: app.token })).status).toBe(200);

    // background job runs
    await s.rocket.jobs.runNow();
    const afterJobs = await scrape();
    expect(sample(afterJobs, 'rocket_job_runs_total', { job: 'webhook-retries' })).toBeGreaterThan(
      sample(before, 'rocket_job_runs_total', { job: 'webhook-retries' }),
    );
    expect(sample(afterJobs, 'rocket_job_runs_total', { job: 'workflow-deadlines' })).toBeGreaterThan(
      sample(before, 'rocket_job_runs_total', { job: 'workflow-deadlines' }),
    );
    expect(sample(afterJobs, 'rocket_job_failures_total')).toBe(0);

    // the realtime feature's gauge
    s.rocket.metrics!.realtimeSubscribers.inc(3);
    expect(sample(await scrape(), 'rocket_realtime_subscribers')).toBe(3);
    s.rocket.metrics!.realtimeSubscribers.dec(3);
  });
});

describe('metrics off (the default)', () => {
  it('/metrics is not served; /ready is', async () => {
    const s = await startTestServer();
    try {
      const res = await s.client.get('/metrics');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      expect((await s.client.get('/ready')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

/** A raw HTTP/1.1 connection: requests written when the test says, everything the server writes back collected. */
function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let data = '';
  socket.on('data', (c) => (data += c.toString('utf8')));
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(data)));
  return {
    send: (request: string) => socket.write(request),
    done: () => closed,
  };
}

function rawRequest(method: string, path: string, token: string, body?: unknown): string {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return `${method} ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
}

describe('shutdown', () => {
  it('finishes in-flight requests, answers /ready and new requests with 503 + Retry-After, runs shutdown hooks', async () => {
    const receiver = holdingReceiver();
    const hookUrl = await receiver.listen();
    const s = await startTestServer();
    const app = await s.createApp();
    expect((await s.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: note })).status).toBe(201);
    expect(
      (
        await s.client.post(`/api/${app.name}/_admin/webhooks`, {
          token: app.token,
          body: { entity: 'note', hook: 'before_write', async: false, url: hookUrl },
        })
      ).status,
    ).toBe(201);
    let hookRan = false;
    s.rocket.lifecycle.onShutdown(() => {
      hookRan = true;
    });
    try {
      // two connections, each with a write held at the receiver
      const a = rawConnection(s.rocket.url);
      const b = rawConnection(s.rocket.url);
      a.send(rawRequest('POST', `/api/${app.name}/note`, app.token, { body: 'one' }));
      b.send(rawRequest('POST', `/api/${app.name}/note`, app.token, { body: 'two' }));
      await receiver.arrived(2);
      let seen = 0;
      const laterArrived = new Promise<void>((resolve) =>
        s.rocket.http.server.on('request', () => {
          if (++seen === 2) resolve();
        }),
      );
      const closed = s.rocket.close();
      expect(hookRan).toBe(true);
      // requests arriving on those connections while the server shuts down
      a.send(rawRequest('GET', '/ready', app.token));
      b.send(rawRequest('GET', `/api/${app.name}/note`, app.token));
      await laterArrived;
      receiver.release();
      const [ra, rb] = await Promise.all([a.done(), b.done()]);
      await closed;

      for (const raw of [ra, rb]) {
        const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
        expect(first).toMatch(/^HTTP\/1\.1 201 /);
        expect(second).toMatch(/^HTTP\/1\.1 503 /);
        expect(second).toMatch(/\r\nretry-after: \d+\r\n/i);
        const body = JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4));
        expect(body).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } });
      }
      // both in-flight writes were finished and stored
      const db = s.rocket.dbServer.connect(`rocket_${app.name}`, 1);
      expect((await db.query<{ body: string }>('SELECT body FROM notes ORDER BY body')).map((r) => r.body)).toEqual(['one', 'two']);
      await db.close();
    } finally {
      receiver.release();
      await receiver.close();
      await s.rocket.dbServer.dropDatabase(`rocket_${app.name}`);
      await s.rocket.dbServer.dropDatabase(s.managementDb);
    }
  });

  it('stops waiting for in-flight requests after ROCKET_SHUTDOWN_TIMEOUT_MS', async () => {
    const receiver = holdingReceiver();
    const hookUrl = await receiver.listen();
    const s = await startTestServer({ ROCKET_SHUTDOWN_TIMEOUT_MS: '300' });
    const app = await s.createApp();
    try {
      expect((await s.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: note })).status).toBe(201);
      expect(
        (
          await s.client.post(`/api/${app.name}/_admin/webhooks`, {
            token: app.token,
            body: { entity: 'note', hook: 'before_write', async: false, url: hookUrl },
          })
        ).status,
      ).toBe(201);
      const stuck = rawConnection(s.rocket.url);
      stuck.send(rawRequest('POST', `/api/${app.name}/note`, app.token, { body: 'stuck' }));
      await receiver.arrived(1);
      // the receiver never answers before close() is done: close must not wait for it
      await s.rocket.close();
      expect(await stuck.done()).toBe('');
    } finally {
      receiver.release();
      await receiver.close();
      await s.rocket.dbServer.dropDatabase(`rocket_${app.name}`);
      await s.rocket.dbServer.dropDatabase(s.managementDb);
    }
  });
});
