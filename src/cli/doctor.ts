import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, checkListenSafety, loadConfig, type Config } from '../config.js';
import { Database, type ConnectionOptions } from '../db/database.js';
import { runningEmbedded } from '../db/embedded.js';
import { serverOfUrl } from '../db/server.js';
import type { Output } from './output.js';
import { makeDirectory } from '../directories.js';

/** `rocket doctor`: what is wrong with this installation, and what to do about it. */

type Status = 'ok' | 'warn' | 'fail';

export interface Check {
  check: string;
  status: Status;
  message: string;
}

const MIN_SERVER_VERSION = 140000;

function urlTarget(url: string): ConnectionOptions {
  // Diagnose the first refusal itself instead of waiting and reporting 503.
  return { ...serverOfUrl(url), database: 'postgres', max: 1, connectWaitMs: 0 };
}

/** Why a connection failed, in words. */
function refusal(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code === 'ECONNREFUSED' ? 'connection refused' : (e.message ?? String(err));
}

async function databaseCheck(config: Config): Promise<Check> {
  let target: ConnectionOptions;
  if (config.databaseUrl) {
    target = urlTarget(config.databaseUrl);
  } else {
    const running = await runningEmbedded(config.dataDir);
    if (!running) {
      return {
        check: 'database',
        status: 'ok',
        message: `embedded PostgreSQL (no DATABASE_URL): not running now; \`rocket start\` starts it from ${join(config.dataDir, 'pg')}`,
      };
    }
    target = { ...running, database: 'postgres', max: 1, connectWaitMs: 0 };
  }
  const where = `${target.host}:${target.port}`;
  const source = config.databaseUrl ? 'check DATABASE_URL' : `check the embedded cluster in ${config.dataDir}`;
  const db = new Database(target);
  try {
    const [row] = await db.query<{ version: string; num: string; max: string; used: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
              current_setting('max_connections') AS max, (SELECT count(*) FROM pg_stat_activity)::text AS used`,
    );
    const version = Number(row!.num);
    const free = Number(row!.max) - Number(row!.used);
    if (version < MIN_SERVER_VERSION) {
      return { check: 'database', status: 'fail', message: `PostgreSQL ${row!.version} at ${where}: Rocket needs 14 or newer` };
    }
    const needed = config.poolSize + config.appPoolSize;
    const message = `PostgreSQL ${row!.version} at ${where}; ${free} of ${row!.max} connections free`;
    if (free < needed) {
      return {
        check: 'database',
        status: 'warn',
        message: `${message}: fewer than ROCKET_POOL_SIZE + ROCKET_APP_POOL_SIZE (${needed}); raise max_connections or lower the pool sizes`,
      };
    }
    return { check: 'database', status: 'ok', message };
  } catch (err) {
    return { check: 'database', status: 'fail', message: `cannot reach PostgreSQL at ${where} (${refusal(err)}): ${source}` };
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** Each placement server of ROCKET_DATABASES: apps placed there fail when it cannot be reached. */
async function placementChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  for (const [name, url] of Object.entries(config.databases)) {
    const target = urlTarget(url);
    const db = new Database(target);
    const check = `database ${name}`;
    try {
      const [row] = await db.query<{ version: string }>(`SELECT current_setting('server_version') AS version`);
      checks.push({ check, status: 'ok', message: `PostgreSQL ${row!.version} at ${target.host}:${target.port}` });
    } catch (err) {
      checks.push({
        check,
        status: 'fail',
        message: `cannot reach PostgreSQL at ${target.host}:${target.port} (${refusal(err)}): apps placed on "${name}" fail; check ROCKET_DATABASES`,
      });
    } finally {
      await db.close().catch(() => undefined);
    }
  }
  return checks;
}

async function writableCheck(check: string, setting: string, dir: string): Promise<Check> {
  const probe = join(dir, `.rocket-doctor-${process.pid}`);
  try {
    await makeDirectory(dir);
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
    return { check, status: 'ok', message: `${dir} is writable` };
  } catch (err) {
    return { check, status: 'fail', message: `${dir} is not writable (${(err as Error).message}): fix its permissions or set ${setting}` };
  }
}

function passwordCheck(config: Config): Check {
  try {
    checkListenSafety(config);
  } catch (err) {
    // `rocket start` refuses this configuration: a failure, not a warning.
    if (err instanceof ConfigError) return { check: 'platform password', status: 'fail', message: err.message };
    throw err;
  }
  return config.platformPassword === 'changeme'
    ? {
        check: 'platform password',
        status: 'warn',
        message: 'the platform admin password is the default "changeme": set ROCKET_PLATFORM_PASSWORD before the first start',
      }
    : { check: 'platform password', status: 'ok', message: 'set' };
}

function securityChecks(config: Config): Check[] {
  const checks: Check[] = [passwordCheck(config)];
  checks.push(
    config.platformJwtSecret
      ? { check: 'platform secret', status: 'ok', message: 'PLATFORM_JWT_SECRET is set' }
      : {
          check: 'platform secret',
          status: 'ok',
          message: `generated once in ${config.dataDir}; set PLATFORM_JWT_SECRET when running several instances`,
        },
  );
  return checks;
}

export async function runDoctor(): Promise<Check[]> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) return [{ check: 'configuration', status: 'fail', message: err.message }];
    throw err;
  }
  return [
    { check: 'configuration', status: 'ok', message: 'valid' },
    await databaseCheck(config),
    ...(await placementChecks(config)),
    await writableCheck('storage', 'ROCKET_STORAGE_PATH', config.storagePath),
    await writableCheck('data directory', 'ROCKET_DATA_DIR', config.dataDir),
    ...securityChecks(config),
  ];
}

const MARK: Record<Status, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** Prints the checks; true when none failed. */
export async function doctor(out: Output): Promise<boolean> {
  const checks = await runDoctor();
  const failed = checks.filter((c) => c.status === 'fail').length;
  out.result(
    { ok: failed === 0, checks },
    [...checks.map((c) => `${MARK[c.status]}  ${c.check}: ${c.message}`), failed ? `${failed} problem(s) to fix` : 'all good'].join('\n'),
  );
  return failed === 0;
}
