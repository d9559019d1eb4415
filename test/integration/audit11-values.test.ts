/**
 * Audit 11: field types and value handling end to end over HTTP (metadata.md §Field types, rest-api.md §Value
 * encoding and §List, export-import.md sample data, history.md and realtime.md record encoding). Bodies and
 * answers travel as raw JSON text, so numbers beyond 2^53 keep every digit both ways.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let base: string;

const uuidPk = { field: 'id', type: 'uuid', generated: true };
const FIELDS = [
  { name: 'id', type: 'uuid' },
  { name: 'name', type: 'string', required: true },
  { name: 'n', type: 'int' },
  { name: 'big', type: 'bigint' },
  { name: 'f', type: 'float' },
  { name: 'd', type: 'decimal', precision: 2 },
  { name: 'dn', type: 'decimal' },
  { name: 'ok', type: 'boolean' },
  { name: 'u', type: 'uuid' },
  { name: 'ts', type: 'timestamp' },
  { name: 'day', type: 'date' },
  { name: 'j', type: 'json' },
  { name: 'e', type: 'string', enum: ['a', 'b'] },
  { name: 'dflt', type: 'int', default: 5 },
  { name: 'updated_at', type: 'timestamp', auto: 'update' },
];

/** Raw JSON text both ways. */
async function raw(method: string, path: string, body?: string, to = app): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`${s.rocket.url}/api/${to.name}/${path}`, {
    method,
    headers: { authorization: `Bearer ${to.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: text === '' ? undefined : JSON.parse(text) };
}
const admin = (path: string, body: unknown) => raw('POST', `_admin/${path}`, JSON.stringify(body));

/** The raw text of one key of the first record in an answer (`"big":1000000000000000000`). */
const rawValue = (text: string, key: string) => new RegExp(`"${key}":(-?[0-9.eE+]+|"[^"]*"|null|true|false)`).exec(text)?.[1];

/** An SSE stream read as text, so exact numbers are seen as sent. */
function rawStream(path: string): { text: () => string; close: () => void } {
  let buf = '';
  const req = http.get(`${s.rocket.url}${path}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${app.token}` } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buf += c;
    });
  });
  req.on('error', () => undefined);
  return { text: () => buf, close: () => req.destroy() };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  base = `/api/${app.name}`;
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const ent = await admin('entities', { name: 'val', table: 'vals', primary_key: uuidPk, history: true, fields: FIELDS });
  expect(ent.status, ent.text).toBe(201);
  const kid = await admin('entities', {
    name: 'kid',
    table: 'kids',
    primary_key: uuidPk,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'val_id', type: 'uuid' },
      { name: 'big', type: 'bigint' },
    ],
  });
  expect(kid.status, kid.text).toBe(201);
  const rel = await admin('relations', { name: 'kids', type: 'one_to_many', source: 'val', target: 'kid', target_key: 'val_id' });
  expect(rel.status, rel.text).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

const stored = async (id: string) =>
  (await runtime.db.query<{ big: string | null }>('SELECT big::text AS big FROM vals WHERE id = $1', [id]))[0]?.big;

describe('bigint: a JSON integer number is an integer however it is written', () => {
  // rest-api.md §Value encoding: int/integer/bigint accept an integer number. 1e3 was accepted for every
  // integer type, and so was 1e15; 1e16 … 9.2e18 (integers beyond 2^53, within int8) were refused with 422.
  it('stores 1e18, 9.2e18, -9.2e18 and 9007199254740994.0 exactly, on create, update and nested rows', async () => {
    const cases: Array<[string, string]> = [
      ['1e18', '1000000000000000000'],
      ['1E+16', '10000000000000000'],
      ['9.2e18', '9200000000000000000'],
      ['-9.2e18', '-9200000000000000000'],
      ['9007199254740994.0', '9007199254740994'],
      ['1.5e16', '15000000000000000'],
    ];
    for (const [token, digits] of cases) {
      const c = await raw('POST', 'val', `{"name":"x","big":${token}}`);
      expect(c.status, `${token}: ${c.text}`).toBe(201);
      expect(rawValue(c.text, 'big'), token).toBe(digits);
      expect(await stored(c.json.data.id)).toBe(digits);
      expect(rawValue((await raw('GET', `val/${c.json.data.id}`)).text, 'big')).toBe(digits);
    }
    const row = await raw('POST', 'val', '{"name":"upd"}');
    const upd = await raw('PUT', `val/${row.json.data.id}`, '{"big":2e18}');
    expect(upd.status, upd.text).toBe(200);
    expect(await stored(row.json.data.id)).toBe('2000000000000000000');
    const tree = await raw('POST', 'val?include=kids', '{"name":"tree","kids":{"data":[{"big":3e17}]}}');
    expect(tree.status, tree.text).toBe(201);
    const kids = await runtime.db.query<{ big: string }>('SELECT big::text AS big FROM kids WHERE val_id = $1', [tree.json.data.id]);
    expect(kids).toEqual([{ big: '300000000000000000' }]);
  });

  it('still refuses what is no int8: beyond its range, or not an integer', async () => {
    const before = await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vals');
    for (const token of ['9.3e18', '-9.3e18', '1e19', '1e400', '1.5e-3', '9007199254740993.5', '1e5000']) {
      const c = await raw('POST', 'val', `{"name":"x","big":${token}}`);
      expect(c.status, `${token}: ${c.text}`).toBe(422);
      expect(c.json.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: 'Validation failed',
        details: [{ field: 'big', rule: 'type', message: 'big must be bigint' }],
      });
    }
    expect(await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vals')).toEqual(before);
  });

  it('leaves other types as they were: an int still takes 1e3, a decimal or json field 1e18 as its value', async () => {
    const c = await raw('POST', 'val', '{"name":1e18,"n":1e3,"dn":1e18,"j":{"x":1e18},"f":1e18}');
    expect(c.status, c.text).toBe(201);
    expect(rawValue(c.text, 'name')).toBe('"1000000000000000000"');
    expect(rawValue(c.text, 'n')).toBe('1000');
    expect(rawValue(c.text, 'dn')).toBe('1000000000000000000');
    expect(c.text).toContain('"j":{"x":1000000000000000000}');
    expect(c.json.data.f).toBe(1e18);
  });
});

describe('enum members of non-string fields', () => {
  // metadata.md: "enum → value (stringified) must be one of the list". The check stringified the value as
  // coerced, so a member written as a client sends it ("1.50" of a decimal, an upper-case UUID) was refused when
  // sent back verbatim, with a message listing that very value.
  const UPPER = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
  beforeAll(async () => {
    const ent = await admin('entities', {
      name: 'choice',
      table: 'choices',
      primary_key: uuidPk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'rate', type: 'decimal', precision: 2, enum: ['1.50', '2.00'] },
        { name: 'ref', type: 'uuid', enum: [UPPER] },
        { name: 'lvl', type: 'int', enum: ['05', '10'] },
      ],
    });
    expect(ent.status, ent.text).toBe(201);
  });

  it('accepts a member sent as listed or as the same value of the type, on create and update', async () => {
    for (const body of [
      '{"rate":"1.50"}',
      '{"rate":1.5}',
      '{"rate":"2"}',
      `{"ref":"${UPPER}"}`,
      `{"ref":"${UPPER.toLowerCase()}"}`,
      '{"lvl":5}',
      '{"lvl":"05"}',
    ]) {
      const c = await raw('POST', 'choice', body);
      expect(c.status, `${body}: ${c.text}`).toBe(201);
    }
    const row = await raw('POST', 'choice', '{"rate":"1.50","ref":null}');
    const upd = await raw('PUT', `choice/${row.json.data.id}`, `{"rate":"2.00","ref":"${UPPER}","lvl":"10"}`);
    expect(upd.status, upd.text).toBe(200);
    expect(upd.json.data).toMatchObject({ rate: 2, ref: UPPER.toLowerCase(), lvl: 10 });
  });

  it('takes a default that is a member in the same sense, and still refuses one that is not', async () => {
    const def = (d: unknown) => ({
      name: 'tier',
      table: 'tiers',
      primary_key: uuidPk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'rate', type: 'decimal', precision: 2, enum: ['1.50', '2.00'], default: d },
      ],
    });
    const refused = await admin('entities', def(1.25));
    expect(refused.status).toBe(422);
    expect(refused.json.error.message).toBe('fields[1].default 1.25 is not one of the enum values');
    const ent = await admin('entities', def(1.5));
    expect(ent.status, ent.text).toBe(201);
    const c = await raw('POST', 'tier', '{}');
    expect(c.status, c.text).toBe(201);
    expect(c.json.data.rate).toBe(1.5);
  });

  it('still refuses every other value, writing nothing', async () => {
    const before = await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM choices');
    const cases: Array<[string, string]> = [
      ['{"rate":"1.55"}', 'rate must be one of: 1.50, 2.00'],
      ['{"rate":1.505}', 'rate must be one of: 1.50, 2.00'],
      ['{"ref":"b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}', `ref must be one of: ${UPPER}`],
      ['{"lvl":6}', 'lvl must be one of: 05, 10'],
    ];
    for (const [body, message] of cases) {
      const c = await raw('POST', 'choice', body);
      expect(c.status, body).toBe(422);
      expect(c.json.error.details).toEqual([{ field: Object.keys(JSON.parse(body))[0], rule: 'enum', message }]);
    }
    expect(await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM choices')).toEqual(before);
  });
});

describe('every type end to end', () => {
  const body =
    '{"name":"all","n":"42","big":"9007199254740993","f":"1.5","d":"1234567890123456.78","dn":123456789012345678901234567890.5,' +
    '"ok":true,"u":"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11","ts":"2024-03-01T10:00:00+02:00","day":"2024-03-01T23:30:00-05:00",' +
    '"j":{"n":98765432109876543210,"s":"{\\"a\\":1}","l":[1,null,true]},"e":"a"}';
  const expected = {
    n: '42',
    big: '9007199254740993',
    f: '1.5',
    d: '1234567890123456.78',
    dn: '123456789012345678901234567890.5',
    ok: 'true',
    u: '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"',
    ts: '"2024-03-01T08:00:00.000Z"',
    day: '"2024-03-01"',
    e: '"a"',
    dflt: '5',
  };
  // jsonb orders keys by length, then bytes.
  const jsonText = '"j":{"l":[1,null,true],"n":98765432109876543210,"s":"{\\"a\\":1}"}';

  it('answers the write, GET, list, history and the realtime feed with the same encoding', async () => {
    const stream = rawStream(`${base}/_realtime?entities=val`);
    await until(() => stream.text().includes('event: ready'), 'ready');
    try {
      const c = await raw('POST', 'val', body);
      expect(c.status, c.text).toBe(201);
      const id = c.json.data.id as string;
      const answers = [
        c.text,
        (await raw('GET', `val/${id}`)).text,
        (await raw('GET', `val?filter[id]=${id}`)).text,
        (await raw('GET', `val?filter[big]=9007199254740993&filter[d]=1234567890123456.78&filter[u]=${'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'}`)).text,
      ];
      for (const text of answers) {
        for (const [k, v] of Object.entries(expected)) expect(rawValue(text, k), k).toBe(v);
        expect(text).toContain(jsonText);
      }
      const hist = await raw('GET', `val/${id}/_history`);
      for (const [k, v] of Object.entries(expected)) expect(hist.text, k).toContain(`"${k}":{"to":${v},"from":null}`);
      await until(() => stream.text().includes('"action":"create"'), 'the create event');
      const event = stream.text().slice(stream.text().indexOf('"action":"create"'));
      for (const [k, v] of Object.entries(expected)) expect(rawValue(event, k), k).toBe(v);
      expect(event).toContain(jsonText);
    } finally {
      stream.close();
    }
  });

  it('imports the same values as sample data and answers them alike', async () => {
    const other = await s.createApp();
    const doc = `{"version":1,"entities":[${JSON.stringify({ name: 'val', table: 'vals', primary_key: uuidPk, fields: FIELDS })}],"sample_data":{"val":[${body}]}}`;
    const imp = await raw('POST', '_admin/import', doc, other);
    expect(imp.status, imp.text).toBe(200);
    expect(imp.json.data.summary.records).toBe(1);
    expect(imp.json.data.errors).toBeUndefined();
    const list = await raw('GET', 'val', undefined, other);
    for (const [k, v] of Object.entries(expected)) expect(rawValue(list.text, k), k).toBe(v);
    expect(list.text).toContain(jsonText);
  });

  it('refuses wrong values of every type with one 422 naming each field, and writes nothing', async () => {
    const before = await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vals');
    const c = await raw(
      'POST',
      'val',
      '{"name":"","n":2147483648,"big":"9223372036854775808","f":"NaN","d":"12345678901234567","ok":"true","u":"zz","ts":"2024-02-30T00:00:00Z","day":"2023-02-29","j":1e400,"e":"c"}',
    );
    expect(c.status).toBe(422);
    expect(c.json.error.code).toBe('VALIDATION_FAILED');
    const rules = Object.fromEntries((c.json.error.details as Array<{ field: string; rule: string }>).map((d) => [d.field, d.rule]));
    expect(rules).toEqual({
      name: 'required',
      n: 'type',
      big: 'type',
      f: 'type',
      d: 'type',
      ok: 'type',
      u: 'type',
      ts: 'type',
      day: 'type',
      j: 'type',
      e: 'enum',
    });
    expect(await runtime.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vals')).toEqual(before);
  });
});

describe('audit log filter by a UUID record id', () => {
  // history.md: GET /_admin/history?record_id=… ; GET /:entity/:id (and its _history) read an upper-case UUID as
  // the same record, as the audit log's actor_id filter does, but record_id matched only the lower-case text.
  it('finds the entries of a record named by its UUID in upper case', async () => {
    const c = await raw('POST', 'val', '{"name":"h"}');
    const id = c.json.data.id as string;
    await raw('PUT', `val/${id.toUpperCase()}`, '{"name":"h2"}');
    const lower = await raw('GET', `_admin/history?record_id=${id}`);
    expect(lower.json.meta.total).toBe(2);
    for (const q of [`record_id=${id.toUpperCase()}`, `entity=val&record_id=${id.toUpperCase()}&action=update`]) {
      const r = await raw('GET', `_admin/history?${q}`);
      expect(r.status).toBe(200);
      expect(r.json.data.map((e: { record_id: string }) => e.record_id)).toEqual(q.includes('update') ? [id] : [id, id]);
    }
    expect((await raw('GET', `val/${id.toUpperCase()}/_history`)).json.meta.total).toBe(2);
  });

  it('matches other record ids as written', async () => {
    const ent = await raw('GET', '_admin/history?entity=_entities&record_id=val');
    expect(ent.json.meta.total).toBeGreaterThan(0);
    expect((await raw('GET', '_admin/history?entity=_entities&record_id=VAL')).json.meta.total).toBe(0);
  });
});
