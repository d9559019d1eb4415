import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { parse as ParseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Server settings: environment variables win over an optional rocket.yaml
 * (path in ROCKET_CONFIG, default ./rocket.yaml). Validated once at start-up;
 * an invalid value stops the server with a message naming the setting.
 */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  managementDb: string;
  platformJwtSecret: string | undefined;
  platformEmail: string;
  platformPassword: string;
  logLevel: string;
  /** `pretty` lines, `json` lines, or `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: 'auto' | 'pretty' | 'json';
  poolSize: number;
  appPoolSize: number;
  embeddedPgPort: number;
  bodyLimit: number;
  loginMaxFailures: number;
  loginLockSeconds: number;
  /** Root directory of uploaded files (`<root>/<app>/<file id>/<filename>`), absolute. */
  storagePath: string;
  /** Largest accepted upload in bytes. */
  maxFileSize: number;
  /** Environment variables webhook header templates may read: exact names or `PREFIX_*` patterns. */
  webhookEnvAllowlist: string[];
  /** Webhooks never call loopback, private, link-local or cloud-metadata addresses. */
  webhookDenyPrivateNetworks: boolean;
  /** Server processes `rocket start` runs (node:cluster); `auto` = one per CPU. */
  workers: string;
  /** Web origins whose browser pages may call the API (CORS); `*` for any; empty: same origin only. */
  corsOrigins: string[];
  /** `count=estimated` returns the planner's estimate from this many matching rows on. */
  countEstimateThreshold: number;
  // --- operations (operations.md) ---
  /** Seconds an unused pool connection stays open; an app's runtime is unloaded after this without requests. */
  poolIdleSeconds: number;
  /** How long a request waits for PostgreSQL to accept a connection before 503 (ms). */
  dbWaitMs: number;
  /** Longest wait for in-flight requests on shutdown (ms). */
  shutdownTimeoutMs: number;
  /** Serve GET /metrics. */
  metrics: boolean;
  /** Bearer token /metrics requires, when set. */
  metricsToken: string | undefined;
  /** History entries older than this many days are pruned; undefined keeps them forever. */
  historyRetentionDays: number | undefined;
  /** PostgreSQL servers apps can be placed on, by name; `main` (when absent) is the management database's server. */
  databases: Record<string, string>;
  // --- realtime (realtime.md) ---
  /** The change feed keeps at least this many of an app's last events for Last-Event-ID resume… */
  realtimeRetainEvents: number;
  /** …or every event younger than this many seconds, whichever keeps more. */
  realtimeRetainSeconds: number;
  /** A stream with more events than this waiting for its reader gets `reset` and is closed. */
  realtimeMaxQueue: number;
  /** Seconds between `: ping` comments on an idle stream (at most 15). */
  realtimePingSeconds: number;
}

export const DEFAULT_PLATFORM_PASSWORD = 'changeme';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  // Decimal digits only: Number() would read a blank value as 0 (PORT=" " listening on a random port) and
  // "0x1F90" as 8080.
  const digits = (v: unknown) => (v === undefined ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN);
  return z.preprocess(digits, z.number({ error: message }).int(message).min(min, message).max(max, message));
};

const ENV_PATTERN = /^(\*|[A-Za-z_][A-Za-z0-9_]*\*?)$/;

/** A comma-separated setting as its non-empty, trimmed items. */
const commaList = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );

const envAllowlist = commaList().refine(
  (list) => list.every((s) => ENV_PATTERN.test(s)),
  'must be a comma-separated list of variable names or PREFIX_* patterns',
);

/** A web origin as browsers send it in `Origin`: scheme, host and port only (`https://app.example.com`). */
const isOrigin = (s: string): boolean => {
  try {
    const url = new URL(s);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === s;
  } catch {
    return false;
  }
};

const corsOrigins = commaList().refine(
  (list) => (list.length === 1 && list[0] === '*') || list.every(isOrigin),
  'must be * or a comma-separated list of origins such as https://app.example.com (scheme, host and port, no path)',
);

/**
 * The server is read from the URL with WHATWG URL and its parts percent-decoded (db/server.ts), so a URL that
 * fails either way is a bad setting here, not an unexpected error when the first connection is made.
 */
function readablePostgresUrl(v: string): boolean {
  try {
    const url = new URL(v);
    for (const part of [url.username, url.password, url.hostname, url.pathname]) decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}
const UNREADABLE_URL = 'must be a readable URL: check the port, and percent-encode special characters in the user and password';

/** Placement servers: a JSON object of server name → postgres:// URL (spec: operations.md §Placing apps). */
const databaseServers = z
  .string()
  .default('{}')
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of server name → postgres:// URL' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'server names are lowercase letters, digits and underscores'),
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
        .refine(readablePostgresUrl, UNREADABLE_URL),
    ),
  );

const bool = (fallback: boolean) =>
  z
    .string()
    .default(String(fallback))
    .transform((v) => v.trim().toLowerCase())
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v), 'must be true or false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .refine(readablePostgresUrl, UNREADABLE_URL)
    .optional(),
  ROCKET_DATA_DIR: z.string().min(1).default('./data'),
  ROCKET_MANAGEMENT_DB: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase PostgreSQL identifier')
    .default('rocket'),
  PLATFORM_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ROCKET_PLATFORM_EMAIL: z
    .string()
    .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address')
    .default('platform@localhost'),
  ROCKET_PLATFORM_PASSWORD: z.string().min(1).default(DEFAULT_PLATFORM_PASSWORD),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
  ROCKET_POOL_SIZE: int(1, 1000).default(10),
  ROCKET_APP_POOL_SIZE: int(1, 1000).default(10),
  ROCKET_EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  ROCKET_BODY_LIMIT: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  ROCKET_LOGIN_MAX_FAILURES: int(1, 1000).default(5),
  ROCKET_LOGIN_LOCK_SECONDS: int(1, 86400).default(300),
  ROCKET_STORAGE_PATH: z.string().min(1).default('./uploads'),
  ROCKET_MAX_FILE_SIZE: int(1, Number.MAX_SAFE_INTEGER).default(10 * 1024 * 1024),
  ROCKET_WEBHOOK_ENV_ALLOWLIST: envAllowlist,
  ROCKET_CORS_ORIGINS: corsOrigins,
  ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS: bool(false),
  ROCKET_WORKERS: z
    .string()
    .regex(/^(auto|[1-9][0-9]{0,2})$/, 'must be a number of processes from 1 to 256 or "auto"')
    .refine((v) => v === 'auto' || Number(v) <= 256, 'must be a number of processes from 1 to 256 or "auto"')
    .default('1'),
  ROCKET_COUNT_ESTIMATE_THRESHOLD: int(0, Number.MAX_SAFE_INTEGER).default(10_000),
  ROCKET_POOL_IDLE_SECONDS: int(1, 86400).default(30),
  ROCKET_DB_WAIT_MS: int(0, 600_000).default(2000),
  ROCKET_SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(10_000),
  ROCKET_METRICS: bool(false),
  ROCKET_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  ROCKET_HISTORY_RETENTION_DAYS: int(1, 365_000).optional(),
  ROCKET_DATABASES: databaseServers,
  ROCKET_REALTIME_RETAIN_EVENTS: int(0, 1_000_000_000).default(10_000),
  ROCKET_REALTIME_RETAIN_SECONDS: int(0, 31_536_000).default(300),
  ROCKET_REALTIME_MAX_QUEUE: int(1, 1_000_000).default(1000),
  ROCKET_REALTIME_PING_SECONDS: int(1, 15).default(10),
});

/** rocket.yaml keys, mapped to the environment names above. */
const YAML_KEYS: Record<string, keyof z.input<typeof schema>> = {
  port: 'PORT',
  host: 'HOST',
  database_url: 'DATABASE_URL',
  data_dir: 'ROCKET_DATA_DIR',
  management_db: 'ROCKET_MANAGEMENT_DB',
  platform_jwt_secret: 'PLATFORM_JWT_SECRET',
  platform_email: 'ROCKET_PLATFORM_EMAIL',
  platform_password: 'ROCKET_PLATFORM_PASSWORD',
  log_level: 'LOG_LEVEL',
  log_format: 'LOG_FORMAT',
  pool_size: 'ROCKET_POOL_SIZE',
  app_pool_size: 'ROCKET_APP_POOL_SIZE',
  embedded_pg_port: 'ROCKET_EMBEDDED_PG_PORT',
  body_limit: 'ROCKET_BODY_LIMIT',
  login_max_failures: 'ROCKET_LOGIN_MAX_FAILURES',
  login_lock_seconds: 'ROCKET_LOGIN_LOCK_SECONDS',
  storage_path: 'ROCKET_STORAGE_PATH',
  max_file_size: 'ROCKET_MAX_FILE_SIZE',
  webhook_env_allowlist: 'ROCKET_WEBHOOK_ENV_ALLOWLIST',
  cors_origins: 'ROCKET_CORS_ORIGINS',
  webhook_deny_private_networks: 'ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS',
  workers: 'ROCKET_WORKERS',
  count_estimate_threshold: 'ROCKET_COUNT_ESTIMATE_THRESHOLD',
  pool_idle_seconds: 'ROCKET_POOL_IDLE_SECONDS',
  db_wait_ms: 'ROCKET_DB_WAIT_MS',
  shutdown_timeout_ms: 'ROCKET_SHUTDOWN_TIMEOUT_MS',
  metrics: 'ROCKET_METRICS',
  metrics_token: 'ROCKET_METRICS_TOKEN',
  history_retention_days: 'ROCKET_HISTORY_RETENTION_DAYS',
  databases: 'ROCKET_DATABASES',
  realtime_retain_events: 'ROCKET_REALTIME_RETAIN_EVENTS',
  realtime_retain_seconds: 'ROCKET_REALTIME_RETAIN_SECONDS',
  realtime_max_queue: 'ROCKET_REALTIME_MAX_QUEUE',
  realtime_ping_seconds: 'ROCKET_REALTIME_PING_SECONDS',
};

export class ConfigError extends Error {}

const isLoopback = (host: string) => /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i.test(host.trim());

/**
 * A server reachable from other machines must not keep the default platform
 * admin password: anyone who can reach it could administer every app.
 */
export function checkListenSafety(config: Pick<Config, 'host' | 'platformPassword'>): void {
  if (isLoopback(config.host) || config.platformPassword !== DEFAULT_PLATFORM_PASSWORD) return;
  throw new ConfigError(
    `refusing to listen on HOST=${config.host} while the platform admin password is the default one. ` +
      'Set ROCKET_PLATFORM_PASSWORD (or platform_password in rocket.yaml) to a password of your own, ' +
      'or listen on loopback only (HOST=127.0.0.1, the default).',
  );
}

/**
 * The legacy configuration's nested keys (multi-app.md §Server settings), so an existing rocket.yaml keeps
 * working; `database.*` parts make up the management database's URL.
 */
const LEGACY_KEYS: Record<string, keyof z.input<typeof schema>> = {
  'server.port': 'PORT',
  'server.host': 'HOST',
  'database.pool_size': 'ROCKET_POOL_SIZE',
  'storage.local_path': 'ROCKET_STORAGE_PATH',
  'storage.max_file_size': 'ROCKET_MAX_FILE_SIZE',
};
const DATABASE_PARTS = ['host', 'port', 'user', 'password', 'name'] as const;
const LEGACY_UNUSED_KEY = 'jwt_secret';

/** A scalar as the environment would carry it; a list (webhook_env_allowlist, cors_origins) as its comma-separated form. */
function settingText(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/** `database: {host, port, user, password, name}` → a postgres:// URL (defaults: localhost:5432, user postgres). */
function databaseUrl(parts: Record<string, unknown>): string {
  const part = (k: string, fallback: string) => encodeURIComponent(parts[k] === undefined || parts[k] === null ? fallback : String(parts[k]));
  const password = parts.password === undefined || parts.password === null ? '' : `:${part('password', '')}`;
  return `postgres://${part('user', 'postgres')}${password}@${part('host', 'localhost')}:${part('port', '5432')}/${part('name', 'rocket')}`;
}

function readYaml(path: string): { values: Record<string, string>; keys: Map<string, string> } {
  // Loaded only when a rocket.yaml exists: most deployments configure through the environment.
  const parseYaml = (createRequire(import.meta.url)('yaml') as { parse: typeof ParseYaml }).parse;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    // The parser's message carries a multi-line code frame: its first line says what and where.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw err;
    // A directory or a file this user may not read is not a YAML mistake: the message says so.
    if (code === 'EISDIR' || code === 'EACCES' || code === 'EPERM') throw new ConfigError(`${path}: cannot be read (${code})`);
    throw new ConfigError(`${path}: not valid YAML: ${String((err as Error).message).split('\n')[0]}`);
  }
  const values: Record<string, string> = {};
  // Which yaml key each setting came from, so an invalid value is named as the file spells it.
  const keys = new Map<string, string>();
  if (doc === null || doc === undefined) return { values, keys };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${path}: must be a mapping of settings`);
  const set = (envName: string, key: string, value: unknown) => {
    // `key:` with no value leaves the setting at its default, as an unset variable does.
    if (value === null || value === undefined) return;
    values[envName] = settingText(value);
    keys.set(envName, key);
  };
  for (const [key, value] of Object.entries(doc)) {
    const envName = YAML_KEYS[key];
    if (envName) {
      set(envName, key, value);
      continue;
    }
    // The legacy single-secret setting: apps have secrets of their own (multi-app.md §Server settings), so an
    // existing file keeps starting and the value is not used.
    if (key === LEGACY_UNUSED_KEY) continue;
    const legacy = key === 'server' || key === 'database' || key === 'storage';
    if (!legacy) throw new ConfigError(`${path}: unknown setting "${key}"`);
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${path}: "${key}" must be a mapping of settings`);
    const entries = Object.entries(value as Record<string, unknown>);
    for (const [sub, subValue] of entries) {
      const name = `${key}.${sub}`;
      const mapped = LEGACY_KEYS[name];
      if (mapped) set(mapped, name, subValue);
      else if (!(key === 'database' && (DATABASE_PARTS as readonly string[]).includes(sub)))
        throw new ConfigError(`${path}: unknown setting "${name}"`);
    }
    if (key === 'database' && entries.some(([sub]) => (DATABASE_PARTS as readonly string[]).includes(sub)))
      set('DATABASE_URL', 'database', databaseUrl(value as Record<string, unknown>));
  }
  return { values, keys };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const yamlPath = env.ROCKET_CONFIG ?? 'rocket.yaml';
  if (env.ROCKET_CONFIG && !existsSync(yamlPath)) throw new ConfigError(`ROCKET_CONFIG: file not found: ${yamlPath}`);
  const fromYaml = existsSync(yamlPath) ? readYaml(yamlPath) : { values: {}, keys: new Map<string, string>() };
  const merged: Record<string, string | undefined> = { ...fromYaml.values };
  const yamlKeys = new Map(fromYaml.keys);
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value === undefined || value === '') continue;
    merged[key] = value;
    yamlKeys.delete(key);
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = String(issue.path[0]);
    const inYaml = yamlKeys.get(setting);
    const where = inYaml === undefined ? '' : ` (${inYaml} in ${yamlPath})`;
    // A bad key of a mapping (a ROCKET_DATABASES server name) says the rule it broke, not zod's "Invalid key in record".
    const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    throw new ConfigError(`invalid setting ${issue.path.join('.')}${where}: ${message}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    dataDir: resolve(c.ROCKET_DATA_DIR),
    managementDb: c.ROCKET_MANAGEMENT_DB,
    platformJwtSecret: c.PLATFORM_JWT_SECRET,
    platformEmail: c.ROCKET_PLATFORM_EMAIL.trim().toLowerCase(),
    platformPassword: c.ROCKET_PLATFORM_PASSWORD,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
    poolSize: c.ROCKET_POOL_SIZE,
    appPoolSize: c.ROCKET_APP_POOL_SIZE,
    embeddedPgPort: c.ROCKET_EMBEDDED_PG_PORT,
    bodyLimit: c.ROCKET_BODY_LIMIT,
    loginMaxFailures: c.ROCKET_LOGIN_MAX_FAILURES,
    loginLockSeconds: c.ROCKET_LOGIN_LOCK_SECONDS,
    storagePath: resolve(c.ROCKET_STORAGE_PATH),
    maxFileSize: c.ROCKET_MAX_FILE_SIZE,
    webhookEnvAllowlist: c.ROCKET_WEBHOOK_ENV_ALLOWLIST,
    webhookDenyPrivateNetworks: c.ROCKET_WEBHOOK_DENY_PRIVATE_NETWORKS,
    workers: c.ROCKET_WORKERS,
    corsOrigins: c.ROCKET_CORS_ORIGINS,
    countEstimateThreshold: c.ROCKET_COUNT_ESTIMATE_THRESHOLD,
    poolIdleSeconds: c.ROCKET_POOL_IDLE_SECONDS,
    dbWaitMs: c.ROCKET_DB_WAIT_MS,
    shutdownTimeoutMs: c.ROCKET_SHUTDOWN_TIMEOUT_MS,
    metrics: c.ROCKET_METRICS,
    metricsToken: c.ROCKET_METRICS_TOKEN,
    historyRetentionDays: c.ROCKET_HISTORY_RETENTION_DAYS,
    databases: c.ROCKET_DATABASES,
    realtimeRetainEvents: c.ROCKET_REALTIME_RETAIN_EVENTS,
    realtimeRetainSeconds: c.ROCKET_REALTIME_RETAIN_SECONDS,
    realtimeMaxQueue: c.ROCKET_REALTIME_MAX_QUEUE,
    realtimePingSeconds: c.ROCKET_REALTIME_PING_SECONDS,
  };
}
