import { describe, expect, it } from 'vitest';
import { truthy } from '../../src/expr/index.js';
import { ev, runtimeError } from './helpers.js';

type Case = readonly [source: string, expected: unknown];

function table(name: string, cases: readonly Case[]): void {
  describe(name, () => {
    it.each(cases.map(([s, e]) => ({ s, e })))('$s', ({ s, e }) => {
      expect(ev(s)).toEqual(e);
    });
  });
}

table('literals', [
  ['12', 12], ['3.5', 3.5], ['1e3', 1000], ['2.5E-1', 0.25], ["'it\\'s'", "it's"], ['"dq \\"x\\""', 'dq "x"'],
  ["'a\\nb\\t\\u0041\\x42\\u{1F600}'", 'a\nb\tAB\u{1F600}'], ['true', true], ['false', false],
  ['null', null], ['nil', null], ['undefined', null], ['[1, "a", null]', [1, 'a', null]], ['[]', []],
  ["{k: 1, 'k2': 'v', \"k3\": [true]}", { k: 1, k2: 'v', k3: [true] }], ['{}', {}], ['[1, 2,]', [1, 2]], ['-5', -5],
]);

table('member access', [
  ['record.status', 'paid'], ['record.missing', null], ['record.missing.deeper.still', null], ['old.nope', null],
  ["record['status']", 'paid'], ['record["first_name"]', 'John'], ['record.tags[0]', 'a'], ['record.tags[-1]', 'c'],
  ['record.tags[-3]', 'a'], ['record.tags[3]', null], ['record.tags[-4]', null], ['record.tags[0.5]', null],
  ["record.tags['1']", 'b'], ['record.items[1].sku', 'y'], ['record.items[-1].sku', 'y'], ['record.meta.nested.deep', true],
  ['record?.status', 'paid'], ['record.missing?.x', null], ['record.missing?.[0]', null], ['record.tags?.[1]', 'b'],
  ["record['sta' + 'tus']", 'paid'], ['record.tags[1 + 1]', 'c'], ["'abc'[0]", 'a'], ["'abc'[-1]", 'c'],
  ['record.tags.length', 3], ["'héllo'.length", 5], ['record.meta.length', 7], ['record.empty_obj.length', null],
  ['record.status.foo', null], ['record.total.x', null], ['null.x', null], ['record.tags.x', null],
]);

table('comparison (both dialects)', [
  ["record.status == 'paid'", true], ["record.status === 'paid'", true], ["record.status != 'paid'", false],
  ["record.status !== 'paid'", false], ['1 == 1.0', true], ['1 === 1.0', true], ["1 == '1'", true], ["'1' == 1", true],
  ["'1.0' == '1'", false], ['record.total == 1500', true], ['record.total > 1000', true], ['record.total < 1000', false],
  ['record.total >= 1500', true], ['record.total <= 1500.001', true], ["'10' > 9", true], ["'abc' > 1", false],
  ["'2025-01-02' > '2025-01-01'", true], ["'b' > 'a'", true], ["'B' < 'a'", true], ['null == nil', true],
  ['record.payment_date == nil', true], ['record.payment_date == null', true], ['record.missing == undefined', true],
  ["record.payment_date == ''", false], ['null == 0', false], ['null == false', false], ['0 == false', false],
  ["'' == false", false], ['true == true', true], ['null < 1', false], ['null > 1', false], ['null >= null', false],
  ['1 < null', false], ["true > 'a'", false], ['[1, 2] == [1, 2]', true], ['[1, 2] == [2, 1]', false],
  ["[1, '2'] == ['1', 2]", true], ['{a: 1} == {a: 1}', true], ['{a: 1} == {a: 1, b: 2}', false],
  ["{a: [1, {b: 'x'}]} == {a: [1, {b: 'x'}]}", true], ['[1] == {0: 1}', false], ['record.tags == [\'a\', \'b\', \'c\']', true],
  ['[] == []', true], ['[1, 2] < [1, 3]', false], ['old == nil', false],
]);

table('dates', [
  ['new Date(record.end_date) >= new Date(record.start_date)', true],
  ['new Date(record.end_date) < new Date(record.start_date)', false],
  ["date('2025-01-01') == date('2025-01-01T00:00:00Z')", true],
  ["date('2025-01-01') == '2025-01-01'", true], ["date('2025-01-01') == '2025-01-01T00:00:00.000Z'", true],
  ["date('2025-01-01') < '2025-01-02'", true], ["'2025-01-02' > date('2025-01-01T23:59:59Z')", true],
  ["now > '2025-06-15'", true], ["now < '2025-06-15T12:00:01Z'", true], ['now == now()', true],
  ["now > date('2025-06-15T13:00:00+02:00')", true], ["date('2025-06-15T10:00:00+02:00') == date('2025-06-15T08:00:00Z')", true],
  ["date('2025-06-15T10:00:00') == date('2025-06-15T10:00:00Z')", true],
  ['record.created_at < now', true], ["record.created_at > '2025-01-15'", true],
  ["date('2025-01-01') == 'not a date'", false], ["date('2025-01-01') > 'zzz'", false], ["date('2025-01-01') > 5", false],
  ['date(0) == \'1970-01-01\'', true], ['date(86400000).getTime()', 86400000], ['new Date(0).getTime()', 0],
  ["days('2025-01-01', '2025-01-31')", 30], ["days('2025-01-31', '2025-01-01')", -30],
  ["days('2025-01-01T00:00:00Z', '2025-01-02T23:00:00Z')", 1], ['days(record.start_date, record.end_date)', 9],
  ['days(record.start_date, now)', 165], ['days(null, now)', null], ['date(null)', null], ["date('')", null],
  ['new Date(record.missing) >= new Date(record.start_date)', false],
  ["date('2025-01-02') - date('2025-01-01')", 86400000], ["(date('2025-01-01') + 86400000) == '2025-01-02'", true],
  ["(date('2025-01-02') - 86400000) == '2025-01-01'", true], ['string(date(0))', '1970-01-01T00:00:00.000Z'],
  ['new Date() == now', true], ['date() == now', true],
]);

table('logic (both dialects)', [
  ['true && false', false], ['true and true', true], ['false || true', true], ['false or false', false],
  ['!true', false], ['not true', false], ['!!record.status', true], ['not record.payment_date', true],
  ["record.status == 'paid' and old.total > 0", true], ["record.status == 'x' or old.status == 'sent'", true],
  ["record.status && 'second'", 'second'], ['record.zero && record.missing.x', 0], ["record.blank || 'fallback'", 'fallback'],
  ['record.missing ?? 42', 42], ['record.zero ?? 42', 0], ["record.blank ?? 'x'", ''], ['record.flag ?? true', false],
  ["true ? 'y' : 'n'", 'y'], ["record.zero ? 'y' : 'n'", 'n'], ["record.empty_list ? 'y' : 'n'", 'y'],
  ["record.empty_obj ? 'y' : 'n'", 'y'], ["record.blank ? 'y' : 'n'", 'n'], ["null ? 'y' : 'n'", 'n'],
  ["1 ? 2 ? 'a' : 'b' : 'c'", 'a'], ["0 ? 'a' : 1 ? 'b' : 'c'", 'b'], ["record.missing ?? null ? 'y' : 'n'", 'n'],
  ['false && 1 / 0', false], ['true || 1 / 0', true], ['1 ?? 1 / 0', 1], ['!(1 == 2)', true],
]);

table('arithmetic', [
  ['1 + 2', 3], ['7 - 10', -3], ['3 * 4', 12], ['7 / 2', 3.5], ['7 % 3', 1], ['-7 % 3', -1], ['-(2 + 3)', -5],
  ['- record.subtotal', -100], ["'a' + 'b'", 'ab'], ["record.first_name + ' ' + record.last_name", 'John Doe'],
  ['record.subtotal * (1 + record.tax_rate)', 110.00000000000001], ['record.quantity * record.unit_price', 7.5],
  ['record.total + 1', 1501], ["record.total * '2'", 3000], ["'10' - '4'", 6], ["'10' + '4'", '104'],
  ["'n=' + 5", 'n=5'], ["5 + ' items'", '5 items'], ["'ok: ' + true", 'ok: true'], ['1 + null', null],
  ['null * 3', null], ["'a' + null", null], ['record.missing - 1', null], ['-null', null], ["-'3'", -3],
  ['0.1 + 0.2 > 0.3', true], ['2 * 3 + 4', 10], ['2 + 3 * 4', 14], ['(2 + 3) * 4', 20], ['10 - 4 - 3', 3],
  ['100 / 10 / 5', 2], ['2 * 3 % 4', 2], ['1 - -1', 2],
]);

table('membership and string tests', [
  ["'admin' in user.roles", false], ["'user' in user.roles", true], ["'admin' not in user.roles", true],
  ["'user' not in user.roles", false], ["!('admin' in user.roles)", true], ["'color' in record.meta", true],
  ["'nope' in record.meta", false], ["'ell' in 'hello'", true], ["'z' in 'hello'", false], ['2 in [1, 2, 3]', true],
  ["'2' in [1, 2, 3]", true], ["{a: 1} in [{a: 1}]", true], ["'x' in null", false], ["'x' not in null", true],
  ["'a' in record.missing", false], ['1 in record.meta', false],
  ["record.status contains 'ai'", true], ["record.status contains 'x'", false], ["record.tags contains 'b'", true],
  ["record.status startsWith 'pa'", true], ["record.status endsWith 'id'", true], ["record.status endsWith 'pa'", false],
  ["record.missing startsWith 'a'", false], ["record.status matches '^p.+d$'", true], ["record.status matches 'x'", false],
  ["record.missing matches 'x'", false], ["'abc' matches 'B'", false], ["user.email matches '^[^@]+@[^@]+\\\\.[^@]+$'", true],
  ["'a' + 'b' in ['ab']", true], ["'x' in ['x'] == true", true], ["1 + 1 in [2]", true],
]);

table('precedence', [
  ['1 + 2 * 3 == 7 && 2 > 1', true], ['!false == true', true], ['not false == true', true], ['-2 * -2', 4],
  ["true || false && false", true], ["(true || false) && false", false], ["null ?? false || true", true],
  ["1 < 2 == true", true], ["1 == 1 ? 'a' : 'b'", 'a'], ["record.total > 1000 && record.status == 'paid' || false", true],
  ['record.tags.length * 2', 6], ['-record.tags.length', -3], ["!record.tags.includes('z')", true],
  ["record.items[0].quantity * record.items[1].unit_price", 11],
]);

describe('truthy', () => {
  it.each([
    [false, false], [null, false], [undefined, false], [0, false], ['', false], [Number.NaN, false],
    [true, true], [1, true], [-1, true], ['0', true], ['false', true], [[], true], [{}, true], [new Date(0), true],
  ])('%j → %s', (v, expected) => {
    expect(truthy(v)).toBe(expected);
  });
});

describe('arithmetic runtime errors', () => {
  it.each([
    ['1 / 0', 'division by zero'], ['1 % 0', 'division by zero'], ["'a' - 1", "cannot apply '-'"],
    ['true + 1', "cannot apply '+'"], ['[1] + [2]', "cannot apply '+'"], ["-'x'", 'cannot negate'],
    ['{a: 1} * 2', "cannot apply '*'"], ['1e308 * 10', 'out of range'],
    ["record.status contains 5", 'cannot look for number'], ['5 contains 1', 'expected a string, array or object'],
    ["'a' in 5", 'expected a string, array or object'], ["5 startsWith 'a'", 'expected a string'],
    ["record.status matches 5", 'expected a string'],
  ])('%s', (src, message) => {
    expect(runtimeError(src).message).toContain(message);
  });
});
