import { describe, expect, it } from 'vitest';
import { compileExpr, ExprCompileError, formatCompileError, RULE_VARIABLES, WEBHOOK_VARIABLES, WORKFLOW_VARIABLES } from '../../src/expr/index.js';
import { compileError } from './helpers.js';

describe('compile errors', () => {
  it.each([
    ['foo > 1', 'unknown variable foo', 0],
    ["record.a == 'x' && bar", 'unknown variable bar', 19],
    ['', 'empty expression', 0],
    ['   ', 'empty expression', 0],
    ['1 +', 'unexpected end of expression', 3],
    ['(1 + 2', "expected ')' but the expression ended", 6],
    ["'abc", 'unterminated string', 0],
    ['record.', "expected a member name after '.'", 7],
    ['1 2', 'unexpected number 2', 2],
    ['record.a == = 1', 'assignment is not allowed', 12],
    ['a ? b', "expected ':'", 5],
    ['[1, 2', "expected ']'", 5],
    ['{a 1}', "expected ':'", 3],
    ['1 & 2', "unexpected character '&'", 2],
    ['1 | 2', "unexpected character '|'", 2],
    ['#', "unexpected character '#'", 0],
    ["'\\q'", 'invalid escape sequence', 1],
    ['1.2.3', "expected a member name after '.'", 4],
    ['12abc', 'invalid number', 0],
    ['1e', 'invalid number', 0],
    ['+1', "unary '+' is not supported", 0],
    ['in record', "unexpected 'in'", 0],
    ['record and', 'unexpected end of expression', 10],
    ['new Foo()', "'new' is only allowed as new Date(...)", 0],
    ['record not 1', "unexpected 'not'", 7],
    // the receiver is checked before the method name: the leftmost problem is reported
    ['Math.max(1, 2)', 'unknown variable Math', 0],
    ['JSON.stringify(record)', 'unknown variable JSON', 0],
    ['record.s.foo()', 'unknown method foo', 9],
  ])('%j → %s at %d', (src, message, position) => {
    const e = compileError(src);
    expect(e).toBeInstanceOf(ExprCompileError);
    expect(e.message).toContain(message);
    expect(e.position).toBe(position);
  });

  it('formats as the admin API shows it', () => {
    const e = compileError('record.a == nope');
    expect(formatCompileError(e)).toBe('invalid expression: unknown variable nope at 12');
  });

  it('variable lists match the spec', () => {
    expect([...RULE_VARIABLES].sort()).toEqual(['action', 'entity', 'now', 'old', 'record', 'related', 'user']);
    expect([...WORKFLOW_VARIABLES].sort()).toEqual(['context', 'now', 'record', 'trigger']);
    expect([...WEBHOOK_VARIABLES].sort()).toEqual(['action', 'changes', 'entity', 'event', 'now', 'old', 'record', 'user']);
  });

  it('variables are checked against the context', () => {
    expect(compileError('related.x', WEBHOOK_VARIABLES).message).toBe('unknown variable related');
    expect(compileError('changes.x', RULE_VARIABLES).message).toBe('unknown variable changes');
    expect(() => compileExpr('changes.total.new > changes.total.old && event == "after_write"', WEBHOOK_VARIABLES)).not.toThrow();
    expect(() => compileExpr('trigger.record.amount > 1', WORKFLOW_VARIABLES)).not.toThrow();
  });

  it('a compiled expression keeps its source', () => {
    expect(compileExpr('1 + 1', []).source).toBe('1 + 1');
  });
});
