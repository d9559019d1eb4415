import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileExpr, RULE_VARIABLES, safeRegex, truthy, WEBHOOK_VARIABLES, WORKFLOW_VARIABLES } from '../../src/expr/index.js';
import { NOW } from './helpers.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'examples');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

interface Found {
  readonly file: string;
  readonly path: string;
  readonly source: string;
  readonly variables: readonly string[];
  readonly vars: Record<string, unknown>;
}

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}

/** Resolves a workflow context dot-path like "trigger.record.title" or "record.days". */
function resolvePath(path: string, root: Record<string, unknown>): unknown {
  let cur: unknown = root;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) return null;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Every expression in an example schema, with the variables and a sample context of its kind. */
function expressionsOf(file: string, schema: Obj): Found[] {
  const samples = isObj(schema.sample_data) ? schema.sample_data : {};
  const sample = (entity: Json | undefined): Obj => {
    const rows = typeof entity === 'string' ? list(samples[entity]) : [];
    return isObj(rows[0]) ? rows[0] : {};
  };
  const user = { id: 'u1', email: 'admin@example.com', roles: ['admin'] };
  const found: Found[] = [];
  const add = (path: string, source: Json | undefined, variables: readonly string[], vars: Record<string, unknown>): void => {
    if (typeof source === 'string' && source.trim() !== '') found.push({ file, path, source, variables, vars });
  };
  list(schema.rules).forEach((r, i) => {
    if (!isObj(r) || !isObj(r.definition)) return;
    const record = sample(r.entity);
    add(`rules[${i}].definition.expression`, r.definition.expression, RULE_VARIABLES, {
      record,
      old: record,
      action: 'update',
      user,
      entity: r.entity,
      related: {},
      now: NOW,
    });
  });
  list(schema.state_machines).forEach((m, i) => {
    if (!isObj(m) || !isObj(m.definition)) return;
    const record = sample(m.entity);
    list(m.definition.transitions).forEach((t, k) => {
      if (!isObj(t)) return;
      add(`state_machines[${i}].definition.transitions[${k}].guard`, t.guard, RULE_VARIABLES, {
        record: { ...record, [String(m.field)]: t.to },
        old: record,
        action: 'update',
        user,
        entity: m.entity,
        related: {},
        now: NOW,
      });
    });
  });
  list(schema.workflows).forEach((w, i) => {
    if (!isObj(w)) return;
    const trigger = isObj(w.trigger) ? w.trigger : {};
    const record = sample(trigger.entity);
    const triggerVars = { entity: trigger.entity ?? null, record_id: record.id ?? null, record, old: null, action: 'update' };
    const context: Record<string, unknown> = {};
    if (isObj(w.context)) {
      for (const [k, p] of Object.entries(w.context)) {
        context[k] = typeof p === 'string' ? resolvePath(p, { trigger: triggerVars, record }) : p;
      }
    }
    list(w.steps).forEach((s, k) => {
      if (!isObj(s)) return;
      for (const key of ['expression', 'condition']) {
        add(`workflows[${i}].steps[${k}].${key}`, s[key], WORKFLOW_VARIABLES, { context, trigger: triggerVars, record, now: NOW });
      }
    });
  });
  list(schema.webhooks).forEach((h, i) => {
    if (!isObj(h)) return;
    const record = sample(h.entity);
    add(`webhooks[${i}].condition`, h.condition, WEBHOOK_VARIABLES, {
      record,
      old: null,
      changes: null,
      action: 'create',
      entity: h.entity,
      event: h.hook ?? 'after_write',
      user,
      now: NOW,
    });
  });
  return found;
}

const files = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json'))
  .sort();
const schemas = files.map((f) => [f, JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as Obj] as const);
const all = schemas.flatMap(([f, s]) => expressionsOf(f, s));

describe('expressions of the example schemas', () => {
  it('finds the example files and their expressions', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(all.length).toBeGreaterThanOrEqual(10);
    expect(all.map((f) => f.source)).toContain('new Date(record.end_date) >= new Date(record.start_date)');
    expect(all.map((f) => f.source)).toContain('context.days > 5');
  });

  it.each(all.map((f) => ({ ...f, label: `${f.file} ${f.path}: ${f.source}` })))('$label', (f) => {
    const compiled = compileExpr(f.source, f.variables);
    const result = compiled.evaluate(f.vars);
    expect(typeof truthy(result)).toBe('boolean');
    expect(result).not.toBeUndefined();
  });

  it('the employee-management date rule behaves on sample dates', () => {
    const e = compileExpr('new Date(record.end_date) >= new Date(record.start_date)', RULE_VARIABLES);
    expect(e.evaluate({ record: { start_date: '2025-03-01', end_date: '2025-03-05' } })).toBe(true);
    expect(e.evaluate({ record: { start_date: '2025-03-05', end_date: '2025-03-01' } })).toBe(false);
    expect(e.evaluate({ record: { start_date: '2025-03-05', end_date: '2025-03-05' } })).toBe(true);
  });

  it('webhook conditions of the examples fire on the right records', () => {
    expect(compileExpr("record.status === 'published'", WEBHOOK_VARIABLES).evaluate({ record: { status: 'published' } })).toBe(true);
    expect(compileExpr("record.status === 'published'", WEBHOOK_VARIABLES).evaluate({ record: { status: 'draft' } })).toBe(false);
    expect(compileExpr("action === 'create'", WEBHOOK_VARIABLES).evaluate({ action: 'create' })).toBe(true);
    expect(compileExpr("action === 'create'", WEBHOOK_VARIABLES).evaluate({ action: 'delete' })).toBe(false);
  });

  describe('field rule patterns of the examples', () => {
    const patterns = schemas.flatMap(([, s]) =>
      list(s.rules).flatMap((r) =>
        isObj(r) && isObj(r.definition) && r.definition.operator === 'pattern' && typeof r.definition.value === 'string'
          ? [{ field: String(r.definition.field), pattern: r.definition.value, entity: String(r.entity), samples: s.sample_data }]
          : [],
      ),
    );

    it('there are some', () => {
      expect(patterns.length).toBeGreaterThanOrEqual(3);
    });

    it.each(patterns.map((p) => ({ ...p, label: `${p.entity}.${p.field} ~ ${p.pattern}` })))('$label', (p) => {
      const re = safeRegex(p.pattern);
      expect(re).toBeInstanceOf(RegExp);
      const rows = isObj(p.samples as Json) ? list((p.samples as Obj)[p.entity]) : [];
      for (const row of rows) {
        const v = isObj(row) ? row[p.field] : undefined;
        if (typeof v === 'string') expect(re.test(v)).toBe(new RegExp(p.pattern).test(v));
      }
    });
  });
});

describe('expressions listed in expressions.md', () => {
  const rule = (record: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    record,
    old: null,
    action: 'create',
    user: { id: 'u', email: 'e', roles: [] },
    entity: 'invoice',
    related: {},
    now: NOW,
    ...extra,
  });
  const cases: readonly [string, readonly string[], Record<string, unknown>, unknown][] = [
    ["record.status == 'paid' && record.payment_date == nil", RULE_VARIABLES, rule({ status: 'paid' }), true],
    ["record.status == 'paid' && record.payment_date == nil", RULE_VARIABLES, rule({ status: 'paid', payment_date: '2025-01-01' }), false],
    [
      'record.end_date != nil && record.end_date <= record.start_date',
      RULE_VARIABLES,
      rule({ start_date: '2025-01-05', end_date: '2025-01-01' }),
      true,
    ],
    ['record.end_date != nil && record.end_date <= record.start_date', RULE_VARIABLES, rule({ start_date: '2025-01-05' }), false],
    ['new Date(record.end_date) >= new Date(record.start_date)', RULE_VARIABLES, rule({ start_date: '2025-01-01', end_date: '2025-01-02' }), true],
    ["action == 'update' && old.status == 'void'", RULE_VARIABLES, rule({}, { action: 'update', old: { status: 'void' } }), true],
    ["action == 'update' && old.status == 'void'", RULE_VARIABLES, rule({}), false],
    [
      "action == 'update' && old.status != record.status && !('admin' in user.roles)",
      RULE_VARIABLES,
      rule({ status: 'paid' }, { action: 'update', old: { status: 'sent' }, user: { roles: ['clerk'] } }),
      true,
    ],
    [
      "action == 'update' && old.status != record.status && !('admin' in user.roles)",
      RULE_VARIABLES,
      rule({ status: 'paid' }, { action: 'update', old: { status: 'sent' }, user: { roles: ['admin'] } }),
      false,
    ],
    ['record.subtotal * (1 + record.tax_rate)', RULE_VARIABLES, rule({ subtotal: 100, tax_rate: 0.1 }), 110.00000000000001],
    ['record.subtotal * (1 + record.tax_rate)', RULE_VARIABLES, rule({ subtotal: '100.00', tax_rate: '0.10' }), 110.00000000000001],
    ['record.quantity * record.unit_price', RULE_VARIABLES, rule({ quantity: 3, unit_price: 2.5 }), 7.5],
    ["record.first_name + ' ' + record.last_name", RULE_VARIABLES, rule({ first_name: 'John', last_name: 'Doe' }), 'John Doe'],
    [
      'record.payment_date != nil && record.payment_amount >= record.total',
      RULE_VARIABLES,
      rule({ payment_date: '2025-01-01', payment_amount: 100, total: '100.00' }),
      true,
    ],
    ['context.amount > 10000', WORKFLOW_VARIABLES, { context: { amount: 5000 } }, false],
    ['context.amount > 10000', WORKFLOW_VARIABLES, { context: { amount: '15000.00' } }, true],
    ['context.days > 5', WORKFLOW_VARIABLES, { context: { days: 7 } }, true],
    ["context.department == 'engineering'", WORKFLOW_VARIABLES, { context: { department: 'engineering' } }, true],
    ['len(related.invoices) > 0', RULE_VARIABLES, rule({}, { related: { invoices: [{ id: 1 }] } }), true],
    ['len(related.invoices) > 0', RULE_VARIABLES, rule({}, { related: { invoices: [] } }), false],
    [
      "sum(related.items, 'quantity * unit_price')",
      RULE_VARIABLES,
      rule(
        {},
        {
          related: {
            items: [
              { quantity: 2, unit_price: '1.50' },
              { quantity: 1, unit_price: 4 },
            ],
          },
        },
      ),
      7,
    ],
    ["record.status == 'paid' && (old == nil || old.status != 'paid')", WEBHOOK_VARIABLES, { record: { status: 'paid' }, old: null }, true],
    [
      "record.status == 'paid' && (old == nil || old.status != 'paid')",
      WEBHOOK_VARIABLES,
      { record: { status: 'paid' }, old: { status: 'paid' } },
      false,
    ],
    ["action === 'create'", WEBHOOK_VARIABLES, { action: 'create' }, true],
    ["record.status === 'published'", WEBHOOK_VARIABLES, { record: { status: 'published' } }, true],
    ['record.total > 0', RULE_VARIABLES, rule({ total: 100 }), true],
    ['record.total > 0', RULE_VARIABLES, rule({ total: 0 }), false],
    [
      "action == 'update' && record.status == 'cancelled' && old.status == 'paid'",
      RULE_VARIABLES,
      rule({ status: 'cancelled' }, { action: 'update', old: { status: 'paid' } }),
      true,
    ],
  ];
  it.each(cases.map(([s, v, vars, e]) => ({ s, v, vars, e })))('$s', ({ s, v, vars, e }) => {
    expect(compileExpr(s, v).evaluate(vars)).toEqual(e);
  });
});
