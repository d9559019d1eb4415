/**
 * Audit 5 of the expression language: values JavaScript would make non-finite or invalid
 * (Infinity, an Invalid Date, NaN from getTime()) are runtime errors; the language only ever
 * yields JSON values and valid dates (expressions.md §Values).
 */
import { describe, expect, it } from 'vitest';
import { ev, runtimeError } from './helpers.js';

describe('date ± milliseconds past the representable range', () => {
  it.each([
    ['now + 1e20', "'+': date out of range"],
    ['1e20 + now', "'+': date out of range"],
    ['now - 1e20', "'-': date out of range"],
    ["date('2024-02-29') + 8.64e15", "'+': date out of range"],
    ['(now + 1e20).getTime()', "'+': date out of range"],
    ['string(now - 1e20)', "'-': date out of range"],
  ])('%s is a runtime error', (source, message) => {
    expect(runtimeError(source).message).toBe(message);
  });

  it('dates inside the range still shift, including across month ends and leap days', () => {
    expect((ev("date('2024-02-28') + 86400000") as Date).toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect((ev("date('2024-03-01') - 86400000") as Date).toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect((ev("date('2024-01-31T23:30:00-02:00') + 0") as Date).toISOString()).toBe('2024-02-01T01:30:00.000Z');
    expect((ev('date(0) + 8.64e15') as Date).toISOString()).toBe('+275760-09-13T00:00:00.000Z');
  });
});

describe('sum overflow', () => {
  it.each([['sum([1e308, 1e308])'], ["sum(['1e308', '1e308'])"], ["sum([{q: 1e308}, {q: 1e308}], 'q')"], ['sum([-1e308, -1e308], x => x)']])(
    '%s is a runtime error like +',
    (source) => {
      expect(runtimeError(source).message).toBe('sum: number out of range');
    },
  );

  it('large sums that stay finite are values', () => {
    expect(ev('sum([1e308, -1e308, 1e308])')).toBe(1e308);
    expect(ev('sum([1e308, 7e307])')).toBe(1.7e308);
  });
});
