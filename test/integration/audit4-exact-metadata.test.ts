import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Numbers a double would round (9007199254740993 = 2^53 + 1) carried by metadata that become record values:
 * field defaults and enums (metadata.md §2), state-machine and workflow set_field values, through the admin API
 * and import/export (export-import.md), stored and answered with every digit (rest-api.md §Value encoding).
 */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

/** Raw JSON text both ways, so numbers beyond 2^53 travel with every digit. */
async function send(app: { name: string; token: string }, method: string, path: string, text?: string) {
  const res = await fetch(`${s.rocket.url}/api/${app.name}/${path}`, {
    method,
    headers: { authorization: `Bearer ${app.token}`, ...(text === undefined ? {} : { 'content-type': 'application/json' }) },
    body: text,
  });
  const body = await res.text();
  return { status: res.status, text: body, json: JSON.parse(body) as any };
}
const call = (method: string, path: string, text?: string) => send(app, method, path, text);

async function eventually<T>(probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await probe();
    if (done(v) || i >= 100) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});

afterAll(async () => {
  await s?.close();
});

describe('field defaults beyond a double', () => {
  it('keeps a bigint and a decimal default sent as JSON numbers: definition, column, created rows, export', async () => {
    const created = await call(
      'POST',
      '_admin/entities',
      `{"name":"acct","table":"accts","primary_key":{"field":"id","type":"uuid","generated":true},"fields":[
        {"name":"id","type":"uuid"},
        {"name":"big","type":"bigint","default":9007199254740993},
        {"name":"amount","type":"decimal","default":12345678901234567.891},
        {"name":"doc","type":"json","default":9007199254740993}]}`,
    );
    expect(created.status, created.text).toBe(201);
    expect(created.text).toContain('"name":"big","type":"bigint","default":9007199254740993}');
    expect(created.text).toContain('"default":12345678901234567.891}');
    const [stored] = await runtime.db.query<{ big: string; kind: string; amount: string }>(
      `SELECT definition->'fields'->1->>'default' AS big, jsonb_typeof(definition->'fields'->1->'default') AS kind,
              definition->'fields'->2->>'default' AS amount FROM _entities WHERE name = 'acct'`,
    );
    expect(stored).toEqual({ big: '9007199254740993', kind: 'number', amount: '12345678901234567.891' });
    expect((await call('GET', '_admin/entities/acct')).text).toContain('"default":9007199254740993}');

    // An absent field takes its default, exactly, in the row and in the answer.
    const row = await call('POST', 'acct', '{}');
    expect(row.status, row.text).toBe(201);
    expect(row.text).toContain('"big":9007199254740993');
    expect(row.text).toContain('"amount":12345678901234567.891');
    expect(row.text).toContain('"doc":9007199254740993');
    const [values] = await runtime.db.query<{ big: string; amount: string; doc: string }>(
      'SELECT big::text AS big, amount::text AS amount, doc::text AS doc FROM accts WHERE id = $1',
      [row.json.data.id],
    );
    expect(values).toEqual({ big: '9007199254740993', amount: '12345678901234567.891', doc: '9007199254740993' });
    // The column DEFAULT too (sample data and plain SQL inserts use it).
    const [column] = await runtime.db.query<{ d: string }>(
      "SELECT column_default AS d FROM information_schema.columns WHERE table_name = 'accts' AND column_name = 'big'",
    );
    expect(column!.d).toContain('9007199254740993');

    // PUT keeps a changed default exactly as well.
    const updated = await call(
      'PUT',
      '_admin/entities/acct',
      `{"table":"accts","primary_key":{"field":"id","type":"uuid","generated":true},"fields":[
        {"name":"id","type":"uuid"},{"name":"big","type":"bigint","default":9007199254740995},
        {"name":"amount","type":"decimal"},{"name":"doc","type":"json"}]}`,
    );
    expect(updated.status, updated.text).toBe(200);
    expect(updated.text).toContain('"default":9007199254740995');
    const next = await call('POST', 'acct', '{}');
    expect(next.text).toContain('"big":9007199254740995');
    const [nextRow] = await runtime.db.query<{ big: string }>('SELECT big::text AS big FROM accts WHERE id = $1', [next.json.data.id]);
    expect(nextRow!.big).toBe('9007199254740995');

    expect((await call('GET', '_admin/export')).text).toContain('"name":"big","type":"bigint","default":9007199254740995}');
    // The audit log holds the number, not an empty object.
    const [audit] = await runtime.db.query<{ d: string }>(
      `SELECT changes->'definition'->'to'->'fields'->1->>'default' AS d FROM _history
        WHERE entity = '_entities' AND record_id = 'acct' AND action = 'update'`,
    );
    expect(audit!.d).toBe('9007199254740995');
  });

  it('refuses a default beyond an int field naming its digits, and a number in place of a field', async () => {
    const res = await call(
      'POST',
      '_admin/entities',
      '{"name":"badint","table":"badints","primary_key":{"field":"id","type":"uuid","generated":true},"fields":[{"name":"id","type":"uuid"},{"name":"n","type":"int","default":9007199254740993},9007199254740993]}',
    );
    expect(res.status).toBe(422);
    expect(res.json.error.details).toEqual([
      { field: 'fields[1].default', rule: 'definition', message: 'fields[1].default 9007199254740993 is not a valid int value' },
      { field: 'fields[2]', rule: 'definition', message: 'fields[2] must be an object' },
    ]);
  });
});

describe('numeric enum values beyond a double', () => {
  it('keeps them through the entity admin API', async () => {
    const res = await call(
      'POST',
      '_admin/entities',
      '{"name":"coded","table":"codeds","primary_key":{"field":"id","type":"uuid","generated":true},"fields":[{"name":"id","type":"uuid"},{"name":"code","type":"bigint","enum":[9007199254740993,1]}]}',
    );
    expect(res.status, res.text).toBe(201);
    expect(res.json.data.fields[1].enum).toEqual(['9007199254740993', '1']);
    expect((await call('POST', 'coded', '{"code":9007199254740993}')).status).toBe(201);
    const off = await call('POST', 'coded', '{"code":9007199254740992}');
    expect(off.status).toBe(422);
    expect(off.json.error.details[0].rule).toBe('enum');
  });

  it('keeps them, and a default, through import; a number in place of an entity is refused as such', async () => {
    const res = await call(
      'POST',
      '_admin/import',
      `{"version":1,"entities":[{"name":"imp","table":"imps","primary_key":{"field":"id","type":"uuid","generated":true},
        "fields":[{"name":"id","type":"uuid"},{"name":"code","type":"bigint","enum":[9007199254740993,9007199254740995],"default":9007199254740995}]},
        9007199254740993],
        "sample_data":{"imp":[{"code":9007199254740993}]}}`,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.json.data.summary).toMatchObject({ entities: 1, records: 1 });
    expect(res.json.data.errors).toEqual(['entities[1]: must be an object; skipped']);
    const [def] = await runtime.db.query<{ e: string; d: string }>(
      "SELECT definition->'fields'->1->>'enum' AS e, definition->'fields'->1->>'default' AS d FROM _entities WHERE name = 'imp'",
    );
    expect(def).toEqual({ e: '["9007199254740993", "9007199254740995"]', d: '9007199254740995' });

    const withDefault = await call('POST', 'imp', '{}');
    expect(withDefault.status, withDefault.text).toBe(201);
    expect(withDefault.text).toContain('"code":9007199254740995');
    expect((await call('POST', 'imp', '{"code":9007199254740993}')).status).toBe(201);
    expect((await call('POST', 'imp', '{"code":9007199254740992}')).status).toBe(422);
    const rows = await runtime.db.query<{ code: string }>('SELECT code::text AS code FROM imps ORDER BY code');
    expect(rows.map((r) => r.code)).toEqual(['9007199254740993', '9007199254740993', '9007199254740995']);
  });
});

describe('set_field values beyond a double', () => {
  it('a state-machine set_field value is stored, echoed and written with every digit', async () => {
    const entity = await call(
      'POST',
      '_admin/entities',
      JSON.stringify({
        name: 'ord',
        table: 'ords',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'status', type: 'string', default: 'draft' },
          { name: 'big', type: 'bigint' },
          { name: 'stamp', type: 'bigint' },
        ],
      }),
    );
    expect(entity.status, entity.text).toBe(201);
    const machine = await call(
      'POST',
      '_admin/state-machines',
      '{"entity":"ord","field":"status","definition":{"initial":"draft","transitions":[{"from":"draft","to":"sent","actions":[{"type":"set_field","field":"big","value":9007199254740993}]}]}}',
    );
    expect(machine.status, machine.text).toBe(201);
    expect(machine.text).toContain('"value":9007199254740993');
    expect((await call('GET', `_admin/state-machines/${machine.json.data.id}`)).text).toContain('"value":9007199254740993');
    const [def] = await runtime.db.query<{ v: string; kind: string }>(
      `SELECT definition->'transitions'->0->'actions'->0->>'value' AS v,
              jsonb_typeof(definition->'transitions'->0->'actions'->0->'value') AS kind FROM _state_machines WHERE id = $1`,
      [machine.json.data.id],
    );
    expect(def).toEqual({ v: '9007199254740993', kind: 'number' });

    const row = await call('POST', 'ord', '{}');
    // A rounded value (9007199254740992) was refused by the bigint check: the transition failed with a 422.
    const moved = await call('PUT', `ord/${row.json.data.id}`, '{"status":"sent"}');
    expect(moved.status, moved.text).toBe(200);
    expect(moved.text).toContain('"big":9007199254740993');
    const [stored] = await runtime.db.query<{ big: string }>('SELECT big::text AS big FROM ords WHERE id = $1', [row.json.data.id]);
    expect(stored!.big).toBe('9007199254740993');
  });

  it('a workflow set_field value and a trigger state are kept exact', async () => {
    const wf = await call(
      'POST',
      '_admin/workflows',
      `{"name":"stamp_big","trigger":{"type":"state_change","entity":"ord","field":"big","to":9007199254740993},
        "context":{"record_id":"trigger.record_id"},
        "steps":[{"id":"a","type":"action","actions":[{"type":"set_field","entity":"ord","record_id":"context.record_id","field":"stamp","value":9007199254740995}]}]}`,
    );
    expect(wf.status, wf.text).toBe(201);
    expect(wf.text).toContain('"value":9007199254740995');
    expect(wf.json.data.trigger.to).toBe('9007199254740993');
    const [steps] = await runtime.db.query<{ v: string; kind: string }>(
      `SELECT steps->0->'actions'->0->>'value' AS v, jsonb_typeof(steps->0->'actions'->0->'value') AS kind FROM _workflows WHERE name = 'stamp_big'`,
    );
    expect(steps).toEqual({ v: '9007199254740995', kind: 'number' });

    const row = await call('POST', 'ord', '{}');
    expect((await call('PUT', `ord/${row.json.data.id}`, '{"status":"sent"}')).status).toBe(200);
    const stamped = await eventually(
      () => runtime.db.query<{ stamp: string | null }>('SELECT stamp::text AS stamp FROM ords WHERE id = $1', [row.json.data.id]),
      (rows) => rows[0]?.stamp !== null,
    );
    expect(stamped[0]!.stamp).toBe('9007199254740995');
    expect((await call('GET', `ord/${row.json.data.id}`)).text).toContain('"stamp":9007199254740995');
  });

  it('an export re-imports into another app with every digit', async () => {
    const exported = await call('GET', '_admin/export');
    expect(exported.status).toBe(200);
    expect(exported.text).toContain('"value":9007199254740993');
    expect(exported.text).toContain('"value":9007199254740995');
    const other = await s.createApp();
    const doc = exported.text.replace(/^\{"data":/, '').replace(/\}$/, '');
    const imported = await send(other, 'POST', '_admin/import', doc);
    expect(imported.status, imported.text).toBe(200);
    expect(imported.json.data.errors).toBeUndefined();
    const again = await send(other, 'GET', '_admin/export');
    for (const digits of ['"default":9007199254740995', '"value":9007199254740993', '"value":9007199254740995']) {
      expect(again.text).toContain(digits);
    }
    const row = await send(other, 'POST', 'acct', '{}');
    expect(row.text).toContain('"big":9007199254740995');
  });
});

describe('permission condition values beyond a double', () => {
  it('a read condition on an int8 matches the digits sent, stored and exported as that number', async () => {
    const entity = await call(
      'POST',
      '_admin/entities',
      JSON.stringify({
        name: 'vault',
        table: 'vaults',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'big', type: 'bigint' },
        ],
      }),
    );
    expect(entity.status, entity.text).toBe(201);
    const policy = await call(
      'POST',
      '_admin/permissions',
      '{"entity":"vault","action":"read","roles":["viewer"],"conditions":[{"field":"big","operator":"eq","value":9007199254740993}]}',
    );
    expect(policy.status, policy.text).toBe(201);
    expect(policy.text).toContain('"value":9007199254740993');
    const ordered = await call(
      'POST',
      '_admin/permissions',
      '{"entity":"vault","action":"update","roles":["viewer"],"conditions":[{"field":"big","operator":"lte","value":9007199254740993}]}',
    );
    expect(ordered.status, ordered.text).toBe(201);
    const [stored] = await runtime.db.query<{ v: string; kind: string }>(
      "SELECT conditions->0->>'value' AS v, jsonb_typeof(conditions->0->'value') AS kind FROM _permissions WHERE id = $1",
      [policy.json.data.id],
    );
    expect(stored).toEqual({ v: '9007199254740993', kind: 'number' });

    const exact = await call('POST', 'vault', '{"big":9007199254740993}');
    await call('POST', 'vault', '{"big":9007199254740992}');
    const user = await call('POST', '_admin/users', '{"email":"viewer@example.com","password":"viewer-password-1","roles":["viewer"]}');
    expect(user.status, user.text).toBe(201);
    const login = await call('POST', 'auth/login', '{"email":"viewer@example.com","password":"viewer-password-1"}');
    const viewer = { name: app.name, token: login.json.data.access_token as string };
    // The rounded condition (…992) showed the other row instead.
    const list = await send(viewer, 'GET', 'vault');
    expect(list.status).toBe(200);
    expect(list.json.data.map((r: { id: string }) => r.id)).toEqual([exact.json.data.id]);
    expect(list.text).toContain('"big":9007199254740993');
    // …993 ≤ …993 (the rounded bound, …992, refused the update).
    const updated = await send(viewer, 'PUT', `vault/${exact.json.data.id}`, '{"big":9007199254740993}');
    expect(updated.status, updated.text).toBe(200);
    expect((await call('GET', '_admin/export')).text).toContain('"field":"big","value":9007199254740993');
  });
});

describe('a whole body of one number beyond a double', () => {
  it('is no JSON object: 400 on exact admin and record routes, as a small number is', async () => {
    for (const path of ['_admin/entities', '_admin/rules', '_admin/state-machines', '_admin/workflows', '_admin/permissions']) {
      const res = await call('POST', path, '9007199254740993');
      expect([path, res.status, res.json.error]).toEqual([path, 400, { code: 'INVALID_PAYLOAD', message: 'Invalid request body' }]);
    }
    const record = await call('POST', 'vault', '9007199254740993');
    expect(record.status).toBe(400);
    expect(record.json.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
  });
});

describe('workflow instance contexts with an int8 beyond a double', () => {
  it('keep a record value and a send_event data value as numbers with every digit', async () => {
    const entity = await call(
      'POST',
      '_admin/entities',
      JSON.stringify({
        name: 'po',
        table: 'pos',
        primary_key: uuid,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'status', type: 'string' },
          { name: 'amount', type: 'bigint' },
        ],
      }),
    );
    expect(entity.status, entity.text).toBe(201);
    const approval = { id: 'wait', type: 'approval', assignee: { type: 'role', role: 'manager' }, on_approve: 'end', on_reject: 'end' };
    const sender = await call(
      'POST',
      '_admin/workflows',
      `{"name":"po_sender","trigger":{"type":"state_change","entity":"po","field":"status","to":"go"},
        "context":{"record_id":"trigger.record_id","amount":"trigger.record.amount"},
        "steps":[{"id":"emit","type":"action","then":{"goto":"wait"},"actions":[{"type":"send_event","event":"po_big","data":{"n":9007199254740995}}]},
                 ${JSON.stringify(approval)}]}`,
    );
    expect(sender.status, sender.text).toBe(201);
    const receiver = await call(
      'POST',
      '_admin/workflows',
      `{"name":"po_receiver","trigger":{"type":"event","event":"po_big"},"context":{"n":"trigger.data.n","amount":"record.amount"},
        "steps":[${JSON.stringify(approval)}]}`,
    );
    expect(receiver.status, receiver.text).toBe(201);

    const row = await call('POST', 'po', '{"status":"new","amount":9007199254740993}');
    expect((await call('PUT', `po/${row.json.data.id}`, '{"status":"go"}')).status).toBe(200);
    const instances = await eventually(
      () =>
        runtime.db.query<{ id: string; workflow_name: string; context: string; kinds: string }>(
          `SELECT id, workflow_name, context::text AS context,
                  (SELECT string_agg(key || ':' || jsonb_typeof(value), ',' ORDER BY key) FROM jsonb_each(context)) AS kinds
             FROM _workflow_instances WHERE workflow_name LIKE 'po\\_%' ORDER BY workflow_name`,
        ),
      (rows) => rows.length === 2,
    );
    expect(instances.map((i) => [i.workflow_name, i.kinds])).toEqual([
      ['po_receiver', 'amount:number,n:number'],
      ['po_sender', 'amount:number,record_id:string'],
    ]);
    expect(instances[0]!.context).toContain('"n": 9007199254740995');
    expect(instances[0]!.context).toContain('"amount": 9007199254740993');
    expect(instances[1]!.context).toContain('"amount": 9007199254740993');
    const answered = await call('GET', `_workflows/${instances[1]!.id}`);
    expect(answered.status, answered.text).toBe(200);
    expect(answered.text).toContain('"amount":9007199254740993');
  });
});
