/**
 * Audit 11 of the expression language through HTTP (expressions.md; rules.md §Expression/Computed rules;
 * state-machines.md guards): operators and functions on edge arguments, precedence and short-circuits,
 * comparisons across types, the documented limits, the exact 422 answers when a bad expression is saved and
 * the runtime-error answers when one is evaluated, sandbox escapes, and computed results that hold the record.
 * (audit5-expressions covers out-of-range dates and sums; this file does not repeat it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

let s: TestServer;
let app: { name: string; token: string };
const { admin, rec } = appCalls(() => ({ server: s, app }));

type Rule = { type: 'expression' | 'computed'; expression: string; field?: string; hook?: string; message?: string };

/** Runs `body` with the given active rules on `probe`, then removes them. */
async function withRules(rules: Rule[], body: () => Promise<void>): Promise<void> {
  const ids: string[] = [];
  try {
    for (const r of rules) {
      const created = await admin('post', 'rules', {
        entity: 'probe',
        hook: r.hook ?? 'before_write',
        type: r.type,
        definition: { expression: r.expression, ...(r.field ? { field: r.field } : {}), ...(r.message ? { message: r.message } : {}) },
      });
      expect(created.status, `${r.expression}: ${JSON.stringify(created.body)}`).toBe(201);
      ids.push(created.body.data.id);
    }
    await body();
  } finally {
    for (const id of ids) await admin('delete', `rules/${id}`);
  }
}

/** The value a computed json field `out` gets from `expression` on a create of `payload`. */
async function computeOnCreate(expression: string, payload: Record<string, unknown> = {}): Promise<unknown> {
  let out: unknown;
  await withRules([{ type: 'computed', field: 'out', expression }], async () => {
    const res = await rec('post', 'probe', { name: 'calc', ...payload });
    expect(res.status, `${expression}: ${JSON.stringify(res.body)}`).toBe(201);
    out = res.body.data.out;
  });
  return out;
}

async function rowCount(): Promise<number> {
  const res = await rec('get', 'probe?limit=1000');
  expect(res.status).toBe(200);
  return res.body.data.length;
}

async function ruleCount(): Promise<number> {
  const res = await admin('get', 'rules');
  expect(res.status).toBe(200);
  return res.body.data.length;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  const entity = {
    name: 'probe',
    table: 'probes',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string' },
      { name: 'status', type: 'string', default: 'draft' },
      { name: 'n', type: 'int' },
      { name: 'amount', type: 'decimal', precision: 2 },
      { name: 'start_at', type: 'timestamp' },
      { name: 'end_at', type: 'timestamp' },
      { name: 'day', type: 'date' },
      { name: 'doc', type: 'json' },
      { name: 'out', type: 'json' },
      { name: 'label', type: 'string' },
    ],
  };
  expect((await admin('post', 'entities', entity)).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

describe('computed results that hold the record itself', () => {
  it('stores a snapshot of the record (no 500) when the result is the record or contains it, on create and on update', async () => {
    for (const expression of [
      'record',
      '[record]',
      '{r: record, n: record.n}',
      'first([record])',
      'record ?? 1',
      'map([1, 2], x => record)',
      'filter([record, old], r => r != nil)',
    ]) {
      await withRules([{ type: 'computed', field: 'out', expression }], async () => {
        const created = await rec('post', 'probe', { name: 'self', n: 1 });
        expect(created.status, `${expression}: ${JSON.stringify(created.body)}`).toBe(201);
        const snap = { name: 'self', n: 1, status: 'draft', out: null };
        const out = created.body.data.out;
        const first = Array.isArray(out) ? out[0] : 'r' in out ? out.r : out;
        expect(first, expression).toMatchObject(snap);
        // What was read back is what was stored.
        expect((await rec('get', `probe/${created.body.data.id}`)).body.data.out).toEqual(out);

        const updated = await rec('put', `probe/${created.body.data.id}`, { n: 2 });
        expect(updated.status, `${expression}: ${JSON.stringify(updated.body)}`).toBe(200);
        const again = updated.body.data.out;
        const head = Array.isArray(again) ? again[0] : 'r' in again ? again.r : again;
        // The merged record as the rule saw it: n sent, out still the stored value.
        expect(head, expression).toMatchObject({ name: 'self', n: 2, status: 'draft' });
        expect(head.out).toEqual(out);
      });
    }
  });

  it('a later computed rule sees the earlier snapshot, and a result for a non-field is still dropped', async () => {
    await withRules(
      [
        { type: 'computed', field: 'not_a_field', expression: 'record' },
        { type: 'computed', field: 'out', expression: '[record]' },
        { type: 'computed', field: 'label', expression: "string(record.out[0].n) + '/' + string(record.out[0].out)" },
      ],
      async () => {
        const res = await rec('post', 'probe', { name: 'chain', n: 7 });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        expect(res.body.data.label).toBe('7/null');
        expect(res.body.data).not.toHaveProperty('not_a_field');
      },
    );
  });
});

describe('compile errors when a rule is saved', () => {
  const bad: [string, string][] = [
    ['record.n ==', 'unexpected end of expression at 11'],
    ['recrd.n == 1', 'unknown variable recrd at 0'],
    ['context.amount > 1', 'unknown variable context at 0'],
    ['this.x', 'unknown variable this at 0'],
    ['globalThis', 'unknown variable globalThis at 0'],
    ['process.env', 'unknown variable process at 0'],
    ["require('fs')", 'unknown function require at 0'],
    ["eval('1')", 'unknown function eval at 0'],
    ["Function('return 1')", 'unknown function Function at 0'],
    ['Math.max(1, 2)', 'unknown variable Math at 0'],
    ['record.constructor', 'forbidden member name constructor at 7'],
    ["record['__proto__']", 'forbidden member name __proto__ at 7'],
    ['record["prototype"]', 'forbidden member name prototype at 7'],
    ["record.name['constructor']", 'forbidden member name constructor at 12'],
    ['{__proto__: 1}', 'forbidden key __proto__ at 1'],
    ["{'constructor': 1}", 'forbidden key constructor at 1'],
    ["map([1], 'constructor')", 'in expression string: forbidden name constructor at 10'],
    ['map([1], x => x.__proto__)', 'forbidden member name __proto__ at 16'],
    ['map([1], constructor => 1)', 'forbidden name constructor at 9'],
    ['record.toString()', 'unknown method toString at 7'],
    ["record.name.split(',')", 'unknown method split at 12'],
    ['record.hasOwnProperty(1)', 'unknown method hasOwnProperty at 7'],
    ['(x => x)(1)', 'only whitelisted functions and methods can be called at 8'],
    ['record?.()', 'only whitelisted functions and methods can be called at 8'],
    ['x => x', 'arrow functions are only allowed as the function argument of a list function at 0'],
    ['len(x => x)', 'arrow functions are only allowed as the function argument of a list function at 4'],
    ["new Function('1')", "'new' is only allowed as new Date(...) at 0"],
    ['function() { return 1 }', 'function definitions are not allowed (use x => expr as a function argument) at 0'],
    ['record.n = 1', "assignment is not allowed (use '==' to compare) at 9"],
    ['1; 2', "statements are not allowed (unexpected ';') at 1"],
    ['`x`', 'template literals are not supported at 0'],
    ['typeof record', "unexpected 'record' at 7"],
    ["'\\q'", 'invalid escape sequence \\q in string at 1'],
    ["'open", 'unterminated string at 0'],
    ['1e400', 'number out of range at 0'],
    ['0x10', 'invalid number at 0'],
    ['now(1)', 'now() takes 0 arguments, got 1 at 0'],
    ['round(1, 2, 3)', 'round() takes 1 to 2 arguments, got 3 at 0'],
    ['len()', 'len() takes 1 argument, got 0 at 0'],
    ['filter([1])', 'filter() takes 2 arguments, got 1 at 0'],
    ["sum(related.items, 'q *')", 'in expression string: unexpected end of expression at 23'],
    ["record.name matches '('", 'invalid regular expression: unterminated group at 20'],
    ["matches(record.name, '(a)\\\\1')", 'invalid regular expression: back-references are not supported at 21'],
    ["record.name matches '(?=a)'", 'invalid regular expression: look-around is not supported at 20'],
    ["'a' +\n  bogus", 'unknown variable bogus at 8'],
    ['and', "unexpected 'and' at 0"],
  ];

  it('answers 422 VALIDATION_FAILED "invalid expression: <message> at <position>" and stores nothing', async () => {
    const before = await ruleCount();
    for (const [expression, message] of bad) {
      for (const type of ['expression', 'computed'] as const) {
        const res = await admin('post', 'rules', { entity: 'probe', hook: 'before_write', type, definition: { expression, field: 'out' } });
        expect(res.status, `${expression}: ${JSON.stringify(res.body)}`).toBe(422);
        expect(res.body.error, expression).toEqual({ code: 'VALIDATION_FAILED', message: `invalid expression: ${message}` });
      }
    }
    expect(await ruleCount()).toBe(before);
  });

  it('a PUT with a bad expression is refused and leaves the stored rule as it was', async () => {
    const ok = await admin('post', 'rules', {
      entity: 'probe',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: "record.name == 'x'" },
    });
    expect(ok.status).toBe(201);
    try {
      const put = await admin('put', `rules/${ok.body.data.id}`, {
        entity: 'probe',
        hook: 'before_write',
        type: 'expression',
        definition: { expression: "record.name.constructor == 'x'" },
      });
      expect(put.status).toBe(422);
      expect(put.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'invalid expression: forbidden member name constructor at 12' });
      expect((await admin('get', `rules/${ok.body.data.id}`)).body.data.definition).toEqual({ expression: "record.name == 'x'" });
    } finally {
      await admin('delete', `rules/${ok.body.data.id}`);
    }
  });

  it('a guard that does not compile is refused with the same answer', async () => {
    const res = await admin('post', 'state-machines', {
      entity: 'probe',
      field: 'status',
      definition: { initial: 'draft', transitions: [{ from: 'draft', to: 'sent', guard: 'record.__proto__ != nil' }] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'invalid expression: forbidden member name __proto__ at 7' });
  });
});

describe('limits', () => {
  it('source length is 4 KB counted in UTF-8 bytes', async () => {
    // 4096 bytes: 'é' is 2 bytes, so 2045 of them plus the quotes and " != ''" (6) make 4096.
    const fits = `'${'é'.repeat(2044)}' != ''`;
    expect(Buffer.byteLength(fits)).toBe(4096);
    const over = `'${'é'.repeat(2045)}' != ''`;
    const okRes = await admin('post', 'rules', {
      entity: 'probe',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: fits.replace("!= ''", "== ''") },
    });
    expect(okRes.status, JSON.stringify(okRes.body)).toBe(201);
    await admin('delete', `rules/${okRes.body.data.id}`);
    const res = await admin('post', 'rules', { entity: 'probe', hook: 'before_write', type: 'expression', definition: { expression: over } });
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'invalid expression: expression too long (4098 bytes, max 4096) at 0' });
  });

  it('nesting depth is 64', async () => {
    const nest = (k: number) => `${'('.repeat(k)}record.n${')'.repeat(k)} == 1`;
    const ok = await admin('post', 'rules', { entity: 'probe', hook: 'before_write', type: 'expression', definition: { expression: nest(64) } });
    expect(ok.status).toBe(201);
    await admin('delete', `rules/${ok.body.data.id}`);
    const res = await admin('post', 'rules', { entity: 'probe', hook: 'before_write', type: 'expression', definition: { expression: nest(65) } });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toBe('invalid expression: expression nested too deeply (max 64) at 64');
  });

  it('the step budget counts each element an arrow function visits, and running out is a rule evaluation error', async () => {
    const before = await rowCount();
    await withRules([{ type: 'expression', expression: 'count(record.doc, x => x < 0) > 0' }], async () => {
      // 20,000 elements × (1 visit + 3 nodes) fits in 100,000 steps; 30,000 do not.
      const fits = await rec('post', 'probe', { name: 'budget', doc: new Array(20_000).fill(1) });
      expect(fits.status, JSON.stringify(fits.body).slice(0, 300)).toBe(201);
      const over = await rec('post', 'probe', { name: 'budget', doc: new Array(30_000).fill(1) });
      expect(over.status).toBe(422);
      expect(over.body.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: 'Validation failed',
        details: [{ rule: 'expression', message: 'rule evaluation error: evaluation step budget exhausted (100000 steps)' }],
      });
    });
    expect(await rowCount()).toBe(before + 1);
  });

  it('strings built by + are capped at 1 MB', async () => {
    await withRules([{ type: 'computed', field: 'label', expression: 'record.name + record.name' }], async () => {
      const half = 'x'.repeat(512 * 1024);
      const fits = await rec('post', 'probe', { name: half });
      expect(fits.status).toBe(201);
      expect(fits.body.data.label.length).toBe(1024 * 1024);
      const over = await rec('post', 'probe', { name: `${half}y` });
      expect(over.status).toBe(422);
      expect(over.body.error.details).toEqual([
        { field: 'label', rule: 'computed', message: "'+': string result too large (max 1048576 characters)" },
      ]);
    });
  });
});

describe('runtime errors', () => {
  it('an expression rule reports each as a violation and stores nothing', async () => {
    const cases: [string, string][] = [
      ['len(record.n) > 0', 'len: expected a string, array or object, got number'],
      ['record.n / 0 > 1', 'division by zero'],
      ['record.n % 0 > 1', 'division by zero'],
      ['record.name * 2 > 1', "cannot apply '*' to string and number"],
      ['record.doc + 1 > 1', "cannot apply '+' to array and number"],
      ['-record.doc > 1', 'cannot negate array'],
      ['date(record.name) > now', "date: 'bob' is not an ISO-8601 date"],
      ['record.name.getTime() > 0', 'getTime() is not a method of string'],
      ['record.doc.toUpperCase() == 1', 'toUpperCase() is not a method of array'],
      ['record.name contains 1', 'contains: cannot look for number in a string'],
      ['record.n in 5', 'in: expected a string, array or object, got number'],
      ["lower(record.n) == 'x'", 'lower: expected a string, got number'],
      ['sum(record.doc) > 0', 'sum: expected a number, got string'],
      ["sum(record.doc, record.label ?? 'x *') > 0", "invalid expression 'x *': unexpected end of expression at 3"],
      ['min(record.n, record.name) > 0', 'min: cannot compare string with number'],
      ['int(record.name) > 0', "int: cannot convert 'bob' to a number"],
      ['round(record.n, 20) > 0', 'round: digits must be an integer from -15 to 15'],
      ['record.name matches record.label', 'matches: expected a string, got null'],
      ["record.name matches '('  + record.name", 'matches: invalid regular expression: unterminated group'],
      ['keys(record.doc) == []', 'keys: expected an object, got array'],
    ];
    const before = await rowCount();
    for (const [expression, message] of cases) {
      await withRules([{ type: 'expression', expression }], async () => {
        const res = await rec('post', 'probe', { name: 'bob', n: 3, doc: ['a'] });
        expect(res.status, `${expression}: ${JSON.stringify(res.body)}`).toBe(422);
        expect(res.body.error, expression).toEqual({
          code: 'VALIDATION_FAILED',
          message: 'Validation failed',
          details: [{ rule: 'expression', message: `rule evaluation error: ${message}` }],
        });
      });
    }
    expect(await rowCount()).toBe(before);
  });

  it('a computed rule reports {field, rule: "computed", message}; a guard blocks with "Guard evaluation error"', async () => {
    await withRules([{ type: 'computed', field: 'label', expression: 'upper(record.n)' }], async () => {
      const res = await rec('post', 'probe', { name: 'c', n: 1 });
      expect(res.status).toBe(422);
      expect(res.body.error.details).toEqual([{ field: 'label', rule: 'computed', message: 'upper: expected a string, got number' }]);
    });
    const sm = await admin('post', 'state-machines', {
      entity: 'probe',
      field: 'status',
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'sent', guard: 'days(record.start_at, now) > 1' },
          { from: 'draft', to: 'done', guard: 'record.n > 0 || len(record.n) > 0' },
        ],
      },
    });
    expect(sm.status, JSON.stringify(sm.body)).toBe(201);
    try {
      const created = await rec('post', 'probe', { name: 'g', start_at: null, n: 0 });
      expect(created.status).toBe(201);
      const id = created.body.data.id;
      // days(null, now) is null: not an error, but not truthy either.
      const sent = await rec('put', `probe/${id}`, { status: 'sent' });
      expect(sent.status).toBe(422);
      expect(sent.body.error.details).toEqual([
        { field: 'status', rule: 'state_machine', message: "Transition from 'draft' to 'sent' blocked by guard" },
      ]);
      const done = await rec('put', `probe/${id}`, { status: 'done' });
      expect(done.status).toBe(422);
      expect(done.body.error.details).toEqual([
        { field: 'status', rule: 'state_machine', message: 'Guard evaluation error: len: expected a string, array or object, got number' },
      ]);
      // || short-circuits: with n > 0 the failing right side never runs.
      expect((await rec('put', `probe/${id}`, { status: 'done', n: 1 })).status).toBe(200);
    } finally {
      await admin('delete', `state-machines/${sm.body.data.id}`);
    }
  });

  it('a before_delete rule that errors keeps the row', async () => {
    const created = await rec('post', 'probe', { name: 'keep', n: 1 });
    expect(created.status).toBe(201);
    await withRules(
      [{ type: 'expression', hook: 'before_delete', expression: "action == 'delete' && record.name == old.name && len(record.n) > 0" }],
      async () => {
        const del = await rec('delete', `probe/${created.body.data.id}`);
        expect(del.status).toBe(422);
        expect(del.body.error.details).toEqual([
          { rule: 'expression', message: 'rule evaluation error: len: expected a string, array or object, got number' },
        ]);
      },
    );
    expect((await rec('get', `probe/${created.body.data.id}`)).status).toBe(200);
  });
});

describe('short-circuit evaluation', () => {
  it('&&, ||, ?:, ?? and the list functions skip what they do not need', async () => {
    await withRules(
      [
        { type: 'expression', expression: 'record.n == 0 && len(record.n) > 0', message: 'and' },
        { type: 'expression', expression: 'record.n == 0 and len(record.n) > 0', message: 'and-word' },
        { type: 'expression', expression: '!(record.n != 0 || len(record.n) > 0)', message: 'or' },
        { type: 'expression', expression: 'record.n != 0 ? false : len(record.n) > 0', message: 'cond' },
        { type: 'expression', expression: '(record.n ?? len(record.n)) == nil', message: 'coalesce' },
        { type: 'expression', expression: 'any([1, 0], x => 1 / x > 0) == false', message: 'any' },
        { type: 'expression', expression: 'all([1, 0], x => 1 / x > 1)', message: 'all' },
      ],
      async () => {
        const ok = await rec('post', 'probe', { name: 'sc', n: 1 });
        expect(ok.status, JSON.stringify(ok.body)).toBe(201);
        // With n = 0 the guarded sides of &&, and, || and ?: run and fail; ?? still stops at 0.
        const bad = await rec('post', 'probe', { name: 'sc', n: 0 });
        expect(bad.status).toBe(422);
        const lenError = 'rule evaluation error: len: expected a string, array or object, got number';
        expect(bad.body.error.details).toEqual([
          { rule: 'expression', message: lenError },
          { rule: 'expression', message: lenError },
          { rule: 'expression', message: lenError },
          { rule: 'expression', message: lenError },
        ]);
      },
    );
  });
});

describe('operators and functions on edge values, read back from a computed json field', () => {
  it('precedence and associativity', async () => {
    const out = await computeOnCreate(
      "[1 + 2 * 3, (1 + 2) * 3, 10 - 4 - 3, 100 / 10 / 5, 2 * 3 % 4, -2 * 3, !true == false, not true == false, 1 < 2 == true, true ? 1 : 0 ? 2 : 3, false ? 1 : 0 ? 2 : 3, null ?? 1 ?? 2, null ?? false ? 'a' : 'b', false || null ?? 'x', 1 + 2 in [3], 'ab' + 'c' contains 'bc', - - 1, not not 1, 'a' in ['b'] || 'c' in ['c'] && false, not 'a' in ['a'], !('a' in ['a'])]",
    );
    expect(out).toEqual([7, 9, 3, 2, 2, -6, true, true, true, 1, 3, 1, 'b', 'x', true, true, 1, true, false, false, false]);
  });

  it('equality and ordering across types, null and structures', async () => {
    const out = await computeOnCreate(
      "[1 == 1.0, 1 === '1', 1 !== '1.0', '1500.00' > 1000, 'abc' > 1, 'abc' < 1, null < 1, null >= null, null == null, null == 0, null == '', true == 1, true == 'true', [] == [], [1, [2]] == [1, [2]], {a: 1} == {a: 1}, {a: 1} == {a: 1, b: 2}, [1] == '1', '10' > '9', 'B' < 'a', 'é' > 'z', [1] < [2], true > false, now > 0, record.amount > 99.9, record.amount == '100.50', 0.1 + 0.2 == 0.3]",
      { amount: '100.50' },
    );
    expect(out).toEqual([
      true,
      true,
      false,
      true,
      false,
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      false,
      false,
      false,
      true,
      true,
      false,
      false,
      false,
      true,
      true,
      false,
    ]);
  });

  it('dates and time zones: dates and ISO strings compare chronologically; record timestamps are UTC ISO strings', async () => {
    const out = await computeOnCreate(
      "[date('2025-01-01T10:00:00+05:00') == date('2025-01-01T05:00:00Z'), date(record.start_at) < record.end_at, record.start_at, record.day, days('2025-01-01', '2025-01-31'), days('2025-01-31', '2025-01-01'), days('2025-01-01T23:00:00Z', '2025-01-02T01:00:00Z'), days(null, now), date('2024-02-29'), date(0), date(''), date(record.start_at) + 1000, date('2025-01-01 10:00'), date('2025-01-01T10:00:00+0530'), new Date(record.end_at).getTime(), now == now(), now - now, record.end_at > '2025-01-01']",
      { start_at: '2025-01-01T10:00:00+05:00', end_at: '2025-01-01T06:00:00Z', day: '2025-03-04' },
    );
    expect(out).toEqual([
      true,
      true,
      '2025-01-01T05:00:00.000Z',
      '2025-03-04',
      30,
      -30,
      0,
      null,
      '2024-02-29T00:00:00.000Z',
      '1970-01-01T00:00:00.000Z',
      null,
      '2025-01-01T05:00:01.000Z',
      '2025-01-01T10:00:00.000Z',
      '2025-01-01T04:30:00.000Z',
      Date.parse('2025-01-01T06:00:00Z'),
      true,
      0,
      true,
    ]);
    for (const [bad, message] of [
      ["date('2025-02-29')", "date: '2025-02-29' is not an ISO-8601 date"],
      ["date('2025-01-01T24:00:00Z')", "date: '2025-01-01T24:00:00Z' is not an ISO-8601 date"],
      ['date(8.64e15 + 1)', 'date: 8640000000000001 is not a valid timestamp'],
      ['date(true)', 'date: cannot convert boolean to a date'],
      ["days('x', now)", "days: 'x' is not an ISO-8601 date"],
    ]) {
      await withRules([{ type: 'computed', field: 'out', expression: bad }], async () => {
        const res = await rec('post', 'probe', { name: 'd' });
        expect(res.status).toBe(422);
        expect(res.body.error.details, bad).toEqual([{ field: 'out', rule: 'computed', message }]);
      });
    }
  });

  it('strings: non-ASCII, empty strings, null arguments', async () => {
    const out = await computeOnCreate(
      "[len(record.name), size(''), len(null), lower('ÀÉÎ'), upper('straße'), trim('\\u00a0a\\u3000'), lower(null), record.name.toUpperCase(), record.name.includes('é'), 'é' in record.name, record.name startsWith 'h', endsWith(record.name, 'o😀'), startsWith('abc', ''), startsWith(null, 'a'), contains('abc', null), '' in '', 'abc' in '', record.name[0], record.name[-3], record.missing.toUpperCase(), record.name + ' ' + 1.5, 'n=' + true, null + 'a', '\\u{1F600}' == '😀', \"it's\", 'say \"hi\"']",
      { name: 'héllo😀' },
    );
    expect(out).toEqual([
      6,
      0,
      0,
      'àéî',
      'STRASSE',
      'a',
      null,
      'HÉLLO😀',
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      true,
      false,
      'h',
      'o',
      null,
      'héllo😀 1.5',
      'n=true',
      null,
      true,
      "it's",
      'say "hi"',
    ]);
  });

  it('numbers: rounding kept decimal, int/float conversions, min/max/sum/abs on edge values', async () => {
    const out = await computeOnCreate(
      "[round(2.5), round(-2.5), round(1.005, 2), round(-1.005, 2), round(1234.5678, -2), round('2.5'), round(1.5, null), floor(-1.5), ceil(-1.5), abs('-5'), abs(null), int('42.9'), int(-42.9), int(' 7 '), int('1e3'), int(true), int(null), float('3.14'), min(1, null, 0), min([]), min(null), max(1, '10'), min('b', 'a'), sum([]), sum(null), sum([1, null, '2']), sum([0.1, 0.2]), -5 % 3, '6' * '2', '5' + 3, '5' + '3', 1e308 > 1e307, 9007199254740993 == 9007199254740992]",
    );
    expect(out).toEqual([
      3,
      -3,
      1.01,
      -1.01,
      1200,
      3,
      2,
      -2,
      -1,
      5,
      null,
      42,
      -42,
      7,
      1000,
      1,
      null,
      3.14,
      0,
      null,
      null,
      '10',
      'a',
      0,
      0,
      3,
      0.30000000000000004,
      -2,
      12,
      8,
      '53',
      true,
      true,
    ]);
  });

  it('lists, objects and member access on missing, null, negative and odd keys', async () => {
    const out = await computeOnCreate(
      "[record.doc.a[-1], record.doc.a[-9], record.doc.a[1.5], record.doc.a['1'], record.doc.a['01'], record.doc.missing.x.y, record.missing?.x, record.doc['constr' + 'uctor'], record.doc.length, record.doc.a.length, {length: 5}.length, count([1, 0, '', null, 'a']), count(null, x => x), any([], x => x), all([], x => x), none([0, null]), filter([1, 2, 3], (x, i) => i > 0), map(record.doc.items, 'q * p'), sum(record.doc.items, x => x.q * x.p), first([]), last([1, 2]), keys({b: 1, a: 2}), keys(null), values({a: 1, b: [2]}), contains({a: 1}, 'toString'), 'hasOwnProperty' in record.doc, 'a' in record.doc, null in [null], [1] in [[1]], '2' in [1, 2], record.doc.a.find(x => x > 1), record.doc.a.every(x => x > 0), [].every(x => false), [] ? 1 : 0, {} ? 1 : 0, '0' ? 1 : 0, 0 ? 1 : 0, '' ?? 'd', record.e ?? 'd', string([1, 'a', null, {k: true}]), string(null)]",
      {
        doc: {
          a: [1, 2, 3],
          items: [
            { q: 2, p: 3 },
            { q: 1, p: 4 },
          ],
        },
      },
    );
    expect(out).toEqual([
      3,
      null,
      null,
      2,
      null,
      null,
      null,
      null,
      null,
      3,
      5,
      2,
      0,
      false,
      true,
      true,
      [2, 3],
      [6, 4],
      10,
      null,
      2,
      ['b', 'a'],
      [],
      [1, [2]],
      false,
      false,
      true,
      true,
      true,
      true,
      2,
      true,
      true,
      1,
      1,
      1,
      0,
      '',
      'd',
      '[1,"a",null,{"k":true}]',
      'null',
    ]);
  });

  it('the context of a before_write rule: defaults, merged record, old, action, user, entity, now', async () => {
    const expression =
      '{action: action, entity: entity, roles: user.roles, email: user.email, hasId: user.id != nil, status: record.status, name: record.name, n: record.n, old: old == nil ? nil : {name: old.name, n: old.n}, related: related, nowIsDate: now.getTime() > 0}';
    let id = '';
    await withRules([{ type: 'computed', field: 'out', expression }], async () => {
      const created = await rec('post', 'probe', { name: 'ctx', n: 1 });
      expect(created.status).toBe(201);
      id = created.body.data.id;
      expect(created.body.data.out).toEqual({
        action: 'create',
        entity: 'probe',
        roles: ['admin'],
        email: 'admin@localhost',
        hasId: true,
        status: 'draft',
        name: 'ctx',
        n: 1,
        old: null,
        related: {},
        nowIsDate: true,
      });
      const updated = await rec('put', `probe/${id}`, { n: 2 });
      expect(updated.status).toBe(200);
      expect(updated.body.data.out).toMatchObject({ action: 'update', name: 'ctx', n: 2, status: 'draft', old: { name: 'ctx', n: 1 } });
    });
  });
});

describe('the size of a computed result', () => {
  it('a result that holds the same data many times is a computed error past 8 Mi values and characters, never a stalled server', async () => {
    const before = await rowCount();
    await withRules([{ type: 'computed', field: 'out', expression: 'map(record.doc, x => record.doc)' }], async () => {
      const fits = await rec('post', 'probe', { name: 'dag', doc: new Array(100).fill(7) });
      expect(fits.status).toBe(201);
      expect(fits.body.data.out).toHaveLength(100);
      expect(fits.body.data.out[99]).toEqual(new Array(100).fill(7));
      // 3 steps per element, well within the budget, but 3000 × 3000 values once written out.
      const over = await rec('post', 'probe', { name: 'dag', doc: new Array(3000).fill(7) });
      expect(over.status).toBe(422);
      expect(over.body.error.details).toEqual([{ field: 'out', rule: 'computed', message: 'result too large (over 8388608 values and characters)' }]);
    });
    await withRules([{ type: 'computed', field: 'out', expression: 'map(record.doc, x => record.name)' }], async () => {
      const name = 'x'.repeat(300_000);
      const over = await rec('post', 'probe', { name, doc: new Array(30).fill(0) });
      expect(over.status).toBe(422);
      expect(over.body.error.details).toEqual([{ field: 'out', rule: 'computed', message: 'result too large (over 8388608 values and characters)' }]);
      const fits = await rec('post', 'probe', { name, doc: [0, 1] });
      expect(fits.status).toBe(201);
      expect(fits.body.data.out).toEqual([name, name]);
    });
    expect(await rowCount()).toBe(before + 2);
  });
});

describe('sandbox: expression strings that come from data', () => {
  it('see only the element fields, and a forbidden name among them is a runtime error', async () => {
    const doc = {
      items: [
        { q: 2, p: 3, record: 'own' },
        { q: 1, p: 4 },
      ],
      f: 'q * p',
      g: 'record',
      h: 'user.roles',
      k: '__proto__',
    };
    const out = await computeOnCreate(
      '[map(record.doc.items, record.doc.f), map(record.doc.items, record.doc.g), map(record.doc.items, record.doc.h), record.doc[record.doc.k]]',
      { doc },
    );
    expect(out).toEqual([[6, 4], ['own', null], [null, null], null]);
    for (const [formula, message] of [
      ['constructor', "invalid expression 'constructor': forbidden name constructor at 0"],
      ['q.__proto__', "invalid expression 'q.__proto__': forbidden member name __proto__ at 2"],
      ['q; p', "invalid expression 'q; p': statements are not allowed (unexpected ';') at 1"],
    ]) {
      await withRules([{ type: 'computed', field: 'out', expression: 'sum(record.doc.items, record.doc.f)' }], async () => {
        const res = await rec('post', 'probe', { name: 'f', doc: { ...doc, f: formula } });
        expect(res.status).toBe(422);
        expect(res.body.error.details, formula).toEqual([{ field: 'out', rule: 'computed', message }]);
      });
    }
  });
});

describe('guards read their result for truthiness', () => {
  it('allows on any truthy value ([] and {} included) and blocks on false, null, 0 and the empty string', async () => {
    const guards: [string, boolean][] = [
      ['[]', true],
      ['{}', true],
      ["'no'", true],
      ['record.n', true],
      ['0', false],
      ["''", false],
      ['record.missing', false],
      ['filter([1], x => x > 1) != []', false],
    ];
    const sm = await admin('post', 'state-machines', {
      entity: 'probe',
      field: 'status',
      definition: { initial: 'draft', transitions: guards.map(([guard], i) => ({ from: 'draft', to: `s${i}`, guard })) },
    });
    expect(sm.status, JSON.stringify(sm.body)).toBe(201);
    try {
      for (const [i, [guard, allowed]] of guards.entries()) {
        const created = await rec('post', 'probe', { name: 'g', n: 5 });
        expect(created.status).toBe(201);
        const res = await rec('put', `probe/${created.body.data.id}`, { status: `s${i}` });
        expect(res.status, `${guard}: ${JSON.stringify(res.body)}`).toBe(allowed ? 200 : 422);
        if (!allowed) {
          expect(res.body.error.details).toEqual([
            { field: 'status', rule: 'state_machine', message: `Transition from 'draft' to 's${i}' blocked by guard` },
          ]);
        }
      }
    } finally {
      await admin('delete', `state-machines/${sm.body.data.id}`);
    }
  });
});
