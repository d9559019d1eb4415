import { describe, expect, it } from 'vitest';
import { compileExpr, ExprCompileError, ExprRuntimeError, RULE_VARIABLES } from '../../src/expr/index.js';
import { ruleVars } from './helpers.js';

/** What a hostile expression must end in. */
type Outcome =
  | { readonly compile: string } // ExprCompileError whose message contains this
  | { readonly runtime: string } // ExprRuntimeError whose message contains this
  | { readonly value: unknown }; // a harmless value

interface Attempt {
  readonly name: string;
  readonly source: string;
  readonly outcome: Outcome;
  readonly vars?: () => Record<string, unknown>;
  readonly maxMs?: number;
}

const BIG = 'x'.repeat(600 * 1024);

function withRecord(extra: Record<string, unknown>): () => Record<string, unknown> {
  return () => {
    const v = ruleVars();
    Object.assign(v.record as Record<string, unknown>, extra);
    return v;
  };
}

let getterCalls = 0;
function varsWithGetter(): Record<string, unknown> {
  const v = ruleVars();
  Object.defineProperty(v.record, 'secret', {
    enumerable: true,
    get: () => {
      getterCalls++;
      return 'leaked';
    },
  });
  return v;
}

class Host {
  readonly x = 'host';
  method(): string {
    return 'called';
  }
}

const ATTEMPTS: readonly Attempt[] = [
  // forbidden names in every syntax
  { name: 'constructor via dot', source: 'record.constructor', outcome: { compile: 'forbidden member name constructor' } },
  { name: '__proto__ via dot', source: 'record.__proto__', outcome: { compile: 'forbidden member name __proto__' } },
  { name: 'prototype via dot', source: 'record.prototype', outcome: { compile: 'forbidden member name prototype' } },
  { name: 'constructor via optional dot', source: 'record?.constructor', outcome: { compile: 'forbidden member name constructor' } },
  { name: 'constructor via brackets', source: "record['constructor']", outcome: { compile: 'forbidden member name constructor' } },
  { name: '__proto__ via brackets', source: 'record["__proto__"]', outcome: { compile: 'forbidden member name __proto__' } },
  { name: 'prototype via optional brackets', source: "record?.['prototype']", outcome: { compile: 'forbidden member name prototype' } },
  { name: 'escaped constructor string', source: "record['\\u0063onstructor']", outcome: { compile: 'forbidden member name constructor' } },
  { name: 'constructor chain on array', source: 'user.roles.constructor', outcome: { compile: 'forbidden member name constructor' } },
  {
    name: 'Function via constructor.constructor',
    source: "user.roles.constructor.constructor('return process')()",
    outcome: { compile: 'only whitelisted functions and methods can be called' },
  },
  {
    name: 'Function via constructor.constructor without the call',
    source: "user.roles.constructor.constructor('return process')",
    outcome: { compile: 'forbidden member name constructor' },
  },
  { name: 'constructor of a date', source: 'now.constructor', outcome: { compile: 'forbidden member name constructor' } },
  { name: 'constructor as object literal key', source: '{constructor: 1}', outcome: { compile: 'forbidden key constructor' } },
  { name: '__proto__ as object literal key', source: "{'__proto__': {polluted: true}}", outcome: { compile: 'forbidden key __proto__' } },
  {
    name: 'constructor as arrow parameter',
    source: 'map(record.tags, constructor => constructor)',
    outcome: { compile: 'forbidden name constructor' },
  },
  { name: '__proto__ as variable', source: '__proto__', outcome: { compile: 'forbidden name __proto__' } },
  {
    name: 'constructor inside arrow body',
    source: 'record.items.map(i => i.constructor)',
    outcome: { compile: 'forbidden member name constructor' },
  },
  { name: 'constructor inside expression string', source: "map(record.items, 'constructor')", outcome: { compile: 'forbidden name constructor' } },
  // computed keys built at run time
  { name: "computed 'con'+'structor'", source: "record['con' + 'structor']", outcome: { value: null } },
  { name: "computed '__pro'+'to__'", source: "record['__pro' + 'to__']", outcome: { value: null } },
  { name: 'computed prototype on array', source: "record.tags['proto' + 'type']", outcome: { value: null } },
  { name: 'computed constructor on string', source: "'abc'['constr' + 'uctor']", outcome: { value: null } },
  { name: 'computed constructor then call', source: "record['con' + 'structor'] ?? 1", outcome: { value: 1 } },
  { name: 'computed key from data', source: 'record[record.key]', vars: withRecord({ key: '__proto__' }), outcome: { value: null } },
  {
    name: 'own data key named constructor is still hidden',
    source: "record['constr' + 'uctor']",
    vars: () => ({ ...ruleVars(), record: JSON.parse('{"constructor": "x"}') as unknown }),
    outcome: { value: null },
  },
  { name: 'array as computed key', source: "record[['constructor']]", outcome: { value: null } },
  {
    name: 'dynamic expression string naming constructor',
    source: 'map(record.items, record.f)',
    vars: withRecord({ f: 'constructor' }),
    outcome: { runtime: 'forbidden name constructor' },
  },
  {
    name: 'dynamic expression string calling process',
    source: 'map(record.items, record.f)',
    vars: withRecord({ f: 'process.exit(1)' }),
    outcome: { runtime: 'unknown method exit' },
  },
  // globals and the host
  { name: 'this', source: 'this', outcome: { compile: 'unknown variable this' } },
  { name: 'this.constructor', source: 'this.constructor', outcome: { compile: 'forbidden member name constructor' } },
  { name: 'globalThis', source: 'globalThis.process', outcome: { compile: 'unknown variable globalThis' } },
  { name: 'process', source: 'process.env.SECRET', outcome: { compile: 'unknown variable process' } },
  { name: 'require', source: "require('child_process')", outcome: { compile: 'unknown function require' } },
  { name: 'dynamic import', source: "import('fs')", outcome: { compile: 'unknown function import' } },
  { name: 'Function', source: "Function('return process')", outcome: { compile: 'unknown function Function' } },
  { name: 'Function()()', source: "Function('return process')()", outcome: { compile: 'only whitelisted functions and methods can be called' } },
  { name: 'new Function', source: "new Function('return 1')", outcome: { compile: "'new' is only allowed as new Date" } },
  { name: 'eval', source: "eval('1')", outcome: { compile: 'unknown function eval' } },
  { name: 'function keyword', source: 'function() { return 1 }', outcome: { compile: 'function definitions are not allowed' } },
  { name: 'typeof', source: 'typeof record', outcome: { compile: "unexpected 'record'" } },
  { name: 'delete', source: 'delete record.status', outcome: { compile: "unexpected 'record'" } },
  // calling things that are not whitelisted functions
  { name: 'call a data member', source: 'record.x()', outcome: { compile: 'unknown method x' } },
  { name: 'call a string value as method', source: 'record.status()', outcome: { compile: 'unknown method status' } },
  { name: 'immediately invoked arrow', source: '(x => x)()', outcome: { compile: 'only whitelisted functions and methods can be called' } },
  { name: 'call a computed member', source: "record['toString']()", outcome: { compile: 'only whitelisted functions and methods can be called' } },
  { name: 'call a call result', source: 'len(record.tags)()', outcome: { compile: 'only whitelisted functions and methods can be called' } },
  { name: 'optional call', source: 'record.status?.()', outcome: { compile: 'only whitelisted functions and methods can be called' } },
  { name: 'toString() method', source: 'record.toString()', outcome: { compile: 'unknown method toString' } },
  { name: 'valueOf() method', source: 'record.total.valueOf()', outcome: { compile: 'unknown method valueOf' } },
  { name: 'hasOwnProperty() method', source: "record.hasOwnProperty('status')", outcome: { compile: 'unknown method hasOwnProperty' } },
  { name: '__defineGetter__', source: "record.__defineGetter__('x', 1)", outcome: { compile: 'unknown method __defineGetter__' } },
  { name: 'date mutation', source: 'now.setFullYear(2000)', outcome: { compile: 'unknown method setFullYear' } },
  { name: 'string repeat', source: "'a'.repeat(10000000)", outcome: { compile: 'unknown method repeat' } },
  { name: 'array push', source: "record.tags.push('x')", outcome: { compile: 'unknown method push' } },
  {
    name: 'call a function value from data',
    source: 'record.fn()',
    vars: withRecord({ fn: () => 'called' }),
    outcome: { compile: 'unknown method fn' },
  },
  // prototype members are not data
  { name: 'toString member', source: 'record.toString', outcome: { value: null } },
  { name: 'valueOf member', source: 'record.valueOf', outcome: { value: null } },
  { name: 'hasOwnProperty member', source: 'record.hasOwnProperty', outcome: { value: null } },
  { name: '__lookupGetter__ member', source: 'record.__lookupGetter__', outcome: { value: null } },
  { name: 'array method as member', source: 'record.tags.map', outcome: { value: null } },
  { name: 'string method as member', source: 'record.status.toUpperCase', outcome: { value: null } },
  { name: "'toString' in record", source: "'toString' in record", outcome: { value: false } },
  { name: 'function value in data', source: 'record.fn', vars: withRecord({ fn: () => 'called' }), outcome: { value: null } },
  { name: 'class instance in data', source: 'record.inst.x', vars: withRecord({ inst: new Host() }), outcome: { value: null } },
  { name: 'class instance method', source: 'record.inst.method', vars: withRecord({ inst: new Host() }), outcome: { value: null } },
  { name: 'getter is not invoked', source: 'record.secret', vars: varsWithGetter, outcome: { value: null } },
  { name: 'getter via computed key', source: "record['sec' + 'ret']", vars: varsWithGetter, outcome: { value: null } },
  // syntax that is not part of the language
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the expression source is meant to hold a template literal
  { name: 'template literal', source: '`${process.exit()}`', outcome: { compile: 'template literals are not supported' } },
  { name: 'assignment', source: "record.status = 'paid'", outcome: { compile: 'assignment is not allowed' } },
  { name: 'assignment to length', source: 'record.tags.length = 0', outcome: { compile: 'assignment is not allowed' } },
  { name: 'statements', source: "record.status == 'paid'; process.exit()", outcome: { compile: 'statements are not allowed' } },
  { name: 'spread', source: '[...record.tags]', outcome: { compile: "unexpected character '...'" } },
  { name: 'unicode escape in identifier', source: '\\u0063onstructor', outcome: { compile: "unexpected character '\\'" } },
  { name: 'comment', source: '1 // comment', outcome: { compile: 'unexpected' } },
  { name: 'getter syntax in object literal', source: '{get x() { return 1 }}', outcome: { compile: "expected ':'" } },
  { name: 'arrow at top level', source: 'x => x', outcome: { compile: 'arrow functions are only allowed' } },
  { name: 'arrow as operand', source: '1 + (x => x)', outcome: { compile: 'arrow functions are only allowed' } },
  { name: 'arrow in array literal', source: '[x => x]', outcome: { compile: 'arrow functions are only allowed' } },
  { name: 'arrow as non-function argument', source: 'len(x => x)', outcome: { compile: 'arrow functions are only allowed' } },
  // limits
  { name: 'source over 4 KB', source: `record.status == '${'a'.repeat(4100)}'`, outcome: { compile: 'expression too long' } },
  { name: 'source over 4 KB in UTF-8 bytes', source: `record.status == '${'é'.repeat(2100)}'`, outcome: { compile: 'expression too long' } },
  { name: '65 nested parentheses', source: `${'('.repeat(65)}1${')'.repeat(65)}`, outcome: { compile: 'nested too deeply' } },
  { name: '1000 nested parentheses', source: `${'('.repeat(1000)}1${')'.repeat(1000)}`, outcome: { compile: 'nested too deeply' } },
  { name: '65 nested arrays', source: `${'['.repeat(65)}${']'.repeat(65)}`, outcome: { compile: 'nested too deeply' } },
  { name: '65 negations', source: `${'!'.repeat(65)}true`, outcome: { compile: 'nested too deeply' } },
  { name: '65 nested calls', source: `${'abs('.repeat(65)}1${')'.repeat(65)}`, outcome: { compile: 'nested too deeply' } },
  {
    name: 'string over 1 MB by +',
    source: 'record.big + record.big',
    vars: withRecord({ big: BIG }),
    outcome: { runtime: 'string result too large' },
  },
  {
    name: 'string over 1 MB by doubling in map',
    source: 'map(record.tags, t => record.big + record.big + t)',
    vars: withRecord({ big: BIG }),
    outcome: { runtime: 'string result too large' },
  },
  {
    name: 'string over 1 MB by string(map(...))',
    source: 'string(map(record.list, x => record.big))',
    vars: withRecord({ big: BIG, list: [1, 2, 3] }),
    outcome: { runtime: 'result too large' },
  },
  {
    name: 'string over 1 MB by upper()',
    source: 'upper(record.ss)',
    vars: withRecord({ ss: 'ß'.repeat(600 * 1024) }),
    outcome: { runtime: 'string result too large' },
  },
  {
    name: 'nested map over a large list',
    source: 'len(map(record.list, x => map(record.list, y => x)))',
    vars: withRecord({ list: Array.from({ length: 1000 }, (_, i) => i) }),
    outcome: { runtime: 'step budget exhausted' },
    maxMs: 2000,
  },
  {
    name: 'exponential structure via string()',
    source: 'string(map(record.list, x => map(record.list, y => record.list)))',
    vars: withRecord({ list: Array.from({ length: 300 }, (_, i) => i) }),
    outcome: { runtime: 'step budget exhausted' },
    maxMs: 2000,
  },
  {
    name: 'step budget with expression strings',
    source: 'count(record.list, \'len(filter(list, "true"))\')',
    vars: withRecord({ list: Array.from({ length: 400 }, () => ({ list: Array.from({ length: 400 }, (_, i) => i) })) }),
    outcome: { runtime: 'step budget exhausted' },
    maxMs: 2000,
  },
  { name: 'catastrophic regex literal', source: "'aaaaaaaaaaaaaaaaaaaaaaaaaaaa!' matches '(a+)+$'", outcome: { value: false }, maxMs: 200 },
  {
    name: 'catastrophic regex on long input',
    source: "record.s matches '(a|aa)+$'",
    vars: withRecord({ s: `${'a'.repeat(50_000)}!` }),
    outcome: { value: false },
    maxMs: 2000,
  },
  {
    name: 'polynomial regex on long input',
    source: "record.s matches '.*.*.*x'",
    vars: withRecord({ s: 'a'.repeat(20_000) }),
    outcome: { value: false },
    maxMs: 2000,
  },
  { name: 'regex back-reference', source: "record.status matches '(a)\\\\1'", outcome: { compile: 'back-references are not supported' } },
  {
    name: 'regex look-ahead from data',
    source: 'record.status matches record.p',
    vars: withRecord({ p: '(?=a)' }),
    outcome: { runtime: 'look-around is not supported' },
  },
  {
    name: 'deep data equality overflows the stack',
    source: 'record.deep == record.deep2',
    vars: withRecord(deepPair()),
    outcome: { runtime: 'evaluation failed' },
  },
  { name: 'deep data stringify overflows the stack', source: 'string(record.deep)', vars: withRecord(deepPair()), outcome: { runtime: '' } },
];

function deepPair(): Record<string, unknown> {
  let a: unknown[] = [];
  let b: unknown[] = [];
  for (let i = 0; i < 200_000; i++) {
    a = [a];
    b = [b];
  }
  return { deep: a, deep2: b };
}

function sanity(): void {
  const e = compileExpr("record.status == 'paid' && len(user.roles) == 2", RULE_VARIABLES);
  expect(e.evaluate(ruleVars())).toBe(true);
}

describe('sandbox escape attempts fail safely', () => {
  it('has at least 30 attempts', () => {
    expect(ATTEMPTS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(ATTEMPTS.map((a) => ({ ...a, label: a.name })))('$label', (a) => {
    const vars = (a.vars ?? ruleVars)();
    const started = performance.now();
    let outcome: Outcome;
    try {
      const compiled = compileExpr(a.source, RULE_VARIABLES);
      try {
        outcome = { value: compiled.evaluate(vars) };
      } catch (e) {
        expect(e).toBeInstanceOf(ExprRuntimeError);
        outcome = { runtime: (e as Error).message };
      }
    } catch (e) {
      expect(e).toBeInstanceOf(ExprCompileError);
      outcome = { compile: (e as Error).message };
    }
    const elapsed = performance.now() - started;
    if ('compile' in a.outcome) {
      expect(outcome).toHaveProperty('compile');
      expect((outcome as { compile: string }).compile).toContain(a.outcome.compile);
    } else if ('runtime' in a.outcome) {
      expect(outcome).toHaveProperty('runtime');
      expect((outcome as { runtime: string }).runtime).toContain(a.outcome.runtime);
    } else {
      expect(outcome).toEqual({ value: a.outcome.value });
    }
    expect(elapsed).toBeLessThan(a.maxMs ?? 1000);
    expect(getterCalls).toBe(0);
    sanity();
  });

  it('evaluation never changes the input values', () => {
    const vars = ruleVars();
    const before = JSON.stringify(vars);
    for (const src of [
      "map(record.tags, t => t + '!')",
      'filter(record.items, i => i.quantity > 1)',
      'record.items.map(i => i.sku)',
      '{a: record.meta, b: record.tags}',
      'values(record.meta)',
      'keys(record)',
    ]) {
      compileExpr(src, RULE_VARIABLES).evaluate(vars);
    }
    expect(JSON.stringify(vars)).toBe(before);
  });

  it('results built by the evaluator have no polluted prototype', () => {
    const o = compileExpr("{a: 1, 'b': 2}", RULE_VARIABLES).evaluate({}) as Record<string, unknown>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('64 levels of nesting are allowed', () => {
    expect(compileExpr(`${'('.repeat(64)}1${')'.repeat(64)}`, []).evaluate({})).toBe(1);
    expect(compileExpr(`${'!'.repeat(64)}true`, []).evaluate({})).toBe(true);
  });

  it('a long flat chain within 4 KB compiles and evaluates', () => {
    const src = Array.from({ length: 1365 }, () => '1').join('+');
    expect(src.length).toBeLessThanOrEqual(4096);
    expect(compileExpr(src, []).evaluate({})).toBe(1365);
    const logic = Array.from({ length: 1300 }, () => '1').join('&&');
    expect(compileExpr(logic, []).evaluate({})).toBe(1);
  });

  it('evaluate only ever throws ExprRuntimeError, even for odd inputs', () => {
    const e = compileExpr('record.a.b', RULE_VARIABLES);
    expect(e.evaluate(null as unknown as Record<string, unknown>)).toBeNull();
    expect(e.evaluate({ record: Object.create(null) as unknown })).toBeNull();
    const proxy = new Proxy(
      {},
      {
        getOwnPropertyDescriptor: () => {
          throw new TypeError('boom');
        },
        getPrototypeOf: () => Object.prototype,
      },
    );
    expect(() => e.evaluate({ record: proxy })).toThrow(ExprRuntimeError);
  });
});
