import postgres from 'postgres';
import { mapPgError } from './pg-errors.js';

/** A value that may be bound as a query parameter. */
export type SqlParam = string | number | boolean | null | Date | readonly string[] | readonly number[] | readonly (string | number | null)[];
export type Row = Record<string, unknown>;

/** Anything that runs SQL: a pool or a transaction. */
export interface Queryable {
  query<T = Row>(text: string, params?: readonly SqlParam[]): Promise<T[]>;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  max: number;
}

// Decimal and bigint columns come back as JSON numbers (spec: value encoding);
// dates stay 'YYYY-MM-DD' strings so no timezone can shift them.
const TYPES = {
  numeric: { to: 1700, from: [1700], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) },
  int8: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) },
  date: { to: 1082, from: [1082], serialize: (v: unknown) => String(v), parse: (v: string) => v },
  // JSON parameters travel as JSON text (callers stringify); re-stringifying would store a JSON string.
  json: {
    to: 3802,
    from: [114, 3802],
    serialize: (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v)),
    parse: (v: string) => JSON.parse(v) as unknown,
  },
};

/** One connection pool to one PostgreSQL database. */
export class Database implements Queryable {
  private readonly sql: postgres.Sql<{ numeric: number; int8: number; date: string; json: unknown }>;
  /** Statements sent through this pool; lets tests prove a request's query count. */
  statements = 0;

  constructor(readonly options: ConnectionOptions) {
    this.sql = postgres({
      host: options.host,
      port: options.port,
      user: options.user,
      password: options.password,
      database: options.database,
      max: options.max,
      idle_timeout: 60,
      connect_timeout: 10,
      onnotice: () => undefined,
      connection: { TimeZone: 'UTC', application_name: 'rocket' },
      types: TYPES,
    });
  }

  async query<T = Row>(text: string, params: readonly SqlParam[] = []): Promise<T[]> {
    this.statements++;
    try {
      return (await this.sql.unsafe(text, params as never[], { prepare: true })) as unknown as T[];
    } catch (err) {
      throw mapPgError(err);
    }
  }

  /** Runs fn in one transaction on one connection; any throw rolls back. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.statements += 2;
    try {
      return (await this.sql.begin(async (tsql) => {
        const tx: Queryable = {
          query: async <R = Row>(text: string, params: readonly SqlParam[] = []) => {
            this.statements++;
            try {
              return (await tsql.unsafe(text, params as never[], { prepare: true })) as unknown as R[];
            } catch (err) {
              throw mapPgError(err);
            }
          },
        };
        return fn(tx);
      })) as T;
    } catch (err) {
      throw mapPgError(err);
    }
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}
