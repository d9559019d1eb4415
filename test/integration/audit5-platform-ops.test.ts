import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PlatformAdminEmails } from '../../src/auth/platform-admin-emails.js';
import { loadConfig } from '../../src/config.js';
import { Database } from '../../src/db/database.js';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { startRocket } from '../../src/rocket.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

const PLATFORM_EMAIL = 'ops-root@example.test';
let s: TestServer & { managementDb: string; dataDir: string };
let app: { name: string; token: string };
let platformAdminId: string;

const uuid = { field: 'id', type: 'uuid', generated: true };
const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown, token = s.platformToken) =>
  s.client[method](`/api/${app.name}${path}`, { token, body });

beforeAll(async () => {
  s = await startTestServer({ ROCKET_PLATFORM_EMAIL: PLATFORM_EMAIL });
  app = await s.createApp();
  const rows = await s.rocket.services.platform.db.query<{ id: string }>('SELECT id::text FROM _platform_users WHERE email = $1', [PLATFORM_EMAIL]);
  platformAdminId = rows[0]!.id;
});
afterAll(async () => {
  await s?.close();
});

describe('history actor of a platform admin token', () => {
  it('record writes, cascades on its behalf and metadata changes carry the platform admin email', async () => {
    const parent = await call('post', '/_admin/entities', {
      name: 'folder',
      table: 'folders',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
      ],
    });
    expect(parent.status, JSON.stringify(parent.body)).toBe(201);
    const child = await call('post', '/_admin/entities', {
      name: 'note',
      table: 'notes',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'folder_id', type: 'uuid' },
        { name: 'body', type: 'string' },
      ],
    });
    expect(child.status).toBe(201);
    const rel = await call('post', '/_admin/relations', {
      name: 'notes',
      type: 'one_to_many',
      source: 'folder',
      target: 'note',
      target_key: 'folder_id',
      on_delete: 'cascade',
    });
    expect(rel.status, JSON.stringify(rel.body)).toBe(201);

    const folder = await call('post', '/folder', { title: 'a', notes: { data: [{ body: 'n' }] } });
    expect(folder.status, JSON.stringify(folder.body)).toBe(201);
    const id = folder.body.data.id as string;
    expect((await call('put', `/folder/${id}`, { title: 'b' })).status).toBe(200);
    expect((await call('delete', `/folder/${id}`)).status).toBe(200);

    const platformActor = { kind: 'platform', id: platformAdminId, email: PLATFORM_EMAIL };
    const folderLog = await call('get', `/_admin/history?entity=folder&record_id=${id}`);
    expect(folderLog.status).toBe(200);
    expect(folderLog.body.data.map((e: { action: string }) => e.action)).toEqual(['delete', 'update', 'create']);
    for (const entry of folderLog.body.data) expect(entry.actor).toEqual(platformActor);

    const noteLog = await call('get', '/_admin/history?entity=note');
    const [noteDel, noteCreate] = noteLog.body.data;
    expect(noteDel).toMatchObject({ action: 'delete', actor: { kind: 'system', id: platformAdminId, email: PLATFORM_EMAIL } });
    // A nested child is written by the request itself.
    expect(noteCreate).toMatchObject({ action: 'create', actor: platformActor });

    const meta = await call('get', '/_admin/history?entity=_entities&record_id=folder');
    expect(meta.status).toBe(200);
    expect(meta.body.data[0]).toMatchObject({ action: 'create', actor: platformActor });
    const relMeta = await call('get', '/_admin/history?entity=_relations');
    expect(relMeta.body.data[0].actor).toEqual(platformActor);

    // The app's own admin is still recorded as itself.
    const own = await call('post', '/folder', { title: 'mine' }, app.token);
    const ownLog = await call('get', `/_admin/history?entity=folder&record_id=${own.body.data.id}`);
    expect(ownLog.body.data[0].actor).toMatchObject({ kind: 'user', email: 'admin@localhost' });
  });
});

describe('platform admin email cache', () => {
  it('reads an admin once, answers from memory, and picks up an edited email after a minute without making a request wait', async () => {
    const db = s.rocket.services.platform.db;
    let now = 1_000_000;
    const emails = new PlatformAdminEmails(db, () => now);
    expect(await emails.get(platformAdminId)).toBe(PLATFORM_EMAIL);
    expect(await emails.get('00000000-0000-4000-8000-000000000000')).toBeNull();
    await db.query('UPDATE _platform_users SET email = $2 WHERE id = $1', [platformAdminId, 'renamed@example.test']);
    try {
      now += 30_000;
      expect(await emails.get(platformAdminId)).toBe(PLATFORM_EMAIL);
      now += 31_000;
      // Stale: answered with the old email at once, read again in the background.
      expect(await emails.get(platformAdminId)).toBe(PLATFORM_EMAIL);
      await expect.poll(() => emails.get(platformAdminId)).toBe('renamed@example.test');
    } finally {
      await db.query('UPDATE _platform_users SET email = $2 WHERE id = $1', [platformAdminId, PLATFORM_EMAIL]);
    }
  });

  it('a management database that cannot answer leaves the email null for that request, and is asked again next time', async () => {
    let down = true;
    const flaky = {
      query: async (sql: string, params: unknown[]) => {
        if (down) throw new Error('connection refused');
        return s.rocket.services.platform.db.query(sql, params as never[]);
      },
    } as unknown as Database;
    const emails = new PlatformAdminEmails(flaky);
    expect(await emails.get(platformAdminId)).toBeNull();
    down = false;
    expect(await emails.get(platformAdminId)).toBe(PLATFORM_EMAIL);
  });
});

/** A port something else already listens on. */
async function takenPort(): Promise<{ port: number; holder: Server }> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  return { port: (holder.address() as { port: number }).port, holder };
}

describe('a start that fails', () => {
  it('leaves no realtime heartbeat behind (other instances would wait for a server that never serves)', async () => {
    const mgmt = s.rocket.services.platform.db;
    const instances = async () =>
      (await mgmt.query<{ origin: string }>('SELECT origin FROM _realtime_instances ORDER BY origin')).map((r) => r.origin);
    const before = await instances();
    const { port, holder } = await takenPort();
    try {
      const config = loadConfig({
        DATABASE_URL: `${inject('pgUrl')}${s.managementDb}`,
        ROCKET_DATA_DIR: s.dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        ROCKET_PLATFORM_EMAIL: PLATFORM_EMAIL,
      });
      await expect(startRocket(config, pino({ level: 'silent' }))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      holder.close();
    }
    expect(await instances()).toEqual(before);
  });

  it('rocket start --workers: workers that cannot start die and are replaced, then the primary gives up with exit 1', async () => {
    const { port, holder } = await takenPort();
    try {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--workers', '2'], {
        env: {
          ...process.env,
          DATABASE_URL: `${inject('pgUrl')}${s.managementDb}`,
          ROCKET_DATA_DIR: s.dataDir,
          PLATFORM_JWT_SECRET: 'p'.repeat(40),
          ROCKET_PLATFORM_EMAIL: PLATFORM_EMAIL,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      proc.stdout.on('data', (c) => (output += c));
      proc.stderr.on('data', (c) => (output += c));
      // Without the fix the workers linger after their failed start, and the primary waits forever.
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve(null);
        }, 170_000);
        proc.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code, output.slice(-2000)).toBe(1);
      expect(output).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(output).toContain('workers keep dying; giving up');
      expect(output.match(/worker died; starting a new one/g)?.length).toBeGreaterThanOrEqual(9);
    } finally {
      holder.close();
    }
  }, 180_000);
});

describe('the same app name created at once on two placement servers', () => {
  let second: EmbeddedServer;
  let secondDir: string;
  let placed: TestServer;
  let secondAdmin: Database;

  beforeAll(async () => {
    secondDir = await mkdtemp(join(tmpdir(), 'rocket-test-pg2-'));
    await chmod(secondDir, 0o755); // PostgreSQL runs as the postgres user when we are root
    second = await startEmbedded(secondDir, 50000 + Math.floor(Math.random() * 5000), pino({ level: 'warn' }));
    const url = `postgres://${second.user}:${encodeURIComponent(second.password)}@${second.host}:${second.port}/`;
    secondAdmin = new Database({ host: second.host, port: second.port, user: second.user, password: second.password, database: 'postgres', max: 1 });
    placed = await startTestServer({ ROCKET_DATABASES: JSON.stringify({ eu2: url }) });
  }, 120_000);
  afterAll(async () => {
    await placed?.close();
    await secondAdmin?.close();
    await second?.stop();
    if (secondDir) await rm(secondDir, { recursive: true, force: true });
  });

  it('one wins; the other is 409 "App already exists: <name>" and leaves no database on its server', async () => {
    const on = async (db: Database, name: string) => (await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).length;
    for (let round = 0; round < 3; round++) {
      const name = uniqueName('race-');
      const dbName = `rocket_${name.replace(/-/g, '_')}`;
      const create = (database: string) => placed.client.post('/api/_platform/apps', { token: placed.platformToken, body: { name, database } });
      const [main, eu2] = await Promise.all([create('main'), create('eu2')]);
      const statuses = [main.status, eu2.status].sort();
      expect(statuses, JSON.stringify([main.body, eu2.body])).toEqual([201, 409]);
      const loser = main.status === 409 ? main : eu2;
      expect(loser.body.error).toEqual({ code: 'CONFLICT', message: `App already exists: ${name}` });
      const shown = await placed.client.get(`/api/_platform/apps/${name}`, { token: placed.platformToken });
      const winner = shown.body.data.database as string;
      expect(winner).toBe(main.status === 201 ? 'main' : 'eu2');
      expect(await on(secondAdmin, dbName)).toBe(winner === 'eu2' ? 1 : 0);
      expect(await on(placed.rocket.services.platform.db, dbName)).toBe(winner === 'main' ? 1 : 0);
      expect((await placed.client.delete(`/api/_platform/apps/${name}`, { token: placed.platformToken })).status).toBe(200);
    }
  });
});
