import { RocketError } from '../errors.js';

/**
 * Brute-force protection for login endpoints: after `maxFailures` failed
 * logins for one account (per scope) within the lock window, further attempts
 * are refused with 429 until the window has passed. A success clears the count.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; first: number; lockedUntil: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly lockMs: number,
  ) {}

  check(key: string): void {
    const entry = this.failures.get(key);
    if (!entry) return;
    const now = Date.now();
    if (entry.lockedUntil > now) {
      const retry = Math.ceil((entry.lockedUntil - now) / 1000);
      throw new RocketError('TOO_MANY_REQUESTS', `Too many failed login attempts; try again in ${retry} seconds`);
    }
    if (now - entry.first > this.lockMs) this.failures.delete(key);
  }

  fail(key: string): void {
    const now = Date.now();
    let entry = this.failures.get(key);
    if (!entry || now - entry.first > this.lockMs) {
      entry = { count: 0, first: now, lockedUntil: 0 };
      this.failures.set(key, entry);
    }
    entry.count++;
    if (entry.count >= this.maxFailures) entry.lockedUntil = now + this.lockMs;
    if (this.failures.size > 100_000) this.failures.clear();
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
