import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCalls } from '../support/app-calls.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Audit 7: what clients written for the legacy Rocket API still rely on.

let s: TestServer;
let app: { name: string; token: string };
const { admin, rec } = appCalls(() => ({ server: s, app }));

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
});
afterAll(async () => {
  await s?.close();
});

describe('import of a document exported by the legacy server', () => {
  // The legacy export wrote entity and relation definitions as JSON text (export-import.md).
  const author = {
    name: 'author',
    table: 'authors',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string', required: true },
    ],
  };
  const book = {
    name: 'book',
    table: 'books',
    primary_key: { field: 'id', type: 'int', generated: true },
    fields: [
      { name: 'id', type: 'int' },
      { name: 'title', type: 'string' },
      { name: 'author_id', type: 'uuid' },
      { name: 'stock', type: 'bigint', default: 1 },
    ],
  };
  const books = { name: 'books', type: 'one_to_many', source: 'author', target: 'book', source_key: 'id', target_key: 'author_id' };

  it('reads definitions sent as JSON text as the objects they hold', async () => {
    const doc = {
      version: 1,
      exported_at: '2025-01-15T10:30:00Z',
      // A default beyond a double's integers: written as text, it must arrive exactly.
      entities: [JSON.stringify(author), JSON.stringify(book).replace('"default":1', '"default":9007199254740993')],
      relations: [` ${JSON.stringify(books)}`],
      rules: [],
      state_machines: [],
      workflows: [],
      permissions: [],
      webhooks: [],
      ui_configs: [],
      sample_data: { author: [{ name: 'Ann' }] },
    };
    const res = await admin('post', 'import', doc);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.errors).toBeUndefined();
    expect(res.body.data.summary).toMatchObject({ entities: 2, relations: 1, records: 1 });

    const stored = await admin('get', 'entities/book');
    expect(stored.status).toBe(200);
    expect(stored.body.data.definition.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'title', 'author_id', 'stock']);
    const raw = await fetch(`${s.rocket.url}/api/${app.name}/_admin/entities/book`, { headers: { authorization: `Bearer ${app.token}` } });
    expect(await raw.text()).toContain('"default":9007199254740993');
    expect((await admin('get', 'relations/books')).body.data.definition).toMatchObject({ source: 'author', target: 'book', target_key: 'author_id' });

    const ann = (await rec('get', 'author?filter[name]=Ann')).body.data[0];
    const created = await rec('post', 'author', { name: 'Bob', books: { data: [{ title: 'B1' }] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const withBooks = await rec('get', `author/${created.body.data.id}?include=books`);
    expect(withBooks.body.data.books).toMatchObject([{ title: 'B1', author_id: created.body.data.id }]);
    expect(ann).toMatchObject({ name: 'Ann' });

    // Importing the same legacy document again skips what exists, as for any document.
    const again = await admin('post', 'import', { ...doc, sample_data: undefined });
    expect(again.status).toBe(200);
    expect(again.body.data.summary).toMatchObject({ entities: 0, relations: 0 });
  });

  it('still refuses text that holds no object, item by item', async () => {
    const res = await admin('post', 'import', {
      version: 1,
      entities: ['not json', '[1,2]', '"author"', '{broken', 7, JSON.stringify({ ...author, name: 'writer', table: 'writers' })],
      relations: ['null'],
    });
    expect(res.status).toBe(200);
    expect(res.body.data.summary).toMatchObject({ entities: 1, relations: 0 });
    expect(res.body.data.errors).toEqual([
      'entities[0]: must be an object; skipped',
      'entities[1]: must be an object; skipped',
      'entities[2]: must be an object; skipped',
      'entities[3]: must be an object; skipped',
      'entities[4]: must be an object; skipped',
      'relations[0]: must be an object; skipped',
    ]);
  });

  it('answers a deeply nested definition text without failing', async () => {
    const deep = `{"name":"deep","table":"deeps","fields":${'['.repeat(20000)}${']'.repeat(20000)}}`;
    const res = await admin('post', 'import', { version: 1, entities: [deep] });
    expect(res.status).toBe(200);
    expect(res.body.data.summary.entities).toBe(0);
    expect(res.body.data.errors).toHaveLength(1);
  });
});

describe('a Content-Type declared on a request without a body', () => {
  // Some clients send their default Content-Type on every request; README: only "a body with another content
  // type" is a 415.
  const call = (method: string, path: string, contentType: string, raw?: string) =>
    s.client.request(method, `/api/${app.name}/${path}`, {
      token: app.token,
      headers: { 'content-type': contentType },
      ...(raw !== undefined && { raw }),
    });

  beforeAll(async () => {
    const res = await admin('post', 'entities', {
      name: 'memo',
      table: 'memos',
      soft_delete: true,
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'text', type: 'string' },
      ],
    });
    expect(res.status).toBe(201);
  });

  it('does not make a DELETE or a body-less action a 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded; charset=UTF-8']) {
      const memo = await rec('post', 'memo', { text: 'x' });
      const del = await call('DELETE', `memo/${memo.body.data.id}`, type);
      expect(del.status, type).toBe(200);
      expect(del.body).toEqual({ data: { id: memo.body.data.id } });
      // Deleting it again is the soft-delete 404, not a body error.
      const again = await call('DELETE', `memo/${memo.body.data.id}`, type);
      expect([again.status, again.body.error.code]).toEqual([404, 'NOT_FOUND']);
      const ticket = await call('POST', '_realtime/tickets', type);
      expect(ticket.status, type).toBe(201);
      const approve = await call('POST', '_workflows/00000000-0000-4000-8000-000000000000/approve', type);
      expect([approve.status, approve.body.error.code]).toEqual([404, 'NOT_FOUND']);
    }
    // A body-less create is the missing-body 400, as with no Content-Type at all.
    const create = await call('POST', 'memo', 'text/plain');
    expect(create.status).toBe(400);
    expect(create.body.error).toEqual({ code: 'INVALID_PAYLOAD', message: 'Invalid JSON body' });
  });

  it('still refuses a body of another type with 415', async () => {
    const memo = await rec('post', 'memo', { text: 'kept' });
    const del = await call('DELETE', `memo/${memo.body.data.id}`, 'text/plain', 'x');
    expect([del.status, del.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const put = await call('PUT', `memo/${memo.body.data.id}`, 'text/plain', '{"text":"changed"}');
    expect([put.status, put.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect((await rec('get', `memo/${memo.body.data.id}`)).body.data.text).toBe('kept');
  });
});

describe('POST /_events (instrumentation of legacy clients)', () => {
  it('answers {status:"ok"} to any caller of the app and keeps nothing', async () => {
    const path = `/api/${app.name}/_events`;
    for (const body of [{ event_type: 'page_view', trace_id: 't1', metadata: { page: '/orders' } }, [{ event_type: 'click' }], undefined]) {
      const res = await s.client.post(path, { token: app.token, body });
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.body).toEqual({ data: { status: 'ok' } });
    }
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    expect(await runtime.db.query('SELECT 1 FROM _events')).toEqual([]);
    const anonymous = await s.client.post(path, { body: {} });
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    const text = await s.client.post(path, { token: app.token, raw: 'x', headers: { 'content-type': 'text/plain' } });
    expect([text.status, text.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    // Reading the trace stays out of scope.
    const read = await s.client.get(path, { token: app.token });
    expect([read.status, read.body.error.code]).toEqual([404, 'NOT_FOUND']);
  });
});

describe('webhooks stored by the legacy server with JSON text in headers and retry', () => {
  it('deliver, log and read back like any other webhook', async () => {
    const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = await admin('post', 'entities', {
        name: 'parcel',
        table: 'parcels',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'label', type: 'string' },
        ],
      });
      expect(created.status).toBe(201);
      const runtime = (await s.rocket.services.apps.get(app.name))!;
      // jsonb values of type string, as a server that stored the JSON text itself left them.
      const [row] = await runtime.db.query<{ id: string }>(
        `INSERT INTO _webhooks (entity, hook, url, method, headers, condition, async, retry, active)
         VALUES ('parcel', 'after_write', $1, 'POST', to_jsonb($2::text), '', true, to_jsonb($3::text), true) RETURNING id`,
        [url, '{"X-Legacy":"yes"}', '{"max_attempts":2,"backoff":"linear"}'],
      );
      await runtime.reload();

      const write = await rec('post', 'parcel', { label: 'p1' });
      expect(write.status, JSON.stringify(write.body)).toBe(201);
      await expect.poll(() => received.length, { timeout: 5000 }).toBe(1);
      expect(received[0]!.headers['x-legacy']).toBe('yes');
      expect(JSON.parse(received[0]!.body)).toMatchObject({ event: 'after_write', action: 'create', entity: 'parcel' });
      const logs = (await admin('get', `webhook-logs?webhook_id=${row!.id}`)).body.data;
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ status: 'delivered', max_attempts: 2, request_headers: { 'X-Legacy': 'yes' } });

      const shape = { headers: { 'X-Legacy': 'yes' }, retry: { max_attempts: 2, backoff: 'linear' } };
      expect((await admin('get', `webhooks/${row!.id}`)).body.data).toMatchObject(shape);
      expect((await admin('get', 'webhooks')).body.data.find((w: { id: string }) => w.id === row!.id)).toMatchObject(shape);
      expect((await admin('get', 'export')).body.data.webhooks).toContainEqual(expect.objectContaining(shape));

      // Text that holds no usable value reads as the documented defaults; writes still succeed.
      await runtime.db.query(`UPDATE _webhooks SET headers = to_jsonb('not json'::text), retry = to_jsonb('[1]'::text) WHERE id = $1`, [row!.id]);
      await runtime.reload();
      expect((await rec('post', 'parcel', { label: 'p2' })).status).toBe(201);
      expect((await admin('get', `webhooks/${row!.id}`)).body.data).toMatchObject({
        headers: {},
        retry: { max_attempts: 3, backoff: 'exponential' },
      });
      await expect.poll(() => received.length, { timeout: 5000 }).toBe(2);
    } finally {
      receiver.close();
    }
  });
});

describe('a workflow stored by the legacy server with JSON text in trigger, context and steps', () => {
  it('starts on its trigger and runs its steps', async () => {
    const created = await admin('post', 'entities', {
      name: 'request',
      table: 'requests',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'status', type: 'string' },
        { name: 'amount', type: 'int' },
      ],
    });
    expect(created.status).toBe(201);
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    await runtime.db.query(
      `INSERT INTO _workflows (name, trigger, context, steps, active)
       VALUES ('legacy_approval', to_jsonb($1::text), to_jsonb($2::text), to_jsonb($3::text), true)`,
      [
        JSON.stringify({ type: 'state_change', entity: 'request', field: 'status', to: 'submitted' }),
        JSON.stringify({ record_id: 'trigger.record_id', amount: 'record.amount' }),
        JSON.stringify([
          { id: 'approve', type: 'approval', on_approve: 'end' },
          { id: 'unused', type: 'action', actions: [] },
        ]),
      ],
    );
    await runtime.reload();
    const request = await rec('post', 'request', { status: 'draft', amount: 7 });
    expect((await rec('put', `request/${request.body.data.id}`, { status: 'submitted' })).status).toBe(200);
    const pending = (await s.client.get(`/api/${app.name}/_workflows/pending`, { token: app.token })).body.data;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      workflow_name: 'legacy_approval',
      status: 'running',
      current_step: 'approve',
      context: { record_id: request.body.data.id, amount: 7 },
    });
    const approved = await s.client.post(`/api/${app.name}/_workflows/${pending[0].id}/approve`, { token: app.token });
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({ status: 'completed', current_step: '' });

    // README: JSON columns are answered as JSON values, never as JSON-encoded strings.
    const listed = (await admin('get', 'workflows')).body.data.find((w: { name: string }) => w.name === 'legacy_approval');
    const shape = {
      trigger: { type: 'state_change', entity: 'request', field: 'status', to: 'submitted' },
      context: { record_id: 'trigger.record_id', amount: 'record.amount' },
      steps: [{ id: 'approve', type: 'approval' }, { id: 'unused' }],
    };
    expect(listed).toMatchObject(shape);
    expect((await admin('get', `workflows/${listed.id}`)).body.data).toMatchObject(shape);
  });

  it('answers rules and state machines stored as JSON text with their definitions as objects', async () => {
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    const [rule] = await runtime.db.query<{ id: string }>(
      `INSERT INTO _rules (entity, hook, type, definition, priority, active)
       VALUES ('request', 'before_write', 'field', to_jsonb($1::text), 0, true) RETURNING id`,
      ['{"field":"amount","operator":"max","value":9007199254740993}'],
    );
    const [machine] = await runtime.db.query<{ id: string }>(
      `INSERT INTO _state_machines (entity, field, definition, active) VALUES ('request', 'status', to_jsonb($1::text), true) RETURNING id`,
      ['{"transitions":[{"from":"draft","to":"submitted"}]}'],
    );
    await runtime.reload();
    const ruleDef = { field: 'amount', operator: 'max' };
    expect((await admin('get', `rules/${rule!.id}`)).body.data.definition).toMatchObject(ruleDef);
    expect((await admin('get', 'rules')).body.data.find((r: { id: string }) => r.id === rule!.id).definition).toMatchObject(ruleDef);
    const raw = await fetch(`${s.rocket.url}/api/${app.name}/_admin/rules/${rule!.id}`, { headers: { authorization: `Bearer ${app.token}` } });
    expect(await raw.text()).toContain('"value":9007199254740993');
    const machineDef = { transitions: [{ from: 'draft', to: 'submitted' }] };
    expect((await admin('get', `state-machines/${machine!.id}`)).body.data.definition).toEqual(machineDef);
    const exported = (await admin('get', 'export')).body.data;
    expect(exported.rules).toContainEqual(expect.objectContaining({ entity: 'request', definition: expect.objectContaining(ruleDef) }));
    expect(exported.state_machines).toContainEqual(expect.objectContaining({ entity: 'request', definition: machineDef }));
    // They are in force, as before.
    const draft = await rec('post', 'request', { status: 'draft' });
    expect(draft.status).toBe(201);
    const skip = await rec('put', `request/${draft.body.data.id}`, { status: 'paid' });
    expect([skip.status, skip.body.error.details?.[0]?.rule]).toEqual([422, 'state_machine']);
    expect((await admin('delete', `rules/${rule!.id}`)).status).toBe(200);
    expect((await admin('delete', `state-machines/${machine!.id}`)).status).toBe(200);
  });
});
