import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestOptions, Response } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Audit 10 (spec: openapi.md): every answer the server gives — success or error, for an admin and for each role of
 * the example apps — is an operation, a status, the declared headers and a body of the caller's own document.
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

/** Checks real answers against the caller's document: operation, status, declared headers, body. */
class Conformance {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  readonly problems: string[] = [];

  constructor(
    readonly doc: Json,
    readonly base: string,
    readonly label: string,
  ) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'rocket:doc', ...structuredClone(doc) } as object);
  }

  template(path: string): string | undefined {
    const rel = path.slice(this.base.length).split('?')[0]!;
    if (this.doc.paths[rel]) return rel;
    const parts = rel.split('/');
    return Object.keys(this.doc.paths).find((template) => {
      const t = template.split('/');
      return t.length === parts.length && t.every((seg, i) => seg.startsWith('{') || seg === parts[i]);
    });
  }

  has(method: string, path: string): boolean {
    const t = this.template(path);
    return t !== undefined && this.doc.paths[t][method.toLowerCase()] !== undefined;
  }

  private validator(key: string): ValidateFunction {
    let v = this.compiled.get(key);
    if (!v) {
      v = this.ajv.compile({ $ref: `rocket:doc${key}` });
      this.compiled.set(key, v);
    }
    return v;
  }

  check(method: string, path: string, res: Response, label = ''): void {
    const where = `[${this.label}] ${label} ${method} ${path.slice(this.base.length).slice(0, 120)} → ${res.status}`;
    const template = this.template(path);
    const op = template ? this.doc.paths[template][method.toLowerCase()] : undefined;
    if (!op) return void this.problems.push(`${where}: operation not documented`);
    let response = op.responses[String(res.status)];
    if (!response) return void this.problems.push(`${where}: status not documented ${JSON.stringify(res.body).slice(0, 300)}`);
    let pointer = `#/paths/${template!.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${res.status}`;
    if (response.$ref) {
      pointer = response.$ref;
      response = this.doc.components.responses[response.$ref.split('/').pop()];
    }
    for (const [name, header] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
      const value = res.headers.get(name);
      if (value === null) {
        this.problems.push(`${where}: declared header ${name} absent`);
        continue;
      }
      const v = this.validator(`${pointer}/headers/${name}/schema`);
      const typed = header.schema?.type === 'integer' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
      if (!v(typed)) this.problems.push(`${where}: header ${name}: ${value} does not match its schema`);
    }
    if (!response.content) {
      if (res.body !== undefined && res.body !== '') this.problems.push(`${where}: a body where the document has none`);
      return;
    }
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('application/json') && response.content['application/json']) {
      const v = this.validator(`${pointer}/content/application~1json/schema`);
      if (!v(res.body)) {
        const why = (v.errors ?? []).slice(0, 4).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
        this.problems.push(`${where}: body does not match: ${why.join('; ')} ${JSON.stringify(res.body).slice(0, 300)}`);
      }
    } else if (!Object.keys(response.content).some((k) => k === '*/*' || type.startsWith(k))) {
      this.problems.push(`${where}: content type ${type} not documented`);
    }
  }

  async call(method: string, path: string, opts: RequestOptions = {}, label = ''): Promise<Response> {
    const res = await s.client.request(method, path, opts);
    this.check(method, path, res, label);
    return res;
  }
}

async function documentOf(app: string, token: string, label: string): Promise<Conformance> {
  const res = await s.client.get(`/api/${app}/_openapi`, { token });
  expect(res.status).toBe(200);
  const c = new Conformance(res.body as Json, `/api/${app}`, label);
  c.check('GET', `/api/${app}/_openapi`, res);
  await c.call('GET', `/api/${app}/_openapi`, { token, headers: { 'if-none-match': res.headers.get('etag') ?? '' } }, 'etag');
  return c;
}

async function userToken(app: string, admin: string, email: string, roles: string[]): Promise<string> {
  const res = await s.client.post(`/api/${app}/_admin/users`, { token: admin, body: { email, password: 'pw-123456', roles } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return s.client.login(`/api/${app}/auth/login`, email, 'pw-123456');
}

function includeNames(doc: Json, entity: string): string[] {
  const op = doc.paths[`/${entity}`]?.get ?? doc.paths[`/${entity}/{id}`]?.get;
  if (!op) return [];
  const p = (op.parameters as Json[]).find((x) => x.name === 'include')!;
  return p.description.includes(':')
    ? p.description
        .replace(/^[^:]*: /, '')
        .replace(/\.$/, '')
        .split(', ')
    : [];
}

function entityNames(doc: Json): string[] {
  return Object.keys(doc.paths)
    .filter((p) => /^\/[a-z][a-z0-9_]*$/.test(p))
    .map((p) => p.slice(1));
}

/** A create body from a row: the properties the Create schema takes, unique strings made new. */
function bodyFrom(doc: Json, entity: string, row: Json, salt: string): Json {
  const base = Object.keys(doc.components.schemas).find(
    (k) => doc.components.schemas[`${k}Create`] && k.toLowerCase() === entity.replaceAll('_', ''),
  );
  const create = base ? doc.components.schemas[`${base}Create`] : undefined;
  if (!create) return {};
  const body: Json = {};
  for (const [name, schema] of Object.entries(create.properties as Record<string, Json>)) {
    if (!(name in row) || schema.type === 'object') continue;
    let v = row[name];
    if (v && typeof v === 'object' && 'filename' in v && 'id' in v) v = v.id;
    if (typeof v === 'string' && /unique/i.test(schema.description ?? '')) v = `${v}-${salt}`;
    if (typeof v === 'string' && name === 'email') v = `${salt}-${v}`;
    body[name] = v;
  }
  return body;
}

/** Drives every entity operation the caller's document lists. */
async function driveEntities(c: Conformance, token: string, deep: boolean): Promise<void> {
  const A = c.base;
  for (const e of entityNames(c.doc)) {
    const E = `${A}/${e}`;
    const ops = { list: !!c.doc.paths[`/${e}`]?.get, create: !!c.doc.paths[`/${e}`]?.post };
    const item = c.doc.paths[`/${e}/{id}`] ?? {};
    let rows: Json[] = [];
    if (ops.list) {
      const list = await c.call('GET', `${E}?per_page=2`, { token }, 'page');
      rows = list.body.data ?? [];
      let cursor = list.body.meta?.next_cursor;
      for (let i = 0; cursor && i < 3; i++) {
        const next = await c.call('GET', `${E}?per_page=2&cursor=${encodeURIComponent(cursor)}`, { token }, 'cursor');
        cursor = next.body.meta?.next_cursor;
      }
      for (const q of ['count=none', 'count=estimated', 'page=2&per_page=1', 'per_page=500', 'per_page=0', 'page=0', 'page=abc', 'sort=-id']) {
        await c.call('GET', `${E}?${q}`, { token }, q);
      }
      const incs = includeNames(c.doc, e);
      if (incs.length) await c.call('GET', `${E}?include=${incs.join(',')}`, { token }, 'includes');
      if (deep && rows[0]) {
        const params = (c.doc.paths[`/${e}`].get.parameters as Json[]).filter((p) => p.name?.startsWith('filter['));
        for (const p of params) {
          const [, field, op] = /^filter\[([^.\]]+)(?:\.([a-z_]+))?\]$/.exec(p.name)!;
          const v = rows[0][field!];
          if (v === undefined || (v !== null && typeof v === 'object')) continue;
          const value = op === 'like' ? `%${String(v ?? '').slice(0, 2)}%` : String(v ?? '');
          await c.call('GET', `${E}?${encodeURIComponent(p.name)}=${encodeURIComponent(value)}&sort=-${field}&per_page=2`, { token }, 'filter');
        }
        for (const field of Object.keys(rows[0])) {
          const r = await c.call('GET', `${E}?sort=${field}&per_page=1`, { token }, 'sort');
          if (r.body.meta?.next_cursor)
            await c.call('GET', `${E}?sort=${field}&per_page=1&cursor=${encodeURIComponent(r.body.meta.next_cursor)}`, { token }, 'sort cursor');
        }
      }
    }
    await c.call('GET', `${E}/${MISSING}`, { token }, 'missing');
    await c.call('GET', `${E}/not-an-id`, { token }, 'bad id');
    const row = rows[0];
    if (row && item.get) {
      const incs = includeNames(c.doc, e);
      await c.call('GET', `${E}/${row.id}${incs.length ? `?include=${incs.join(',')}` : ''}`, { token }, 'get');
      await c.call('GET', `${E}/${row.id}?include=nope`, { token }, 'bad include');
      // an entity with a slug takes it as {id} too
      const slug = /or ([a-z_]+)$/.exec((item.parameters?.[0] as Json | undefined)?.description ?? '')?.[1];
      if (slug && typeof row[slug] === 'string') {
        await c.call('GET', `${E}/${encodeURIComponent(row[slug])}`, { token }, 'by slug');
        if (item.put) await c.call('PUT', `${E}/${encodeURIComponent(row[slug])}`, { token, body: {} }, 'by slug');
      }
    }
    if (c.doc.paths[`/${e}/{id}/_history`] && row) {
      await c.call('GET', `${E}/${row.id}/_history?per_page=2`, { token }, 'history');
      await c.call('GET', `${E}/${MISSING}/_history`, { token }, 'history missing');
    }
    if (ops.create) {
      await c.call('POST', E, { token, raw: 'plain', headers: { 'content-type': 'text/plain' } }, '415');
      await c.call('POST', E, { token, raw: JSON.stringify({ x: 'y'.repeat(1_100_000) }) }, '413');
      await c.call('POST', E, { token, raw: '{' }, 'bad json');
      await c.call('POST', E, { token, body: {} }, 'empty');
      await c.call('POST', `${E}?include=nope`, { token, body: {} }, 'bad include');
      if (row) {
        const body = bodyFrom(c.doc, e, row, Math.random().toString(36).slice(2, 8));
        const created = await c.call('POST', E, { token, body }, 'create');
        await c.call('POST', E, { token, body: bodyFrom(c.doc, e, row, '') }, 'duplicate');
        if (created.status === 201 && item.delete) {
          await c.call('DELETE', `${E}/${created.body.data.id}`, { token }, 'delete');
          await c.call('DELETE', `${E}/${created.body.data.id}`, { token }, 'delete again');
        }
      }
    }
    if (item.put) {
      await c.call('PUT', `${E}/${MISSING}`, { token, body: {} }, 'missing');
      if (row) {
        await c.call('PUT', `${E}/${row.id}`, { token, raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, '415');
        await c.call('PUT', `${E}/${row.id}`, { token, body: {} }, 'update');
        await c.call('PUT', `${E}/${row.id}`, { token, body: { nope: 1 } }, 'unknown field');
        await c.call('PUT', `${E}/${row.id}`, { token, body: bodyFrom(c.doc, e, row, '') }, 'same');
        // nested writes: each relation of the Update schema, in each mode
        const base = Object.keys(c.doc.components.schemas).find(
          (k) => k.toLowerCase() === e.replaceAll('_', '') && c.doc.components.schemas[`${k}Update`],
        );
        const update = base ? c.doc.components.schemas[`${base}Update`] : undefined;
        for (const [name, schema] of Object.entries((update?.properties ?? {}) as Record<string, Json>)) {
          if (schema.type !== 'object') continue;
          const child = (await s.client.get(`${E}/${row.id}?include=${name}`, { token })).body.data?.[name];
          const children = Array.isArray(child) ? child : [];
          for (const mode of ['diff', 'append', 'replace']) {
            await c.call(
              'PUT',
              `${E}/${row.id}?include=${name}`,
              { token, body: { [name]: { _write_mode: mode, data: children } } },
              `nested ${mode}`,
            );
          }
          await c.call('PUT', `${E}/${row.id}`, { token, body: { [name]: { data: [{ id: MISSING, _delete: true }] } } }, 'nested delete missing');
          await c.call('PUT', `${E}/${row.id}`, { token, body: { [name]: { data: [{}] } } }, 'nested empty');
          await c.call('PUT', `${E}/${row.id}`, { token, body: { [name]: { _write_mode: 'bogus', data: [] } } }, 'nested bad mode');
          await c.call('PUT', `${E}/${row.id}`, { token, body: { [name]: [] } }, 'nested not object');
        }
      }
    }
    if (item.delete) await c.call('DELETE', `${E}/${MISSING}`, { token }, 'missing');
  }
}

/** Walks each state machine's transitions from the rows' current states, then decides the pending approvals. */
async function driveMachines(c: Conformance, token: string, example: Json): Promise<void> {
  const A = c.base;
  for (const sm of (example.state_machines ?? []) as Json[]) {
    const E = `${A}/${sm.entity}`;
    if (!c.has('PUT', `${E}/${MISSING}`)) continue;
    const rows = ((await s.client.get(`${E}?per_page=4`, { token })).body.data ?? []) as Json[];
    for (const row of rows) {
      let current = row[sm.field];
      for (const t of sm.definition.transitions as Json[]) {
        if (![t.from].flat().includes(current)) continue;
        const res = await c.call('PUT', `${E}/${row.id}`, { token, body: { [sm.field]: t.to } }, `transition ${current}→${t.to}`);
        if (res.status === 200) current = res.body.data[sm.field];
      }
      await c.call('PUT', `${E}/${row.id}`, { token, body: { [sm.field]: 'bogus' } }, 'bad state');
    }
  }
  const pending = (await c.call('GET', `${A}/_workflows/pending`, { token })).body.data as Json[];
  for (const [i, w] of pending.entries()) {
    await c.call('GET', `${A}/_workflows/${w.id}`, { token });
    await c.call('POST', `${A}/_workflows/${w.id}/${i % 2 ? 'reject' : 'approve'}`, { token }, 'decide');
    await c.call('POST', `${A}/_workflows/${w.id}/approve`, { token }, 'decided');
  }
}

describe('the example apps: every answer conforms to the caller’s document', () => {
  it.each(FILES)(
    '%s',
    async (file) => {
      const example = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Json;
      const { name: app, token } = await s.createApp();
      expect((await s.client.post(`/api/${app}/_admin/import`, { token, body: example })).status).toBe(200);
      const A = `/api/${app}`;
      const admin = await documentOf(app, token, 'admin');
      await driveEntities(admin, token, true);
      await driveMachines(admin, token, example);
      const roles = [...new Set((example.permissions as Json[]).flatMap((p) => p.roles as string[]))].sort();
      const checks = [admin];
      for (const role of roles) {
        const t = await userToken(app, token, `${role}@x.io`, [role]);
        const c = await documentOf(app, t, role);
        checks.push(c);
        await driveEntities(c, t, false);
        await driveMachines(c, t, example);
        await c.call('GET', `${A}/_workflows/pending`, { token: t });
        await c.call('GET', `${A}/_ui/configs`, { token: t });
        for (const e of entityNames(c.doc)) await c.call('GET', `${A}/_ui/config/${e}`, { token: t });
        await c.call('GET', `${A}/_ui/config/nope`, { token: t });
        await c.call('POST', `${A}/_realtime/tickets`, { token: t });
      }
      const problems = checks.flatMap((c) => c.problems);
      expect(problems).toEqual([]);
    },
    300_000,
  );
});

async function upload(
  c: Conformance,
  token: string | undefined,
  part: { name?: string; bytes?: number; type?: string } = {},
  label = '',
): Promise<Response> {
  const form = new FormData();
  form.append(part.name ?? 'file', new Blob(['x'.repeat(part.bytes ?? 5)], { type: part.type ?? 'text/plain' }), 'hello.txt');
  const res = await fetch(`${s.rocket.url}${c.base}/_files/upload`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  const out = { status: res.status, headers: res.headers, body };
  c.check('POST', `${c.base}/_files/upload`, out, label);
  return out;
}

describe('fixed routes: auth, files, workflows, realtime, UI, admin collections, transfer, platform', () => {
  it('content-management, as admin and as a role; the platform document describes its GET /ai/status', async () => {
    const example = JSON.parse(readFileSync(join(EXAMPLES, 'content-management.json'), 'utf8')) as Json;
    const { name: app, token } = await s.createApp();
    expect((await s.client.post(`/api/${app}/_admin/import`, { token, body: example })).status).toBe(200);
    const A = `/api/${app}`;
    const c = await documentOf(app, token, 'admin');
    const author = await userToken(app, token, 'author@x.io', ['author']);
    const ca = await documentOf(app, author, 'author');

    // auth
    const login = await c.call('POST', `${A}/auth/login`, { body: { email: 'author@x.io', password: 'pw-123456' } });
    for (const body of [{}, { email: 1, password: 2 }, { email: 'author@x.io' }, []]) await c.call('POST', `${A}/auth/login`, { body }, 'bad login');
    await c.call('POST', `${A}/auth/login`, { raw: '{' }, 'bad json');
    await c.call('POST', `${A}/auth/login`, { raw: 'x', headers: { 'content-type': 'text/plain' } }, '415');
    await c.call('POST', `${A}/auth/login`, { raw: JSON.stringify({ x: 'y'.repeat(1_100_000) }) }, '413');
    await c.call('POST', `${A}/auth/login`, {}, 'no body');
    const refreshed = await c.call('POST', `${A}/auth/refresh`, { body: { refresh_token: login.body.data.refresh_token } });
    await c.call('POST', `${A}/auth/refresh`, { body: { refresh_token: login.body.data.refresh_token } }, 'used');
    await c.call('POST', `${A}/auth/refresh`, { body: {} }, 'empty');
    await c.call('POST', `${A}/auth/refresh`, { body: { refresh_token: 5 } }, 'number');
    await c.call('POST', `${A}/auth/logout`, { body: { refresh_token: refreshed.body.data.refresh_token } });
    await c.call('POST', `${A}/auth/logout`, { body: { refresh_token: refreshed.body.data.refresh_token } }, 'again');
    await c.call('POST', `${A}/auth/logout`, { body: {} }, 'empty');
    await c.call('POST', `${A}/auth/logout`, {}, 'no body');

    // invites and accepting them
    const invite = await c.call('POST', `${A}/_admin/invites`, { token, body: { email: 'new@x.io', roles: ['author'] } });
    await c.call('POST', `${A}/_admin/invites`, { token, body: { email: 'new@x.io', roles: ['author'] } }, 'again');
    await c.call('POST', `${A}/_admin/invites`, { token, body: { email: 'author@x.io', roles: ['author'] } }, 'user exists');
    await c.call('POST', `${A}/_admin/invites`, { token, body: {} }, 'empty');
    await c.call('POST', `${A}/_admin/invites`, { token, body: { email: 'bad' } }, 'bad email');
    await c.call('GET', `${A}/_admin/invites`, { token });
    await c.call('POST', `${A}/_admin/invites/bulk`, { token, body: { invites: [{ email: 'b1@x.io', roles: ['author'] }, { email: 'new@x.io' }] } });
    await c.call('POST', `${A}/_admin/invites/bulk`, { token, body: {} }, 'empty');
    await c.call('POST', `${A}/_admin/invites/bulk`, { token, body: { emails: ['b2@x.io', 'bad'], roles: ['author'] } }, 'emails');
    const inviteToken = invite.body.data?.token;
    await c.call('POST', `${A}/auth/accept-invite`, { body: { token: inviteToken, password: 'x' } }, 'short password');
    await c.call('POST', `${A}/auth/accept-invite`, { body: { token: inviteToken, password: 'pw-123456' } });
    await c.call('POST', `${A}/auth/accept-invite`, { body: { token: inviteToken, password: 'pw-123456' } }, 'again');
    await c.call('POST', `${A}/auth/accept-invite`, { body: {} }, 'empty');
    await c.call('POST', `${A}/auth/accept-invite`, { raw: '{' }, 'bad json');
    const bulk = (await s.client.get(`${A}/_admin/invites`, { token })).body.data as Json[];
    if (bulk[0]) await c.call('DELETE', `${A}/_admin/invites/${bulk[0].id}`, { token });
    await c.call('DELETE', `${A}/_admin/invites/${MISSING}`, { token }, 'missing');
    await c.call('DELETE', `${A}/_admin/invites/abc`, { token }, 'bad id');

    // files
    const up = await upload(c, token);
    await upload(ca, author, {}, 'author');
    await upload(c, token, { name: 'other' }, 'no file part');
    await upload(c, undefined, {}, 'no token');
    await upload(c, token, { bytes: 11 * 1024 * 1024 }, 'too large');
    await c.call('POST', `${A}/_files/upload`, { token, raw: 'x', headers: { 'content-type': 'text/plain' } }, '415');
    for (const [cc, t] of [
      [c, token],
      [ca, author],
    ] as const) {
      const bytes = await fetch(`${s.rocket.url}${A}/_files/${up.body.data.id}`, { headers: { authorization: `Bearer ${t}` } });
      cc.check('GET', `${A}/_files/${up.body.data.id}`, { status: bytes.status, headers: bytes.headers, body: await bytes.text() });
      await cc.call('GET', `${A}/_files/abc`, { token: t }, 'bad id');
      await cc.call('GET', `${A}/_files/${MISSING}`, { token: t }, 'missing');
    }
    await c.call('GET', `${A}/_files`, { token });
    await c.call('DELETE', `${A}/_files/abc`, { token }, 'bad id');
    await c.call('DELETE', `${A}/_files/${up.body.data.id}`, { token });

    // workflows: a post moved to review starts an approval
    const authorId = (await s.client.get(`${A}/author?per_page=1`, { token })).body.data[0].id;
    const post = await ca.call('POST', `${A}/post`, { token: author, body: { title: 'Hello world', body: 'Text', author_id: authorId } });
    await ca.call('PUT', `${A}/post/${post.body.data.id}`, { token: author, body: { status: 'published' } }, 'not a transition');
    await ca.call('PUT', `${A}/post/${post.body.data.id}`, { token: author, body: { status: 'review' } }, 'transition');
    await ca.call('PUT', `${A}/post/${post.body.data.id}`, { token: author, body: { status: null } }, 'null state');
    // not in the author's document (no delete grant), and refused
    expect(ca.has('DELETE', `${A}/post/${post.body.data.id}`)).toBe(false);
    expect((await s.client.delete(`${A}/post/${post.body.data.id}`, { token: author })).status).toBe(403);
    const pending = (await c.call('GET', `${A}/_workflows/pending`, { token })).body.data as Json[];
    for (const w of pending) {
      await ca.call('GET', `${A}/_workflows/${w.id}`, { token: author });
      await ca.call('POST', `${A}/_workflows/${w.id}/approve`, { token: author }, 'not assignee');
      await c.call('POST', `${A}/_workflows/${w.id}/reject`, { token });
      await c.call('POST', `${A}/_workflows/${w.id}/approve`, { token }, 'decided');
      await c.call('DELETE', `${A}/_workflows/${w.id}`, { token });
    }
    for (const id of ['abc', MISSING]) {
      await ca.call('GET', `${A}/_workflows/${id}`, { token: author }, id);
      await ca.call('POST', `${A}/_workflows/${id}/approve`, { token: author }, id);
      await ca.call('POST', `${A}/_workflows/${id}/reject`, { token: author, body: { comment: 'no' } }, id);
      await c.call('DELETE', `${A}/_workflows/${id}`, { token }, id);
    }
    await ca.call('POST', `${A}/_workflows/${MISSING}/approve`, { token: author, raw: '{' }, 'bad json');

    // realtime and the reference page
    const ac = new AbortController();
    const stream = await fetch(`${s.rocket.url}${A}/_realtime?entities=post`, { headers: { authorization: `Bearer ${author}` }, signal: ac.signal });
    ca.check('GET', `${A}/_realtime?entities=post`, { status: stream.status, headers: stream.headers, body: undefined });
    ac.abort();
    const ticket = await ca.call('POST', `${A}/_realtime/tickets`, { token: author });
    const ac2 = new AbortController();
    const byTicket = await fetch(`${s.rocket.url}${A}/_realtime?entities=post&ticket=${ticket.body.data.ticket}`, { signal: ac2.signal });
    ca.check('GET', `${A}/_realtime?entities=post`, { status: byTicket.status, headers: byTicket.headers, body: undefined }, 'ticket');
    ac2.abort();
    await ca.call('GET', `${A}/_realtime?entities=post&ticket=${ticket.body.data.ticket}`, {}, 'ticket used');
    await ca.call('GET', `${A}/_realtime?entities=post&ticket=bad`, {}, 'bad ticket');
    await ca.call('GET', `${A}/_realtime?entities=author`, { token: author }, 'no read');
    await ca.call('GET', `${A}/_realtime?entities=post,comment&filter[title]=x`, { token: author }, 'two with filter');
    expect(ticket.status).toBe(201);
    const page = await fetch(`${s.rocket.url}${A}/_docs`);
    ca.check('GET', `${A}/_docs`, { status: page.status, headers: page.headers, body: await page.text() });
    await ca.call('GET', `${A}/_openapi`, { token: 'bad' }, 'bad token');

    // admin collections: create, read, replace, delete, and their errors
    const creates: Record<string, Json> = {
      entities: {
        name: 'gizmo',
        table: 'gizmos',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'label', type: 'string' },
        ],
      },
      relations: { name: 'gizmo_author', type: 'one_to_many', source: 'author', target: 'gizmo', source_key: 'id', target_key: 'label' },
      rules: { entity: 'gizmo', hook: 'before_write', type: 'field', definition: { field: 'label', max_length: 10 } },
      'state-machines': { entity: 'gizmo', field: 'label', definition: { initial: 'a', transitions: [{ from: 'a', to: 'b' }] } },
      workflows: {
        name: 'wf',
        trigger: { type: 'manual' },
        steps: [{ name: 'one', type: 'action', action: { type: 'set_field', field: 'label', value: 'x' } }],
      },
      users: { email: 'u9@x.io', password: 'pw-123456', roles: ['author'] },
      permissions: { entity: 'gizmo', action: 'read', roles: ['author'] },
      webhooks: { entity: 'gizmo', hook: 'after_write', url: 'http://127.0.0.1:9/hook', async: true },
      'ui-configs': { entity: 'gizmo', scope: 'default', config: { columns: ['label'] } },
    };
    for (const [p, body] of Object.entries(creates)) {
      const key = p === 'entities' || p === 'relations' ? 'name' : 'id';
      const made = await c.call('POST', `${A}/_admin/${p}`, { token, body }, 'create');
      await c.call('POST', `${A}/_admin/${p}`, { token, body }, 'again');
      await c.call('POST', `${A}/_admin/${p}`, { token, raw: '[1]' }, 'array');
      await c.call('POST', `${A}/_admin/${p}`, { token, raw: '{' }, 'bad json');
      await c.call('POST', `${A}/_admin/${p}`, { token: author }, 'author');
      await c.call('GET', `${A}/_admin/${p}`, {}, 'no token');
      const id = made.body.data?.[key] ?? made.body.data?.definition?.[key];
      if (!id) continue;
      const got = await c.call('GET', `${A}/_admin/${p}/${id}`, { token });
      const def = got.body.data?.definition ?? got.body.data;
      await c.call('PUT', `${A}/_admin/${p}/${id}`, { token, body: { ...body, ...(p === 'users' ? { password: undefined } : {}) } }, 'replace');
      await c.call('PUT', `${A}/_admin/${p}/${id}`, { token, body: { nonsense: true } }, 'bad');
      await c.call('PUT', `${A}/_admin/${p}/${MISSING}`, { token, body: def }, 'missing');
      await c.call('GET', `${A}/_admin/${p}/${MISSING}`, { token }, 'missing');
      await c.call('DELETE', `${A}/_admin/${p}/${MISSING}`, { token }, 'missing');
    }
    for (const p of ['ui-configs', 'webhooks', 'permissions', 'users', 'workflows', 'state-machines', 'rules', 'relations', 'entities']) {
      const key = p === 'entities' || p === 'relations' ? 'name' : 'id';
      for (const row of (await s.client.get(`${A}/_admin/${p}`, { token })).body.data as Json[]) {
        const id = row[key];
        if (
          p === 'entities' ? id === 'gizmo' : p === 'users' ? row.email === 'u9@x.io' : JSON.stringify(row).includes('gizmo') || row.name === 'wf'
        ) {
          await c.call('DELETE', `${A}/_admin/${p}/${id}`, { token }, 'delete');
        }
      }
    }
    await c.call('DELETE', `${A}/_admin/entities/author`, { token }, 'referenced');

    // webhook logs
    const logs = (await c.call('GET', `${A}/_admin/webhook-logs`, { token })).body.data as Json[];
    if (logs[0]) {
      await c.call('GET', `${A}/_admin/webhook-logs/${logs[0].id}`, { token });
      await c.call('POST', `${A}/_admin/webhook-logs/${logs[0].id}/retry`, { token });
    }
    for (const id of ['abc', MISSING]) {
      await c.call('GET', `${A}/_admin/webhook-logs/${id}`, { token }, id);
      await c.call('POST', `${A}/_admin/webhook-logs/${id}/retry`, { token }, id);
    }

    // export / import, history, ai
    const exported = await c.call('GET', `${A}/_admin/export`, { token });
    await c.call('GET', `${A}/_admin/export?include_data=true`, { token }, 'with data');
    await c.call('POST', `${A}/_admin/import`, { token, body: exported.body }, 'again');
    await c.call('POST', `${A}/_admin/import`, { token, body: { entities: 5 } }, 'bad');
    await c.call('POST', `${A}/_admin/import`, { token, raw: '{' }, 'bad json');
    await c.call('POST', `${A}/_admin/import`, { token, raw: 'x', headers: { 'content-type': 'text/plain' } }, '415');
    await c.call('GET', `${A}/_admin/history?per_page=3`, { token });
    await c.call('GET', `${A}/_admin/history?action=bogus`, { token }, 'bad action');
    await c.call('GET', `${A}/_admin/history?page=abc&until=2020-01-01T00:00:00Z`, { token }, 'until');
    await c.call('GET', `${A}/_admin/ai/status`, { token });
    await c.call('GET', `${A}/_admin/users`, { token: author }, 'author');

    // the platform document (defect: GET /ai/status answered but was not in it)
    const pres = await s.client.get('/api/_platform/openapi', { token: s.platformToken });
    const p = new Conformance(pres.body as Json, '/api/_platform', 'platform');
    p.check('GET', '/api/_platform/openapi', pres);
    expect(Object.keys(p.doc.paths)).toContain('/ai/status');
    await p.call('GET', '/api/_platform/openapi', { token: s.platformToken, headers: { 'if-none-match': pres.headers.get('etag') ?? '' } }, '304');
    await p.call('GET', '/api/_platform/openapi', { token }, 'app token');
    await p.call('GET', '/api/_platform/apps', { token: s.platformToken });
    await p.call('GET', `/api/_platform/apps/${app}`, { token: s.platformToken });
    await p.call('GET', '/api/_platform/apps/nope', { token: s.platformToken }, 'missing');
    await p.call('POST', '/api/_platform/apps', { token: s.platformToken, body: { name: 'Bad Name' } }, 'bad name');
    await p.call('POST', '/api/_platform/apps', { token: s.platformToken, body: { name: app } }, 'taken');
    await p.call('POST', '/api/_platform/apps', { token: s.platformToken, body: {} }, 'empty');
    await p.call('POST', '/api/_platform/apps', { token: s.platformToken, raw: 'x', headers: { 'content-type': 'text/plain' } }, '415');
    await p.call('DELETE', '/api/_platform/apps/nope', { token: s.platformToken }, 'missing');
    await p.call('GET', '/api/_platform/apps', {}, 'no token');
    await p.call('GET', '/api/_platform/ai/status', { token: s.platformToken });
    const plogin = await p.call('POST', '/api/_platform/auth/login', {
      body: { email: s.config.platformEmail, password: s.config.platformPassword },
    });
    await p.call('POST', '/api/_platform/auth/login', { body: {} }, 'empty');
    const pref = await p.call('POST', '/api/_platform/auth/refresh', { body: { refresh_token: plogin.body.data.refresh_token } });
    await p.call('POST', '/api/_platform/auth/logout', { body: { refresh_token: pref.body.data.refresh_token } });
    await p.call('POST', '/api/_platform/auth/refresh', { body: {} }, 'empty');

    expect([...c.problems, ...ca.problems, ...p.problems]).toEqual([]);
  }, 120_000);
});

describe('defect: bodies sent to operations that take none', () => {
  it('a malformed (400), non-JSON (415) or too large (413) body answers a status every POST/PUT/DELETE documents; every secured operation documents its 401', async () => {
    const example = JSON.parse(readFileSync(join(EXAMPLES, 'helpdesk-ticketing.json'), 'utf8')) as Json;
    const { name: app, token } = await s.createApp();
    expect((await s.client.post(`/api/${app}/_admin/import`, { token, body: example })).status).toBe(200);
    const c = await documentOf(app, token, 'admin');
    const pres = await s.client.get('/api/_platform/openapi', { token: s.platformToken });
    const p = new Conformance(pres.body as Json, '/api/_platform', 'platform');
    const bodies: Array<[string, RequestOptions]> = [
      ['bad json', { raw: '{' }],
      ['text', { raw: 'x', headers: { 'content-type': 'text/plain' } }],
      ['too large', { raw: JSON.stringify({ x: 'y'.repeat(1_100_000) }) }],
    ];
    for (const [conf, t] of [
      [c, token],
      [p, s.platformToken],
    ] as const) {
      for (const [template, item] of Object.entries(conf.doc.paths as Record<string, Json>)) {
        for (const method of ['post', 'put', 'delete']) {
          if (!item[method] || template === '/_files/upload') continue;
          const path = template.replace(/\{[^}]+\}/g, (m) => (m === '{entity}' ? 'ticket' : m === '{name}' ? 'nope' : MISSING));
          for (const [label, opts] of bodies) await conf.call(method.toUpperCase(), `${conf.base}${path}`, { token: t, ...opts }, label);
        }
      }
    }
    // no token, a token of another app: every operation that asks for one answers a documented 401
    const other = await s.createApp();
    for (const [conf, t] of [
      [c, other.token],
      [p, other.token],
      [c, undefined],
      [p, undefined],
    ] as const) {
      for (const [template, item] of Object.entries(conf.doc.paths as Record<string, Json>)) {
        for (const method of ['get', 'post', 'put', 'delete']) {
          if (!item[method] || (item[method].security && item[method].security.length === 0)) continue;
          const path = template.replace(/\{[^}]+\}/g, (m) => (m === '{entity}' ? 'ticket' : m === '{name}' ? 'nope' : MISSING));
          const q = template === '/_realtime' ? '?entities=ticket' : '';
          const res = await conf.call(
            method.toUpperCase(),
            `${conf.base}${path}${q}`,
            { token: t, body: method === 'get' || method === 'delete' ? undefined : {} },
            t ? 'other app' : 'no token',
          );
          expect(res.status, `${method} ${template}`).toBe(401);
        }
      }
    }
    expect([...c.problems, ...p.problems]).toEqual([]);
  }, 120_000);
});
