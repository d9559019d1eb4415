import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { Database } from '../../src/db/database.js';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

// Apps placed on a second PostgreSQL server (spec: operations.md §Placing apps): a second embedded cluster.
let second: EmbeddedServer;
let secondDir: string;
let s: TestServer;
let secondAdmin: Database;

const databasesOn = async (db: Database, name: string) => (await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).length;

/** Listeners on the process events that decide how it ends. */
const exitHooks = () => Object.fromEntries((['SIGINT', 'SIGTERM', 'beforeExit', 'exit'] as const).map((e) => [e, process.listenerCount(e)]));
let hooksAdded: { before: Record<string, number>; after: Record<string, number> };

beforeAll(async () => {
  secondDir = await mkdtemp(join(tmpdir(), 'rocket-test-pg2-'));
  await chmod(secondDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  const log = pino({ level: 'warn' }); // pino hooks exit itself (to flush): created outside the measured window
  const hooksBefore = exitHooks();
  second = await startEmbedded(secondDir, 50000 + Math.floor(Math.random() * 5000), log);
  hooksAdded = { before: hooksBefore, after: exitHooks() };
  const url = `postgres://${second.user}:${encodeURIComponent(second.password)}@${second.host}:${second.port}/`;
  secondAdmin = new Database({ host: second.host, port: second.port, user: second.user, password: second.password, database: 'postgres', max: 1 });
  s = await startTestServer({ ROCKET_DATABASES: JSON.stringify({ eu2: url }) });
}, 120_000);
afterAll(async () => {
  await s?.close();
  await secondAdmin?.close();
  await second?.stop();
  await rm(secondDir, { recursive: true, force: true });
});

describe('placement on several PostgreSQL servers', () => {
  it('starting an embedded cluster leaves the exit and signal handling alone (its library would exit 0 on beforeExit, hiding failed tests)', () => {
    expect(hooksAdded.after).toEqual(hooksAdded.before);
  });

  it('an app created with "database" lives on that server end to end, and is deleted cleanly', async () => {
    const name = uniqueName('eu-');
    const created = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name, database: 'eu2' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data).toEqual({
      name,
      display_name: name,
      db_name: `rocket_${name.replace(/-/g, '_')}`,
      db_driver: 'postgres',
      status: 'active',
    });
    const dbName = created.body.data.db_name as string;
    expect(await databasesOn(secondAdmin, dbName)).toBe(1);
    expect(await databasesOn(s.rocket.services.platform.db, dbName)).toBe(0);

    const shown = await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(shown.body.data).toMatchObject({ name, database: 'eu2' });
    const listed = await s.client.get('/api/_platform/apps', { token: s.platformToken });
    expect(listed.body.data.find((a: { name: string }) => a.name === name).database).toBe('eu2');

    // Schema, records and logins all on the second server.
    const token = await s.client.login(`/api/${name}/auth/login`, 'admin@localhost', 'changeme');
    const entity = await s.client.post(`/api/${name}/_admin/entities`, {
      token,
      body: {
        name: 'city',
        table: 'cities',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'title', type: 'string', required: true },
        ],
      },
    });
    expect(entity.status).toBe(201);
    expect((await s.client.post(`/api/${name}/city`, { token, body: { title: 'Lyon' } })).status).toBe(201);
    expect((await s.client.get(`/api/${name}/city`, { token })).body.data.map((c: { title: string }) => c.title)).toEqual(['Lyon']);
    const onSecond = new Database({ host: second.host, port: second.port, user: second.user, password: second.password, database: dbName, max: 1 });
    try {
      expect(await onSecond.query('SELECT title FROM cities')).toEqual([{ title: 'Lyon' }]);
    } finally {
      await onSecond.close();
    }

    expect((await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken })).status).toBe(200);
    expect(await databasesOn(secondAdmin, dbName)).toBe(0);
    expect((await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken })).status).toBe(404);
  });

  it('apps without "database" stay on main; an unknown or malformed server name is a 422 that creates nothing', async () => {
    const plain = await s.createApp();
    expect((await s.client.get(`/api/_platform/apps/${plain.name}`, { token: s.platformToken })).body.data.database).toBe('main');
    for (const database of ['mars', 7, ['eu2'], { name: 'eu2' }]) {
      const name = uniqueName('bad-');
      const res = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name, database } });
      expect(res.status, JSON.stringify(database)).toBe(422);
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'database must be one of: main, eu2' });
      expect((await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken })).status).toBe(404);
      expect(await databasesOn(secondAdmin, `rocket_${name.replace(/-/g, '_')}`)).toBe(0);
    }
  });

  it('ROCKET_DATABASES must be a JSON object of names to postgres:// URLs', () => {
    expect(loadConfig({ ROCKET_DATABASES: '{"eu2":"postgres://u@h:5432/"}' }).databases).toEqual({ eu2: 'postgres://u@h:5432/' });
    expect(loadConfig({}).databases).toEqual({});
    for (const bad of ['nope', '["postgres://h/"]', '{"eu2":"mysql://h/"}', '{"EU":"postgres://h/"}']) {
      expect(() => loadConfig({ ROCKET_DATABASES: bad }), bad).toThrow(ConfigError);
    }
  });
});
