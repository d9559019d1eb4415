import { tooManyRequests } from '../errors.js';

interface Entry {
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
const MAX_ENTRIES = 100_000;

/**
 * Brute-force protection for login endpoints: after `maxFailures` failed
 * logins for one account (per scope) within the lock window, further attempts
 * are refused with 429 until the window has passed. A success clears the count.
 *
 * Attempts still being verified count against the limit too: password
 * verification is slow, so without this a burst of parallel guesses would all
 * pass check() before the first failure is recorded. Under memory pressure
 * only stale entries, then the oldest, are dropped, so flooding the table with
 * junk emails cannot wipe the locks of the account under attack.
 */
export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxFailures: number,
    private readonly lockMs: number,
  ) {}

  /** Throws 429 when the account is locked; otherwise reserves one attempt (end it with fail or succeed). */
  check(key: string): void {
    const now = Date.now();
    let entry = this.current(key, now);
    if (entry && entry.lockedUntil > now) {
      const retry = Math.ceil((entry.lockedUntil - now) / 1000);
      throw tooManyRequests(`Too many failed login attempts; try again in ${retry} seconds`, retry);
    }
    if (entry && entry.failures + entry.inFlight.length >= this.maxFailures) {
      throw tooManyRequests('Too many login attempts in progress; try again in 1 second', 1);
    }
    if (!entry) {
      entry = { failures: 0, first: now, lockedUntil: 0, inFlight: [] };
      this.insert(key, entry, now);
    }
    entry.inFlight.push(now);
  }

  fail(key: string): void {
    const now = Date.now();
    let entry = this.current(key, now);
    if (!entry) {
      entry = { failures: 0, first: now, lockedUntil: 0, inFlight: [] };
      this.insert(key, entry, now);
    }
    entry.inFlight.shift();
    if (entry.failures === 0) entry.first = now;
    entry.failures++;
    if (entry.failures >= this.maxFailures) entry.lockedUntil = Math.max(entry.lockedUntil, now + this.lockMs);
  }

  succeed(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.inFlight.shift();
    entry.failures = 0;
    entry.lockedUntil = 0;
    if (entry.inFlight.length === 0) this.entries.delete(key);
  }

  /** The live entry for key: expired windows and stale reservations are dropped first. */
  private current(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.refresh(entry, now);
    if (entry.failures === 0 && entry.inFlight.length === 0) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private refresh(entry: Entry, now: number): void {
    while (entry.inFlight.length > 0 && now - entry.inFlight[0]! > IN_FLIGHT_TTL_MS) entry.inFlight.shift();
    if (entry.lockedUntil > now) return;
    if (entry.lockedUntil > 0 || now - entry.first > this.lockMs) {
      entry.failures = 0;
      entry.lockedUntil = 0;
    }
  }

  private insert(key: string, entry: Entry, now: number): void {
    if (this.entries.size >= MAX_ENTRIES) this.evict(now);
    this.entries.set(key, entry);
  }

  /** Frees a tenth of the table: entries with nothing to remember first, then the oldest unlocked, then the oldest. */
  private evict(now: number): void {
    const target = Math.floor(MAX_ENTRIES * 0.9);
    for (const [key, entry] of this.entries) {
      this.refresh(entry, now);
      if (entry.failures === 0 && entry.inFlight.length === 0) this.entries.delete(key);
    }
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= target) return;
      if (entry.lockedUntil <= now) this.entries.delete(key);
    }
    for (const key of this.entries.keys()) {
      if (this.entries.size <= target) return;
      this.entries.delete(key);
    }
  }
}
