/**
 * Micro-benchmark of the expression evaluator: `npx tsx bench/expr-bench.ts`.
 * Compiles a ~10-node rule once and times evaluate() over many iterations.
 */
import { compileExpr, RULE_VARIABLES } from '../src/expr/index.js';

export const BENCH_SOURCE = "record.status == 'paid' && record.total > 100 && !('admin' in user.roles)";

export function benchVars(i: number): Record<string, unknown> {
  return {
    record: { id: `r${i}`, status: 'paid', total: 150 + (i % 7), payment_date: null },
    old: null,
    action: 'update',
    user: { id: 'u1', email: 'a@example.com', roles: ['user', 'accountant'] },
    entity: 'invoice',
    related: {},
    now: new Date('2025-01-15T10:30:00Z'),
  };
}

/** Mean nanoseconds per evaluate() over `iterations` calls, after a warm-up. */
export function measure(iterations: number): { nsPerEval: number; trueCount: number } {
  const expr = compileExpr(BENCH_SOURCE, RULE_VARIABLES);
  const inputs = Array.from({ length: 64 }, (_, i) => benchVars(i));
  let trueCount = 0;
  for (let i = 0; i < Math.min(iterations, 100_000); i++) if (expr.evaluate(inputs[i & 63]) === true) trueCount++;
  trueCount = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (expr.evaluate(inputs[i & 63]) === true) trueCount++;
  const elapsed = Number(process.hrtime.bigint() - start);
  return { nsPerEval: elapsed / iterations, trueCount };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const iterations = 1_000_000;
  const { nsPerEval, trueCount } = measure(iterations);
  const us = nsPerEval / 1000;
  console.log(`expression: ${BENCH_SOURCE}`);
  console.log(`evaluate(): ${us.toFixed(3)} µs per evaluation over ${iterations} iterations (${trueCount} true)`);
  console.log(us < 2 ? 'OK: under the 2 µs target' : 'SLOW: over the 2 µs target');
  if (us >= 2) process.exitCode = 1;
}
