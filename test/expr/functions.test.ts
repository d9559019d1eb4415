import { describe, expect, it } from 'vitest';
import { compileExpr, RULE_VARIABLES } from '../../src/expr/index.js';
import { compileError, ev, NOW, ruleVars, runtimeError } from './helpers.js';

type Case = readonly [source: string, expected: unknown];

function table(name: string, cases: readonly Case[]): void {
  describe(name, () => {
    it.each(cases.map(([s, e]) => ({ s, e })))('$s', ({ s, e }) => {
      expect(ev(s)).toEqual(e);
    });
  });
}

table('size and strings', [
  ['len(record.tags)', 3],
  ['size(record.tags)', 3],
  ["len('héllo')", 5],
  ["len('😀')", 1],
  ["'😀'.length", 2],
  ['len(record.meta)', 3],
  ['len(record.missing)', 0],
  ['len(related.invoices) > 0', true],
  ['len([])', 0],
  ["lower('AbC')", 'abc'],
  ["upper('AbC')", 'ABC'],
  ["trim('  x ')", 'x'],
  ['lower(null)', null],
  ['upper(record.missing)', null],
  ["'AbC'.toLowerCase()", 'abc'],
  ["'AbC'.toUpperCase()", 'ABC'],
  ["'  x '.trim()", 'x'],
  ["'abc'.includes('b')", true],
  ["'abc'.startsWith('ab')", true],
  ["'abc'.endsWith('bc')", true],
  ["'abc'.endsWith('b')", false],
  ['record.missing.toLowerCase()', null],
  ['record.missing?.trim()', null],
  ["contains('abc', 'b')", true],
  ["contains(record.tags, 'c')", true],
  ["contains(record.meta, 'color')", true],
  ["contains(null, 'x')", false],
  ["startsWith('abc', 'a')", true],
  ["endsWith('abc', 'c')", true],
  ["matches('abc-123', '^[a-z]+-\\\\d+$')", true],
  ["matches('abc', '^\\\\d+$')", false],
  ['string(12)', '12'],
  ['string(1.5)', '1.5'],
  ['string(true)', 'true'],
  ['string(null)', 'null'],
  ["string('s')", 's'],
  ["string([1, 'a', {b: null}])", '[1,"a",{"b":null}]'],
  ['string(record.meta)', '{"color":"red","length":7,"nested":{"deep":true}}'],
]);

table('numbers', [
  ['abs(-3)', 3],
  ["abs('-2.5')", 2.5],
  ['abs(null)', null],
  ['floor(2.7)', 2],
  ['floor(-2.1)', -3],
  ['ceil(2.1)', 3],
  ['round(2.5)', 3],
  ['round(-2.5)', -3],
  ['round(2.4)', 2],
  ['round(1.005, 2)', 1.01],
  ['round(1234.5678, 1)', 1234.6],
  ['round(1250, -2)', 1300],
  ['round(null)', null],
  ["round('2.45', 1)", 2.5],
  ['min(3, 1, 2)', 1],
  ['max(3, 1, 2)', 3],
  ['min([4, 2, 8])', 2],
  ['max([4, 2, 8])', 8],
  ['min(null, 5)', 5],
  ["max('a', 'c', 'b')", 'c'],
  ["max(1, '5', 3)", '5'],
  ['min([])', null],
  ["min(date('2025-01-02'), date('2025-01-01')) == '2025-01-01'", true],
  ['int(3.9)', 3],
  ['int(-3.9)', -3],
  ["int('42')", 42],
  ["int('4.7')", 4],
  ['int(true)', 1],
  ['int(null)', null],
  ['float(3)', 3],
  ["float('2.5')", 2.5],
  ["float(' 7 ')", 7],
  ['float(false)', 0],
  ['float(null)', null],
]);

table('lists with arrow functions and expression strings', [
  ["sum(related.items, 'quantity * unit_price')", 8],
  ['sum(related.items, i => i.quantity * i.unit_price)', 8],
  ['sum([1, 2, 3])', 6],
  ["sum([1, '2.5', null])", 3.5],
  ['sum(record.missing)', 0],
  ['sum([])', 0],
  ["sum(record.items, 'quantity * unit_price')", 25.5],
  ['count(record.items, i => i.quantity > 1)', 1],
  ["count(record.items, 'quantity >= 1')", 2],
  ['count([0, 1, 2, null])', 2],
  ["any(record.items, i => i.sku == 'y')", true],
  ['any(record.items, \'sku == "z"\')', false],
  ['any([], x => true)', false],
  ['all(record.items, i => i.quantity > 0)', true],
  ["all(record.items, 'quantity > 1')", false],
  ['all([], x => false)', true],
  ['none(record.items, i => i.quantity > 5)', true],
  ['none(record.items, x => x.sku)', false],
  ['filter(record.items, i => i.quantity > 1)', [{ sku: 'x', quantity: 2, unit_price: 10 }]],
  ["map(record.items, 'sku')", ['x', 'y']],
  ['map(record.items, (x, i) => i * 10)', [0, 10]],
  ['map(record.tags, t => upper(t))', ['A', 'B', 'C']],
  ['map([1, 2, 3], x => x * 2)', [2, 4, 6]],
  ["map([{a: 1}, {b: 2}], 'a')", [1, null]],
  ["map([1, 2], 'missing')", [null, null]],
  ['first(record.tags)', 'a'],
  ['last(record.tags)', 'c'],
  ['first([])', null],
  ['last(record.missing)', null],
  ['keys(record.meta)', ['color', 'length', 'nested']],
  ["values({a: 1, b: 'x'})", [1, 'x']],
  ['keys(null)', []],
  ['record.items.map(i => i.sku)', ['x', 'y']],
  ['record.items.filter(i => i.quantity == 1).length', 1],
  ["record.items.find(i => i.sku == 'y').quantity", 1],
  ["record.items.find(i => i.sku == 'q')", null],
  ['record.items.some(i => i.quantity > 1)', true],
  ['record.items.every(i => i.quantity > 1)', false],
  ["record.tags.includes('b')", true],
  ['[1, 2].includes(2.0)', true],
  ['[{a: 1}].includes({a: 1})', true],
  ["record.items.map('quantity')", [2, 1]],
  ['record.tags.map((t, i) => t + i)', ['a0', 'b1', 'c2']],
  // nested arrows keep their own parameters
  [
    'map([1, 2], x => map([10, 20], y => x + y))',
    [
      [11, 21],
      [12, 22],
    ],
  ],
  ['map([1, 2], x => sum([10, 20], y => y) + x)', [31, 32]],
  ["map([{n: [1, 2]}, {n: [3]}], x => sum(x.n, 'quantity') + len(x.n))", [2, 1]],
  // string expressions see only the element's keys
  ["sum(related.items, 'quantity * unit_price + len(record)')", 8],
]);

describe('now', () => {
  it('now() and the now variable use the now passed in', () => {
    expect(ev('now()')).toEqual(NOW);
    expect(ev('now')).toEqual(NOW);
    expect(ev('now().getTime()')).toBe(NOW.getTime());
  });
  it('without a now variable, now() is the current time', () => {
    const before = Date.now();
    const t = compileExpr('now().getTime()', ['record']).evaluate({}) as number;
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
  it('is fixed within one evaluation', () => {
    expect(compileExpr('now() == now()', ['record']).evaluate({})).toBe(true);
  });
});

describe('ISO-8601 dates', () => {
  it.each([
    ["date('2025-01-01T10:00:00+02') == date('2025-01-01T08:00:00Z')", true],
    ["date('2025-01-01 10:00:00-05') == date('2025-01-01T15:00:00Z')", true],
    ["date('2025-01-01T10:00:00+0530').getTime() == date('2025-01-01T04:30:00Z').getTime()", true],
    ["now > '2025-06-15T13:00:00+02'", true],
    ["date('2024-02-29T10:00:00Z').getTime() == date('2024-02-29').getTime() + 36000000", true],
    ["date('2000-02-29') != nil", true],
  ])('%s', (src, expected) => {
    expect(ev(src)).toBe(expected);
  });

  it.each([
    "date('2025-02-29T10:00:00Z')",
    "date('2025-04-31T00:00:00+02:00')",
    "date('2025-02-30 12:00')",
    "date('1900-02-29')",
    "date('2025-01-01T10:00:00+2')",
  ])('%s is not a date (no rolling over into the next month)', (src) => {
    expect(runtimeError(src).message).toMatch(/is not an ISO-8601 date$/);
  });

  it('a date-time on a day that does not exist compares as no date', () => {
    expect(ev("now > '2025-02-29T10:00:00Z'")).toBe(false);
    expect(ev("now < '2025-02-29T10:00:00Z'")).toBe(false);
  });
});

describe('dynamic expression strings', () => {
  it('evaluates a string expression held in data', () => {
    const vars = ruleVars();
    (vars.record as Record<string, unknown>).formula = 'quantity';
    expect(ev('sum(related.items, record.formula)', vars)).toBe(6);
  });
  it('a bad dynamic expression is a runtime error', () => {
    const vars = ruleVars();
    (vars.record as Record<string, unknown>).formula = 'quantity *';
    expect(runtimeError('sum(related.items, record.formula)', vars).message).toContain('invalid expression');
    (vars.record as Record<string, unknown>).formula = 'constructor';
    expect(runtimeError('sum(related.items, record.formula)', vars).message).toContain('forbidden name constructor');
  });
  it('a non-string, non-arrow function argument is a runtime error', () => {
    expect(runtimeError('sum(related.items, 5)').message).toContain('expected an arrow function or an expression string');
  });
});

describe('function runtime errors', () => {
  it.each([
    ['len(5)', 'len: expected a string, array or object, got number'],
    ['len(true)', 'len'],
    ['lower(5)', 'lower: expected a string'],
    ["abs('x')", 'abs: expected a number'],
    ['sum(5)', 'sum: expected an array'],
    ["sum(['a'])", 'sum: expected a number'],
    ["int('abc')", "int: cannot convert 'abc'"],
    ["float('1x')", 'float'],
    ["date('yesterday')", "date: 'yesterday' is not an ISO-8601 date"],
    ["date('2025-02-31')", 'not an ISO-8601 date'],
    ['date(true)', 'date: cannot convert boolean'],
    ["days('x', now)", 'days'],
    ["min(1, 'a')", 'min: cannot compare'],
    ["keys('x')", 'keys: expected an object'],
    ['first(5)', 'first: expected an array'],
    ['round(1, 0.5)', 'round: digits'],
    ["'abc'.some(x => x)", 'some() is not a method of string'],
    ['record.tags.toLowerCase()', 'toLowerCase() is not a method of array'],
    ['record.meta.includes(1)', 'includes() is not a method of object'],
    ['(5).getTime()', 'getTime() is not a method of number'],
    ["matches('a', record.missing ?? '(a')", 'matches: invalid regular expression: unterminated group'],
    ["'a' matches (record.missing ?? '(?!x)')", 'look-around is not supported'],
    ["'x'.includes(1)", 'cannot look for number'],
  ])('%s', (src, message) => {
    expect(runtimeError(src).message).toContain(message);
  });
});

describe('function compile errors', () => {
  it.each([
    ['foo(1)', 'unknown function foo', 0],
    ['len()', 'len() takes 1 argument, got 0', 0],
    ['len(1, 2)', 'len() takes 1 argument', 0],
    ['round(1, 2, 3)', 'round() takes 1 to 2 arguments', 0],
    ['map(record.tags)', 'map() takes 2 arguments', 0],
    ['min()', 'min() takes at least 1 argument', 0],
    ['record.tags.sort()', 'unknown method sort', 12],
    ["'a'.length()", 'unknown method length', 4],
    ['len(x => x)', 'arrow functions are only allowed', 4],
    ['map(x => x, record.tags)', 'arrow functions are only allowed', 4],
    ["sum(record.items, 'quantity *')", 'in expression string: unexpected end of expression', 29],
    ["sum(record.items, 'constructor')", 'forbidden name constructor', 19],
    ["matches('a', '(a')", 'invalid regular expression', 13],
    ["record.status matches '(?=x)'", 'look-around is not supported', 22],
    ["'a' matches '(a)\\\\1'", 'back-references', 12],
    ['map(record.tags, (a, b, c) => a)', 'at most 2 parameters', 24],
    ['map(record.tags, constructor => 1)', 'forbidden name constructor', 17],
    ['map(record.tags, true => 1)', "expected ')' but found '=>'", 22],
  ])('%s', (src, message, position) => {
    const e = compileError(src);
    expect(e.message).toContain(message);
    expect(e.position).toBe(position);
  });

  it('compiles with the variables of each context', () => {
    expect(() => compileExpr('context.amount > 10000 && trigger.action == "create"', ['context', 'trigger', 'record', 'now'])).not.toThrow();
    expect(compileError('user.id', ['context', 'trigger', 'record', 'now']).message).toBe('unknown variable user');
    expect(() => compileExpr('record.a', RULE_VARIABLES)).not.toThrow();
  });
});
