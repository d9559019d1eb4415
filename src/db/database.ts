import postgres from 'postgres';
import { serviceUnavailable } from '../errors.js';
import { type ExactNumber, int8Value, numericValue } from './exact-number.js';
import { mapPgError, RETRY_AFTER_SECONDS } from './pg-errors.js';
import { parseExactJson } from './exact-json.js';
import { StoredTimestamp } from './stored-timestamp.js';

/** A value that may be bound as a query parameter. */
export type SqlParam = string | number | boolean | null | Date | readonly string[] | readonly number[] | readonly (string | number | null)[];
export type Row = Record<string, unknown>;

/** Anything that runs SQL: a pool or a transaction. */
export interface Queryable {
  query<T = Row>(text: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** True for a transaction: a failed statement aborts it unless it ran under a savepoint. */
  readonly inTransaction?: boolean;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  max: number;
  /** Seconds an unused pool connection stays open. */
  idleTimeout?: number;
  /** How long a query waits for PostgreSQL to accept a connection before 503 (ms). */
  connectWaitMs?: number;
}

/** SQLSTATEs and socket errors meaning "no connection now", not "this query failed". */
const REFUSED = new Set(['53300', '53400', '57P03', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN']);

/** Of those, the ones where the server itself is out of reach (not merely full): ECONNRESET is a connection hung up on before its startup ended. */
const UNREACHABLE = new Set(['CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a session PostgreSQL ends as it starts (FATAL) while the server itself is up: the database accepts
 * no connections now (55000: ALLOW_CONNECTIONS false), does not exist (3D000: being restored) or the login is not
 * accepted (28000, 28P01). No statement was sent. As errors of a statement (ERROR) some of these mean other things.
 */
const REFUSED_AT_START = new Set(['55000', '3D000', '28000', '28P01']);

function refusedConnection(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  const code = e?.code;
  return typeof code === 'string' && (REFUSED.has(code) || (e?.severity === 'FATAL' && REFUSED_AT_START.has(code)));
}

function refusalMessage(err: unknown): string {
  const code = String((err as { code?: unknown }).code);
  if (UNREACHABLE.has(code)) return 'The database cannot be reached; try again shortly';
  if (REFUSED_AT_START.has(code)) return 'The database refuses connections; try again shortly';
  return 'The database has no free connection; try again shortly';
}

/** '2024-03-01 10:34:56.789+00' → '2024-03-01T10:34:56.789+00:00'; no offset (timestamp without time zone) → UTC. */
function pgTimestampToIso(text: string): string {
  const iso = text.replace(' ', 'T');
  const offset = /([+-]\d{2})(?::?(\d{2}))?(?::?\d{2})?$/.exec(iso.slice(19));
  if (!offset) return `${iso}Z`;
  return `${iso.slice(0, 19 + offset.index)}${offset[1]}:${offset[2] ?? '00'}`;
}

const digit = (s: string, i: number) => s.charCodeAt(i) - 48;
/** '000' … '999'. */
const MS_TEXT = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * A timestamp as PostgreSQL writes it. The common case — 'YYYY-MM-DD HH:MM:SS[.ffffff]+00'
 * (sessions run in UTC) with a year from 100 on — is read digit by digit, a few
 * times faster than building an ISO string for Date to parse (lists read many
 * timestamps); anything else (offsets, no zone, BC, infinity, years 1–99) takes the ISO path.
 */
function parseTimestamp(text: string): Date {
  const n = text.length;
  if (n >= 22 && text.charCodeAt(4) === 45 && text.charCodeAt(10) === 32 && text.endsWith('+00')) {
    const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
    if (year >= 100) {
      // Milliseconds: the first three fractional digits (Date truncates the rest, as its parser does).
      let ms = 0;
      if (n > 22 && text.charCodeAt(19) === 46) {
        ms = digit(text, 20) * 100;
        if (n > 24) ms += digit(text, 21) * 10;
        if (n > 25) ms += digit(text, 22);
      }
      const iso = `${text.slice(0, 10)}T${text.slice(11, 19)}.${MS_TEXT[ms]}Z`;
      return new StoredTimestamp(
        Date.UTC(
          year,
          digit(text, 5) * 10 + digit(text, 6) - 1,
          digit(text, 8) * 10 + digit(text, 9),
          digit(text, 11) * 10 + digit(text, 12),
          digit(text, 14) * 10 + digit(text, 15),
          digit(text, 17) * 10 + digit(text, 18),
          ms,
        ),
        iso,
        text,
      );
    }
  }
  return new StoredTimestamp(new Date(pgTimestampToIso(text)).getTime(), undefined, text);
}

// Decimal and bigint columns come back as JSON numbers (spec: value encoding), exactly where a double would
// round them (an ExactNumber); dates stay 'YYYY-MM-DD' strings so no timezone can shift them.
/**
 * A timestamp parameter as text. A time no Date holds (a number of milliseconds out of its range, an invalid
 * Date) goes as written, for PostgreSQL to refuse: a throw inside the driver's serializer left the query
 * unanswered and its connection taken for good (sample rows of an import are bound without validation).
 */
function timestampText(v: unknown): string {
  if (typeof v === 'string') return v;
  const at = v instanceof Date ? v : new Date(v as number);
  return Number.isNaN(at.getTime()) ? String(v) : at.toISOString();
}

const TYPES = {
  numeric: { to: 1700, from: [1700], serialize: (v: unknown) => String(v), parse: numericValue },
  int8: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: int8Value },
  date: { to: 1082, from: [1082], serialize: (v: unknown) => String(v), parse: (v: string) => v },
  // The driver's own serializer sent every value but `true` as false (a sample row's "true" or 1 was stored as
  // false); anything else goes as written, for PostgreSQL to read ('yes', 1) or refuse.
  boolean: { to: 16, from: [16], serialize: (v: unknown) => (v === true ? 't' : v === false ? 'f' : String(v)), parse: (v: string) => v === 't' },
  // Timestamps travel as text both ways: PostgreSQL parses what the client sent (offset-less = UTC, the
  // session zone), and its ISO output is read with the ISO parser (the legacy one maps years 1–99 to 19xx/20xx).
  timestamptz: {
    to: 1184,
    from: [1114, 1184],
    serialize: timestampText,
    parse: parseTimestamp,
  },
  // JSON parameters travel as JSON text (callers stringify); re-stringifying would store a JSON string.
  json: {
    to: 3802,
    from: [114, 3802],
    serialize: (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v)),
    // Exact where a double would change a number (a json field may hold 98765432109876543210), as body parsing kept it.
    parse: parseExactJson,
  },
};

type TypeMap = {
  numeric: number | ExactNumber;
  int8: number | ExactNumber;
  date: string;
  boolean: boolean;
  timestamptz: Date;
  json: unknown;
};

/** One connection pool to one PostgreSQL database. */
export class Database implements Queryable {
  /** Replaced by a fresh pool when releaseIdle closes the connections. */
  private sql: postgres.Sql<TypeMap>;
  /** Statements sent through this pool; lets tests prove a request's query count. */
  statements = 0;
  /** Queries and transactions started and not finished (in use, or queued for a connection). */
  private busy = 0;
  /** A LISTEN connection lives in the pool: it must not be closed by releaseIdle. */
  private listening = false;

  constructor(readonly options: ConnectionOptions) {
    this.sql = this.pool();
  }

  private pool(): postgres.Sql<TypeMap> {
    const { options } = this;
    return postgres({
      host: options.host,
      port: options.port,
      user: options.user,
      password: options.password,
      database: options.database,
      max: options.max,
      idle_timeout: options.idleTimeout ?? 60,
      connect_timeout: 10,
      // Reconnecting after lost connections backs off up to 20 s by default, longer than a request should wait;
      // a client told to retry after RETRY_AFTER_SECONDS finds the pool trying again by then.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, RETRY_AFTER_SECONDS),
      onnotice: () => undefined,
      // No JIT: every statement is short and index-driven, but a generic plan's cost estimate can pass
      // jit_above_cost, and each execution then pays the compilation (the realtime feed's page of numbered
      // events: 17 ms without, 200–450 ms with, on 3,000 batches of 30 events).
      connection: { TimeZone: 'UTC', application_name: 'rocket', jit: 'off' },
      types: TYPES,
    });
  }

  /**
   * Closes the pool's connections now rather than at the idle timeout, when
   * nothing runs on it (e.g. after a background job visited an app nobody
   * uses); later queries open connections again. Returns whether it did.
   */
  releaseIdle(): boolean {
    if (this.busy > 0 || this.listening) return false;
    const old = this.sql;
    this.sql = this.pool();
    // Nothing is in flight on the old pool (busy counts every query and transaction), so this ends idle sockets.
    old.end({ timeout: 5 }).catch(() => undefined);
    return true;
  }

  async query<T = Row>(text: string, params: readonly SqlParam[] = []): Promise<T[]> {
    this.statements++;
    this.busy++;
    try {
      const started = Date.now();
      // Awaited in this frame, not through whenConnected's: that extra async frame around every statement made
      // the rows of a list outlive two young-generation collections (3× the scavenge time, bench/RESULTS.md).
      try {
        return (await this.sql.unsafe(text, params as never[], { prepare: true })) as unknown as T[];
      } catch (err) {
        return await this.retryRefused(() => this.sql.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<T[]>, started, err);
      }
    } catch (err) {
      throw mapPgError(err);
    } finally {
      this.busy--;
    }
  }

  /** In use and waiting, as far as this process can tell (postgres.js keeps no count of its own). */
  usage(): { inUse: number; waiting: number } {
    return { inUse: Math.min(this.busy, this.options.max), waiting: Math.max(0, this.busy - this.options.max) };
  }

  /** fn, tried again while PostgreSQL refuses connections (see retryRefused). */
  private async whenConnected<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await fn();
    } catch (err) {
      return await this.retryRefused(fn, started, err);
    }
  }

  /**
   * After fn failed with `failed`: while PostgreSQL refuses connections (too many clients, starting up,
   * unreachable) fn is tried again for a short while from `started` — the statement never reached the
   * server, so trying again is safe — then the request gets 503. Any other failure is thrown as it is.
   */
  private async retryRefused<T>(fn: () => Promise<T>, started: number, failed: unknown): Promise<T> {
    const deadline = started + (this.options.connectWaitMs ?? 2000);
    let err = failed;
    for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
      // A caller that waits for nothing (diagnostics) wants the driver's own reason.
      if (!refusedConnection(err) || this.options.connectWaitMs === 0) throw err;
      if (Date.now() + delay > deadline) {
        // The driver's reason stays attached for logs and the start-up message (a wrong password, say); the
        // answer itself does not carry it.
        throw Object.assign(serviceUnavailable(refusalMessage(err), RETRY_AFTER_SECONDS), { cause: err });
      }
      await new Promise((r) => setTimeout(r, delay));
      try {
        return await fn();
      } catch (next) {
        err = next;
      }
    }
  }

  /**
   * Runs fn in one transaction on one connection; any throw rolls back.
   * BEGIN costs no round trip of its own: it is queued with the transaction's
   * first statement, so postgres.js sends both in one write (it pipelines on a
   * reserved connection); a transaction that runs no statement sends nothing.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let conn: postgres.ReservedSql<TypeMap>;
    this.busy++;
    try {
      conn = await this.whenConnected(() => this.sql.reserve());
    } catch (err) {
      this.busy--;
      throw mapPgError(err);
    }
    let begun: Promise<unknown> | undefined;
    const tx: Queryable = {
      inTransaction: true,
      query: async <R = Row>(text: string, params: readonly SqlParam[] = []) => {
        if (!begun) {
          this.statements++;
          begun = conn.unsafe('BEGIN');
        }
        this.statements++;
        try {
          const [, rows] = await Promise.all([begun, conn.unsafe(text, params as never[], { prepare: true })]);
          return rows as unknown as R[];
        } catch (err) {
          throw mapPgError(err);
        }
      },
    };
    try {
      const result = await fn(tx);
      if (begun) {
        this.statements++;
        await conn.unsafe('COMMIT');
      }
      return result;
    } catch (err) {
      if (begun) {
        this.statements++;
        await conn.unsafe('ROLLBACK').catch(() => undefined);
      }
      throw mapPgError(err);
    } finally {
      conn.release();
      this.busy--;
    }
  }

  /**
   * Subscribes to a NOTIFY channel on a dedicated connection (reconnects on its own). `onRelisten` runs
   * each time listening resumes after that connection was lost: notifications sent meanwhile never arrive.
   */
  async listen(channel: string, onMessage: (payload: string) => void, onRelisten?: () => void): Promise<void> {
    this.listening = true;
    let first = true;
    await this.sql.listen(channel, onMessage, () => {
      if (first) first = false;
      else onRelisten?.();
    });
  }

  async notify(channel: string, payload: string): Promise<void> {
    this.statements++;
    this.busy++;
    try {
      await this.sql.notify(channel, payload);
    } finally {
      this.busy--;
    }
  }

  /** Set once `close` was called: nothing is sent on this pool any more. */
  closed = false;

  async close(): Promise<void> {
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }
}
