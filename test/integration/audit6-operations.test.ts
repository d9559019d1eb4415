import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Database } from '../../src/db/database.js';
import { RocketError } from '../../src/errors.js';
import { openCore, startRocket } from '../../src/rocket.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

/** Audit of operations.md (command line, settings, start-up) against the `rocket` command run as a process. */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: TestServer & { managementDb: string; dataDir: string };
let env: Record<string, string>;
const extraDbs: string[] = [];

/** The command as a real process; one still running after `limitMs` is killed (code null: it hung). */
function rocket(args: string[], extra: Record<string, string> = {}, limitMs = 30_000): Promise<Run> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', ...extra },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  proc.stdin.end('');
  const timer = setTimeout(() => proc.kill('SIGKILL'), limitMs);
  return new Promise((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const UNREACHABLE = 'postgres://postgres@127.0.0.1:1/rocket';

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
  for (const db of extraDbs) await server.rocket.dbServer.dropDatabase(db).catch(() => undefined);
  await server?.close();
});

describe('rocket start --workers', () => {
  it('takes decimal digits only, as ROCKET_WORKERS does: "1e2" and "0x2" are usage errors (exit 2), not 100 and 2 processes', async () => {
    // An unreachable database: a count wrongly accepted ends in "cannot be reached" (exit 1), not in a server.
    const runs = await Promise.all(['1e2', '0x2', '2.0'].map((n) => rocket(['start', '--workers', n], { DATABASE_URL: UNREACHABLE })));
    for (const [i, n] of ['1e2', '0x2', '2.0'].entries()) {
      expect([runs[i]!.code, runs[i]!.stderr]).toEqual([2, `rocket: --workers must be a number from 1 to 256 or "auto", not "${n}"\n`]);
    }
  }, 120_000);
});

describe('a DATABASE_URL or ROCKET_DATABASES URL that cannot be read', () => {
  const message = 'must be a readable URL: check the port, and percent-encode special characters in the user and password';

  it('is a bad setting: exit 2 with one line naming it, for every command; doctor reports it as a failed check', async () => {
    const [badEscape, badPort, badPlacement, start, doctor] = await Promise.all([
      rocket(['apps', 'list'], { DATABASE_URL: 'postgres://us%ZZer@127.0.0.1:5432/x' }),
      rocket(['--json', 'apps', 'list'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:99999/x' }),
      // Before: the management pool's LISTEN connection stayed open and the command never ended.
      rocket(['apps', 'list'], { ROCKET_DATABASES: '{"eu2": "postgres://us%ZZer@127.0.0.1:5432/"}' }, 20_000),
      rocket(['start'], { DATABASE_URL: 'postgres://us%ZZer@127.0.0.1:5432/x', PORT: String(await freePort()) }),
      rocket(['doctor'], { DATABASE_URL: 'postgres://us%ZZer@127.0.0.1:5432/x' }),
    ]);
    expect([badEscape.code, badEscape.stderr]).toEqual([2, `rocket: invalid setting DATABASE_URL: ${message}\n`]);
    expect(badPort.code).toBe(2);
    expect(JSON.parse(badPort.stdout)).toEqual({ error: `invalid setting DATABASE_URL: ${message}` });
    expect([badPlacement.code, badPlacement.stderr]).toEqual([2, `rocket: invalid setting ROCKET_DATABASES.eu2: ${message}\n`]);
    expect([start.code, start.stderr]).toEqual([2, `rocket: invalid setting DATABASE_URL: ${message}\n`]);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(`FAIL  configuration: invalid setting DATABASE_URL: ${message}`);
    expect(doctor.stderr).not.toContain('unexpected error');
  }, 120_000);

  it('a core that fails to open leaves no connection to the management database behind', async () => {
    const managementDb = `a6ops_${uniqueName('')}`;
    extraDbs.push(managementDb);
    const config = loadConfig({
      DATABASE_URL: `${inject('pgUrl')}${managementDb}`,
      ROCKET_DATA_DIR: mkdtempSync(join(tmpdir(), 'rocket-a6ops-')),
      PLATFORM_JWT_SECRET: 'x'.repeat(40),
      LOG_LEVEL: 'silent',
    });
    // Configured programmatically (an embedding, a test), past loadConfig's checks: placement fails after the
    // management pool and its change-bus listener are open.
    await expect(openCore({ ...config, databases: { eu2: 'postgres://us%ZZer@127.0.0.1:5432/' } }, pino({ level: 'silent' }))).rejects.toThrow();
    const count = async () =>
      Number(
        (
          await server.rocket.services.platform.db.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1', [
            managementDb,
          ])
        )[0]!.n,
      );
    const deadline = Date.now() + 3000;
    while ((await count()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await count()).toBe(0);
  }, 60_000);
});

describe('configuration that start refuses or cannot read', () => {
  it('ROCKET_CONFIG naming a directory is one line saying it cannot be read (exit 2), not a YAML syntax error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rocket-a6ops-cfg-'));
    const res = await rocket(['apps', 'list'], { ROCKET_CONFIG: dir });
    expect([res.code, res.stderr]).toEqual([2, `rocket: ${dir}: cannot be read (EISDIR)\n`]);
  }, 60_000);

  it('doctor fails (exit 1) on a non-loopback HOST with the default platform password, which rocket start refuses', async () => {
    const [doctor, start] = await Promise.all([
      rocket(['--json', 'doctor'], { HOST: '0.0.0.0', ROCKET_PLATFORM_PASSWORD: '' }),
      rocket(['start'], { HOST: '0.0.0.0', ROCKET_PLATFORM_PASSWORD: '', PORT: String(await freePort()) }),
    ]);
    expect(start.code).toBe(2);
    expect(start.stderr).toMatch(/^rocket: refusing to listen on HOST=0\.0\.0\.0/);
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: Array<{ check: string; status: string; message: string }> };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === 'platform password')).toEqual({
      check: 'platform password',
      status: 'fail',
      message: start.stderr.slice('rocket: '.length, -1),
    });
  }, 60_000);
});

describe('rocket export -o', () => {
  it('a file that cannot be written is one line naming it (a user error, not "unexpected error")', async () => {
    const app = await server.createApp();
    const res = await rocket(['export', app.name, '-o', '/nonexistent-dir/a6ops/schema.json']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^rocket: \/nonexistent-dir\/a6ops\/schema\.json: ENOENT: no such file or directory[^\n]*\n$/);
  }, 60_000);
});

describe('rocket start on a HOST that does not resolve', () => {
  it('says in one line what to set, with no stack trace', async () => {
    const managementDb = `a6ops_${uniqueName('')}`;
    extraDbs.push(managementDb);
    const port = await freePort();
    const res = await rocket(['start'], {
      DATABASE_URL: `${inject('pgUrl')}${managementDb}`,
      HOST: 'no-such-host.invalid',
      PORT: String(port),
      ROCKET_PLATFORM_PASSWORD: 'a-password-of-my-own',
      LOG_FORMAT: 'pretty',
    });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').at(-1)).toBe(
      `rocket: failed to start: cannot listen on no-such-host.invalid:${port} (ENOTFOUND): set HOST and PORT`,
    );
    expect(`${res.stdout}${res.stderr}`).not.toMatch(/^\s+at /m);
  }, 60_000);
});

/**
 * A TCP proxy to the test PostgreSQL that can go "down" the way a load balancer or connection proxy in front of a
 * stopped database does: it still accepts connections, and hangs up on them at once.
 */
async function hangingUpProxy(): Promise<{ port: number; down(): void; up(): void; close(): Promise<void> }> {
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

/** Settles within ms or says it did not: a hang fails the test instead of timing it out. */
function within<T>(ms: number, p: Promise<T>): Promise<T | 'still waiting'> {
  return Promise.race([p, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms).unref())]);
}

describe('a database whose connections are hung up on during their startup', () => {
  it('a waiting query gets 503 after ROCKET_DB_WAIT_MS (not a wait forever), and the pool serves once it is back', async () => {
    const proxy = await hangingUpProxy();
    const pg = new URL(inject('pgUrl'));
    const db = new Database({
      host: '127.0.0.1',
      port: proxy.port,
      user: decodeURIComponent(pg.username),
      password: pg.password ? decodeURIComponent(pg.password) : undefined,
      database: 'postgres',
      max: 2,
      connectWaitMs: 300,
    });
    try {
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      proxy.down();
      await new Promise((r) => setTimeout(r, 100));
      for (const attempt of [() => db.query('SELECT 2'), () => db.transaction((tx) => tx.query('SELECT 3'))]) {
        const failed = await within(
          5000,
          attempt().then(
            () => 'answered',
            (err: unknown) => err,
          ),
        );
        expect(failed).toBeInstanceOf(RocketError);
        expect(failed).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: 'The database cannot be reached; try again shortly' });
      }
      proxy.up();
      await new Promise((r) => setTimeout(r, 2500));
      expect(await within(5000, db.query('SELECT 4 AS four'))).toEqual([{ four: 4 }]);
    } finally {
      await db.close();
      await proxy.close();
    }
  }, 60_000);

  it('a server answers /ready and app requests with 503 + Retry-After promptly, /health with 200', async () => {
    const proxy = await hangingUpProxy();
    const managementDb = `a6ops_${uniqueName('')}`;
    extraDbs.push(managementDb);
    const pg = new URL(inject('pgUrl'));
    const config = loadConfig({
      DATABASE_URL: `postgres://${pg.username || 'postgres'}${pg.password ? `:${pg.password}` : ''}@127.0.0.1:${proxy.port}/${managementDb}`,
      ROCKET_DATA_DIR: mkdtempSync(join(tmpdir(), 'rocket-a6ops-')),
      PLATFORM_JWT_SECRET: 'x'.repeat(40),
      PORT: '0',
      LOG_LEVEL: 'silent',
      ROCKET_DB_WAIT_MS: '300',
    });
    const rocketServer = await startRocket(config, pino({ level: 'silent' }));
    try {
      proxy.down();
      await new Promise((r) => setTimeout(r, 100));
      const timed = async (path: string, init?: RequestInit) => {
        const started = Date.now();
        const res = await fetch(`${rocketServer.url}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json(), ms: Date.now() - started };
      };
      expect((await timed('/health')).status).toBe(200);
      const ready = await timed('/ready');
      expect([ready.status, ready.body.error.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      for (let i = 0; i < 3; i++) {
        const login = await timed('/api/_platform/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'platform@localhost', password: 'changeme' }),
        });
        expect([login.status, login.retryAfter, login.body.error.code]).toEqual([503, '2', 'SERVICE_UNAVAILABLE']);
        expect(login.ms).toBeLessThan(2500);
      }
    } finally {
      proxy.up();
      await rocketServer.close();
      await proxy.close();
    }
  }, 90_000);
});
