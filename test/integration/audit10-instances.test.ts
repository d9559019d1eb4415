import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

// Two instances of one platform (operations.md §Several instances): same management database, same data directory.
let a: TestServer;
let b: TestServer;
let managementDb: string;
/** A superuser connection to the test PostgreSQL, outside both instances. */
let su: postgres.Sql;

beforeAll(async () => {
  managementDb = `rocketmgmt_${uniqueName('')}`;
  const share = { managementDb, dataDir: await mkdtemp(join(tmpdir(), 'rocket-test-data-')) };
  a = await startTestServer({}, share);
  b = await startTestServer({}, share);
  su = postgres(`${inject('pgUrl')}postgres`, { max: 1, onnotice: () => undefined });
});
afterAll(async () => {
  await su?.unsafe(`ALTER DATABASE "${managementDb}" WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
  await su?.end();
  await a?.close();
  await b?.close();
  await a?.rocket.dbServer.dropDatabase(managementDb).catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uuid = { field: 'id', type: 'uuid', generated: true };

/** Polls `probe` until it returns `want` or `ms` pass; returns the last answer. */
async function within<T>(ms: number, want: T, probe: () => Promise<T>): Promise<T> {
  const until = Date.now() + ms;
  let got = await probe();
  while (got !== want && Date.now() < until) {
    await sleep(50);
    got = await probe();
  }
  return got;
}

/**
 * Cuts both instances' listening connections to the management database and keeps them from coming back
 * while `meanwhile` runs (their pools' open connections still work), then lets them reconnect: whatever
 * was announced meanwhile never reaches a listener. What a PostgreSQL restart or a dropped connection does.
 */
async function withListenersCut(meanwhile: () => Promise<void>): Promise<void> {
  await su.unsafe(`ALTER DATABASE "${managementDb}" WITH ALLOW_CONNECTIONS false`);
  try {
    const cut = await su`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${managementDb} AND query ILIKE 'listen%'`;
    expect(cut.length).toBe(2);
    await sleep(200);
    await meanwhile();
    await sleep(200);
  } finally {
    await su.unsafe(`ALTER DATABASE "${managementDb}" WITH ALLOW_CONNECTIONS true`);
  }
}

describe('change notices missed while an instance was not listening (operations.md: served by all within 1 s)', () => {
  it('metadata, a permission, a disabled user and a password change made meanwhile apply on the other instance once it listens again', async () => {
    const app = await a.createApp();
    const admin = (path: string, body: unknown) => a.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
    expect(
      (
        await admin('entities', {
          name: 'doc',
          table: 'docs',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'title', type: 'string' },
          ],
        })
      ).status,
    ).toBe(201);
    const reader = await admin('users', { email: 'reader@x.io', password: 'pw-reader', roles: ['reader'] });
    expect(reader.status).toBe(201);
    const gone = await admin('users', { email: 'gone@x.io', password: 'pw-gone', roles: ['reader'] });
    expect(gone.status).toBe(201);
    const moved = await admin('users', { email: 'moved@x.io', password: 'pw-moved', roles: ['reader'] });
    expect(moved.status).toBe(201);
    const grant = await admin('permissions', { entity: 'doc', action: 'read', roles: ['reader'] });
    expect(grant.status).toBe(201);
    // Instance b serves the app and knows these users and the policy.
    const readerToken = await b.client.login(`/api/${app.name}/auth/login`, 'reader@x.io', 'pw-reader');
    const goneToken = await b.client.login(`/api/${app.name}/auth/login`, 'gone@x.io', 'pw-gone');
    const movedToken = await b.client.login(`/api/${app.name}/auth/login`, 'moved@x.io', 'pw-moved');
    for (const token of [readerToken, goneToken, movedToken]) {
      expect(await within(2000, 200, async () => (await b.client.get(`/api/${app.name}/doc`, { token })).status)).toBe(200);
    }

    await withListenersCut(async () => {
      expect(
        (
          await admin('entities', {
            name: 'memo',
            table: 'memos',
            primary_key: uuid,
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'body', type: 'string' },
            ],
          })
        ).status,
      ).toBe(201);
      expect((await a.client.delete(`/api/${app.name}/_admin/permissions/${grant.body.data.id}`, { token: app.token })).status).toBe(200);
      expect(
        (
          await a.client.put(`/api/${app.name}/_admin/users/${gone.body.data.id}`, {
            token: app.token,
            body: { email: 'gone@x.io', active: false, roles: ['reader'] },
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await a.client.put(`/api/${app.name}/_admin/users/${moved.body.data.id}`, {
            token: app.token,
            body: { email: 'moved@x.io', password: 'pw-new', roles: ['reader'] },
          })
        ).status,
      ).toBe(200);
    });

    // The listening connection comes back at once; a change announced meanwhile is in force within about a second.
    const memo = await within(
      3000,
      201,
      async () => (await b.client.post(`/api/${app.name}/memo`, { token: app.token, body: { body: 'x' } })).status,
    );
    expect(memo).toBe(201);
    expect(await within(3000, 403, async () => (await b.client.get(`/api/${app.name}/doc`, { token: readerToken })).status)).toBe(403);
    expect(await within(3000, 401, async () => (await b.client.get(`/api/${app.name}/doc`, { token: goneToken })).status)).toBe(401);
    expect(await within(3000, 401, async () => (await b.client.get(`/api/${app.name}/doc`, { token: movedToken })).status)).toBe(401);
    // And notices flow again afterwards.
    expect((await admin('permissions', { entity: 'doc', action: 'read', roles: ['reader'] })).status).toBe(201);
    expect(await within(1000, 200, async () => (await b.client.get(`/api/${app.name}/doc`, { token: readerToken })).status)).toBe(200);
  });

  it('an app deleted meanwhile is no longer served by the other instance, nor are its old tokens accepted by a new app of that name', async () => {
    const app = await a.createApp();
    expect((await b.client.get(`/api/${app.name}/_admin/entities`, { token: app.token })).status).toBe(200);
    await withListenersCut(async () => {
      expect((await a.client.delete(`/api/_platform/apps/${app.name}`, { token: a.platformToken })).status).toBe(200);
    });
    const res = await within(3000, 404, async () => (await b.client.get(`/api/${app.name}/_admin/entities`, { token: app.token })).status);
    expect(res).toBe(404);
    // Created again through a: b serves the new app, with its new secret (the old admin token is refused).
    expect((await a.client.post('/api/_platform/apps', { token: a.platformToken, body: { name: app.name } })).status).toBe(201);
    try {
      expect((await b.client.get(`/api/${app.name}/_admin/entities`, { token: app.token })).status).toBe(401);
      const fresh = await b.client.login(`/api/${app.name}/auth/login`, 'admin@localhost', 'changeme');
      expect((await b.client.get(`/api/${app.name}/_admin/entities`, { token: fresh })).body.data).toEqual([]);
    } finally {
      await a.client.delete(`/api/_platform/apps/${app.name}`, { token: a.platformToken });
    }
  });
});

describe('an instance that shuts down hands its due work to the others (operations.md §Shutdown, §Several instances)', () => {
  /** A third instance on the same platform, shut down by the test. */
  async function third(): Promise<TestServer> {
    return startTestServer({}, { managementDb, dataDir: a.config.dataDir });
  }

  it('an approval deadline armed on the instance that stopped fires on another within 1 s of being due', async () => {
    const app = await a.createApp();
    const admin = (path: string, body: unknown) => a.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
    const doc = {
      name: 'doc',
      table: 'docs',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'outcome', type: 'string' },
      ],
    };
    expect((await admin('entities', doc)).status).toBe(201);
    const wf = await admin('workflows', {
      name: 'review',
      trigger: { type: 'state_change', entity: 'doc', field: 'title', to: 'review' },
      context: { id: 'record.id' },
      steps: [
        { id: 'wait', type: 'approval', assignee: { type: 'role', role: 'admin' }, timeout: '3s', on_timeout: { goto: 'late' } },
        { id: 'late', type: 'action', actions: [{ type: 'set_field', entity: 'doc', record_id: 'context.id', field: 'outcome', value: 'late' }] },
      ],
    });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    // Both running instances have looked at the app's deadlines: none was due.
    expect((await b.client.get(`/api/${app.name}/doc`, { token: app.token })).status).toBe(200);
    await a.rocket.jobs.runNow('workflow-deadlines');
    await b.rocket.jobs.runNow('workflow-deadlines');

    const c = await third();
    const created = await c.client.post(`/api/${app.name}/doc`, { token: app.token, body: { title: 'review' } });
    expect(created.status).toBe(201);
    const due = Date.now() + 3000;
    await c.rocket.close();
    const id = created.body.data.id as string;
    const outcome = await within(
      due + 1200 - Date.now(),
      'late',
      async () => (await b.client.get(`/api/${app.name}/doc/${id}`, { token: app.token })).body.data.outcome,
    );
    expect(outcome).toBe('late');
  });

  it('a webhook delivery cut off by the shutdown is sent by another instance at once, and once', async () => {
    const calls: string[] = [];
    const hanging: ServerResponse[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls.push(body);
        if (calls.length === 1)
          hanging.push(res); // the first call never gets an answer
        else res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const app = await a.createApp();
      const admin = (path: string, body: unknown) => a.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
      expect(
        (
          await admin('entities', {
            name: 'order',
            table: 'orders',
            primary_key: uuid,
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'total', type: 'integer' },
            ],
          })
        ).status,
      ).toBe(201);
      const port = (receiver.address() as AddressInfo).port;
      expect((await admin('webhooks', { entity: 'order', url: `http://127.0.0.1:${port}/hook` })).status).toBe(201);
      expect((await b.client.get(`/api/${app.name}/order`, { token: app.token })).status).toBe(200);
      await a.rocket.jobs.runNow('webhook-retries');
      await b.rocket.jobs.runNow('webhook-retries');

      const c = await third();
      expect((await c.client.post(`/api/${app.name}/order`, { token: app.token, body: { total: 5 } })).status).toBe(201);
      expect(await within(2000, 1, async () => calls.length)).toBe(1);
      await c.rocket.close(); // waits a moment for the call, then cancels it and gives the row back
      const stopped = Date.now();
      expect(await within(3000, 2, async () => calls.length)).toBe(2);
      expect(Date.now() - stopped).toBeLessThan(3000);
      await sleep(1500);
      expect(calls).toHaveLength(2);
      const logs = await b.client.get(`/api/${app.name}/_admin/webhook-logs`, { token: app.token });
      expect(logs.body.data.map((l: { status: string }) => l.status)).toEqual(['delivered']);
    } finally {
      for (const res of hanging) res.destroy();
      receiver.close();
    }
  });
});

describe('a change notice the changing instance could not send at once', () => {
  it('is sent again once the management database takes connections, and the other instance applies the change', async () => {
    const app = await a.createApp();
    expect((await b.client.get(`/api/${app.name}/_admin/entities`, { token: app.token })).status).toBe(200);
    await su.unsafe(`ALTER DATABASE "${managementDb}" WITH ALLOW_CONNECTIONS false`);
    try {
      // Every pooled connection of both instances to the management database goes; their listeners stay.
      await su`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${managementDb} AND query NOT ILIKE 'listen%'`;
      await sleep(200);
      const res = await a.client.post(`/api/${app.name}/_admin/entities`, {
        token: app.token,
        body: {
          name: 'memo',
          table: 'memos',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'body', type: 'string' },
          ],
        },
      });
      expect(res.status).toBe(201);
      await sleep(500);
    } finally {
      await su.unsafe(`ALTER DATABASE "${managementDb}" WITH ALLOW_CONNECTIONS true`);
    }
    const memo = await within(
      3000,
      201,
      async () => (await b.client.post(`/api/${app.name}/memo`, { token: app.token, body: { body: 'x' } })).status,
    );
    expect(memo).toBe(201);
  });
});
