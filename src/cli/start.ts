import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { DatabaseServer } from '../db/server.js';
import { platformSecret } from '../platform/secrets.js';
import { openCore, startRocket } from '../rocket.js';
import { RocketError } from '../errors.js';
import { CliError } from './output.js';

/** What a stopping process gets beyond the shutdown timeout before it exits regardless. */
const FORCE_EXIT_GRACE_MS = 20_000;

/** Runs the server in this process until SIGINT/SIGTERM, then stops after in-flight requests. */
export async function serve(config: Config, log: Logger): Promise<void> {
  let rocket: Awaited<ReturnType<typeof startRocket>>;
  try {
    rocket = await startRocket(config, log);
  } catch (err) {
    const failure = startError(err, config, log);
    // A worker's channel to the primary keeps it alive after a failed start: it would linger serving
    // nothing, and the primary would neither replace it nor give up. It ends here, seen as a dying worker.
    if (cluster.isWorker) {
      process.stderr.write(`rocket: ${failure.message}\n`);
      process.exit(1);
    }
    throw failure;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // A last resort if closing hangs: after the in-flight requests had their ROCKET_SHUTDOWN_TIMEOUT_MS, and
    // time to stop the jobs and close the pools.
    const force = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + FORCE_EXIT_GRACE_MS);
    force.unref();
    rocket.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** A failed start as one line: what an operator can fix says what to change; only the unexpected is logged with its stack. */
function startError(err: unknown, config: Config, log: Logger): CliError {
  const known = startFailure(err, config);
  if (known === undefined) log.error({ err }, 'failed to start');
  return new CliError(`failed to start: ${known ?? (err as Error).message ?? String(err)}`);
}

/** The one-line reason of a start-up failure the configuration explains, with what to change; undefined otherwise. */
function startFailure(err: unknown, config: Config): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `port ${config.port} on ${config.host} is in use: stop what listens there or set PORT`;
  // ENOTFOUND: a HOST name that does not resolve (the database's host is reported as unreachable below).
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return `cannot listen on ${config.host}:${config.port} (${code}): set HOST and PORT`;
  if (err instanceof RocketError && err.code === 'SERVICE_UNAVAILABLE') {
    const where = config.databaseUrl ? 'check DATABASE_URL' : `check the embedded PostgreSQL in ${config.dataDir}`;
    // PostgreSQL's own words when it answered (a role that does not exist, a wrong password), not a socket error's.
    const said = err.cause as { message?: unknown; severity?: unknown } | undefined;
    const reason = typeof said?.severity === 'string' && typeof said.message === 'string' ? ` (${said.message})` : '';
    return `${err.message.replace(/; try again shortly$/, '')}${reason}: ${where} (\`rocket doctor\` says more)`;
  }
  return undefined;
}

/** `--workers` / ROCKET_WORKERS: a count, or `auto` for one per CPU. */
export function workerCount(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return availableParallelism();
  // Digits only, as ROCKET_WORKERS takes them: Number() would read "1e2" as 100 and "0x2" as 2.
  if (!/^[1-9][0-9]{0,2}$/.test(value) || Number(value) > 256) {
    throw new CliError(`--workers must be a number from 1 to 256 or "auto", not "${value}"`, 2);
  }
  return Number(value);
}

/** A worker that dies this often is not replaced forever: the primary gives up. */
const RESTART_WINDOW_MS = 60_000;
const MAX_RESTARTS_IN_WINDOW = 10;

/**
 * The cluster primary: it owns what must exist once — the embedded PostgreSQL, the generated
 * platform secret, the management database's first start — and then forks workers that share the
 * port (node:cluster). A worker that dies is replaced; SIGINT/SIGTERM stop every worker gracefully.
 */
export async function servePrimary(config: Config, log: Logger, workers: number): Promise<void> {
  const secret = await platformSecret(config.dataDir, config.platformJwtSecret);
  let databaseUrl = config.databaseUrl;
  let embedded: DatabaseServer | undefined;
  try {
    if (!databaseUrl) {
      embedded = await DatabaseServer.start(config, log);
      databaseUrl = embedded.url(embedded.managementDb);
    }
    // Management database, migrations and seed once, before any worker races for them.
    const core = await openCore({ ...config, databaseUrl }, log);
    await core.close();
  } catch (err) {
    // Said as a single-process start says it (what to check), not as a request's "try again shortly".
    await embedded?.stop().catch(() => undefined);
    throw startError(err, config, log);
  }

  const env = { DATABASE_URL: databaseUrl, PLATFORM_JWT_SECRET: secret, ROCKET_WORKERS: '1' };
  let stopping = false;
  const restarts: number[] = [];
  const fork = (): Worker => cluster.fork(env);

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS_IN_WINDOW) {
      log.fatal({ restarts: restarts.length }, 'workers keep dying; giving up');
      void shutdown('workers failing', 1);
      return;
    }
    log.warn({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
    fork();
  });

  const shutdown = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'stopping workers');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    await embedded?.stop();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  log.info({ workers }, 'starting workers');
  for (let i = 0; i < workers; i++) fork();
}
