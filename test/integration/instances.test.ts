import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

// Two instances of one platform: same management database, same data directory.
const MAX_FAILURES = 5;
let a: TestServer;
let b: TestServer;
let managementDb: string;

beforeAll(async () => {
  managementDb = `rocketmgmt_${uniqueName('')}`;
  const share = { managementDb, dataDir: await mkdtemp(join(tmpdir(), 'rocket-test-data-')) };
  const env = { ROCKET_LOGIN_MAX_FAILURES: String(MAX_FAILURES), ROCKET_LOGIN_LOCK_SECONDS: '60' };
  // Started at the same moment against a management database that does not exist yet.
  [a, b] = await Promise.all([startTestServer(env, share), startTestServer(env, share)]);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await a?.rocket.dbServer.dropDatabase(managementDb).catch(() => undefined);
});

describe('instances started at the same moment on a fresh management database', () => {
  it('both start, serve and share one platform (tokens of one are valid on the other)', async () => {
    expect((await a.client.get('/health')).status).toBe(200);
    expect((await b.client.get('/health')).status).toBe(200);
    const listed = await b.client.get('/api/_platform/apps', { token: a.platformToken });
    expect(listed.status).toBe(200);
    const users = await a.rocket.services.platform.db.query('SELECT email FROM _platform_users');
    expect(users).toEqual([{ email: a.config.platformEmail }]);
  });

  it('a third and fourth instance racing on another fresh database also both start', async () => {
    const share = { managementDb: `rocketmgmt_${uniqueName('')}`, dataDir: await mkdtemp(join(tmpdir(), 'rocket-test-data-')) };
    const [c, d] = await Promise.all([startTestServer({}, share), startTestServer({}, share)]);
    try {
      expect((await c.client.get('/api/_platform/apps', { token: d.platformToken })).status).toBe(200);
    } finally {
      await c.close();
      await d.close();
      await c.rocket.dbServer.dropDatabase(share.managementDb).catch(() => undefined);
    }
  }, 120_000);
});

describe('login brute-force protection across instances', () => {
  it('app logins: failures on both instances add up to one lock, which both enforce', async () => {
    const app = await a.createApp();
    const email = 'victim@example.com';
    expect((await a.client.post(`/api/${app.name}/_admin/users`, { token: app.token, body: { email, password: 'right-pw' } })).status).toBe(201);
    for (let i = 0; i < MAX_FAILURES; i++) {
      const s = i % 2 === 0 ? a : b;
      const res = await s.client.post(`/api/${app.name}/auth/login`, { body: { email, password: `wrong-${i}` } });
      expect(res.status).toBe(401);
    }
    for (const s of [a, b]) {
      const res = await s.client.post(`/api/${app.name}/auth/login`, { body: { email, password: 'right-pw' } });
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('TOO_MANY_REQUESTS');
      const retry = Number(res.headers.get('retry-after'));
      expect(retry >= 1 && retry <= 60).toBe(true);
    }
    // other accounts of the app are unaffected
    expect((await b.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } })).status).toBe(200);
  });

  it('platform logins: a burst split over both instances verifies at most the limit', async () => {
    const email = a.config.platformEmail;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? a : b).client.post('/api/_platform/auth/login', { body: { email, password: `guess-${i}` } }),
      ),
    );
    expect(results.filter((r) => r.status === 401)).toHaveLength(MAX_FAILURES);
    expect(results.filter((r) => r.status === 429)).toHaveLength(12 - MAX_FAILURES);
    for (const s of [a, b]) {
      const res = await s.client.post('/api/_platform/auth/login', { body: { email, password: a.config.platformPassword } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    const rows = await a.rocket.services.platform.db.query<{ failures: number }>('SELECT failures FROM _login_throttle WHERE key = $1', [
      `platform\n${email}`,
    ]);
    expect(rows).toEqual([{ failures: MAX_FAILURES }]);
  });
});

describe('approval deadlines across instances', () => {
  it('a 2 s approval timeout fires within 3 s of the trigger, exactly once, with both instances running', async () => {
    const app = await a.createApp();
    const admin = (path: string, body: unknown) => a.client.post(`/api/${app.name}/_admin/${path}`, { token: app.token, body });
    const uuid = { field: 'id', type: 'uuid', generated: true };
    expect(
      (
        await admin('entities', {
          name: 'doc',
          table: 'docs',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'title', type: 'string' },
            { name: 'outcome', type: 'string' },
          ],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await admin('entities', {
          name: 'note',
          table: 'notes',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'doc_id', type: 'uuid' },
          ],
        })
      ).status,
    ).toBe(201);
    const wf = await admin('workflows', {
      name: 'quick_review',
      trigger: { type: 'state_change', entity: 'doc', field: 'title', to: 'review' },
      context: { id: 'record.id' },
      steps: [
        { id: 'wait', type: 'approval', assignee: { type: 'role', role: 'admin' }, timeout: '2s', on_timeout: { goto: 'late' } },
        {
          id: 'late',
          type: 'action',
          actions: [
            { type: 'set_field', entity: 'doc', record_id: 'context.id', field: 'outcome', value: 'late' },
            { type: 'create_record', entity: 'note', data: { doc_id: 'context.id' } },
          ],
        },
      ],
    });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    // Instance b serves the app too, so both job runners pass over it.
    expect((await b.client.get(`/api/${app.name}/doc`, { token: app.token })).status).toBe(200);

    const started = Date.now();
    const doc = await a.client.post(`/api/${app.name}/doc`, { token: app.token, body: { title: 'review' } });
    expect(doc.status).toBe(201);
    const id = doc.body.data.id as string;
    let outcome: unknown = null;
    while (outcome !== 'late' && Date.now() - started < 3000) {
      await new Promise((r) => setTimeout(r, 100));
      outcome = (await b.client.get(`/api/${app.name}/doc/${id}`, { token: app.token })).body.data.outcome;
    }
    expect(outcome).toBe('late');
    // Both instances had timers armed or passes due; the timeout still ran once.
    await new Promise((r) => setTimeout(r, 1500));
    await a.rocket.jobs.runNow('workflow-deadlines');
    await b.rocket.jobs.runNow('workflow-deadlines');
    const notes = await a.client.get(`/api/${app.name}/note?filter[doc_id]=${id}`, { token: app.token });
    expect(notes.body.data).toHaveLength(1);
    const runtime = (await a.rocket.services.apps.get(app.name))!;
    const [inst] = await runtime.db.query<{ status: string; history: Array<{ step: string; status: string }> }>(
      'SELECT status, history FROM _workflow_instances',
    );
    expect(inst!.status).toBe('completed');
    expect(inst!.history.filter((h) => h.status === 'timed_out')).toHaveLength(1);
  });
});
