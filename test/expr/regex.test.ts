import { describe, expect, it } from 'vitest';
import { safeRegex } from '../../src/expr/index.js';

describe('safeRegex', () => {
  const agree: readonly [string, string][] = [
    ['^[a-z0-9]+(-[a-z0-9]+)*$', 'my-post-title'],
    ['^[a-z0-9]+(-[a-z0-9]+)*$', 'My-Post'],
    ['^[a-z0-9]+(-[a-z0-9]+)*$', 'a--b'],
    ['^[^@]+@[^@]+\\.[^@]+$', 'john@company.com'],
    ['^[^@]+@[^@]+\\.[^@]+$', 'john@company'],
    ['\\bcat\\b', 'a cat!'],
    ['\\bcat\\b', 'concat'],
    ['\\Bcat', 'concat'],
    ['a{2,3}', 'xaax'],
    ['^a{2,3}$', 'aaaa'],
    ['^a{2,}$', 'aaaa'],
    ['^a{2}$', 'aa'],
    ['(a|b)*c', 'ababc'],
    ['colou?r', 'color'],
    ['^\\d{5}(-\\d{4})?$', '12345-6789'],
    ['^\\d{5}(-\\d{4})?$', '1234'],
    ['[^]', ''],
    ['[]', 'a'],
    ['[^]', 'x'],
    ['x*', ''],
    ['^$', ''],
    ['a.c', 'a\nc'],
    ['a.c', 'abc'],
    ['[\\d-z]', '-'],
    ['\\u0041\\x42', 'AB'],
    ['(?<year>\\d{4})-(\\d\\d)', 'on 2025-01 ok'],
    ['a+?', 'aaa'],
    ['(?:ab)+', 'xababx'],
    ['[A-Z][a-z]+', 'hello World'],
    ['\\s+', 'a \t b'],
    ['^\\S+$', 'no-space'],
    ['\\W', 'abc_1'],
    ['[.]', 'a.b'],
    ['\\.', 'ab'],
    ['a|b|c', 'zzc'],
    ['^(a|ab)(c|bcd)$', 'abcd'],
    ['a}', 'a}'],
    ['a]', 'a]'],
    ['a{', 'a{'],
    ['a{1,', 'a{1,'],
    ['[a-]', '-'],
    ['[\\]]', ']'],
    ['\\/', '/'],
    ['[\\b]', '\b'],
    ['(a*)*b', 'aaab'],
    ['(a?){3}', 'aa'],
    ['^(?:[01]\\d|2[0-3]):[0-5]\\d$', '23:59'],
    ['^(?:[01]\\d|2[0-3]):[0-5]\\d$', '24:00'],
    ['é+', 'café'],
    ['😀', 'a😀b'],
  ];

  it.each(agree)('%s on %j agrees with RegExp', (pattern, input) => {
    const native = new RegExp(pattern);
    const safe = safeRegex(pattern);
    expect(safe).toBeInstanceOf(RegExp);
    expect(safe.source).toBe(native.source);
    expect(safe.test(input)).toBe(native.test(input));
    const a = safe.exec(input);
    const b = native.exec(input);
    expect(a === null ? null : [...a]).toEqual(b === null ? null : [...b]);
    expect(a?.index).toBe(b?.index);
    expect(a?.groups).toEqual(b?.groups);
  });

  it('works with String#match, #search and #replace', () => {
    expect('x-y'.replace(safeRegex('-(y)'), '[$1]')).toBe('x[y]');
    expect('abc'.search(safeRegex('c'))).toBe(2);
    expect('abc'.match(safeRegex('b'))?.index).toBe(1);
  });

  it.each([
    ['(a)\\1', 'back-references are not supported'],
    ['(?<x>a)\\k<x>', 'back-references are not supported'],
    ['(?=a)', 'look-around is not supported'],
    ['(?!a)', 'look-around is not supported'],
    ['(?<=a)b', 'look-around is not supported'],
    ['(?<!a)b', 'look-around is not supported'],
    ['a**', 'nothing to repeat'],
    ['*a', 'nothing to repeat'],
    ['^*', 'nothing to repeat'],
    ['{2}', 'nothing to repeat'],
    ['(', 'unterminated group'],
    ['a)', 'unmatched )'],
    ['[a', 'unterminated character class'],
    ['[z-a]', 'range out of order'],
    ['a{3,2}', 'numbers out of order'],
    ['a{1001}', 'repeat count too large'],
    ['\\p{L}', 'unicode property escapes'],
    ['\\c', 'unsupported escape'],
    ['\\q', 'unsupported escape'],
    ['a\\', 'at end of pattern'],
    ['\\01', 'octal'],
    ['(?i)a', 'invalid group'],
    [`${'a'.repeat(1025)}`, 'pattern too long'],
    ['(?<n>a)(?<n>b)', 'duplicate group name'],
    ['((((a{1000}){1000}){1000}))', 'too complex'],
  ])('rejects %s', (pattern, message) => {
    expect(() => safeRegex(pattern)).toThrow(message);
    // cached errors are rethrown too
    expect(() => safeRegex(pattern)).toThrow(message);
  });

  it.each([
    ['(a+)+$', `${'a'.repeat(100_000)}!`],
    ['(a|aa)+$', `${'a'.repeat(100_000)}!`],
    ['(a*)*b', 'a'.repeat(100_000)],
    ['^(\\w+\\s?)*$', `${'word '.repeat(20_000)}!`],
    ['.*.*.*.*x', 'a'.repeat(100_000)],
    ['^[^@]+@[^@]+\\.[^@]+$', `x@${'a.'.repeat(50_000)}@`],
    ['\\d+x', '1'.repeat(100_000)],
  ])('%s runs in linear time', (pattern, input) => {
    const started = performance.now();
    expect(safeRegex(pattern).test(input)).toBe(false);
    expect(safeRegex(pattern).exec(input.slice(-20_000))).toBeNull();
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('split and matchAll are refused rather than falling back to backtracking', () => {
    expect(() => 'a,b'.split(safeRegex(','))).toThrow('not supported');
  });
});
