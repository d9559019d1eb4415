import { compileExpr, ExprCompileError, ExprRuntimeError, RULE_VARIABLES } from '../../src/expr/index.js';

export const NOW = new Date('2025-06-15T12:00:00Z');

/** A typical rule context. */
export function ruleVars(): Record<string, unknown> {
  return {
    record: {
      id: 'inv-1',
      status: 'paid',
      total: '1500.00',
      subtotal: 100,
      tax_rate: 0.1,
      quantity: 3,
      unit_price: 2.5,
      first_name: 'John',
      last_name: 'Doe',
      payment_date: null,
      start_date: '2025-01-01',
      end_date: '2025-01-10',
      created_at: '2025-01-15T10:30:00Z',
      tags: ['a', 'b', 'c'],
      items: [
        { sku: 'x', quantity: 2, unit_price: 10 },
        { sku: 'y', quantity: 1, unit_price: '5.5' },
      ],
      meta: { color: 'red', length: 7, nested: { deep: true } },
      empty_list: [],
      empty_obj: {},
      zero: 0,
      blank: '',
      flag: false,
    },
    old: { status: 'sent', total: 1000 },
    action: 'update',
    user: { id: 'u1', email: 'a@example.com', roles: ['user', 'accountant'] },
    entity: 'invoice',
    related: {
      invoices: [{ id: 1 }, { id: 2 }],
      items: [
        { quantity: 2, unit_price: 3 },
        { quantity: 4, unit_price: 0.5 },
      ],
    },
    now: NOW,
  };
}

export function ev(source: string, vars: Record<string, unknown> = ruleVars(), variables: readonly string[] = RULE_VARIABLES): unknown {
  return compileExpr(source, variables).evaluate(vars);
}

export function compileError(source: string, variables: readonly string[] = RULE_VARIABLES): ExprCompileError {
  try {
    compileExpr(source, variables);
  } catch (e) {
    if (e instanceof ExprCompileError) return e;
    throw new Error(`expected ExprCompileError, got ${String(e)}`);
  }
  throw new Error(`expected a compile error for ${source}`);
}

export function runtimeError(source: string, vars: Record<string, unknown> = ruleVars()): ExprRuntimeError {
  const compiled = compileExpr(source, RULE_VARIABLES);
  try {
    compiled.evaluate(vars);
  } catch (e) {
    if (e instanceof ExprRuntimeError) return e;
    throw new Error(`expected ExprRuntimeError, got ${String(e)}`);
  }
  throw new Error(`expected a runtime error for ${source}`);
}
