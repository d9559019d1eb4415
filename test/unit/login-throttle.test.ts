import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoginPolicy, type ThrottleEntry } from '../../src/auth/login-throttle.js';
import { RocketError } from '../../src/errors.js';

const LOCK_MS = 10_000;

/** The policy over entries kept in a map, the way the database keeps one row per key. */
class Entries {
  private readonly map = new Map<string, ThrottleEntry>();
  constructor(readonly policy: LoginPolicy) {}
  check(key: string): void {
    this.map.set(key, this.policy.check(this.map.get(key), Date.now()));
  }
  fail(key: string): void {
    this.map.set(key, this.policy.fail(this.map.get(key), Date.now()));
  }
  succeed(key: string): void {
    const next = this.policy.succeed(this.map.get(key));
    if (next) this.map.set(key, next);
    else this.map.delete(key);
  }
  empty(key: string): boolean {
    const e = this.map.get(key);
    return !e || this.policy.empty(e, Date.now());
  }
}

function refused(t: Entries, key: string): boolean {
  try {
    t.check(key);
    return false;
  } catch (err) {
    expect(err).toBeInstanceOf(RocketError);
    expect((err as RocketError).status).toBe(429);
    return true;
  }
}

/** One complete failed attempt. */
function failOnce(t: Entries, key: string): void {
  t.check(key);
  t.fail(key);
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LoginPolicy', () => {
  it('locks after maxFailures within the window, for lockMs', () => {
    const t = new Entries(new LoginPolicy(3, LOCK_MS));
    for (let i = 0; i < 3; i++) failOnce(t, 'a');
    expect(refused(t, 'a')).toBe(true);
    expect(refused(t, 'b')).toBe(false);
    vi.advanceTimersByTime(LOCK_MS - 1);
    expect(refused(t, 'a')).toBe(true);
    vi.advanceTimersByTime(2);
    expect(refused(t, 'a')).toBe(false);
  });

  it('failures spread beyond the window do not add up', () => {
    const t = new Entries(new LoginPolicy(3, LOCK_MS));
    failOnce(t, 'a');
    failOnce(t, 'a');
    vi.advanceTimersByTime(LOCK_MS + 1);
    failOnce(t, 'a');
    expect(refused(t, 'a')).toBe(false);
  });

  it('a success resets the count', () => {
    const t = new Entries(new LoginPolicy(3, LOCK_MS));
    failOnce(t, 'a');
    failOnce(t, 'a');
    t.check('a');
    t.succeed('a');
    failOnce(t, 'a');
    failOnce(t, 'a');
    expect(refused(t, 'a')).toBe(false);
  });

  it('attempts in flight count against the limit; stale reservations expire', () => {
    const t = new Entries(new LoginPolicy(3, LOCK_MS));
    t.check('a');
    t.check('a');
    t.check('a');
    expect(refused(t, 'a')).toBe(true); // three guesses are being verified: no fourth
    t.fail('a');
    expect(refused(t, 'a')).toBe(true); // 1 failure + 2 in flight
    t.succeed('a');
    t.succeed('a');
    expect(refused(t, 'a')).toBe(false);
    // reservations that never report back (crash mid-login) stop counting after a while
    const u = new Entries(new LoginPolicy(2, LOCK_MS));
    u.check('x');
    u.check('x');
    expect(refused(u, 'x')).toBe(true);
    vi.advanceTimersByTime(31_000);
    expect(refused(u, 'x')).toBe(false);
  });

  it('an entry is empty (may be deleted) once its window and lock are over', () => {
    const t = new Entries(new LoginPolicy(2, LOCK_MS));
    failOnce(t, 'a');
    failOnce(t, 'a');
    expect(t.empty('a')).toBe(false);
    vi.advanceTimersByTime(LOCK_MS + 1);
    expect(t.empty('a')).toBe(true);
  });
});
