import { describe, expect, it } from 'vitest';
import { compileExpr, ExprRuntimeError, RULE_VARIABLES, safeRegex } from '../../src/expr/index.js';
import { ruleVars } from './helpers.js';

/** Evaluates `source` with extra record fields; returns the value or the runtime error's message. */
function run(source: string, record: Record<string, unknown>): { value: unknown } | { error: string } {
  const vars = ruleVars();
  Object.assign(vars.record as Record<string, unknown>, record);
  const compiled = compileExpr(source, RULE_VARIABLES);
  try {
    return { value: compiled.evaluate(vars) };
  } catch (e) {
    expect(e).toBeInstanceOf(ExprRuntimeError);
    return { error: (e as Error).message };
  }
}

function errorOf(source: string, record: Record<string, unknown>): string {
  const r = run(source, record);
  if ('value' in r) throw new Error(`expected a runtime error from ${source}, got ${JSON.stringify(r.value)?.slice(0, 80)}`);
  return r.error;
}

function resultOf(source: string, record: Record<string, unknown>): unknown {
  const r = run(source, record);
  if ('error' in r) throw new Error(`expected a value from ${source}, got error ${r.error}`);
  return r.value;
}

const KB = 1024;
/** Two equal strings that are distinct objects, so comparing them walks every character. */
const twin = (n: number): [string, string] => ['x'.repeat(n), 'x'.repeat(n)];
const list = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('regex work is charged to the step budget', () => {
  const BIG_PATTERN = '(a|b|c|d|e|f|g|h){500}x';
  const input = 'abcdefgh'.repeat(25_000); // 200,000 characters

  it('a large pattern on a large input ends with the budget error', () => {
    expect(errorOf(`record.s matches "${BIG_PATTERN}"`, { s: input })).toContain('step budget exhausted');
  });

  it('the same pattern on a short input still matches', () => {
    expect(resultOf(`record.s matches "${BIG_PATTERN}"`, { s: `${'a'.repeat(500)}x` })).toBe(true);
    expect(resultOf(`record.s matches "${BIG_PATTERN}"`, { s: 'a'.repeat(400) })).toBe(false);
  });

  it('repeated large-pattern matches share one budget', () => {
    expect(errorOf(`count(record.list, x => record.s matches "${BIG_PATTERN}")`, { s: 'abcdefgh'.repeat(500), list: list(200) })).toContain(
      'step budget exhausted',
    );
  });

  it('patterns from data are charged for their size, compiled or cached', () => {
    const patterns = list(200).map((i) => `(a{100}){100}${i}`);
    expect(errorOf('count(record.patterns, p => record.status matches p)', { patterns })).toContain('step budget exhausted');
  });

  it('(a|b)*c on 1 MB still works', () => {
    const s = 'ab'.repeat(512 * KB);
    expect(resultOf("record.s matches '(a|b)*c'", { s })).toBe(false);
    expect(resultOf("record.s matches '(a|b)*c'", { s: `${s}c` })).toBe(true);
    expect(resultOf("record.s matches '^[^@]+@[^@]+$'", { s: `${s}@x` })).toBe(true);
  });

  it('field-rule patterns (RegExp#test) are capped per match and then fail', () => {
    const re = safeRegex(BIG_PATTERN);
    // Too expensive to decide: reported as no match, so the pattern rule fails as for an invalid pattern.
    const matchingAtTheEnd = `${input}${'a'.repeat(500)}x`;
    expect(re.test(matchingAtTheEnd)).toBe(false);
    expect(re.exec(matchingAtTheEnd)).toBeNull();
    expect(re.test(`${input.slice(0, 100)}${'a'.repeat(500)}x`)).toBe(true);
    expect(safeRegex('(a|b)*c').test(`${'ab'.repeat(512 * KB)}c`)).toBe(true);
  });

  it('the bounded search reports exhaustion rather than an answer', () => {
    const re = safeRegex(BIG_PATTERN);
    const r = re.searchWithin(input, 1_000_000);
    expect(r.exhausted).toBe(true);
    expect(r.matched).toBe(false);
    const ok = re.searchWithin(`${'a'.repeat(500)}x`, Number.POSITIVE_INFINITY);
    expect(ok).toMatchObject({ matched: true, exhausted: false });
    expect(ok.work).toBeGreaterThan(re.programSize);
  });

  it('over-long patterns from data are refused', () => {
    expect(errorOf('record.status matches record.p', { p: 'a'.repeat(100 * KB) })).toContain('pattern too long');
  });
});

describe('the total size of built strings is bounded', () => {
  const S = 'x'.repeat(512 * KB);
  const twenty = list(20);

  it('nested maps concatenating 512 KB strings fail instead of building 400 MB', () => {
    expect(errorOf('map(record.l, x => map(record.l, y => record.S + record.S))', { S, l: twenty })).toContain('built too much text');
  });

  it.each([
    ['string()', 'map(record.l, x => string([record.S]))'],
    ['lower()', 'map(record.l, x => lower(record.S))'],
    ['upper()', 'map(record.l, x => upper(record.S))'],
    ['trim()', "map(record.l, x => trim(' ' + record.S))"],
    ['.toUpperCase()', 'map(record.l, x => record.S.toUpperCase())'],
    ['.toLowerCase()', 'map(record.l, x => record.S.toLowerCase())'],
    ['.trim()', "map(record.l, x => (record.S + ' ').trim())"],
    ['+ with a number', 'map(record.l, x => record.S + x)'],
  ])('%s counts towards the total', (_name, source) => {
    expect(errorOf(source, { S, l: twenty })).toContain('built too much text');
  });

  it('building up to the total is fine', () => {
    expect(resultOf('len(map(record.l, x => record.S + x))', { S, l: list(10) })).toBe(10);
    expect(resultOf("record.first_name + ' ' + record.last_name", {})).toBe('John Doe');
  });
});

describe('operations that walk strings pay per KiB', () => {
  const [s, t] = twin(100 * KB);
  const n = `${'0'.repeat(100 * KB)}1`;
  const d = `${' '.repeat(100 * KB)}2025-01-01`;
  const many = list(2000);

  it.each([
    'record.s == record.t',
    'record.s != record.t',
    'record.s === record.t',
    'record.s < record.t',
    'record.s <= record.t',
    'record.s > record.t',
    'record.s >= record.t',
    'record.s startsWith record.t',
    'record.s endsWith record.t',
    'startsWith(record.s, record.t)',
    'endsWith(record.s, record.t)',
    'record.s.startsWith(record.t)',
    'record.s.endsWith(record.t)',
    'record.s contains record.t',
    'record.s.includes(record.t)',
    'record.t in record.s',
    'record.s in [record.t]',
    'len(record.s)',
    'max(record.s, record.t)',
    'record.n > 1',
    'record.n == 1',
    'record.n * 1',
    'record.n + 1',
    '-record.n',
    'int(record.n)',
    'float(record.n)',
    'abs(record.n)',
    'round(record.n)',
    'sum([record.n])',
    'date(record.d)',
    'record.d < now',
    'days(record.d, now)',
    'record.meta[record.s]',
    "{a: 1}[record.s] ?? 'k' in {a: record.s}",
  ])('%s', (op) => {
    expect(errorOf(`count(record.many, x => ${op})`, { s, t, n, d, many })).toContain('step budget exhausted');
  });

  it('a budget of walks over 1 MB strings ends with the budget error', () => {
    const [a, b] = twin(1024 * KB);
    const n = `${'0'.repeat(1024 * KB - 1)}1`;
    for (const op of ['record.a startsWith record.b', 'record.a == record.b', 'record.a > record.b', '-record.n']) {
      expect(errorOf(`count(record.many, x => ${op})`, { a, b, n, many: list(100_000) })).toContain('step budget exhausted');
    }
  });

  it('short strings cost nothing extra', () => {
    const short = 'x'.repeat(1000);
    const source = 'count(record.many, x => record.s == record.t && record.s startsWith record.t && len(record.s) > 0)';
    expect(resultOf(source, { s: short, t: 'x'.repeat(1000), many: list(2000) })).toBe(2000);
  });
});

describe('expression strings computed at run time', () => {
  it('self-recursion through data ends with a clear error, not a stack overflow', () => {
    const a = 'map([{e: e}], e)';
    expect(errorOf('map([{e: record.a}], record.a)', { a })).toContain('expression strings nested too deeply');
  });

  it('self-recursion with deep nesting at every level stays within the stack', () => {
    const wrap = (inner: string): string => `${'['.repeat(60)}${inner}${']'.repeat(60)}`;
    const a = wrap('map([{e: e}], e)');
    expect(errorOf(wrap('map([{e: record.a}], record.a)'), { a })).toContain('expression strings nested too deeply');
  });

  it('a few levels of expression strings work', () => {
    const groups = [{ items: [{ quantity: 2, unit_price: 3 }] }, { items: [{ quantity: 1, unit_price: 4 }] }];
    expect(resultOf('sum(record.groups, \'sum(items, "quantity * unit_price")\')', { groups })).toBe(10);
    expect(resultOf('sum(record.groups, record.f)', { groups, f: 'sum(items, "quantity * unit_price")' })).toBe(10);
  });

  it.each([
    ['length', `${'1+'.repeat(2100)}1`, 'expression too long'],
    ['length of 1 MB', `${'1+'.repeat(512 * KB)}1`, 'expression too long'],
    ['depth', `${'('.repeat(65)}1${')'.repeat(65)}`, 'nested too deeply (max 64)'],
    ['forbidden names', 'constructor', 'forbidden name constructor'],
    ['forbidden keys', "e['__proto__']", 'forbidden member name __proto__'],
    ['unknown functions', 'eval(e)', 'unknown function eval'],
  ])('go through the compile-time limits: %s', (_name, f, message) => {
    expect(errorOf('map(record.items, record.f)', { f })).toContain(message);
  });

  it('are charged for their length each time they are resolved', () => {
    // Cheap to run, but each one is compiled.
    const sources = list(300).map((i) => `'${'x'.repeat(3000)}' != ${i}`);
    expect(errorOf('count(record.sources, s => count([1], s))', { sources })).toContain('step budget exhausted');
    expect(resultOf('count(record.sources, s => count([1], s))', { sources: sources.slice(0, 200) })).toBe(200);
  });
});
