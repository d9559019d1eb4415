import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp } from 'node:fs/promises';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Client } from '../support/client.js';
import { SseReader } from '../support/sse.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

/** The `rocket` command, run as a real process straight on the test database. */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: TestServer & { managementDb: string; dataDir: string };
let env: Record<string, string>;

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...env, LOG_LEVEL: 'warn', ...extra };
}

function rocket(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  proc.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) => proc.once('exit', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  server = await startTestServer();
  env = {
    DATABASE_URL: `${inject('pgUrl')}${server.managementDb}`,
    ROCKET_DATA_DIR: server.dataDir,
    ROCKET_STORAGE_PATH: server.config.storagePath,
    PLATFORM_JWT_SECRET: 'x'.repeat(40),
  };
});

afterAll(async () => {
  await server?.close();
});

describe('rocket import and the servers', () => {
  it("an import's sample rows reach a realtime subscriber of a running server, and are audited", async () => {
    const app = await server.createApp();
    const note = {
      name: 'memo',
      table: 'memos',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'text', type: 'string' },
      ],
    };
    expect((await server.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: note })).status).toBe(201);
    const stream = await SseReader.open(server.rocket.url, `/api/${app.name}/_realtime?entities=memo`, { authorization: `Bearer ${app.token}` });
    if (!(stream instanceof SseReader)) throw new Error(`stream refused: ${stream.status}`);
    try {
      await stream.waitFor(1, 'ready');
      const file = join(await mkdtemp(join(tmpdir(), 'rocket-cli-')), 'memos.json');
      writeFileSync(
        file,
        JSON.stringify({ version: 1, entities: [note], sample_data: { memo: [{ text: 'from the cli 1' }, { text: 'from the cli 2' }] } }),
      );
      const imported = await rocket(['--json', 'import', app.name, file]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout).summary.records).toBe(2);
      const events = await stream.waitFor(2, 'change', 15_000);
      expect(events.map((e) => (e.data as { record: { text: string } }).record.text).sort()).toEqual(['from the cli 1', 'from the cli 2']);
      expect(events.every((e) => (e.data as { action: string }).action === 'create')).toBe(true);
      const history = await server.client.get(`/api/${app.name}/_admin/history?entity=memo`, { token: app.token });
      expect(history.body.data).toHaveLength(2);
      expect(history.body.data[0].actor).toMatchObject({ kind: 'system' });
    } finally {
      stream.close();
    }
  }, 120_000);
});

describe('rocket apps, export and import', () => {
  it('creates an app, imports an example, exports it, and the export imports into another app unchanged', async () => {
    const name = uniqueName('cli');
    const created = await rocket(['--json', 'apps', 'create', name, '--admin-email', 'boss@example.com', '--admin-password', 's3cret-pw']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name, db_name: `rocket_${name}`, status: 'active' });

    // The server sees the app and its admin at once.
    const { client, platformToken } = server;
    expect((await client.get(`/api/_platform/apps/${name}`, { token: platformToken })).status).toBe(200);
    const token = await client.login(`/api/${name}/auth/login`, 'boss@example.com', 's3cret-pw');

    const imported = await rocket(['--json', 'import', name, 'test/fixtures/examples/helpdesk-ticketing.json']);
    expect(imported.code, imported.stderr).toBe(0);
    const summary = JSON.parse(imported.stdout);
    expect(summary.summary.entities).toBeGreaterThan(0);
    expect(summary.errors ?? []).toEqual([]);

    const entities = await client.get(`/api/${name}/_admin/entities`, { token });
    expect(entities.body.data.length).toBe(summary.summary.entities);
    // audited like an import through the API, by the system actor
    const log = await client.get(`/api/${name}/_admin/history?entity=_import`, { token });
    expect(log.body.data).toHaveLength(1);
    expect(log.body.data[0]).toMatchObject({ action: 'create', actor: { kind: 'system', id: null } });
    expect(log.body.data[0].changes.summary.to.entities).toBe(summary.summary.entities);
    const first = entities.body.data[0].name as string;
    expect((await client.get(`/api/${name}/${first}`, { token })).status).toBe(200);

    const file = join(await mkdtemp(join(tmpdir(), 'rocket-cli-')), 'export.json');
    const exported = await rocket(['export', name, '-o', file]);
    expect(exported.code, exported.stderr).toBe(0);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    const overHttp = (await client.get(`/api/${name}/_admin/export`, { token })).body.data;
    for (const key of ['entities', 'relations', 'rules', 'state_machines', 'workflows', 'permissions', 'webhooks']) {
      expect(doc[key], key).toEqual(overHttp[key]);
    }

    const copy = await server.createApp();
    const again = await rocket(['import', copy.name, file]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('entities: ');
    const copyDoc = JSON.parse((await rocket(['export', copy.name])).stdout);
    for (const key of ['entities', 'relations', 'rules', 'state_machines', 'workflows', 'webhooks']) {
      expect(copyDoc[key], key).toEqual(doc[key]);
    }

    const list = await rocket(['--json', 'apps', 'list']);
    expect(JSON.parse(list.stdout).map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining([name, copy.name]));

    // a realtime stream of the app on the server: it ends when the command line deletes the app
    const stream = await SseReader.open(server.rocket.url, `/api/${name}/_realtime?entities=${first}`, { authorization: `Bearer ${token}` });
    if (!(stream instanceof SseReader)) throw new Error(`stream refused: ${stream.status}`);
    await stream.waitFor(1, 'ready');
    const refused = await rocket(['apps', 'delete', name]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--yes');
    expect((await client.get(`/api/_platform/apps/${name}`, { token: platformToken })).status).toBe(200);
    const deleted = await rocket(['apps', 'delete', name, '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await client.get(`/api/_platform/apps/${name}`, { token: platformToken })).status).toBe(404);
    expect(await server.rocket.dbServer.databaseExists(`rocket_${name}`)).toBe(false);
    // The server had the app loaded: it drops it on the command line's notice (404, not 500s on a dropped database).
    const gone = await until('the deleted app answers 404', 3000, async () => {
      const res = await client.get(`/api/${name}/_admin/entities`, { token });
      return res.status === 404 ? res : undefined;
    });
    expect(gone.body.error).toEqual({ code: 'APP_NOT_FOUND', message: `App not found: ${name}` });
    await until('the stream of the deleted app ends', 3000, async () => (stream.ended ? true : undefined));
    // A new app of the same name: the deleted app's token is refused there, the new admin's accepted.
    expect((await rocket(['apps', 'create', name, '--admin-email', 'boss@example.com', '--admin-password', 'other-pw-1'])).code).toBe(0);
    expect((await client.get(`/api/${name}/_admin/entities`, { token })).status).toBe(401);
    const fresh = await client.login(`/api/${name}/auth/login`, 'boss@example.com', 'other-pw-1');
    expect((await client.get(`/api/${name}/_admin/entities`, { token: fresh })).body.data).toEqual([]);
    expect((await rocket(['apps', 'delete', name, '--yes'])).code).toBe(0);
  }, 300_000);

  it('answers bad input with one line and a non-zero exit code, changing nothing', async () => {
    const [unknownApp, badName, missingFile, unknownCommand, badWorkers, badSetting, json] = await Promise.all([
      rocket(['export', 'no_such_app']),
      rocket(['apps', 'create', 'Bad Name']),
      rocket(['import', 'whatever', '/nonexistent/file.json']),
      rocket(['frobnicate']),
      rocket(['start', '--workers', 'zero']),
      rocket(['apps', 'list'], { env: { PORT: 'eighty' } }),
      rocket(['--json', 'export', 'no_such_app']),
    ]);
    expect(unknownApp.code).toBe(1);
    expect(unknownApp.stderr.trim()).toBe('rocket: app not found: no_such_app');
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^rocket: App name must be/);
    expect(missingFile.code).toBe(1);
    expect(missingFile.stderr).toContain('/nonexistent/file.json');
    expect(unknownCommand.code).not.toBe(0);
    expect(unknownCommand.stderr).toBe("rocket: unknown command 'frobnicate' (see rocket --help)\n");
    expect(badWorkers.code).toBe(2);
    expect(badWorkers.stderr).toContain('--workers');
    expect(badSetting.code).toBe(2);
    expect(badSetting.stderr).toContain('PORT');
    // ROCKET_WORKERS is a setting like any other: one out of range is named as such, and doctor reports it
    const [manyWorkers, doctorWorkers] = await Promise.all([
      rocket(['start'], { env: { ROCKET_WORKERS: '300' } }),
      rocket(['doctor'], { env: { ROCKET_WORKERS: '300' } }),
    ]);
    expect([manyWorkers.code, manyWorkers.stderr]).toEqual([
      2,
      'rocket: invalid setting ROCKET_WORKERS: must be a number of processes from 1 to 256 or "auto"\n',
    ]);
    expect(doctorWorkers.code).toBe(1);
    expect(doctorWorkers.stdout).toContain('FAIL  configuration: invalid setting ROCKET_WORKERS');
    expect(JSON.parse(json.stdout)).toEqual({ error: 'app not found: no_such_app' });
    // usage errors: one line, JSON with --json; a rocket.yaml that is not YAML is a bad setting (2), in one line
    const tooMany = await rocket(['--json', 'apps', 'create', 'a', 'b']);
    expect(tooMany.code).toBe(1);
    expect(JSON.parse(tooMany.stdout).error).toMatch(/^too many arguments/);
    expect(tooMany.stderr.trim().split('\n')).toHaveLength(1);
    const dir = mkdtempSync(join(tmpdir(), 'rocket-yaml-'));
    writeFileSync(join(dir, 'rocket.yaml'), 'pool_size: [\n');
    const unreachable = await rocket(['apps', 'list'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rocket' } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe('rocket: The database cannot be reached; try again shortly\n');
    const badYaml = await rocket(['apps', 'list'], { env: { ROCKET_CONFIG: join(dir, 'rocket.yaml') } });
    expect(badYaml.code).toBe(2);
    expect(badYaml.stderr).toMatch(/^rocket: .*rocket\.yaml: not valid YAML: .+\n$/);
    const apps = await server.client.get('/api/_platform/apps', { token: server.platformToken });
    expect(apps.body.data.map((a: { name: string }) => a.name)).not.toContain('Bad Name');
    // a missing command: one line naming the commands (JSON with --json), not the whole help
    const [noCommand, noAppsCommand] = await Promise.all([rocket([]), rocket(['--json', 'apps'])]);
    expect([noCommand.code, noCommand.stderr]).toEqual([
      1,
      'rocket: rocket needs a command: start, apps, export, import, users, doctor (see rocket --help)\n',
    ]);
    expect(noAppsCommand.code).toBe(1);
    expect(JSON.parse(noAppsCommand.stdout)).toEqual({ error: 'rocket apps needs a command: list, create, delete (see rocket apps --help)' });
    expect(noAppsCommand.stderr.trim().split('\n')).toHaveLength(1);
    // a start that cannot reach its database: one line saying what to check, no stack trace
    const start = await rocket(['start'], {
      env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rocket', PORT: String(await freePort()), LOG_FORMAT: 'pretty' },
    });
    expect(start.code).toBe(1);
    expect(start.stderr.trim().split('\n').at(-1)).toBe(
      'rocket: failed to start: The database cannot be reached: check DATABASE_URL (`rocket doctor` says more)',
    );
    expect(`${start.stdout}${start.stderr}`).not.toMatch(/^\s+at /m);
    // a database that answers but refuses the login: PostgreSQL's reason is in that line
    const refused = await rocket(['start'], {
      env: { DATABASE_URL: 'postgres://no_such_rocket_role@127.0.0.1:5432/postgres', PORT: String(await freePort()), ROCKET_DB_WAIT_MS: '200' },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n').at(-1)).toBe(
      'rocket: failed to start: The database refuses connections (role "no_such_rocket_role" does not exist): check DATABASE_URL (`rocket doctor` says more)',
    );
  }, 300_000);
});

describe('rocket import of a file that is not JSON', () => {
  it('answers one line naming the file, also with --json', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rocket-cli-')), 'broken.json');
    // JSON.parse quotes the text around the error, line breaks included.
    writeFileSync(file, '{\n  "version": 1,\n  "entities": ,\n  "x": 2\n}\n');
    const app = await server.createApp();
    const [plain, json] = await Promise.all([rocket(['import', app.name, file]), rocket(['--json', 'import', app.name, file])]);
    expect(plain.code).toBe(1);
    expect(plain.stderr.endsWith('\n')).toBe(true);
    expect(plain.stderr.slice(0, -1)).not.toContain('\n');
    expect(plain.stderr).toMatch(new RegExp(`^rocket: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: Unexpected token .* is not valid JSON\n$`));
    expect(plain.stdout).toBe('');
    expect(json.code).toBe(1);
    expect(json.stdout.split('\n')).toHaveLength(2);
    expect(JSON.parse(json.stdout).error).toBe(plain.stderr.slice('rocket: '.length, -1));
    const entities = await server.client.get(`/api/${app.name}/_admin/entities`, { token: app.token });
    expect(entities.body.data).toEqual([]);
  }, 60_000);
});

describe('rocket users', () => {
  it('creates users and resets a locked-out admin so they can log in again', async () => {
    const app = await server.createApp();
    const created = await rocket(['--json', 'users', 'create', app.name, 'Editor@Example.com', '--roles', 'editor,viewer']);
    expect(created.code, created.stderr).toBe(0);
    const user = JSON.parse(created.stdout);
    expect(user).toMatchObject({ email: 'editor@example.com', roles: ['editor', 'viewer'], active: true });
    expect(user.password).toMatch(/^\S{12,}$/);
    await server.client.login(`/api/${app.name}/auth/login`, 'editor@example.com', user.password);

    const piped = await rocket(['users', 'create', app.name, 'piped@example.com', '--password-stdin'], { stdin: 'from-stdin-pw\n' });
    expect(piped.code, piped.stderr).toBe(0);
    await server.client.login(`/api/${app.name}/auth/login`, 'piped@example.com', 'from-stdin-pw');

    const duplicate = await rocket(['users', 'create', app.name, 'piped@example.com']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('already exists');

    // Lock the admin out with wrong passwords.
    for (let i = 0; i < server.config.loginMaxFailures; i++) {
      await server.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'wrong' } });
    }
    const locked = await server.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    expect(locked.status).toBe(429);

    const noStdin = await rocket(['users', 'reset-password', app.name, 'admin@localhost']);
    expect(noStdin.code).toBe(1);
    expect(noStdin.stderr).toContain('--password-stdin');
    const unknown = await rocket(['users', 'reset-password', app.name, 'nobody@example.com', '--password-stdin'], { stdin: 'x' });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('User not found');

    const reset = await rocket(['users', 'reset-password', app.name, 'admin@localhost', '--password-stdin'], { stdin: 'brand-new-pw\n' });
    expect(reset.code, reset.stderr).toBe(0);
    // the admin's access token from before the reset is revoked once the server hears of it from the CLI process
    let stale = 0;
    for (let i = 0; i < 50 && stale !== 401; i++) {
      if (i > 0) await new Promise((done) => setTimeout(done, 100));
      stale = (await server.client.get(`/api/${app.name}/_admin/users`, { token: app.token })).status;
    }
    expect(stale).toBe(401);
    const login = await server.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'brand-new-pw' } });
    expect(login.status).toBe(200);
    const token = login.body.data.access_token as string;
    // both creations and the reset are in the audit log, by the system actor, without any password or hash
    const audit = await server.client.get(`/api/${app.name}/_admin/history?entity=_users`, { token });
    expect(audit.status).toBe(200);
    const byCli = (audit.body.data as Array<{ action: string; actor: { kind: string }; record_id: string }>).filter((e) => e.actor.kind === 'system');
    expect(byCli.map((e) => e.action).sort()).toEqual(['create', 'create', 'update']);
    expect(byCli.map((e) => e.record_id)).toContain(user.id);
    expect(JSON.stringify(audit.body)).not.toMatch(/password|\$argon2/);
    const old = await server.client.post(`/api/${app.name}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
    expect(old.status).toBe(401);
  }, 300_000);
});

describe('rocket doctor', () => {
  it('reports a healthy installation and exits 0', async () => {
    const ok = await rocket(['--json', 'doctor']);
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.ok).toBe(true);
    expect(report.checks.find((c: { check: string }) => c.check === 'database')).toMatchObject({ status: 'ok' });
  }, 60_000);

  it('names an unreachable DATABASE_URL and exits 1', async () => {
    const bad = await rocket(['doctor'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rocket' } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL\s+database: cannot reach PostgreSQL at 127\.0\.0\.1:1 \(connection refused\): check DATABASE_URL/);
    const json = await rocket(['--json', 'doctor'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rocket' } });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false });

    const invalid = await rocket(['doctor'], { env: { DATABASE_URL: 'mysql://nope' } });
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain('DATABASE_URL');
  }, 60_000);

  it('checks every placement server, and fails (never spins) on a storage path that cannot be made', async () => {
    const run = await rocket(['--json', 'doctor'], {
      env: { ROCKET_STORAGE_PATH: '/proc/rocket-doctor/uploads', ROCKET_DATABASES: '{"eu2":"postgres://postgres@127.0.0.1:1/"}' },
    });
    expect(run.code).toBe(1);
    const checks = JSON.parse(run.stdout).checks as Array<{ check: string; status: string; message: string }>;
    expect(checks.find((c) => c.check === 'database eu2')).toEqual({
      check: 'database eu2',
      status: 'fail',
      message: 'cannot reach PostgreSQL at 127.0.0.1:1 (connection refused): apps placed on "eu2" fail; check ROCKET_DATABASES',
    });
    expect(checks.find((c) => c.check === 'storage')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^\/proc\/rocket-doctor\/uploads is not writable \(ENOENT/),
    });
  }, 60_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function childPids(pid: number): Promise<number[]> {
  const ps = spawn('pgrep', ['-P', String(pid)]);
  let out = '';
  ps.stdout.on('data', (c) => (out += c));
  await new Promise((r) => ps.once('exit', r));
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - started > ms) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('rocket start --workers', () => {
  it('serves from two worker processes and replaces a worker that is killed', async () => {
    const port = await freePort();
    const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--workers', '2'], {
      env: cliEnv({ PORT: String(port), HOST: '127.0.0.1' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const client = new Client(`http://127.0.0.1:${port}`);
      const healthy = async () => ((await client.get('/health')).status === 200 ? true : undefined);
      await until('health', 90_000, healthy);
      const workers = await until('two workers', 60_000, async () => {
        const pids = await childPids(proc.pid!);
        return pids.length === 2 ? pids : undefined;
      });

      process.kill(workers[0]!, 'SIGKILL');
      const replaced = await until('a replacement worker', 60_000, async () => {
        const pids = await childPids(proc.pid!);
        return pids.length === 2 && !pids.includes(workers[0]!) ? pids : undefined;
      });
      expect(replaced).toContain(workers[1]);
      await until('health after the replacement', 60_000, healthy);
      const token = await client.login('/api/_platform/auth/login', server.config.platformEmail, server.config.platformPassword);
      for (let i = 0; i < 6; i++) expect((await client.get('/api/_platform/apps', { token })).status).toBe(200);
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 240_000);
});
