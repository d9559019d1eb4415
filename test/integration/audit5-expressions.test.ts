/**
 * Audit 5 of the expression language through HTTP (expressions.md §Errors and limits, rules.md,
 * state-machines.md): results JavaScript would turn into Infinity or an Invalid Date are runtime
 * errors, reported like any other, never a 500 or a silently "true" guard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

let s: TestServer;
let app: { name: string; token: string };

const { admin, rec } = appCalls(() => ({ server: s, app }));

/** Runs `body` with one active computed rule setting `field` to `expression`, then removes the rule. */
async function withComputed(field: string, expression: string, body: () => Promise<void>): Promise<void> {
  const created = await admin('post', 'rules', { entity: 'gadget', hook: 'before_write', type: 'computed', definition: { field, expression } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  try {
    await body();
  } finally {
    await admin('delete', `rules/${created.body.data.id}`);
  }
}

async function countRows(): Promise<number> {
  const res = await rec('get', 'gadget');
  expect(res.status).toBe(200);
  return res.body.data.length;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  const entity = {
    name: 'gadget',
    table: 'gadgets',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string' },
      { name: 'status', type: 'string' },
      { name: 'score', type: 'float' },
      { name: 'due_at', type: 'timestamp' },
      { name: 'label', type: 'string' },
      { name: 'extra', type: 'json' },
    ],
  };
  expect((await admin('post', 'entities', entity)).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

describe('date arithmetic out of range', () => {
  it('a computed date past the representable range is a computed-rule error, not a 500', async () => {
    for (const [field, expression] of [
      ['due_at', 'now + 1e20'],
      ['label', 'now - 1e20'],
      ['extra', '1e20 + now'],
    ] as const) {
      await withComputed(field, expression, async () => {
        const before = await countRows();
        const res = await rec('post', 'gadget', { name: 'x' });
        expect(res.status, `${expression}: ${JSON.stringify(res.body)}`).toBe(422);
        const op = expression.includes('-') ? '-' : '+';
        expect(res.body.error).toEqual({
          code: 'VALIDATION_FAILED',
          message: 'Validation failed',
          details: [{ field, rule: 'computed', message: `'${op}': date out of range` }],
        });
        expect(await countRows()).toBe(before);
      });
    }
  });

  it('getTime() of such a date never yields NaN: an expression rule reports a rule evaluation error', async () => {
    const r = await admin('post', 'rules', {
      entity: 'gadget',
      hook: 'before_write',
      type: 'expression',
      definition: { expression: '(now + 1e20).getTime() > 0' },
    });
    expect(r.status).toBe(201);
    try {
      const res = await rec('post', 'gadget', { name: 'y' });
      expect(res.status).toBe(422);
      expect(res.body.error.details).toEqual([{ rule: 'expression', message: "rule evaluation error: '+': date out of range" }]);
    } finally {
      await admin('delete', `rules/${r.body.data.id}`);
    }
  });
});

describe('sum overflow', () => {
  it('a computed sum past the double range is a computed-rule error (like +), not Infinity', async () => {
    await withComputed('score', 'sum([1e308, 1e308])', async () => {
      const res = await rec('post', 'gadget', { name: 'z' });
      expect(res.status).toBe(422);
      expect(res.body.error.details).toEqual([{ field: 'score', rule: 'computed', message: 'sum: number out of range' }]);
    });
    // '+' on the same values has always been an error: the two agree.
    await withComputed('score', '1e308 + 1e308', async () => {
      const res = await rec('post', 'gadget', { name: 'z' });
      expect(res.body.error.details).toEqual([{ field: 'score', rule: 'computed', message: "'+': number out of range" }]);
    });
  });
});

describe('guards with out-of-range values', () => {
  it('blocks the transition with a guard evaluation error instead of allowing it or calling it false', async () => {
    const sm = await admin('post', 'state-machines', {
      entity: 'gadget',
      field: 'status',
      definition: {
        initial: 'new',
        transitions: [
          { from: 'new', to: 'summed', guard: 'sum([1e308, 1e308]) > 0' },
          { from: 'new', to: 'dated', guard: 'date(record.due_at) + 1e20 > now' },
          { from: 'new', to: 'ok', guard: 'sum([1, 2]) == 3' },
        ],
      },
    });
    expect(sm.status, JSON.stringify(sm.body)).toBe(201);
    try {
      const created = await rec('post', 'gadget', { name: 'g', status: 'new', due_at: '2024-02-29T23:30:00Z' });
      expect(created.status).toBe(201);
      const id = created.body.data.id;
      const summed = await rec('put', `gadget/${id}`, { status: 'summed' });
      expect(summed.status).toBe(422);
      expect(summed.body.error.details).toEqual([
        { field: 'status', rule: 'state_machine', message: 'Guard evaluation error: sum: number out of range' },
      ]);
      const dated = await rec('put', `gadget/${id}`, { status: 'dated' });
      expect(dated.status).toBe(422);
      expect(dated.body.error.details).toEqual([
        { field: 'status', rule: 'state_machine', message: "Guard evaluation error: '+': date out of range" },
      ]);
      expect((await rec('get', `gadget/${id}`)).body.data.status).toBe('new');
      expect((await rec('put', `gadget/${id}`, { status: 'ok' })).status).toBe(200);
    } finally {
      await admin('delete', `state-machines/${sm.body.data.id}`);
    }
  });
});
