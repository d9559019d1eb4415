import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/database.js';
import { RocketError, tooManyRequests } from '../errors.js';

/** What is remembered about one account's login attempts. */
export interface ThrottleEntry {
  /** Failed attempts in the current window. */
  failures: number;
  /** Start of the current window (first failure), ms. */
  first: number;
  /** Refuse every attempt until then (ms); 0 when not locked. */
  lockedUntil: number;
  /** Start times of attempts that passed check() and have not reported fail/succeed yet. */
  inFlight: number[];
}

/** An attempt that never reports back (e.g. the database failed mid-login) stops counting after this. */
const IN_FLIGHT_TTL_MS = 30_000;
/**
 * How long an attempt waits for a free slot while others of its account are being verified, and how often it
 * looks (backing off, with jitter, so a burst of waiting guesses does not crowd the pool the verified ones need).
 */
const QUEUE_MS = 10_000;
const queuePollMs = (round: number) => Math.min(250, 25 * 2 ** round) * (0.5 + Math.random() / 2);

/**
 * Refusal of an attempt while the account's attempts being verified already fill the limit: not a lock, so
 * the attempt may wait for one of them to end (its outcome decides whether the account locks).
 */
export class AttemptsInFlight extends RocketError {
  constructor() {
    super('TOO_MANY_REQUESTS', 'Too many login attempts in progress; try again in 1 second');
    this.retryAfter = 1;
  }
}

/**
 * The lock rules, on one entry at a time: after `maxFailures` failed logins
 * within the lock window the account is refused with 429 until the window has
 * passed; a success clears the count. Attempts still being verified count
 * against the limit too: password verification is slow, so without this a
 * burst of parallel guesses would all pass check() before the first failure
 * is recorded.
 */
export class LoginPolicy {
  constructor(
    readonly maxFailures: number,
    readonly lockMs: number,
  ) {}

  /** Throws 429 when locked; otherwise returns the entry with one attempt reserved. */
  check(stored: ThrottleEntry | undefined, now: number): ThrottleEntry {
    const entry = stored ? this.refresh(stored, now) : undefined;
    if (entry && entry.lockedUntil > now) {
      const retry = Math.ceil((entry.lockedUntil - now) / 1000);
      throw tooManyRequests(`Too many failed login attempts; try again in ${retry} seconds`, retry);
    }
    if (entry && entry.failures + entry.inFlight.length >= this.maxFailures) {
      throw new AttemptsInFlight();
    }
    const base = entry ?? { failures: 0, first: now, lockedUntil: 0, inFlight: [] };
    return { ...base, inFlight: [...base.inFlight, now] };
  }

  fail(stored: ThrottleEntry | undefined, now: number): ThrottleEntry {
    const entry = stored ? this.refresh(stored, now) : { failures: 0, first: now, lockedUntil: 0, inFlight: [] };
    const failures = entry.failures + 1;
    return {
      failures,
      first: entry.failures === 0 ? now : entry.first,
      lockedUntil: failures >= this.maxFailures ? Math.max(entry.lockedUntil, now + this.lockMs) : entry.lockedUntil,
      inFlight: entry.inFlight.slice(1),
    };
  }

  /** The entry after a success; undefined when nothing is left to remember. */
  succeed(stored: ThrottleEntry | undefined): ThrottleEntry | undefined {
    if (!stored || stored.inFlight.length <= 1) return undefined;
    return { failures: 0, first: stored.first, lockedUntil: 0, inFlight: stored.inFlight.slice(1) };
  }

  /** Expired windows and stale reservations dropped. */
  refresh(entry: ThrottleEntry, now: number): ThrottleEntry {
    const inFlight = entry.inFlight.filter((t) => now - t <= IN_FLIGHT_TTL_MS);
    if (entry.lockedUntil > now) return { ...entry, inFlight };
    if (entry.lockedUntil > 0 || now - entry.first > this.lockMs) return { failures: 0, first: now, lockedUntil: 0, inFlight };
    return { ...entry, inFlight };
  }

  /** Nothing to remember: no failures in the window, no lock, no attempt in flight. */
  empty(entry: ThrottleEntry, now: number): boolean {
    const e = this.refresh(entry, now);
    return e.failures === 0 && e.lockedUntil === 0 && e.inFlight.length === 0;
  }
}

interface ThrottleRow {
  failures: number;
  first_ms: number;
  locked_until_ms: number;
  in_flight: number[];
}

/**
 * Login brute-force protection shared by every server instance: the entries
 * live in the management database (`_login_throttle`), one row per account and
 * scope, changed under a row lock so attempts on different instances count
 * together. Rows with nothing left to remember are deleted on success and by
 * an occasional sweep.
 */
export class LoginThrottle {
  private lastSweep = 0;

  constructor(
    private readonly db: Database,
    readonly policy: LoginPolicy,
  ) {}

  /**
   * Throws 429 when the account is locked; otherwise reserves one attempt (end it with fail or succeed).
   * While other attempts of the account fill the limit it waits for one to end rather than refusing:
   * concurrent logins with the right password all get in, while a burst of guesses still gets no more
   * than the limit verified (their failures lock the account, and the waiting ones are refused then).
   */
  async check(key: string): Promise<void> {
    const deadline = Date.now() + QUEUE_MS;
    for (let round = 0; ; round++) {
      try {
        await this.update(key, (entry, now) => this.policy.check(entry, now));
        return;
      } catch (err) {
        if (!(err instanceof AttemptsInFlight) || Date.now() >= deadline) throw err;
        await sleep(queuePollMs(round));
      }
    }
  }

  async fail(key: string): Promise<void> {
    await this.update(key, (entry, now) => this.policy.fail(entry, now));
    await this.sweep();
  }

  async succeed(key: string): Promise<void> {
    await this.update(key, (entry) => this.policy.succeed(entry));
  }

  /** Forgets the failures and locks of every account of a scope (its app was deleted: a new app of that name starts afresh). */
  async clearScope(scope: string): Promise<void> {
    await this.db.query("DELETE FROM _login_throttle WHERE left(key, length($1) + 1) = $1 || E'\\n'", [scope]);
  }

  /** Forgets an account's failures and lock (an operator reset its password). */
  async clear(key: string): Promise<void> {
    await this.db.query('DELETE FROM _login_throttle WHERE key = $1', [key]);
  }

  private async update(key: string, change: (entry: ThrottleEntry | undefined, now: number) => ThrottleEntry | undefined): Promise<void> {
    await this.db.transaction(async (tx) => {
      // One statement creates the row or locks the existing one, and returns it. (An insert that did
      // nothing followed by SELECT … FOR UPDATE found no row when another instance's success deleted
      // it in between.) ON CONFLICT DO UPDATE waits for a concurrent holder of the row and, should it
      // delete the row, inserts afresh, so a row always comes back, locked until this transaction ends.
      const rows = await tx.query<ThrottleRow>(
        `INSERT INTO _login_throttle (key, failures, first_ms, locked_until_ms, in_flight) VALUES ($1, 0, 0, 0, '[]')
         ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
         RETURNING failures, first_ms, locked_until_ms, in_flight`,
        [key],
      );
      const row = rows[0];
      if (!row) throw new Error('login throttle: upsert returned no row');
      const now = Date.now();
      const before = { failures: row.failures, first: row.first_ms, lockedUntil: row.locked_until_ms, inFlight: row.in_flight };
      // A refusal (429) throws here and rolls back: a refused attempt changes nothing.
      const after = change(before, now);
      if (!after) {
        await tx.query('DELETE FROM _login_throttle WHERE key = $1', [key]);
        return;
      }
      await tx.query('UPDATE _login_throttle SET failures = $2, first_ms = $3, locked_until_ms = $4, in_flight = $5::jsonb WHERE key = $1', [
        key,
        after.failures,
        after.first,
        after.lockedUntil,
        JSON.stringify(after.inFlight),
      ]);
    });
  }

  /** Drops rows whose window and lock are over, at most once per lock window per instance. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < this.policy.lockMs) return;
    this.lastSweep = now;
    await this.db
      .query(
        `DELETE FROM _login_throttle WHERE locked_until_ms <= $1 AND first_ms < $2
           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(in_flight) t WHERE t::text::float8 > $3)`,
        [now, now - this.policy.lockMs, now - IN_FLIGHT_TTL_MS],
      )
      .catch(() => undefined);
  }
}
