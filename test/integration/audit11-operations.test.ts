import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

/**
 * Third audit of operations.md and multi-app.md: a placement server that stops answering, probes while the
 * management database is down, the order of the app list, a failing first creation step, and the command
 * line's one-line messages.
 */

/** A TCP proxy to the test PostgreSQL standing for a second server that can go down (refusing connections). */
async function downableProxy(): Promise<{ port: number; down(): void; up(): void; close(): Promise<void> }> {
  const pg = new URL(inject('pgUrl'));
  const sockets = new Set<Socket>();
  let serving = true;
  const proxy: Server = createServer((client) => {
    if (!serving) return void client.destroy();
    const upstream = connect(Number(pg.port || 5432), pg.hostname);
    for (const s of [client, upstream]) sockets.add(s);
    client.pipe(upstream).pipe(client);
    const end = () => {
      for (const s of [client, upstream]) {
        s.destroy();
        sockets.delete(s);
      }
    };
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as { port: number }).port,
    down() {
      serving = false;
      for (const s of sockets) s.destroy();
    },
    up() {
      serving = true;
    },
    close: () => new Promise((resolve) => proxy.close(() => resolve())),
  };
}

const sql = () => postgres(`${inject('pgUrl')}postgres`, { max: 1, onnotice: () => undefined });

describe('an app placed on a PostgreSQL server that stops answering (operations.md §Placing apps, §Capacity)', () => {
  let proxy: Awaited<ReturnType<typeof downableProxy>>;
  let s: TestServer & { managementDb: string; dataDir: string };
  const onEu2 = uniqueName('a11eu');
  const onMain = uniqueName('a11main');
  const dbs: string[] = [];

  beforeAll(async () => {
    proxy = await downableProxy();
    const pg = new URL(inject('pgUrl'));
    const url = `postgres://${pg.username || 'postgres'}${pg.password ? `:${pg.password}` : ''}@127.0.0.1:${proxy.port}/`;
    s = await startTestServer({ ROCKET_DATABASES: JSON.stringify({ eu2: url }), ROCKET_DB_WAIT_MS: '300' });
  }, 60_000);
  afterAll(async () => {
    proxy?.up();
    for (const name of [onEu2, onMain]) await s?.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken }).catch(() => undefined);
    await s?.close();
    await proxy?.close();
    const db = sql();
    for (const name of dbs) await db.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
    await db.end();
  });

  it('its requests answer 503 + Retry-After; the platform API, /ready and apps on other servers go on; it serves again once back', async () => {
    const token = s.platformToken;
    for (const [name, database] of [
      [onEu2, 'eu2'],
      [onMain, 'main'],
    ]) {
      const created = await s.client.post('/api/_platform/apps', { token, body: { name, database } });
      expect(created.status).toBe(201);
      dbs.push(created.body.data.db_name);
    }
    const appToken = await s.client.login(`/api/${onEu2}/auth/login`, 'admin@localhost', 'changeme');
    proxy.down();
    await new Promise((r) => setTimeout(r, 100));

    const entities = await s.client.get(`/api/${onEu2}/_admin/entities`, { token: appToken });
    expect([entities.status, entities.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    expect(entities.headers.get('retry-after')).toMatch(/^\d+$/);
    const login = await s.client.post(`/api/${onEu2}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    expect([login.status, login.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);

    expect((await s.client.get('/ready')).status).toBe(200);
    const shown = await s.client.get(`/api/_platform/apps/${onEu2}`, { token });
    expect([shown.status, shown.body.data?.database]).toEqual([200, 'eu2']);
    expect((await s.client.get('/api/_platform/apps', { token })).status).toBe(200);
    const other = await s.client.login(`/api/${onMain}/auth/login`, 'admin@localhost', 'changeme');
    expect((await s.client.get(`/api/${onMain}/_admin/entities`, { token: other })).status).toBe(200);

    // Creating an app there now: the server is unavailable (503), and nothing is left behind.
    const late = uniqueName('a11late');
    const refused = await s.client.post('/api/_platform/apps', { token, body: { name: late, database: 'eu2' } });
    expect([refused.status, refused.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await s.client.get(`/api/_platform/apps/${late}`, { token })).status).toBe(404);

    // An instance started meanwhile starts and serves the other apps; the app on the down server is a 503 there too.
    const second = await startTestServer(
      { ROCKET_DATABASES: s.config.databases ? JSON.stringify(s.config.databases) : '{}', ROCKET_DB_WAIT_MS: '300' },
      {
        managementDb: s.managementDb,
        dataDir: s.dataDir,
      },
    );
    try {
      expect((await second.client.get('/ready')).status).toBe(200);
      const there = await second.client.get(`/api/${onEu2}/_admin/entities`, { token: appToken });
      expect([there.status, there.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect((await second.client.get(`/api/${onMain}/_admin/entities`, { token: other })).status).toBe(200);
      // Deleting it now cannot drop its database: 503, and the app stays.
      const removal = await second.client.delete(`/api/_platform/apps/${onEu2}`, { token: second.platformToken });
      expect([removal.status, removal.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect((await second.client.get(`/api/_platform/apps/${onEu2}`, { token })).body.data?.status).toBe('active');

      proxy.up();
      await new Promise((r) => setTimeout(r, 2500));
      expect((await s.client.get(`/api/${onEu2}/_admin/entities`, { token: appToken })).status).toBe(200);
      expect((await second.client.get(`/api/${onEu2}/_admin/entities`, { token: appToken })).status).toBe(200);
    } finally {
      await second.rocket.close();
    }
  }, 90_000);
});

describe('probes while the management database is down (operations.md §Health and metrics)', () => {
  it('/health 200, /ready 503 with the envelope, /metrics still 200 with its series; /ready 200 again once it is back', async () => {
    const proxy = await downableProxy();
    const pg = new URL(inject('pgUrl'));
    const managementDb = `a11ops_${uniqueName('')}`;
    const boot = sql();
    await boot.unsafe(`CREATE DATABASE "${managementDb}"`);
    await boot.end();
    const s = await startTestServer(
      {
        DATABASE_URL: `postgres://${pg.username || 'postgres'}${pg.password ? `:${pg.password}` : ''}@127.0.0.1:${proxy.port}/${managementDb}`,
        ROCKET_DB_WAIT_MS: '300',
        ROCKET_METRICS: 'true',
      },
      { managementDb, dataDir: mkdtempSync(join(tmpdir(), 'a11-')) },
    );
    try {
      proxy.down();
      await new Promise((r) => setTimeout(r, 100));
      expect((await s.client.get('/health')).status).toBe(200);
      const ready = await s.client.get('/ready');
      expect([ready.status, ready.body.error?.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      const metrics = await fetch(`${s.rocket.url}/metrics`);
      const text = await metrics.text();
      expect(metrics.status).toBe(200);
      expect(text).toContain('rocket_http_requests_total');
      expect(text).toContain('rocket_db_pool_in_use');
      proxy.up();
      await new Promise((r) => setTimeout(r, 2500));
      expect((await s.client.get('/ready')).body).toEqual({ status: 'ready' });
    } finally {
      proxy.up();
      await s.rocket.close();
      await proxy.close();
      const db = sql();
      await db.unsafe(`DROP DATABASE IF EXISTS "${managementDb}" WITH (FORCE)`);
      await db.end();
    }
  }, 60_000);
});

describe('GET /api/_platform/apps is ordered by name whatever the database locale (multi-app.md §App API)', () => {
  it('names with "-" and "_" come in code point order also on a management database with a linguistic collation', async () => {
    const managementDb = `a11icu_${uniqueName('')}`;
    const boot = sql();
    // Docker's postgres image and most distributions initialise with a linguistic locale (en_US): ICU en-US stands for it.
    await boot.unsafe(`CREATE DATABASE "${managementDb}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
    await boot.end();
    const s = await startTestServer({}, { managementDb, dataDir: mkdtempSync(join(tmpdir(), 'a11-')) });
    const p = uniqueName('a11o');
    const names = [`${p}b`, `${p}_b`, `${p}-c`];
    try {
      for (const name of names) expect((await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name } })).status).toBe(201);
      const listed = await s.client.get('/api/_platform/apps', { token: s.platformToken });
      expect(listed.body.data.map((a: { name: string }) => a.name)).toEqual([`${p}-c`, `${p}_b`, `${p}b`]);
    } finally {
      for (const name of names) await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken }).catch(() => undefined);
      await s.rocket.close();
      const db = sql();
      await db.unsafe(`DROP DATABASE IF EXISTS "${managementDb}" WITH (FORCE)`);
      await db.end();
    }
  }, 60_000);
});

describe('an app creation whose CREATE DATABASE fails (multi-app.md §App API: any failure → 500 "Failed to create app: …")', () => {
  it('a placement server whose role may not create databases answers 500 INTERNAL_ERROR with the reason, and creates nothing', async () => {
    const role = `a11nocreate_${uniqueName('')}`;
    const admin = sql();
    await admin.unsafe(`CREATE ROLE "${role}" LOGIN NOCREATEDB`);
    const pg = new URL(inject('pgUrl'));
    const url = `postgres://${role}${pg.password ? `:${pg.password}` : ''}@${pg.hostname}:${pg.port || 5432}/`;
    if (pg.password) await admin.unsafe(`ALTER ROLE "${role}" PASSWORD '${decodeURIComponent(pg.password).replace(/'/g, "''")}'`);
    const s = await startTestServer({ ROCKET_DATABASES: JSON.stringify({ eu3: url }) });
    const name = uniqueName('a11perm');
    try {
      const res = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name, database: 'eu3' } });
      expect([res.status, res.body]).toEqual([
        500,
        { error: { code: 'INTERNAL_ERROR', message: 'Failed to create app: permission denied to create database' } },
      ]);
      expect((await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken })).status).toBe(404);
      expect(await admin`SELECT 1 FROM pg_database WHERE datname = ${`rocket_${name}`}`).toHaveLength(0);
    } finally {
      await s.close();
      await admin.unsafe(`DROP ROLE IF EXISTS "${role}"`);
      await admin.end();
    }
  }, 60_000);
});

/** The `rocket` command as a real process. */
function rocket(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', PLATFORM_JWT_SECRET: 'x'.repeat(40), ROCKET_DATA_DIR: mkdtempSync(join(tmpdir(), 'a11-')), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => proc.once('exit', (code) => resolve({ code, stderr })));
}

describe('rocket start --workers whose database cannot be used (operations.md §Command line)', () => {
  it('says in one line what to check, as a single-process start does (not a request\'s "try again shortly")', async () => {
    const pg = new URL(inject('pgUrl'));
    const [unreachable, refused] = await Promise.all([
      rocket(['start', '--workers', '2'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rocket', PORT: '0' }),
      rocket(['start', '--workers', '2'], {
        DATABASE_URL: `postgres://no_such_a11_role@${pg.hostname}:${pg.port || 5432}/postgres`,
        PORT: '0',
        ROCKET_DB_WAIT_MS: '200',
      }),
    ]);
    expect([unreachable.code, unreachable.stderr.trim().split('\n').at(-1)]).toEqual([
      1,
      'rocket: failed to start: The database cannot be reached: check DATABASE_URL (`rocket doctor` says more)',
    ]);
    // PostgreSQL's reason depends on its authentication method: trust says the role does not exist, a
    // password method (the embedded server's) that the password failed.
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(
      /^rocket: failed to start: The database refuses connections \((role "no_such_a11_role" does not exist|password authentication failed for user "no_such_a11_role")\): check DATABASE_URL \(`rocket doctor` says more\)$/,
    );
  }, 60_000);
});

describe('a ROCKET_DATABASES server name that breaks the rule (operations.md §Command line: a one-line message)', () => {
  it('is named with the rule it breaks, exit 2', async () => {
    const bad = await rocket(['apps', 'list'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rocket',
      ROCKET_DATABASES: '{"EU":"postgres://h/"}',
    });
    expect([bad.code, bad.stderr]).toEqual([
      2,
      'rocket: invalid setting ROCKET_DATABASES.EU: server names are lowercase letters, digits and underscores\n',
    ]);
  }, 30_000);
});
