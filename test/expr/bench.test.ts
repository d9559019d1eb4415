import { describe, expect, it } from 'vitest';
import { measure } from '../../bench/expr-bench.js';

describe('evaluation speed', () => {
  it('a ~10-node rule evaluates in well under 20 µs', () => {
    const { nsPerEval, trueCount } = measure(200_000);
    expect(trueCount).toBe(200_000);
    expect(nsPerEval / 1000).toBeLessThan(20);
  });
});
