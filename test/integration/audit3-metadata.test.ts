import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/** Defects found by the metadata audit (spec: metadata.md, rules.md, expressions.md), one test each. */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

/** Raw JSON text, so numbers beyond 2^53 reach the server with every digit. */
const raw = (method: 'post' | 'put' | 'get' | 'delete', path: string, text?: string) =>
  s.client[method](`/api/${app.name}/${path}`, { token: app.token, raw: text });
const { admin } = appCalls(() => ({ server: s, app }));

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const res = await admin('post', 'entities', {
    name: 'ledger',
    table: 'ledgers',
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'big', type: 'bigint' },
      { name: 'note', type: 'string' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
});

afterAll(async () => {
  await s?.close();
});

describe('bigint values beyond 2^53', () => {
  it('accepts an int8 a double happens to hold (2^53 + 2), as any other int8', async () => {
    const res = await raw('post', 'ledger', '{"big": 9007199254740994}');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [row] = await runtime.db.query<{ big: string }>('SELECT big::text AS big FROM ledgers WHERE id = $1', [res.body.data.id]);
    expect(row!.big).toBe('9007199254740994');
    await raw('delete', `ledger/${res.body.data.id}`);
  });
});

describe('field-rule thresholds beyond 2^53 are kept exact', () => {
  it('stores, echoes and applies a min of 2^53 + 1 with every digit', async () => {
    const created = await raw(
      'post',
      '_admin/rules',
      '{"entity":"ledger","hook":"before_write","type":"field","definition":{"field":"big","operator":"min","value":9007199254740993}}',
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.data.id as string;
    try {
      // The client sees exactly what it sent (a parsed double would show ...992).
      expect(created.headers.get('content-type')).toMatch(/json/);
      const text = await (
        await fetch(`${s.rocket.url}/api/${app.name}/_admin/rules/${id}`, { headers: { authorization: `Bearer ${app.token}` } })
      ).text();
      expect(text).toContain('"value":9007199254740993');
      const [stored] = await runtime.db.query<{ value: string }>("SELECT definition->>'value' AS value FROM _rules WHERE id = $1", [id]);
      expect(stored!.value).toBe('9007199254740993');

      // 2^53 is below the threshold: refused (a rounded threshold let it through).
      const below = await raw('post', 'ledger', '{"big": 9007199254740992}');
      expect(below.status).toBe(422);
      expect(below.body.error.details).toEqual([{ field: 'big', rule: 'min', message: 'field big failed min validation' }]);
      const at = await raw('post', 'ledger', '{"big": 9007199254740993}');
      expect(at.status, JSON.stringify(at.body)).toBe(201);
      const rows = await runtime.db.query<{ big: string }>('SELECT big::text AS big FROM ledgers');
      expect(rows.map((r) => r.big)).toEqual(['9007199254740993']);
      await raw('delete', `ledger/${at.body.data.id}`);
    } finally {
      await admin('delete', `rules/${id}`);
    }
  });

  it('keeps a threshold sent as digits (a form client) exact: max 2^63 - 2 refuses 2^63 - 1', async () => {
    const created = await admin('post', 'rules', {
      entity: 'ledger',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'big', operator: 'max', value: '9223372036854775806' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.data.id as string;
    try {
      const [stored] = await runtime.db.query<{ value: string }>("SELECT definition->>'value' AS value FROM _rules WHERE id = $1", [id]);
      expect(stored!.value).toBe('9223372036854775806');
      const over = await raw('post', 'ledger', '{"big": 9223372036854775807}');
      expect(over.status, JSON.stringify(over.body)).toBe(422);
      expect(over.body.error.details[0]).toMatchObject({ field: 'big', rule: 'max' });
      const at = await raw('post', 'ledger', '{"big": "9223372036854775806"}');
      expect(at.status, JSON.stringify(at.body)).toBe(201);
      await raw('delete', `ledger/${at.body.data.id}`);
    } finally {
      await admin('delete', `rules/${id}`);
    }
  });

  it('still refuses a length threshold that is no whole number, however many digits it has', async () => {
    const res = await raw(
      'post',
      '_admin/rules',
      '{"entity":"ledger","hook":"before_write","type":"field","definition":{"field":"note","operator":"max_length","value":"2.0000000000000000001"}}',
    );
    expect(res.status).toBe(422);
    expect(res.body.error.message).toBe('definition.value must be a non-negative integer for max_length');
  });
});

describe('field rules that could never apply are refused when written', () => {
  // rules.md: "A stored rule never silently does nothing because of its own definition."
  it.each([
    ['min', 'note', 1, 'definition.field: min needs a number field; note is of type string'],
    ['max_length', 'big', 3, 'definition.field: max_length needs a string field; big is of type bigint'],
    ['pattern', 'big', '^1', 'definition.field: pattern needs a string field; big is of type bigint'],
  ])('%s on %s', async (operator, field, value, message) => {
    const res = await admin('post', 'rules', { entity: 'ledger', hook: 'before_write', type: 'field', definition: { field, operator, value } });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message });
    const [n] = await runtime.db.query<{ n: number }>("SELECT count(*)::int AS n FROM _rules WHERE entity = 'ledger'");
    expect(n!.n).toBe(0);
  });

  it('still takes the operators that fit the field', async () => {
    for (const [operator, field, value] of [
      ['max', 'big', 10],
      ['min_length', 'note', 1],
      ['pattern', 'note', '^a'],
    ] as const) {
      const res = await admin('post', 'rules', { entity: 'ledger', hook: 'before_write', type: 'field', definition: { field, operator, value } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      await admin('delete', `rules/${res.body.data.id}`);
    }
  });
});

describe('a json field retyped as file on a populated table', () => {
  const doc = (type: string) => ({
    name: 'doc',
    table: 'docs',
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'att', type },
    ],
  });

  it('is refused while rows hold values no file field can hold, and allowed once they are objects or null', async () => {
    expect((await admin('post', 'entities', doc('json'))).status).toBe(201);
    const list = await s.client.post(`/api/${app.name}/doc`, { token: app.token, body: { att: [1, 2] } });
    expect(list.status).toBe(201);
    const obj = await s.client.post(`/api/${app.name}/doc`, { token: app.token, body: { att: { id: 'x', filename: 'a.txt' } } });
    expect(obj.status).toBe(201);

    const refused = await admin('put', 'entities/doc', doc('file'));
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'fields[1].type: rows hold values of att that are not file objects',
      details: [{ field: 'fields[1].type', rule: 'migration' }],
    });
    expect((await admin('get', 'entities/doc')).body.data.definition.fields[1].type).toBe('json');

    await s.client.delete(`/api/${app.name}/doc/${list.body.data.id}`, { token: app.token });
    const ok = await admin('put', 'entities/doc', doc('file'));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const read = await s.client.get(`/api/${app.name}/doc/${obj.body.data.id}`, { token: app.token });
    expect(read.body.data.att).toEqual({ id: 'x', filename: 'a.txt' });
    // Saving the file field again does not look at the rows (they are file values now).
    expect((await admin('put', 'entities/doc', doc('file'))).status).toBe(200);
  });
});

describe('concurrent creates of one entity or relation', () => {
  // metadata.md §6–7: the loser is the spec's 409, not the generic unique-violation message.
  it('answer every loser with the 409 message of the spec', async () => {
    const entity = (name: string, table: string) => ({
      name,
      table,
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'ledger_id', type: 'uuid' },
      ],
    });
    const same = await Promise.all(Array.from({ length: 6 }, () => admin('post', 'entities', entity('racer', 'racers'))));
    expect(same.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of same.filter((x) => x.status === 409)) expect(r.body.error).toEqual({ code: 'CONFLICT', message: 'Entity already exists: racer' });

    const table = await Promise.all(Array.from({ length: 6 }, (_, i) => admin('post', 'entities', entity(`racer_${i}`, 'racer_rows'))));
    expect(table.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const winner = table.find((r) => r.status === 201)!.body.data.name as string;
    for (const r of table.filter((x) => x.status === 409)) {
      expect(r.body.error).toEqual({ code: 'CONFLICT', message: `Table racer_rows is already used by entity ${winner}` });
    }

    const relation = { name: 'racers', type: 'one_to_many', source: 'ledger', target: 'racer', target_key: 'ledger_id' };
    const rel = await Promise.all(Array.from({ length: 6 }, () => admin('post', 'relations', relation)));
    expect(rel.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of rel.filter((x) => x.status === 409))
      expect(r.body.error).toEqual({ code: 'CONFLICT', message: 'Relation already exists: racers' });
  });
});

describe('round() in a computed field', () => {
  // expressions.md: round(x[, digits]). Numbers JavaScript writes with an exponent (below 1e-6, from 1e21 on)
  // came out as null.
  it('rounds numbers of every size, small and large', async () => {
    const created = await admin('post', 'entities', {
      name: 'measure',
      table: 'measures',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'x', type: 'float' },
        { name: 'y', type: 'float' },
      ],
    });
    expect(created.status).toBe(201);
    const rule = await admin('post', 'rules', {
      entity: 'measure',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'y', expression: 'round(record.x, 2)' },
    });
    expect(rule.status).toBe(201);
    for (const [x, y] of [
      [0.0000001, 0],
      [-0.0000001, -0],
      [1e21, 1e21],
      [1e300, 1e300],
      [1.005, 1.01],
      [123456.789, 123456.79],
    ]) {
      const res = await s.client.post(`/api/${app.name}/measure`, { token: app.token, body: { x } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.data.y, String(x)).not.toBeNull();
      expect(res.body.data.y + 0, String(x)).toBe(y + 0); // -0 and 0 alike
    }
  });
});

describe('a rule whose related_load relation is deleted', () => {
  // rules.md: a stored rule never silently does nothing; a before_delete guard must not stop guarding unseen.
  it('reports the missing relation on every delete instead of passing with nothing loaded', async () => {
    for (const body of [
      { name: 'client', table: 'clients', primary_key: uuid, fields: [{ name: 'id', type: 'uuid' }] },
      {
        name: 'bill',
        table: 'bills',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'client_id', type: 'uuid' },
          { name: 'status', type: 'string' },
        ],
      },
    ]) {
      expect((await admin('post', 'entities', body)).status).toBe(201);
    }
    const relation = { name: 'bills', type: 'one_to_many', source: 'client', target: 'bill', target_key: 'client_id' };
    expect((await admin('post', 'relations', relation)).status).toBe(201);
    const rule = await admin('post', 'rules', {
      entity: 'client',
      hook: 'before_delete',
      type: 'expression',
      definition: {
        expression: 'len(related.bills) > 0',
        message: 'Cannot delete client with open bills',
        related_load: [{ relation: 'bills', filter: { 'status.in': ['draft', 'sent'] } }],
      },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const rec = (method: 'post' | 'delete' | 'get', path: string, body?: unknown) =>
      s.client[method](`/api/${app.name}/${path}`, { token: app.token, body });
    const client = (await rec('post', 'client', {})).body.data.id as string;
    expect((await rec('post', 'bill', { client_id: client, status: 'draft' })).status).toBe(201);
    const guarded = await rec('delete', `client/${client}`);
    expect(guarded.status).toBe(422);
    expect(guarded.body.error.details).toEqual([{ rule: 'expression', message: 'Cannot delete client with open bills' }]);

    expect((await admin('delete', 'relations/bills')).status).toBe(200);
    const stale = await rec('delete', `client/${client}`);
    expect(stale.status).toBe(422);
    expect(stale.body.error.details).toEqual([{ rule: 'expression', message: 'compile error: related_load: no relation bills from client' }]);
    expect((await rec('get', `client/${client}`)).status).toBe(200);

    // With the relation back the rule loads again; a filtered field dropped from the target is reported the same way.
    expect((await admin('post', 'relations', relation)).status).toBe(201);
    expect((await rec('delete', `client/${client}`)).body.error.details[0].message).toBe('Cannot delete client with open bills');
    const withoutStatus = {
      name: 'bill',
      table: 'bills',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'client_id', type: 'uuid' },
      ],
    };
    expect((await admin('put', 'entities/bill', withoutStatus)).status).toBe(200);
    const noField = await rec('delete', `client/${client}`);
    expect(noField.status).toBe(422);
    expect(noField.body.error.details).toEqual([{ rule: 'expression', message: 'compile error: related_load: bill has no field status' }]);
  });
});

describe("PostgreSQL's 1600-column limit", () => {
  // metadata.md §5: validation catches every definition that would make DDL fail (a 500 was answered).
  const wide = (count: number, prefix: string, softDelete: boolean) => ({
    name: 'wide',
    table: 'wide_rows',
    soft_delete: softDelete,
    primary_key: uuid,
    fields: [{ name: 'id', type: 'uuid' }, ...Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, type: 'int' }))],
  });
  const limit = "an entity has at most 1600 fields (with deleted_at on a soft-delete entity): PostgreSQL's column limit";

  it('is a 422 for too many fields, on create and when removed fields still hold their columns', async () => {
    for (const body of [wide(1600, 'f', false), wide(1599, 'f', true)]) {
      const res = await admin('post', 'entities', body);
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: limit, details: [{ field: 'fields', rule: 'definition' }] });
    }
    expect((await admin('post', 'entities', wide(1598, 'f', true))).status).toBe(201);
    // The old columns stay (never dropped): new ones do not fit.
    const full = await admin('put', 'entities/wide', wide(10, 'g', true));
    expect(full.status).toBe(422);
    expect(full.body.error.message).toBe(
      "fields[1]: cannot add column g0: the table has PostgreSQL's 1600 columns, counting those of removed fields",
    );
    expect((await admin('get', 'entities/wide')).body.data.definition.fields[1].name).toBe('f0');
  });
});

describe('an exact threshold in an app without bigint, decimal or json fields', () => {
  it('is answered as the number it is by the rules API and the export', async () => {
    const other = await s.createApp();
    const call = (method: string, path: string, body?: string) =>
      fetch(`${s.rocket.url}/api/${other.name}/_admin/${path}`, {
        method,
        headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/json' },
        body,
      });
    const entity = {
      name: 'gauge',
      table: 'gauges',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'level', type: 'float' },
      ],
    };
    expect((await call('POST', 'entities', JSON.stringify(entity))).status).toBe(201);
    const created = await call(
      'POST',
      'rules',
      '{"entity":"gauge","hook":"before_write","type":"field","definition":{"field":"level","operator":"max","value":9007199254740993}}',
    );
    expect(created.status).toBe(201);
    expect(await created.text()).toContain('"value":9007199254740993');
    expect(await (await call('GET', 'rules')).text()).toContain('"value":9007199254740993');
    expect(await (await call('GET', 'export')).text()).toContain('"value":9007199254740993');
    // 2^53 + 2 is over it; 2^53 is not.
    const write = (text: string) =>
      fetch(`${s.rocket.url}/api/${other.name}/gauge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/json' },
        body: text,
      });
    expect((await write('{"level": 9007199254740994}')).status).toBe(422);
    expect((await write('{"level": 9007199254740992}')).status).toBe(201);
  });
});
