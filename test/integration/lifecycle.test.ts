import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { describe, expect, inject, it } from 'vitest';
import { Client } from '../support/client.js';
import { startTestServer, uniqueName } from '../support/server.js';

const uuid = { field: 'id', type: 'uuid', generated: true };

describe('restart and isolation', () => {
  it('a restart over the same database and data directory keeps apps, users and tokens', async () => {
    const first = await startTestServer();
    const app = await first.createApp();
    const users = await first.client.post(`/api/${app.name}/_admin/users`, {
      token: app.token,
      body: { email: 'keep@x.io', password: 'pw-123456', roles: ['admin'] },
    });
    expect(users.status).toBe(201);
    await first.rocket.close();

    const second = await startTestServer({}, { managementDb: first.managementDb, dataDir: first.dataDir });
    try {
      const apps = await second.client.get('/api/_platform/apps', { token: first.platformToken });
      expect(apps.status).toBe(200); // same platform secret from the data directory
      expect(apps.body.data.map((a: { name: string }) => a.name)).toContain(app.name);
      const token = await second.client.login(`/api/${app.name}/auth/login`, 'keep@x.io', 'pw-123456');
      expect((await second.client.get(`/api/${app.name}/_admin/entities`, { token })).status).toBe(200);
      expect((await second.client.get(`/api/${app.name}/_admin/entities`, { token: app.token })).status).toBe(200);
    } finally {
      await second.client.delete(`/api/_platform/apps/${app.name}`, { token: second.platformToken });
      await second.rocket.close();
      await second.rocket.dbServer.dropDatabase(first.managementDb);
    }
  });

  it("two apps have separate databases and refuse each other's tokens", async () => {
    const s = await startTestServer();
    try {
      const a = await s.createApp();
      const b = await s.createApp();
      const entity = { name: 'thing', table: 'things', primary_key: uuid, fields: [{ name: 'id', type: 'uuid' }] };
      expect((await s.client.post(`/api/${a.name}/_admin/entities`, { token: a.token, body: entity })).status).toBe(201);
      const inA = await (await s.rocket.services.apps.get(a.name))!.db.query(`SELECT to_regclass('public.things') AS t`);
      const inB = await (await s.rocket.services.apps.get(b.name))!.db.query(`SELECT to_regclass('public.things') AS t`);
      expect(inA[0]!.t).toBe('things');
      expect(inB[0]!.t).toBeNull();
      expect((await s.client.get(`/api/${b.name}/thing`, { token: b.token })).status).toBe(404);
      const cross = await s.client.get(`/api/${b.name}/_admin/entities`, { token: a.token });
      expect(cross.status).toBe(401);
      expect(cross.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid or expired token' });
      // platform admins are admins in every app
      expect((await s.client.get(`/api/${b.name}/_admin/entities`, { token: s.platformToken })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('unknown apps answer 404 APP_NOT_FOUND before authentication', async () => {
    const s = await startTestServer();
    try {
      const res = await s.client.get('/api/ghost/anything');
      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({ code: 'APP_NOT_FOUND', message: 'App not found: ghost' });
    } finally {
      await s.close();
    }
  });
});

describe('several instances on one database', () => {
  it('metadata changes and user revocations made on one instance apply on the other at once', async () => {
    const a = await startTestServer();
    const b = await startTestServer({}, { managementDb: a.managementDb, dataDir: a.dataDir });
    try {
      const app = await a.createApp();
      const entity = {
        name: 'note',
        table: 'notes',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'body', type: 'string' },
        ],
      };
      // b loads the app on first use, before the entity exists
      expect((await b.client.get(`/api/${app.name}/_admin/entities`, { token: app.token })).body.data).toEqual([]);
      expect((await a.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: entity })).status).toBe(201);
      let res: Awaited<ReturnType<typeof b.client.post>> | undefined;
      for (let i = 0; i < 50; i++) {
        res = await b.client.post(`/api/${app.name}/note`, { token: app.token, body: { body: 'hi' } });
        if (res.status === 201) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(res!.status).toBe(201);

      const user = await a.client.post(`/api/${app.name}/_admin/users`, {
        token: app.token,
        body: { email: 'u@x.io', password: 'pw-123456', roles: ['admin'] },
      });
      const token = await b.client.login(`/api/${app.name}/auth/login`, 'u@x.io', 'pw-123456');
      expect((await b.client.get(`/api/${app.name}/note`, { token })).status).toBe(200);
      await a.client.put(`/api/${app.name}/_admin/users/${user.body.data.id}`, { token: app.token, body: { email: 'u@x.io', active: false } });
      let status = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        status = (await b.client.get(`/api/${app.name}/note`, { token })).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(401);
    } finally {
      await b.rocket.close();
      await a.close();
    }
  });
});

/** The last few KB a started process wrote to stderr: read all along, since an undrained pipe blocks the child once full. */
const stderrTail = new WeakMap<ChildProcess, string>();

function waitFor(url: string, ms: number, proc?: ChildProcess): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const res = await fetch(url);
        if (res.ok) return resolve(Date.now() - started);
      } catch {
        /* not up yet */
      }
      if (Date.now() - started > ms) {
        const tail = proc ? stderrTail.get(proc) : undefined;
        return reject(new Error(`not up after ${ms} ms${tail ? `; its stderr ended with:\n${tail}` : ''}`));
      }
      setTimeout(tick, 200);
    };
    void tick();
  });
}

function startProcess(env: Record<string, string>): ChildProcess {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...clean, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  stderrTail.set(proc, '');
  proc.stderr!.on('data', (c: Buffer) => stderrTail.set(proc, ((stderrTail.get(proc) ?? '') + c.toString()).slice(-4000)));
  return proc;
}

const exited = (p: ChildProcess) => new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (code) => r(code))));

describe('the server process with the embedded database', () => {
  it('starts with no DATABASE_URL, survives kill -9, restarts on the same data and stops cleanly', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'rocket-embedded-'));
    await chmod(dataDir, 0o755);
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const pgPort = String(40000 + Math.floor(Math.random() * 20000));
    const env = { ROCKET_DATA_DIR: dataDir, PORT: port, HOST: '127.0.0.1', ROCKET_EMBEDDED_PG_PORT: pgPort };
    const base = `http://127.0.0.1:${port}`;
    const client = new Client(base);

    let proc = startProcess(env);
    expect(await waitFor(`${base}/health`, 60_000, proc)).toBeLessThan(60_000);
    const token = await client.login('/api/_platform/auth/login', 'platform@localhost', 'changeme');
    const name = uniqueName('emb');
    expect((await client.post('/api/_platform/apps', { token, body: { name } })).status).toBe(201);

    proc.kill('SIGKILL');
    await exited(proc);
    proc = startProcess(env);
    await waitFor(`${base}/health`, 60_000, proc);
    const again = await client.login('/api/_platform/auth/login', 'platform@localhost', 'changeme');
    const apps = await client.get('/api/_platform/apps', { token: again });
    expect(apps.body.data.map((a: { name: string }) => a.name)).toContain(name);
    expect((await client.get('/api/_platform/apps', { token })).status).toBe(200); // same secret

    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
    // the embedded PostgreSQL went down with it: a new start must initialise nothing and come up again
    proc = startProcess(env);
    await waitFor(`${base}/health`, 60_000, proc);
    proc.kill('SIGINT');
    expect(await exited(proc)).toBe(0);
  }, 180_000);

  it('refuses to start with an invalid setting and names it', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (c) => (stderr += c));
    expect(await exited(proc)).toBe(2);
    expect(stderr).toContain('PORT');
  });
});

describe('rocket.yaml in the legacy form', () => {
  it('reads server.*, database.pool_size, storage.*, a list allowlist and empty keys, ignores jwt_secret; the environment still wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rocket-legacy-yaml-'));
    const yaml = join(dir, 'rocket.yaml');
    await writeFile(
      yaml,
      [
        'server:',
        '  port: 1', // PORT=0 of the environment wins
        'database:',
        '  pool_size: 3',
        'storage:',
        `  local_path: ${join(dir, 'files')}`,
        '  max_file_size: 100',
        'webhook_env_allowlist: [API_KEY, SVC_*]',
        'jwt_secret: the-legacy-single-secret', // exists in the legacy form, unused with per-app secrets
        'log_format:',
        '',
      ].join('\n'),
    );
    const s = await startTestServer({ ROCKET_CONFIG: yaml, ROCKET_POOL_SIZE: '' });
    try {
      expect(s.config.port).toBe(0);
      expect(s.config.poolSize).toBe(3);
      expect(s.config.storagePath).toBe(join(dir, 'files'));
      expect(s.config.webhookEnvAllowlist).toEqual(['API_KEY', 'SVC_*']);
      expect(s.config.logFormat).toBe('auto');
      const app = await s.createApp();
      const upload = async (bytes: number) => {
        const form = new FormData();
        form.append('file', new Blob([Buffer.alloc(bytes, 1)]), 'f.bin');
        const res = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
          method: 'POST',
          headers: { authorization: `Bearer ${app.token}` },
          body: form,
        });
        return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
      };
      expect((await upload(100)).status).toBe(201);
      expect(await upload(101)).toEqual({
        status: 413,
        body: { error: { code: 'FILE_TOO_LARGE', message: 'File too large: 101 bytes (max 100)' } },
      });
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names an invalid value by its yaml key, and an unknown nested key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rocket-legacy-yaml-'));
    try {
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'server:\n  port: eighty\n');
      await expect(startTestServer({ ROCKET_CONFIG: bad, PORT: '' })).rejects.toThrow(
        `invalid setting PORT (server.port in ${bad}): must be a whole number from 0 to 65535`,
      );
      await writeFile(bad, 'storage:\n  path: /tmp\n');
      await expect(startTestServer({ ROCKET_CONFIG: bad })).rejects.toThrow(`${bad}: unknown setting "storage.path"`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown of the server process', () => {
  it('waits for an in-flight request as long as ROCKET_SHUTDOWN_TIMEOUT_MS allows, past 30 s, and exits 0', async () => {
    const s = await startTestServer();
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const proc = startProcess({
      DATABASE_URL: `${inject('pgUrl')}${s.managementDb}`,
      ROCKET_DATA_DIR: s.dataDir,
      PORT: port,
      ROCKET_SHUTDOWN_TIMEOUT_MS: '60000',
    });
    try {
      const app = await s.createApp();
      const entity = {
        name: 'note',
        table: 'notes',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'body', type: 'text' },
        ],
      };
      expect((await s.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: entity })).status).toBe(201);
      await waitFor(`http://127.0.0.1:${port}/health`, 30_000, proc);

      // A create whose body arrives over 33 s: SIGTERM comes 1 s in, the answer after the old fixed 30 s cut-off.
      const body = Buffer.from(JSON.stringify({ body: 'x'.repeat(3300) }));
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: `/api/${app.name}/note`,
            headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json', 'content-length': body.length },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        let sent = 0;
        const timer = setInterval(() => {
          const next = Math.min(body.length, sent + 100);
          req.write(body.subarray(sent, next));
          sent = next;
          if (sent === body.length) {
            clearInterval(timer);
            req.end();
          }
        }, 1000);
      });
      await new Promise((r) => setTimeout(r, 1000));
      proc.kill('SIGTERM');
      const res = await answer;
      expect(res.status, res.text).toBe(201);
      expect(await exited(proc)).toBe(0);
      const id = (JSON.parse(res.text) as { data: { id: string } }).data.id;
      expect((await s.client.get(`/api/${app.name}/note/${id}`, { token: app.token })).body.data.body).toBe('x'.repeat(3300));
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await s.close();
    }
  }, 90_000);
});
