import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Audit of GET /api/:app/_openapi against the server's real answers (spec: openapi.md): for the example schemas
 * and an app with every field type, each answer — success or error — must be an operation, a status and a body
 * the caller's document describes.
 */

type Json = Record<string, any>;
// ajv-formats is CommonJS: its callable is the default export's default under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

const EXAMPLES = join(import.meta.dirname, '../fixtures/examples');
const FILES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json'))
  .sort();
const MISSING = '00000000-0000-4000-8000-000000000099';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

/** Checks real answers against the operation the document gives for their method and path; collects what does not fit. */
class Conformance {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  readonly problems: string[] = [];

  constructor(
    readonly doc: Json,
    readonly base: string,
  ) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'rocket:doc', ...structuredClone(doc) } as object);
  }

  /** The path template of `path`; a literal path wins over a templated one (`/_workflows/pending`). */
  private template(path: string): string | undefined {
    const rel = path.slice(this.base.length).split('?')[0]!;
    if (this.doc.paths[rel]) return rel;
    const parts = rel.split('/');
    return Object.keys(this.doc.paths).find((template) => {
      const t = template.split('/');
      return t.length === parts.length && t.every((seg, i) => seg.startsWith('{') || seg === parts[i]);
    });
  }

  check(method: string, path: string, res: Response, label = ''): void {
    const where = `${label} ${method} ${path.slice(this.base.length)} → ${res.status}`;
    const template = this.template(path);
    const op = template ? this.doc.paths[template][method.toLowerCase()] : undefined;
    if (!op) return void this.problems.push(`${where}: operation not documented`);
    let response = op.responses[String(res.status)];
    if (!response) return void this.problems.push(`${where}: status not documented ${JSON.stringify(res.body).slice(0, 200)}`);
    let pointer = `#/paths/${template!.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${res.status}`;
    if (response.$ref) {
      pointer = response.$ref;
      response = this.doc.components.responses[response.$ref.split('/').pop()];
    }
    if (!response.content) {
      if (res.body !== undefined) this.problems.push(`${where}: a body where the document has none`);
      return;
    }
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('application/json') && response.content['application/json']) {
      const key = `${pointer}/content/application~1json/schema`;
      let v = this.compiled.get(key);
      if (!v) {
        v = this.ajv.compile({ $ref: `rocket:doc${key}` });
        this.compiled.set(key, v);
      }
      if (!v(res.body)) {
        const why = (v.errors ?? []).slice(0, 4).map((e) => `${e.instancePath} ${e.message}`);
        this.problems.push(`${where}: body does not match: ${why.join('; ')} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    } else if (!Object.keys(response.content).some((k) => k === '*/*' || type.startsWith(k))) {
      this.problems.push(`${where}: content type ${type} not documented`);
    }
  }

  async call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string } = {}, label = ''): Promise<Response> {
    const res = await s.client.request(method, path, opts);
    this.check(method, path, res, label);
    return res;
  }
}

async function documentOf(app: string, token: string): Promise<Conformance> {
  const res = await s.client.get(`/api/${app}/_openapi`, { token });
  expect(res.status).toBe(200);
  const result = await new Validator().validate(structuredClone(res.body) as object);
  expect(result.errors ?? []).toEqual([]);
  const c = new Conformance(res.body as Json, `/api/${app}`);
  c.check('GET', `/api/${app}/_openapi`, res);
  return c;
}

async function userToken(app: string, admin: string, email: string, roles: string[]): Promise<string> {
  const res = await s.client.post(`/api/${app}/_admin/users`, { token: admin, body: { email, password: 'pw-123456', roles } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return s.client.login(`/api/${app}/auth/login`, email, 'pw-123456');
}

async function upload(app: string, token: string): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob(['hello'], { type: 'text/plain' }), 'hello.txt');
  const res = await fetch(`${s.rocket.url}/api/${app}/_files/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The include names a list operation documents. */
function includeNames(doc: Json, entity: string): string[] {
  const p = (doc.paths[`/${entity}`].get.parameters as Json[]).find((x) => x.name === 'include')!;
  return p.description.includes(':')
    ? p.description
        .replace(/^[^:]*: /, '')
        .replace(/\.$/, '')
        .split(', ')
    : [];
}

describe('the example schemas: real answers match the document', () => {
  it.each(FILES)(
    '%s: list, get, includes, filters, writes and their errors, transitions, workflows, files, tickets, auth and admin reads',
    async (file) => {
      const example = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Json;
      const { name: app, token } = await s.createApp();
      expect((await s.client.post(`/api/${app}/_admin/import`, { token, body: example })).status).toBe(200);
      const A = `/api/${app}`;
      const c = await documentOf(app, token);
      const first: Record<string, Json> = {};
      for (const e of example.entities as Json[]) {
        const E = `${A}/${e.name}`;
        const list = await c.call('GET', E, { token });
        const row = list.body.data[0] as Json | undefined;
        if (row) first[e.name] = row;
        for (const inc of includeNames(c.doc, e.name)) {
          await c.call('GET', `${E}?include=${inc}`, { token }, 'include');
          if (row) await c.call('GET', `${E}/${row.id}?include=${inc}`, { token }, 'include');
        }
        for (const f of e.fields as Json[]) {
          const v = row?.[f.name];
          if (v === null || v === undefined || typeof v === 'object') continue;
          await c.call('GET', `${E}?filter[${f.name}.in]=${encodeURIComponent(String(v))}&sort=-${f.name}`, { token }, 'filter');
        }
        for (const q of ['filter[nope]=1', 'sort=nope', 'include=nope', 'count=bogus', 'cursor=zzz', 'count=none', 'count=estimated']) {
          await c.call('GET', `${E}?${q}`, { token });
        }
        await c.call('GET', E, {}, 'no token');
        await c.call('GET', E, { token: 'bad' }, 'bad token');
        await c.call('GET', `${E}/${MISSING}`, { token });
        await c.call('PUT', `${E}/${MISSING}`, { token, body: {} });
        await c.call('DELETE', `${E}/${MISSING}`, { token });
        await c.call('POST', E, { token, raw: '{' }, 'bad json');
        await c.call('POST', E, { token, body: [] }, 'array');
        await c.call('POST', E, { token, body: {} }, 'empty');
        if (!row) continue;
        await c.call('PUT', `${E}/${row.id}`, { token, body: {} });
        for (const f of e.fields as Json[]) {
          if (f.required && f.name !== 'id') await c.call('PUT', `${E}/${row.id}`, { token, body: { [f.name]: null } }, 'null');
          if (f.unique && f.name !== 'id' && list.body.data[1]) {
            await c.call('PUT', `${E}/${row.id}`, { token, body: { [f.name]: list.body.data[1][f.name] } }, 'taken');
          }
        }
      }
      for (const sm of (example.state_machines ?? []) as Json[]) {
        const row = first[sm.entity];
        if (!row) continue;
        const current = (await s.client.get(`${A}/${sm.entity}/${row.id}`, { token })).body.data[sm.field];
        await c.call('PUT', `${A}/${sm.entity}/${row.id}`, { token, body: { [sm.field]: 'no-such-state' } }, 'bad transition');
        const move = (sm.definition.transitions as Json[]).find((x) => [x.from].flat().includes(current));
        if (move) await c.call('PUT', `${A}/${sm.entity}/${row.id}`, { token, body: { [sm.field]: move.to } }, 'transition');
      }
      for (const instance of (await c.call('GET', `${A}/_workflows/pending`, { token })).body.data as Json[]) {
        await c.call('GET', `${A}/_workflows/${instance.id}`, { token });
        await c.call('POST', `${A}/_workflows/${instance.id}/approve`, { token });
        await c.call('POST', `${A}/_workflows/${instance.id}/reject`, { token }, 'decided');
      }
      await c.call('GET', `${A}/_workflows/${MISSING}`, { token });
      await c.call('POST', `${A}/_workflows/${MISSING}/approve`, { token });
      await c.call('DELETE', `${A}/_workflows/${MISSING}`, { token });
      const up = await upload(app, token);
      c.check('POST', `${A}/_files/upload`, up);
      const bytes = await fetch(`${s.rocket.url}${A}/_files/${up.body.data.id}`, { headers: { authorization: `Bearer ${token}` } });
      c.check('GET', `${A}/_files/${up.body.data.id}`, { status: bytes.status, headers: bytes.headers, body: await bytes.text() });
      await c.call('GET', `${A}/_files/${MISSING}`, { token });
      await c.call('POST', `${A}/_files/upload`, { token, body: {} }, 'json');
      await c.call('GET', `${A}/_files`, { token });
      await c.call('DELETE', `${A}/_files/${up.body.data.id}`, { token });
      await c.call('DELETE', `${A}/_files/${up.body.data.id}`, { token }, 'again');
      await c.call('POST', `${A}/_realtime/tickets`, { token });
      await c.call('POST', `${A}/_realtime/tickets`, {}, 'no token');
      await c.call('GET', `${A}/_realtime?entities=nope`, { token });
      await c.call('POST', `${A}/auth/login`, { body: { email: 'admin@localhost', password: 'changeme' } });
      await c.call('POST', `${A}/auth/login`, { body: { email: 'admin@localhost', password: 'wrong' } });
      await c.call('POST', `${A}/auth/refresh`, { body: { refresh_token: 'x' } });
      await c.call('POST', `${A}/auth/accept-invite`, { body: { token: 'x', password: 'pw-123456' } });
      await c.call('GET', `${A}/_ui/configs`, { token });
      for (const p of Object.keys(c.doc.paths).filter((p) => p.startsWith('/_admin') && !p.includes('{'))) {
        if (c.doc.paths[p].get) await c.call('GET', `${A}${p}`, { token });
      }
      for (const p of ['entities', 'relations', 'rules', 'state-machines', 'workflows', 'users', 'permissions', 'webhooks', 'ui-configs']) {
        const key = p === 'entities' || p === 'relations' ? 'name' : 'id';
        const one = (await s.client.get(`${A}/_admin/${p}`, { token })).body.data[0]?.[key];
        if (one) await c.call('GET', `${A}/_admin/${p}/${one}`, { token });
        await c.call('GET', `${A}/_admin/${p}/nope`, { token });
        await c.call('POST', `${A}/_admin/${p}`, { token, body: {} });
      }
      expect(c.problems).toEqual([]);
    },
    120_000,
  );

  it('content-management: an approval decided by its assignee, refused to another role, seen through each role’s document', async () => {
    const example = JSON.parse(readFileSync(join(EXAMPLES, 'content-management.json'), 'utf8')) as Json;
    const { name: app, token } = await s.createApp();
    expect((await s.client.post(`/api/${app}/_admin/import`, { token, body: example })).status).toBe(200);
    const A = `/api/${app}`;
    const author = await userToken(app, token, 'author@x.io', ['author']);
    const editor = await userToken(app, token, 'editor@x.io', ['editor']);
    const asAuthor = await documentOf(app, author);
    const asEditor = await documentOf(app, editor);
    // the author may not delete posts: the operation is absent from their document, and the server refuses it
    expect(asAuthor.doc.paths['/post/{id}'].delete).toBeUndefined();
    expect(asEditor.doc.paths['/post/{id}'].delete).toBeDefined();
    // no role of theirs reads authors: no author paths, and no include of it
    expect(asAuthor.doc.paths['/author']).toBeUndefined();
    expect(includeNames(asAuthor.doc, 'post')).not.toContain('author');

    const authorId = (await s.client.get(`${A}/author?per_page=1`, { token })).body.data[0].id;
    const post = await asAuthor.call('POST', `${A}/post`, { token: author, body: { title: 'Hello world', body: 'Some text', author_id: authorId } });
    expect(post.status).toBe(201);
    const P = `${A}/post/${post.body.data.id}`;
    expect((await asAuthor.call('PUT', P, { token: author, body: { status: 'review' } })).status).toBe(200);
    expect((await s.client.delete(P, { token: author })).status).toBe(403);
    expect((await s.client.get(`${A}/author`, { token: author })).status).toBe(403);
    await asAuthor.call('GET', `${P}?include=${includeNames(asAuthor.doc, 'post').join(',')}`, { token: author });

    expect((await asAuthor.call('GET', `${A}/_workflows/pending`, { token: author })).body.data).toEqual([]);
    const [instance] = (await asEditor.call('GET', `${A}/_workflows/pending`, { token: editor })).body.data as Json[];
    expect(instance).toMatchObject({ status: 'running', current_step: 'editor_review' });
    expect((await asAuthor.call('POST', `${A}/_workflows/${instance!.id}/approve`, { token: author })).status).toBe(403);
    expect((await asEditor.call('POST', `${A}/_workflows/${instance!.id}/approve`, { token: editor })).status).toBe(200);
    expect((await asEditor.call('POST', `${A}/_workflows/${instance!.id}/reject`, { token: editor }, 'decided')).status).toBe(422);
    expect((await asEditor.call('GET', `${A}/_workflows/${instance!.id}`, { token: editor })).body.data.status).toBe('completed');
    expect((await asEditor.call('GET', P, { token: editor })).body.data.status).toBe('published');
    expect((await asEditor.call('DELETE', P, { token: editor })).status).toBe(200);
    expect([...asAuthor.problems, ...asEditor.problems]).toEqual([]);
  }, 60_000);
});

/** An app with every field type, a computed field, a state machine, history, soft delete and an int-keyed child. */
async function gadgetApp(): Promise<{ app: string; token: string }> {
  const { name: app, token } = await s.createApp();
  const post = async (path: string, body: object) => {
    const res = await s.client.post(`/api/${app}${path}`, { token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  };
  await post('/_admin/entities', {
    name: 'gadget',
    table: 'gadgets',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    soft_delete: true,
    history: true,
    fields: [
      { name: 'id', type: 'uuid', required: true },
      { name: 'name', type: 'string', required: true },
      { name: 'price', type: 'decimal', precision: 2 },
      { name: 'raw', type: 'decimal' },
      { name: 'big', type: 'bigint' },
      { name: 'qty', type: 'int', default: 1 },
      { name: 'ratio', type: 'float' },
      { name: 'meta', type: 'json' },
      { name: 'doc', type: 'file' },
      { name: 'kind', type: 'string', enum: ['a', 'b'] },
      { name: 'level', type: 'int', enum: ['1', '2'] },
      { name: 'at', type: 'timestamp' },
      { name: 'day', type: 'date' },
      { name: 'flag', type: 'boolean' },
      { name: 'total', type: 'decimal', precision: 2 },
      { name: 'status', type: 'string', default: 'new' },
      { name: 'note', type: 'string', required: true, nullable: true },
      { name: 'created_at', type: 'timestamp', auto: 'create' },
      { name: 'updated_at', type: 'timestamp', auto: 'update' },
    ],
  });
  await post('/_admin/entities', {
    name: 'part',
    table: 'parts',
    primary_key: { field: 'id', type: 'int', generated: true },
    fields: [
      { name: 'id', type: 'int', required: true },
      { name: 'label', type: 'string' },
      { name: 'gadget_id', type: 'uuid' },
    ],
  });
  await post('/_admin/relations', {
    name: 'parts',
    type: 'one_to_many',
    source: 'gadget',
    target: 'part',
    source_key: 'id',
    target_key: 'gadget_id',
    on_delete: 'restrict',
  });
  await post('/_admin/rules', {
    entity: 'gadget',
    hook: 'before_write',
    type: 'computed',
    definition: { field: 'total', expression: 'record.price * record.qty' },
  });
  await post('/_admin/state-machines', {
    entity: 'gadget',
    field: 'status',
    definition: { initial: 'new', transitions: [{ from: 'new', to: 'done', roles: ['boss'] }] },
  });
  return { app, token };
}

describe('every field type, roles, history and a synchronous webhook: real answers match the document', () => {
  it('values of each type are sent as described, and errors of writes, filters, history and realtime are documented', async () => {
    const { app, token } = await gadgetApp();
    const A = `/api/${app}`;
    const c = await documentOf(app, token);
    const fileId = (await upload(app, token)).body.data.id as string;
    const bodies: Json[] = [
      {
        name: 'g1',
        note: null,
        price: 12.34,
        raw: '123456789012345678901234.5',
        big: '9007199254740993',
        qty: 3,
        ratio: 0.5,
        meta: { a: [1] },
        doc: fileId,
        kind: 'a',
        level: 2,
        at: '2025-01-02T03:04:05+02:00',
        day: '2025-01-02T10:00:00Z',
        flag: true,
      },
      { name: 'g2', note: 'x', meta: 'text', doc: { id: 'x', filename: 'f.txt' } },
      { name: 'g3', note: 'x', meta: null, doc: null, big: -5, price: '1.005' },
      { name: 'g4', note: 'x', meta: 12.5, level: '1', day: '2025-01-02', parts: { data: [{ label: 'p' }] } },
    ];
    const ids: string[] = [];
    for (const body of bodies) {
      const res = await c.call('POST', `${A}/gadget?include=parts`, { token, body }, 'create');
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.data.id);
    }
    const g1 = (await c.call('GET', `${A}/gadget/${ids[0]}`, { token })).body.data;
    expect(g1).toMatchObject({ price: 12.34, total: 37.02, level: 2, day: '2025-01-02', flag: true, meta: { a: [1] } });
    expect(g1.doc).toMatchObject({ id: fileId, filename: 'hello.txt' });
    await c.call('GET', `${A}/gadget?include=parts&count=estimated&per_page=2`, { token });
    const parts = (await c.call('GET', `${A}/part?include=gadget`, { token })).body.data as Json[];
    await c.call('GET', `${A}/part/${parts[0]!.id}?include=gadget`, { token });
    await c.call('GET', `${A}/part/abc`, { token }, 'not an int');
    await c.call('DELETE', `${A}/gadget/${ids[3]}`, { token }, 'restrict');
    await c.call('PUT', `${A}/gadget/${ids[0]}`, { token, body: { status: 'zzz' } }, 'bad transition');
    await c.call('PUT', `${A}/gadget/${ids[0]}`, { token, body: { level: 3 } }, 'not in enum');
    await c.call('PUT', `${A}/gadget/${ids[0]}`, { token, body: { qty: 'x' } }, 'not an int');
    await c.call('PUT', `${A}/gadget/${ids[0]}`, { token, body: { status: 'done', price: 1 } }, 'transition');
    for (const q of ['filter[price.gt]=abc', 'filter[price.zz]=1', 'filter[big]=9007199254740993', 'filter[day]=2025-01-02&filter[level.in]=1,2']) {
      await c.call('GET', `${A}/gadget?${q}`, { token });
    }
    await c.call('DELETE', `${A}/part/${parts[0]!.id}`, { token }, 'int key');
    await c.call('DELETE', `${A}/gadget/${ids[3]}`, { token });
    for (const id of ids) await c.call('GET', `${A}/gadget/${id}/_history`, { token });
    await c.call('GET', `${A}/_admin/history?entity=gadget`, { token });
    await c.call('GET', `${A}/_admin/history?since=bad`, { token });
    await c.call('GET', `${A}/_realtime`, { token }, 'no entities');
    await c.call('GET', `${A}/_realtime?entities=gadget&filter[nope]=1`, { token });
    expect(c.problems).toEqual([]);
  }, 60_000);

  it('a role sees what it may do; what it may not is absent from its document and refused', async () => {
    const { app, token } = await gadgetApp();
    const A = `/api/${app}`;
    const grant = async (entity: string, action: string) =>
      expect((await s.client.post(`${A}/_admin/permissions`, { token, body: { entity, action, roles: ['viewer'] } })).status).toBe(201);
    await grant('gadget', 'read');
    await grant('part', 'create');
    const viewer = await userToken(app, token, 'v@x.io', ['viewer']);
    const nobody = await userToken(app, token, 'n@x.io', ['nobody']);
    const id = (await s.client.post(`${A}/gadget`, { token, body: { name: 'g', note: null } })).body.data.id as string;
    const c = await documentOf(app, viewer);
    const ops = (p: string) => Object.keys(c.doc.paths[p] ?? {}).filter((k) => k !== 'parameters');
    expect(ops('/gadget')).toEqual(['get']);
    expect(ops('/gadget/{id}')).toEqual(['get']);
    expect(ops('/gadget/{id}/_history')).toEqual(['get']);
    expect(ops('/part')).toEqual(['post']);
    expect(ops('/part/{id}')).toEqual([]);
    expect(Object.keys(c.doc.paths).filter((p) => p.startsWith('/_admin'))).toEqual([]);
    await c.call('GET', `${A}/gadget?include=parts`, { token: viewer });
    await c.call('GET', `${A}/gadget/${id}`, { token: viewer });
    await c.call('GET', `${A}/gadget/${id}/_history`, { token: viewer });
    await c.call('POST', `${A}/part`, { token: viewer, body: { label: 'x', gadget_id: id } });
    await c.call('GET', `${A}/_realtime?entities=part`, { token: viewer }, 'no read');
    expect(c.problems).toEqual([]);
    for (const [method, path] of [
      ['POST', '/gadget'],
      ['PUT', `/gadget/${id}`],
      ['DELETE', `/gadget/${id}`],
      ['GET', '/part'],
      ['GET', '/_admin/entities'],
      ['GET', '/_files'],
    ] as const) {
      expect(
        (await s.client.request(method, `${A}${path}`, { token: viewer, body: method === 'GET' || method === 'DELETE' ? undefined : {} })).status,
      ).toBe(403);
    }
    const none = await s.client.get(`${A}/_openapi`, { token: nobody });
    expect(Object.keys(none.body.paths).filter((p) => p === '/gadget' || p === '/part')).toEqual([]);
    expect(none.headers.get('etag')).not.toBe((await s.client.get(`${A}/_openapi`, { token: viewer })).headers.get('etag'));
  }, 60_000);

  it('a synchronous webhook makes 502 a documented answer of the writes that reach it', async () => {
    const { app, token } = await gadgetApp();
    const A = `/api/${app}`;
    const hook = { entity: 'part', hook: 'before_write', async: false, url: 'http://127.0.0.1:9/hook' };
    expect((await s.client.post(`${A}/_admin/webhooks`, { token, body: hook })).status).toBe(201);
    const c = await documentOf(app, token);
    expect((await c.call('POST', `${A}/part`, { token, body: { label: 'x' } })).status).toBe(502);
    const nested = { name: 'g', note: 'x', parts: { data: [{ label: 'p' }] } };
    expect((await c.call('POST', `${A}/gadget`, { token, body: nested }, 'nested')).status).toBe(502);
    expect(c.problems).toEqual([]);
  }, 60_000);
});

describe('defects found by the audit', () => {
  it('a required field added to a table with rows is described as nullable in records, since those rows answer null', async () => {
    const { app, token } = await gadgetApp();
    const A = `/api/${app}`;
    const old = (await s.client.post(`${A}/gadget`, { token, body: { name: 'before', note: 'x' } })).body.data.id as string;
    const def = (await s.client.get(`${A}/_admin/entities/gadget`, { token })).body.data;
    const definition = (def.definition ?? def) as Json;
    // int, no default: metadata.md §Auto-migration adds the column nullable on a populated table
    definition.fields.push({ name: 'weight', type: 'int', required: true });
    expect((await s.client.put(`${A}/_admin/entities/gadget`, { token, body: definition })).status).toBe(200);

    const c = await documentOf(app, token);
    const res = await c.call('GET', `${A}/gadget/${old}`, { token });
    expect(res.body.data.weight).toBeNull();
    await c.call('GET', `${A}/gadget`, { token });
    const created = await c.call('POST', `${A}/gadget`, { token, body: { name: 'after', note: 'x', weight: 2 } });
    expect(created.status).toBe(201);
    expect(c.problems).toEqual([]);
    const schemas = c.doc.components.schemas;
    expect(schemas.Gadget.properties.weight.type).toEqual(['integer', 'null']);
    expect(schemas.Gadget.required).toContain('weight');
    // still required, and never null, in what a client sends
    expect(schemas.GadgetCreate.required).toContain('weight');
    expect(schemas.GadgetCreate.properties.weight.type).toBe('integer');
    // fields that came with the table keep their NOT NULL, and their non-null type
    expect(schemas.Gadget.properties.name.type).toBe('string');

    // once no row holds NULL, saving the entity again makes the column NOT NULL: the document follows, with a new ETag
    const etag = (await s.client.get(`${A}/_openapi`, { token })).headers.get('etag');
    expect((await s.client.put(`${A}/gadget/${old}`, { token, body: { weight: 1 } })).status).toBe(200);
    expect((await s.client.put(`${A}/_admin/entities/gadget`, { token, body: definition })).status).toBe(200);
    const again = await s.client.get(`${A}/_openapi`, { token, headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(200);
    expect(again.body.components.schemas.Gadget.properties.weight.type).toBe('integer');
  }, 60_000);

  it('a login refused by the throttle (429, Retry-After) is a documented answer, for an app and for the platform', async () => {
    const { name: app, token } = await s.createApp();
    const c = await documentOf(app, token);
    const platform = new Conformance((await s.client.get('/api/_platform/openapi', { token: s.platformToken })).body as Json, '/api/_platform');
    for (const [conformance, path] of [
      [c, `/api/${app}/auth/login`],
      [platform, '/api/_platform/auth/login'],
    ] as const) {
      const body = { email: `locked-${app}@x.io`, password: 'wrong' };
      const statuses: number[] = [];
      // ROCKET_LOGIN_MAX_FAILURES defaults to 5: the sixth attempt is refused
      for (let i = 0; i < 6; i++) statuses.push((await conformance.call('POST', path, { body })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      const refused = await s.client.post(path, { body });
      expect(refused.headers.get('retry-after')).toMatch(/^[0-9]+$/);
      expect(conformance.doc.components.responses.TooManyRequests.headers['Retry-After']).toBeDefined();
    }
    expect([...c.problems, ...platform.problems]).toEqual([]);
  }, 60_000);

  it('a decimal below a double’s range (1e-400) is stored and sent as written, not as 0, and filters compare it exactly', async () => {
    const { app, token } = await gadgetApp();
    const A = `/api/${app}`;
    const c = await documentOf(app, token);
    const tiny = `0.${'0'.repeat(399)}1`;
    const created = await s.client.post(`${A}/gadget`, { token, body: { name: 'tiny', note: 'x', raw: '1e-400' } });
    expect(created.status).toBe(201);
    const zero = await s.client.post(`${A}/gadget`, { token, body: { name: 'zero', note: 'x', raw: 0 } });
    expect(zero.status).toBe(201);
    const raw = async (path: string) => (await fetch(`${s.rocket.url}${A}${path}`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(await raw(`/gadget/${created.body.data.id}`)).toContain(`"raw":${tiny},`);
    const matching = await c.call('GET', `${A}/gadget?filter[raw]=1e-400`, { token });
    expect(matching.body.data.map((g: Json) => g.name)).toEqual(['tiny']);
    expect((await s.client.get(`${A}/gadget?filter[raw]=0`, { token })).body.data.map((g: Json) => g.name)).toEqual(['zero']);
    expect(c.problems).toEqual([]);
  }, 60_000);

  it('GET /_admin/ai/status, an admin route that answers, is in the admin document and only there', async () => {
    const { app, token } = await gadgetApp();
    const A = `/api/${app}`;
    const c = await documentOf(app, token);
    expect(c.doc.paths['/_admin/ai/status']?.get?.tags).toEqual(['admin']);
    const res = await c.call('GET', `${A}/_admin/ai/status`, { token });
    expect(res.body).toEqual({ data: { configured: false, model: '' } });
    const viewer = await userToken(app, token, 'v@x.io', ['viewer']);
    expect((await documentOf(app, viewer)).doc.paths['/_admin/ai/status']).toBeUndefined();
    expect((await c.call('GET', `${A}/_admin/ai/status`, { token: viewer })).status).toBe(403);
    expect(c.problems).toEqual([]);
  }, 60_000);
});
