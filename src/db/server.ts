import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { Database, type ConnectionOptions } from './database.js';
import { runningEmbedded, startEmbedded } from './embedded.js';
import { RocketError } from '../errors.js';
import { isPgError } from './pg-errors.js';
import { quoteIdent } from './quote.js';

/** CREATE DATABASE's unique violation on pg_database (Database.query hands 23505 on as CONFLICT). */
function isUniqueViolation(err: unknown): boolean {
  return isPgError(err, '23505') || (err instanceof RocketError && err.code === 'CONFLICT');
}

/** Host, port, user, password and database ('' when the URL names none) of a postgres:// URL. */
export function serverOfUrl(text: string): { host: string; port: number; user: string; password: string | undefined; database: string } {
  const url = new URL(text);
  return {
    host: decodeURIComponent(url.hostname) || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || 'postgres',
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
  };
}

/**
 * The PostgreSQL server Rocket runs on: the one in DATABASE_URL or an embedded
 * one. Same driver and SQL either way; it hands out pools per database.
 */
export class DatabaseServer {
  private constructor(
    private readonly base: Omit<ConnectionOptions, 'database' | 'max'>,
    readonly managementDb: string,
    private readonly stopEmbedded: (() => Promise<void>) | undefined,
  ) {}

  /**
   * `attach`: a tool that must not own the embedded cluster (the CLI) uses the one a running
   * server started, and starts it only when no server runs.
   */
  static async start(config: Config, log: Logger, opts: { attach?: boolean } = {}): Promise<DatabaseServer> {
    if (config.databaseUrl) {
      const server = DatabaseServer.at(config.databaseUrl, config);
      return new DatabaseServer(server.base, serverOfUrl(config.databaseUrl).database || config.managementDb, undefined);
    }
    const running = opts.attach ? await runningEmbedded(config.dataDir) : undefined;
    if (running) {
      const { host, port, user, password } = running;
      return new DatabaseServer({ host, port, user, password }, config.managementDb, undefined);
    }
    const embedded = await startEmbedded(config.dataDir, config.embeddedPgPort, log);
    return new DatabaseServer(
      {
        host: embedded.host,
        port: embedded.port,
        user: embedded.user,
        password: embedded.password,
        idleTimeout: config.poolIdleSeconds,
        connectWaitMs: config.dbWaitMs,
      },
      config.managementDb,
      () => embedded.stop(),
    );
  }

  /** The server a postgres:// URL names (its database part is ignored): where apps are placed besides `main`. */
  static at(url: string, config: Pick<Config, 'poolIdleSeconds' | 'dbWaitMs' | 'managementDb'>): DatabaseServer {
    const { database: _database, ...server } = serverOfUrl(url);
    return new DatabaseServer({ ...server, idleTimeout: config.poolIdleSeconds, connectWaitMs: config.dbWaitMs }, config.managementDb, undefined);
  }

  /** A connection URL for one of this server's databases (handed to worker processes). */
  url(database: string): string {
    const { host, port, user, password } = this.base;
    const auth = password === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
    return `postgres://${auth}@${host}:${port}/${encodeURIComponent(database)}`;
  }

  connect(database: string, max: number): Database {
    return new Database({ ...this.base, database, max });
  }

  /**
   * Creates the database; returns false when it already exists. Safe to race:
   * a concurrent CREATE DATABASE of the same name fails with 42P04 or, when
   * both pass the catalog check at once, with a unique violation on
   * pg_database (23505); the loser then waits until the winner's database is
   * visible (or the winner gave up, and it tries again).
   */
  async createDatabase(name: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const admin = this.connect('postgres', 1);
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(name)} ENCODING 'UTF8' TEMPLATE template0`);
        return true;
      } catch (err) {
        if (isPgError(err, '42P04')) return false;
        if (!isUniqueViolation(err) || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
        if (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]).then((r) => r.length > 0)) return false;
      } finally {
        await admin.close();
      }
    }
  }

  async dropDatabase(name: string): Promise<void> {
    const admin = this.connect('postgres', 1);
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    } finally {
      await admin.close();
    }
  }

  async databaseExists(name: string): Promise<boolean> {
    const admin = this.connect('postgres', 1);
    try {
      const rows = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      return rows.length > 0;
    } finally {
      await admin.close();
    }
  }

  async stop(): Promise<void> {
    await this.stopEmbedded?.();
  }
}
