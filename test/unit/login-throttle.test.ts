import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoginThrottle } from '../../src/auth/login-throttle.js';
import { RocketError } from '../../src/errors.js';

const LOCK_MS = 10_000;

function refused(t: LoginThrottle, key: string): boolean {
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
function failOnce(t: LoginThrottle, key: string): void {
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

describe('LoginThrottle', () => {
  it('locks after maxFailures within the window, for lockMs', () => {
    const t = new LoginThrottle(3, LOCK_MS);
    for (let i = 0; i < 3; i++) failOnce(t, 'a');
    expect(refused(t, 'a')).toBe(true);
    expect(refused(t, 'b')).toBe(false);
    vi.advanceTimersByTime(LOCK_MS - 1);
    expect(refused(t, 'a')).toBe(true);
    vi.advanceTimersByTime(2);
    expect(refused(t, 'a')).toBe(false);
  });

  it('failures spread beyond the window do not add up', () => {
    const t = new LoginThrottle(3, LOCK_MS);
    failOnce(t, 'a');
    failOnce(t, 'a');
    vi.advanceTimersByTime(LOCK_MS + 1);
    failOnce(t, 'a');
    expect(refused(t, 'a')).toBe(false);
  });

  it('a success resets the count', () => {
    const t = new LoginThrottle(3, LOCK_MS);
    failOnce(t, 'a');
    failOnce(t, 'a');
    t.check('a');
    t.succeed('a');
    failOnce(t, 'a');
    failOnce(t, 'a');
    expect(refused(t, 'a')).toBe(false);
  });

  it('attempts in flight count against the limit; stale reservations expire', () => {
    const t = new LoginThrottle(3, LOCK_MS);
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
    const u = new LoginThrottle(2, LOCK_MS);
    u.check('x');
    u.check('x');
    expect(refused(u, 'x')).toBe(true);
    vi.advanceTimersByTime(31_000);
    expect(refused(u, 'x')).toBe(false);
  });

  it('flooding the table with other keys does not drop an active lock', () => {
    const t = new LoginThrottle(2, LOCK_MS);
    failOnce(t, 'victim');
    failOnce(t, 'victim');
    expect(refused(t, 'victim')).toBe(true);
    for (let i = 0; i < 120_000; i++) failOnce(t, `junk${i}`);
    expect(refused(t, 'victim')).toBe(true);
  });
});
