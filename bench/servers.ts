import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';

/** application_name of the ceiling's connections (Rocket's are 'rocket'). */
export const CEILING_APPLICATION = 'rocket-bench-ceiling';

/** Where PostgreSQL is: DATABASE_URL's server, or the one Rocket embeds (known once Rocket is up). */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
}

export function connect(pg: PgTarget, database: string, max = 2): postgres.Sql {
  return postgres({ ...pg, database, max, onnotice: () => undefined, connection: { application_name: 'rocket-bench' } });
}

/** A free TCP port on loopback (asked of the OS, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755); // embedded PostgreSQL runs as the postgres user when we are root
  return dir;
}

/** A server process under test: spawned node, its log file, its RSS. */
/** A `--pin` value: CPU numbers as `taskset -c` takes them (0, 0,2, 0-1), checked before anything starts. */
export function cpuList(value: string | undefined): string | undefined {
  if (value !== undefined && !/^\d+([-,]\d+)*$/.test(value)) throw new Error('--pin takes CPU numbers as taskset -c does, e.g. 0 or 0,2');
  return value;
}

export class ServerProcess {
  private exited: Promise<number | null>;
  private dead = false;

  private constructor(
    readonly name: string,
    readonly url: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    void this.exited.then(() => (this.dead = true));
  }

  static async start(opts: {
    name: string;
    script: string;
    env: NodeJS.ProcessEnv;
    port: number;
    logFile: string;
    nodeArgs?: string[];
    readyTimeoutMs?: number;
    /** CPUs the process (its threads, its workers) may run on, as `taskset -c` takes them; default any. */
    cpus?: string;
  }): Promise<ServerProcess> {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    const args = [...(opts.nodeArgs ?? []), opts.script];
    // taskset execs node in its own process: the pid stays the server's, and every thread it starts inherits the set.
    const child = spawn(opts.cpus ? 'taskset' : process.execPath, opts.cpus ? ['-c', opts.cpus, process.execPath, ...args] : args, {
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const server = new ServerProcess(opts.name, `http://127.0.0.1:${opts.port}`, child, opts.logFile);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    while (Date.now() < deadline) {
      if (server.dead) throw new Error(`${opts.name} exited during start-up; see ${opts.logFile}:\n${tail(opts.logFile)}`);
      try {
        const res = await fetch(`${server.url}/health`);
        if (res.ok) return server;
      } catch {
        /* not listening yet */
      }
      await sleep(200);
    }
    await server.stop();
    throw new Error(`${opts.name} did not answer /health in time; see ${opts.logFile}`);
  }

  get alive(): boolean {
    return !this.dead;
  }

  /**
   * The server's node processes: the spawned one and, for Rocket with `--workers`, its cluster
   * workers (node children; the embedded PostgreSQL it may have spawned is not counted here).
   */
  pids(): number[] {
    const pid = this.child.pid!;
    const out = [pid];
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) {
          const child = Number(c);
          if (!Number.isInteger(child) || child <= 0) continue;
          const argv0 = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')[0];
          if (argv0 === process.execPath) out.push(child);
        }
      }
    } catch {
      /* not Linux, or a process ended meanwhile */
    }
    return out;
  }

  /** Resident set size in MB of the server's node processes (Linux /proc), or NaN elsewhere. */
  rssMb(): number {
    let total = 0;
    for (const pid of this.pids()) {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (!m) return NaN;
        total += Number(m[1]) / 1024;
      } catch {
        if (pid === this.child.pid) return NaN;
      }
    }
    return total;
  }

  /** SIGINT (graceful: Rocket closes its pools and embedded database), SIGKILL after a grace period. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.dead) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Samples a process's RSS while a run lasts; returns the peak. */
export function sampleRss(server: ServerProcess, everyMs = 200): () => number {
  let peak = server.rssMb();
  const timer = setInterval(() => {
    const v = server.rssMb();
    if (v > peak || Number.isNaN(peak)) peak = v;
  }, everyMs);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/** The embedded server's credentials, as Rocket left them in its data directory. */
export async function embeddedTarget(dataDir: string, port: number): Promise<PgTarget> {
  const password = (await readFile(join(dataDir, 'pg-password'), 'utf8')).trim();
  return { host: '127.0.0.1', port, user: 'postgres', password };
}

export function urlTarget(databaseUrl: string): PgTarget {
  const url = new URL(databaseUrl);
  return {
    host: decodeURIComponent(url.hostname) || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || 'postgres',
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

/** `DATABASE_URL` with another database name. */
export function withDatabase(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** CPU time (user + system) a process has used so far, in ms; NaN when /proc cannot tell. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15, in clock ticks (USER_HZ = 100 on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** Read and write system calls a process has made so far (/proc/<pid>/io; every thread of it), NaN once it is gone. */
export function syscalls(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const count = (key: string) => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
    return count('syscr') + count('syscw');
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU used by a server process and by the PostgreSQL backends serving its pool
 * (found by database and application_name), between start() and the returned stop().
 */
export async function cpuMeter(
  server: ServerProcess,
  sql: postgres.Sql,
  database: string,
  application: string,
): Promise<() => Promise<{ serverMs: number; pgMs: number; serverSyscalls: number }>> {
  const backends = async () =>
    new Map(
      (await sql.unsafe('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [database, application])).map(
        (r) => [r.pid as number, cpuMs(r.pid as number)] as const,
      ),
    );
  // Every node process of the server (cluster workers too), each from its own start value.
  const server0 = new Map(server.pids().map((pid) => [pid, cpuMs(pid)] as const));
  const calls0 = new Map(server.pids().map((pid) => [pid, syscalls(pid)] as const));
  const pg0 = await backends();
  return async () => {
    let serverMs = 0;
    let serverSyscalls = 0;
    for (const pid of server.pids()) {
      const now = cpuMs(pid);
      if (!Number.isNaN(now)) serverMs += now - (server0.get(pid) ?? 0);
      const calls = syscalls(pid);
      if (!Number.isNaN(calls)) serverSyscalls += calls - (calls0.get(pid) ?? 0);
    }
    let pgMs = 0;
    for (const [pid, now] of await backends()) pgMs += now - (pg0.get(pid) ?? 0);
    return { serverMs, pgMs, serverSyscalls };
  };
}

/** A JSON request to a server under test: status and parsed body. */
export async function jsonApi(base: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Rocket from source (tsx) on a management database of its own on DATABASE_URL's server, for the
 * feature benchmarks; `drop` removes that database and the given apps' databases once the server stopped.
 */
export async function startRocketFromSource(databaseUrl: string, prefix: string, nodeArgs: string[] = [], cpus?: string) {
  const tag = Math.random().toString(36).slice(2, 8);
  const mgmtDb = `${prefix}_mgmt_${tag}`;
  const port = await freePort();
  const dataDir = await tempDir(`rocket-${prefix}-`);
  const server = await ServerProcess.start({
    name: 'rocket',
    script: join('src', 'main.ts'),
    nodeArgs: ['--import', 'tsx', ...nodeArgs],
    env: {
      ...process.env,
      DATABASE_URL: withDatabase(databaseUrl, mgmtDb),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ROCKET_DATA_DIR: dataDir,
      ROCKET_CONFIG: '',
    },
    port,
    logFile: join(dataDir, 'rocket.log'),
    cpus,
  });
  const drop = async (apps: readonly string[]) => {
    const admin = connect(urlTarget(databaseUrl), 'postgres', 1);
    for (const app of apps) await admin.unsafe(`DROP DATABASE IF EXISTS "rocket_${app}" WITH (FORCE)`).catch(() => undefined);
    await admin.unsafe(`DROP DATABASE IF EXISTS "${mgmtDb}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  };
  return { server, tag, drop };
}
