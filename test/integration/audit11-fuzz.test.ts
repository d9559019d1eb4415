import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISSING_UUID, startEngine, type EngineHarness } from '../support/engine.js';

/**
 * Audit 11: a seeded bad-input fuzz of every HTTP route (spec: README.md §Global conventions, §Error format).
 * Every answer to hostile input must be below 500, carry the error envelope when it is a 4xx, come back in time,
 * and a refused write must leave the database as it was.
 */

let h: EngineHarness;
const ids: Record<string, string> = {};

// ---------------------------------------------------------------- raw HTTP client

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Req {
  method: string;
  /** Sent verbatim as the request target (no normalisation, unlike fetch). */
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  token?: string | null;
}

/** One request over a socket of its own; a server that does not answer within 10 s fails the caller. */
function send(req: Req): Promise<Answer> {
  const url = new URL(h.s.rocket.url);
  const headers: Record<string, string> = { ...req.headers };
  const token = req.token === undefined ? h.app.token : req.token;
  if (token !== null && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) headers.authorization = `Bearer ${token}`;
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: false, signal: AbortSignal.timeout(10_000) },
      (res) => {
        // A stream that opened is an answer; its events are not the point here.
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    // CONNECT answers arrive as a 'connect' event, not a response.
    let connected = false;
    r.on('connect', (res, socket, head) => {
      connected = true;
      const chunks: Buffer[] = [head];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', (err) => reject(new Error(`${req.method} ${req.path.slice(0, 200)}: ${err.message}`)));
    r.on('close', () => connected || reject(new Error(`${req.method} ${req.path.slice(0, 200)}: closed without an answer`)));
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

const json = (body: string, extra: Record<string, string> = {}) => ({ body, headers: { 'content-type': 'application/json', ...extra } });

/** What is wrong with an answer to hostile input, or undefined. */
function problemOf(req: Req, a: Answer): string | undefined {
  if (a.status >= 500) return `status ${a.status}`;
  if (a.status < 400 || req.method === 'HEAD') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.text);
  } catch {
    return `status ${a.status} without a JSON envelope`;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') return `status ${a.status} without {error:{code,message}}`;
  return undefined;
}

// ---------------------------------------------------------------- database state

/**
 * Tables that change without a write of the request under test: sessions, tickets, instrumentation, delivery
 * logs and the queues background jobs drain after a commit (an earlier accepted write may be drained meanwhile).
 */
const VOLATILE = new Set([
  '_refresh_tokens',
  '_realtime_tickets',
  '_events',
  '_webhook_logs',
  '_outbox',
  '_realtime_events',
  '_realtime_batches',
  '_realtime_state',
  '_rocket_migrations',
]);

/** A fingerprint of every table of the app database (rows and columns) and of the platform's apps. */
async function snapshot(withApps: boolean): Promise<Map<string, string>> {
  const tables = (
    await h.q<{ t: string }>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
    )
  )
    .map((r) => r.t)
    .filter((t) => !VOLATILE.has(t));
  const parts = tables.map(
    (t) =>
      `SELECT '${t.replace(/'/g, "''")}' AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t.replace(/"/g, '""')}" x`,
  );
  parts.push(
    `SELECT '#columns' AS t, md5(string_agg(table_name || '.' || column_name || ':' || data_type || is_nullable || coalesce(column_default, ''), '|' ORDER BY table_name, column_name)) FROM information_schema.columns WHERE table_schema = current_schema()`,
  );
  parts.push(
    `SELECT '#indexes' AS t, md5(string_agg(indexname || indexdef, '|' ORDER BY indexname)) FROM pg_indexes WHERE schemaname = current_schema()`,
  );
  const rows = await h.q<{ t: string; h: string }>(parts.join(' UNION ALL '));
  const map = new Map(rows.map((r) => [r.t, r.h]));
  if (withApps) map.set('#apps', (await send({ method: 'GET', path: '/api/_platform/apps', token: h.s.platformToken })).text);
  return map;
}

function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k));
}

// ---------------------------------------------------------------- seeded generator

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);

/** Hostile JSON values as raw text, so that -0, 1e309, lone surrogates and duplicate keys reach the server as written. */
const HOSTILE_VALUES: readonly string[] = [
  '[]',
  '[1,"a",null]',
  '{}',
  '{"a":{"b":[1,{"c":null}]}}',
  '""',
  '" "',
  JSON.stringify('x'.repeat(70_000)),
  '-1',
  '0',
  '-0',
  '1.5',
  '-1.5',
  '1e309',
  '-1e309',
  '1e-400',
  '9007199254740993',
  '-9223372036854775809',
  '99999999999999999999999999999999999999',
  '2147483648',
  '1E2',
  '"NaN"',
  '"Infinity"',
  '"-Infinity"',
  '"1e309"',
  'true',
  'false',
  'null',
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"x\\udc00y"',
  '"\\ud83d\\ude00"',
  '"名前 ünïcödé e\\u0301 \\u202e"',
  `"'; DROP TABLE x; --"`,
  '"../../etc/passwd"',
  '"%00%ZZ"',
  '"2024-13-45T99:99:99Z"',
  '"0000-00-00"',
  '"00000000-0000-0000-0000-00000000000g"',
  '"00000000-0000-4000-8000-000000000000"',
  '"{{ record.id }}"',
  '"$' + '{process.env}"',
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '{"a":1,"a":2}',
  deep(2000, '{"a":', '}'),
  deep(20_000, '[', ']'),
  deep(200, '[', ']'),
  `[${Array.from({ length: 2000 }, (_, i) => i).join(',')}]`,
  '{"$ref":"#"}',
  '{"id":"00000000-0000-4000-8000-000000000000"}',
];

const HOSTILE_KEYS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  '',
  ' ',
  'a\\u0000b',
  '\\ud800',
  'x'.repeat(300),
  '名前',
  'id',
  'created_at',
  'deleted_at',
  '$where',
  'a.b',
  'a[b]',
];

const MALFORMED_BODIES: readonly string[] = [
  '',
  ' ',
  '{',
  '}',
  '{"a":}',
  "{'a':1}",
  '{"a":1,}',
  '[1,]',
  '{"a":1} trailing',
  '{"a":1}{"b":2}',
  '\uFEFF{}',
  'nul\u0000l',
  '{"a":"\u0000"}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":-}',
  '{"a":01}',
  '{"a":.5}',
  '{"a":1e}',
  '"unterminated',
  'undefined',
  'null',
  'true',
  '123',
  '"string"',
  '[]',
  '{"a":1,"a":2,"__proto__":{"x":1}}',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
];

const CONTENT_TYPES: readonly string[] = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=',
  'application/json;;',
  'application/json; boundary=x',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/xml',
  'multipart/form-data',
  'multipart/form-data; boundary=zzz',
  'application/octet-stream',
  '*/*',
  'json',
  ';',
  '',
  'application/json, text/plain',
  'text/json',
];

const HOSTILE_IDS: readonly string[] = [
  'abc',
  '-1',
  '0',
  '1.5',
  '1e3',
  '99999999999999999999',
  '2147483648',
  '-2147483649',
  '9223372036854775808',
  MISSING_UUID.toUpperCase(),
  MISSING_UUID.replace(/-/g, ''),
  `${MISSING_UUID}0`,
  `{${MISSING_UUID}}`,
  '00000000-0000-0000-0000-00000000000g',
  '%00',
  '%ZZ',
  '%',
  '%C0%AF',
  '%FF%FE',
  '%2e%2e',
  '%2F',
  'a%20b',
  '%E5%90%8D%E5%89%8D',
  '%F0%9F%98%80',
  '%ED%A0%80',
  'x'.repeat(120),
  'x'.repeat(3000),
  'null',
  'true',
  '__proto__',
  'constructor',
  "'%3B--",
  '%22',
  '_history',
  'NaN',
  'Infinity',
  '%20',
  '%09',
];

const QUERY_VALUES: readonly string[] = [
  '',
  '-1',
  '0',
  '1e9',
  '1.5',
  'NaN',
  'abc',
  '99999999999999999999999',
  '%00',
  '%ZZ',
  '%E5%90%8D',
  '%ED%A0%80',
  'x'.repeat(2000),
  '-',
  ',',
  '-,-',
  'id,id',
  '%5B%5D',
  'null',
  'true',
  '2024-13-45',
  MISSING_UUID,
  '__proto__',
  'a.b.c',
  'eyJ4IjoxfQ',
  'eyJ2IjpbMSwyXX0',
  '!!!',
];

const QUERY_KEYS: readonly string[] = [
  'page',
  'per_page',
  'sort',
  'include',
  'cursor',
  'count',
  'filter',
  'filter[]',
  'filter[name]',
  'filter[name][eq]',
  'filter[name.eq]',
  'filter[name.bogus]',
  'filter[name.in]',
  'filter[age.gte]',
  'filter[age.between]',
  'filter[score.lt]',
  'filter[born.eq]',
  'filter[seen.gt]',
  'filter[active.eq]',
  'filter[meta.eq]',
  'filter[nope]',
  'filter[__proto__]',
  'filter[constructor][prototype]',
  'filter[id]',
  'filter[id.in]',
  'filter[name.is_null]',
  'filter[name.like]',
  'filter[name.contains]',
  'filter[',
  'sort[]',
  'include[]',
  'page[number]',
  'entities',
  'ticket',
  'entity',
  'record_id',
  'actor_id',
  'action',
  'since',
  'until',
  'q',
  '__proto__',
  '%00',
  '%ZZ',
];

function hostileQuery(rng: Rng): string {
  const n = 1 + rng.int(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = rng.pick(QUERY_KEYS);
    const value = rng.next() < 0.3 ? rng.pick(['name', '-name', 'age,-score', 'fz_books', 'fz_author', 'nope', 'name,nope']) : rng.pick(QUERY_VALUES);
    const encodedKey = key.includes('%') ? key : encodeURIComponent(key).replace(/%5B/g, '[').replace(/%5D/g, ']');
    parts.push(`${encodedKey}=${value}`);
    if (rng.next() < 0.2) parts.push(`${encodedKey}=${rng.pick(QUERY_VALUES)}`); // the same key again
  }
  return parts.join('&');
}

/** Every key path of a JSON value (objects and arrays), for mutating one place at a time. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push([...prefix, i], ...pathsOf(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...pathsOf(v, [...prefix, k]));
  }
  return out;
}

const MARK = '\u0001MARK\u0001';

/** The base body as JSON text with the value at `path` replaced by a raw JSON fragment. */
function withFragment(base: unknown, path: (string | number)[], fragment: string): string {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) at = at[step] as Record<string | number, unknown>;
  at[path[path.length - 1]!] = MARK;
  return JSON.stringify(copy).replace(JSON.stringify(MARK), fragment);
}

/** The base body (an object) with one more raw `"key": value` member. */
function withMember(base: unknown, key: string, fragment: string): string {
  const text = JSON.stringify(base);
  const member = `"${key}":${fragment}`;
  return text === '{}' ? `{${member}}` : `${text.slice(0, -1)},${member}}`;
}

/** One hostile body for a route whose good body is `base`. */
function hostileBody(rng: Rng, base: unknown): { body: string; headers: Record<string, string> } {
  const roll = rng.next();
  const paths = pathsOf(base);
  if (roll < 0.45 && paths.length > 0) return json(withFragment(base, rng.pick(paths), rng.pick(HOSTILE_VALUES)));
  if (roll < 0.55 && base !== null && typeof base === 'object' && !Array.isArray(base)) {
    return json(withMember(base, rng.pick(HOSTILE_KEYS), rng.pick(HOSTILE_VALUES)));
  }
  if (roll < 0.65) return json(rng.pick(HOSTILE_VALUES));
  if (roll < 0.8) return json(rng.pick(MALFORMED_BODIES));
  const ct = rng.pick(CONTENT_TYPES);
  return { body: rng.next() < 0.5 ? JSON.stringify(base) : 'a=1&b=2', headers: ct === '' ? {} : { 'content-type': ct } };
}

// ---------------------------------------------------------------- routes

interface Op {
  method: string;
  /** Path under /api/:app (or absolute when it starts with `//`), `{x}` marks a path parameter. */
  path: string;
  /** A good body, mutated by the generator. */
  base?: unknown;
  /** Values a path parameter may take besides the hostile ones (real ids, so that body checks are reached). */
  real?: Record<string, string[]>;
  /** Only hostile values for path parameters (deletes: a real id would delete the fixture). */
  hostileOnly?: boolean;
  platform?: boolean;
}

function entityBase(): Record<string, unknown> {
  return {
    name: 'fz_victim',
    table: 'fz_victims',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    soft_delete: false,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string', required: true, enum: ['a', 'b'] },
      { name: 'n', type: 'int', default: 1 },
      { name: 'amount', type: 'decimal', precision: 2 },
    ],
    indexes: [{ fields: ['title', 'n'] }],
  };
}

/** Good bodies per route, so that mutations reach the validators behind the body parser. */
function operations(): Op[] {
  const anyId = (k: string) => (ids[k] ? [ids[k]!] : []);
  const adminCollections: [string, string, unknown][] = [
    [
      'rules',
      'rule',
      {
        entity: 'fz_author',
        hook: 'before_write',
        type: 'field',
        definition: { field: 'name', operator: 'min_length', value: 1, message: 'm' },
        priority: 1,
        active: true,
      },
    ],
    [
      'state-machines',
      'machine',
      {
        entity: 'fz_author',
        field: 'status',
        definition: { initial: 'new', transitions: [{ from: 'new', to: 'done', roles: ['admin'], guard: 'true' }] },
        active: true,
      },
    ],
    [
      'workflows',
      'workflow',
      {
        name: 'fz_flow2',
        trigger: { type: 'event', event: 'ping' },
        context: { a: 'trigger.record_id' },
        steps: [
          { id: 's1', type: 'action', actions: [{ type: 'set_field', entity: 'fz_author', record_id: 'context.a', field: 'name', value: 'x' }] },
        ],
      },
    ],
    ['users', 'user', { email: 'fz-new@example.com', password: 'pw-12345678', roles: ['staff'], active: true }],
    [
      'permissions',
      'permission',
      { entity: 'fz_author', action: 'read', roles: ['staff'], conditions: [{ field: 'age', operator: 'gte', value: 3 }] },
    ],
    [
      'webhooks',
      'webhook',
      {
        entity: 'fz_author',
        hook: 'after_write',
        url: 'https://example.com/h',
        method: 'POST',
        headers: { 'X-A': '{{record.id}}' },
        condition: 'true',
        async: true,
        retry: { max_attempts: 2, backoff: 'linear' },
        active: true,
      },
    ],
    ['ui-configs', 'ui', { entity: 'fz_book', scope: 'mobile', config: { list: { columns: ['title'] } } }],
    [
      'relations',
      'relation',
      {
        name: 'fz_victim_rel',
        type: 'one_to_many',
        source: 'fz_author',
        target: 'fz_book',
        target_key: 'author_id',
        on_delete: 'cascade',
        write_mode: 'diff',
      },
    ],
    ['entities', 'entity', entityBase()],
  ];
  const ops: Op[] = [];
  for (const [collection, key, base] of adminCollections) {
    const p = `/_admin/${collection}`;
    ops.push({ method: 'GET', path: p }, { method: 'POST', path: p, base });
    ops.push({ method: 'GET', path: `${p}/{id}`, real: { id: anyId(key) } });
    ops.push({ method: 'PUT', path: `${p}/{id}`, base, real: { id: anyId(key) } });
    ops.push({ method: 'DELETE', path: `${p}/{id}`, hostileOnly: true });
  }
  const record = {
    name: 'Ann',
    age: 3,
    score: 1.5,
    price: '1.25',
    active: true,
    born: '2020-01-02',
    seen: '2020-01-02T03:04:05Z',
    meta: { a: [1] },
    ref: MISSING_UUID,
    big: '12',
    status: 'new',
  };
  const book = { title: 'T', author_id: MISSING_UUID, pages: 3 };
  const tag = { code: 'c1', label: 'L' };
  for (const [entity, base, key] of [
    [
      'fz_author',
      {
        ...record,
        avatar: ids.file ?? null,
        fz_books: { _write_mode: 'diff', data: [{ title: 'nested', pages: 1, fz_tags: { data: [{ code: 'seed' }] } }] },
      },
      'author',
    ],
    ['fz_book', { ...book, fz_tags: { _write_mode: 'append', data: [{ code: 'seed' }, { code: 'seed', _delete: true }] } }, 'book'],
    ['fz_tag', tag, 'tag'],
  ] as const) {
    ops.push({ method: 'GET', path: `/${entity}` }, { method: 'POST', path: `/${entity}`, base });
    ops.push({ method: 'GET', path: `/${entity}/{id}`, real: { id: anyId(key) } });
    ops.push({ method: 'PUT', path: `/${entity}/{id}`, base, real: { id: anyId(key) } });
    ops.push({ method: 'DELETE', path: `/${entity}/{id}`, hostileOnly: true });
    ops.push({ method: 'GET', path: `/${entity}/{id}/_history`, real: { id: anyId(key) } });
  }
  ops.push(
    { method: 'GET', path: '/{entity}', real: { entity: ['fz_author'] } },
    { method: 'POST', path: '/{entity}', base: record },
    { method: 'POST', path: '/auth/login', base: { email: 'nobody@example.com', password: 'pw-wrong-1' } },
    { method: 'POST', path: '/auth/refresh', base: { refresh_token: MISSING_UUID } },
    { method: 'POST', path: '/auth/logout', base: { refresh_token: MISSING_UUID } },
    { method: 'POST', path: '/auth/accept-invite', base: { token: 'not-a-token', password: 'pw-12345678' } },
    { method: 'GET', path: '/_admin/invites' },
    { method: 'POST', path: '/_admin/invites', base: { email: 'fz-invitee@example.com', roles: ['staff'] } },
    { method: 'POST', path: '/_admin/invites/bulk', base: { emails: ['fz-b1@example.com', 'fz-b2@example.com'], roles: ['staff'] } },
    { method: 'DELETE', path: '/_admin/invites/{id}', hostileOnly: true },
    { method: 'GET', path: '/_admin/webhook-logs' },
    { method: 'GET', path: '/_admin/webhook-logs/{id}', real: { id: anyId('log') } },
    { method: 'POST', path: '/_admin/webhook-logs/{id}/retry', base: {}, real: { id: anyId('log') } },
    { method: 'GET', path: '/_admin/export' },
    {
      method: 'POST',
      path: '/_admin/import',
      base: {
        version: 1,
        entities: [
          {
            name: 'fz_imp',
            table: 'fz_imps',
            primary_key: { field: 'id', type: 'int', generated: true },
            fields: [
              { name: 'id', type: 'int' },
              { name: 'v', type: 'string' },
            ],
          },
        ],
        relations: [],
        sample_data: { fz_imp: [{ v: 'x' }] },
      },
    },
    { method: 'GET', path: '/_admin/history' },
    { method: 'GET', path: '/_admin/ai/status' },
    { method: 'POST', path: '/_admin/ai/generate', base: { prompt: 'x' } },
    { method: 'GET', path: '/_ui/configs' },
    { method: 'GET', path: '/_ui/config/{entity}', real: { entity: ['fz_book'] } },
    { method: 'GET', path: '/_workflows/pending' },
    { method: 'GET', path: '/_workflows/{id}', real: { id: anyId('instance') } },
    { method: 'POST', path: '/_workflows/{id}/approve', base: { comment: 'ok' }, real: { id: anyId('instance') } },
    { method: 'POST', path: '/_workflows/{id}/reject', base: { comment: 'no' }, real: { id: anyId('instance') } },
    { method: 'DELETE', path: '/_workflows/{id}', hostileOnly: true },
    { method: 'POST', path: '/_files/upload', base: {} },
    { method: 'GET', path: '/_files' },
    { method: 'GET', path: '/_files/{id}', real: { id: anyId('file') } },
    { method: 'DELETE', path: '/_files/{id}', hostileOnly: true },
    { method: 'POST', path: '/_events', base: { event_type: 'x', source: 'y' } },
    { method: 'GET', path: '/_events' },
    { method: 'GET', path: '/_events/stats' },
    { method: 'GET', path: '/_events/trace/{id}' },
    { method: 'GET', path: '/_openapi' },
    { method: 'GET', path: '/_docs' },
    { method: 'GET', path: '/_docs/{id}' },
    { method: 'POST', path: '/_realtime/tickets', base: { entities: ['fz_author'] } },
    { method: 'GET', path: '/_realtime' },
    { method: 'POST', path: '//api/_platform/auth/login', base: { email: 'nobody@example.com', password: 'x' }, platform: true },
    { method: 'POST', path: '//api/_platform/auth/refresh', base: { refresh_token: MISSING_UUID }, platform: true },
    { method: 'POST', path: '//api/_platform/auth/logout', base: { refresh_token: MISSING_UUID }, platform: true },
    { method: 'GET', path: '//api/_platform/apps', platform: true },
    { method: 'POST', path: '//api/_platform/apps', base: { name: 'fzapp', display_name: 'Fuzz app', db_driver: 'postgres' }, platform: true },
    { method: 'GET', path: '//api/_platform/apps/{id}', platform: true },
    { method: 'DELETE', path: '//api/_platform/apps/{id}', hostileOnly: true, platform: true },
    { method: 'GET', path: '//api/_platform/ai/status', platform: true },
    { method: 'GET', path: '//api/_platform/openapi', platform: true },
    { method: 'GET', path: '//api/{id}/_openapi', platform: true },
    { method: 'GET', path: '//health' },
    { method: 'GET', path: '//ready' },
    { method: 'GET', path: '//metrics' },
    { method: 'GET', path: '//admin/{id}' },
  );
  return ops;
}

const ODD_METHODS = ['PATCH', 'OPTIONS', 'HEAD', 'PURGE', 'PROPFIND', 'LOCK', 'SEARCH', 'M-SEARCH', 'CONNECT'];
const ODD_AUTH: readonly (string | null)[] = [
  null,
  'Bearer',
  'Bearer x.y.z',
  'Basic YTpi',
  'bearer  ',
  `Bearer ${'a'.repeat(4000)}`,
  'Bearer eyJhbGciOiJub25lIn0.e30.',
];

/** Conditional, range, encoding and resume headers with values no client should send. */
const ODD_HEADERS: readonly Record<string, string>[] = [
  { range: 'bytes=9999999-' },
  { range: 'bytes=abc' },
  { range: 'bytes=0-0,1-1,2-2' },
  { 'if-none-match': '"x"'.repeat(500) },
  { 'if-none-match': '*' },
  { 'if-match': 'x' },
  { 'if-modified-since': 'garbage' },
  { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
  { 'accept-encoding': 'gzip;q=abc, br;q=-1, *;q=2' },
  { 'content-encoding': 'gzip' },
  { 'last-event-id': '99999999999999999999999' },
  { 'last-event-id': '-1:x' },
  { accept: 'application/xml' },
  { 'x-forwarded-for': '999.999.999.999, ::ffff:' },
];

function fill(rng: Rng, op: Op): string {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const real = op.real?.[name] ?? [];
    if (!op.hostileOnly && real.length > 0 && rng.next() < 0.5) return rng.pick(real);
    return rng.pick(HOSTILE_IDS);
  });
  return path.startsWith('//') ? path.slice(1) : `${h.base}${path}`;
}

/** One hostile request for an operation. */
function hostileRequest(rng: Rng, op: Op): Req {
  let path = fill(rng, op);
  const roll = rng.next();
  const token = op.platform ? h.s.platformToken : h.app.token;
  if (op.method === 'GET' || roll < 0.25) path += `${path.includes('?') ? '&' : '?'}${hostileQuery(rng)}`;
  const req: Req = { method: op.method, path, token };
  if (op.base !== undefined || rng.next() < 0.15) Object.assign(req, hostileBody(rng, op.base ?? {}));
  const odd = rng.next();
  if (odd < 0.06) req.method = rng.pick(ODD_METHODS);
  else if (odd < 0.12) req.headers = { ...req.headers, authorization: rng.pick(ODD_AUTH) ?? '' };
  else if (odd < 0.2) req.headers = { ...req.headers, ...rng.pick(ODD_HEADERS) };
  return req;
}

// ---------------------------------------------------------------- fixtures

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const res = await h.s.client.request(method, h.base + path, { token: h.app.token, body });
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body.data;
}

beforeAll(async () => {
  h = await startEngine();
  await h.entity({
    name: 'fz_author',
    table: 'fz_authors',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    soft_delete: true,
    history: true,
    slug: { field: 'slug', source: 'name' },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string', required: true, unique: true },
      { name: 'slug', type: 'string', unique: true },
      { name: 'age', type: 'int' },
      { name: 'score', type: 'float' },
      { name: 'price', type: 'decimal', precision: 2 },
      { name: 'active', type: 'boolean', default: true },
      { name: 'born', type: 'date' },
      { name: 'seen', type: 'timestamp' },
      { name: 'meta', type: 'json' },
      { name: 'ref', type: 'uuid' },
      { name: 'big', type: 'bigint' },
      { name: 'avatar', type: 'file' },
      { name: 'status', type: 'string', default: 'new', enum: ['new', 'done'] },
      { name: 'created_at', type: 'timestamp', auto: 'create' },
    ],
  });
  await h.entity({
    name: 'fz_book',
    table: 'fz_books',
    primary_key: { field: 'id', type: 'int', generated: true },
    fields: [
      { name: 'id', type: 'int' },
      { name: 'title', type: 'string', required: true },
      { name: 'author_id', type: 'uuid' },
      { name: 'pages', type: 'int' },
    ],
  });
  await h.entity({
    name: 'fz_tag',
    table: 'fz_tags',
    primary_key: { field: 'code', type: 'string' },
    fields: [
      { name: 'code', type: 'string' },
      { name: 'label', type: 'string' },
    ],
  });
  await h.entity(entityBase());
  await h.relation({ name: 'fz_books', type: 'one_to_many', source: 'fz_author', target: 'fz_book', target_key: 'author_id', on_delete: 'cascade' });
  await h.relation({
    name: 'fz_tags',
    type: 'many_to_many',
    source: 'fz_book',
    target: 'fz_tag',
    join_table: 'fz_book_tags',
    source_join_key: 'book_id',
    target_join_key: 'tag_code',
  });
  ids.relation = 'fz_books';
  ids.entity = 'fz_victim';
  const author = await h.create('fz_author', { name: 'Seed', age: 40 });
  ids.author = author.id;
  ids.book = String((await h.create('fz_book', { title: 'Seed book', author_id: author.id })).id);
  ids.tag = (await h.create('fz_tag', { code: 'seed', label: 'Seed' })).code;
  ids.rule = (
    await ok('POST', '/_admin/rules', {
      entity: 'fz_author',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'name', operator: 'min_length', value: 1, message: 'm' },
    })
  ).id;
  ids.machine = (
    await ok('POST', '/_admin/state-machines', {
      entity: 'fz_author',
      field: 'status',
      definition: { initial: 'new', transitions: [{ from: 'new', to: 'done' }] },
    })
  ).id;
  ids.workflow = (
    await ok('POST', '/_admin/workflows', {
      name: 'fz_flow',
      trigger: { type: 'event', event: 'ping' },
      steps: [{ id: 's1', type: 'action', actions: [] }],
    })
  ).id;
  ids.user = (await ok('POST', '/_admin/users', { email: 'fz-user@example.com', password: 'pw-12345678', roles: ['staff'] })).id;
  ids.permission = (await ok('POST', '/_admin/permissions', { entity: 'fz_book', action: 'read', roles: ['staff'] })).id;
  ids.webhook = (await ok('POST', '/_admin/webhooks', { entity: 'fz_tag', hook: 'after_write', url: 'https://example.com/hook' })).id;
  ids.ui = (await ok('POST', '/_admin/ui-configs', { entity: 'fz_book', config: { list: { columns: ['title'] } } })).id;
  await ok('POST', '/_admin/invites', { email: 'fz-invited@example.com' });
  // A pending approval, a webhook delivery log and an uploaded file, so that their routes see real ids too.
  await ok('POST', '/_admin/workflows', {
    name: 'fz_approval',
    trigger: { type: 'state_change', entity: 'fz_tag', field: 'label', to: 'go' },
    steps: [{ id: 'ask', type: 'approval', assignee: { role: 'admin' }, on_approve: 'end', on_reject: 'end' }],
  });
  await h.create('fz_tag', { code: 'seed2', label: 'go' });
  ids.instance = (await h.q<{ id: string }>('SELECT id FROM _workflow_instances LIMIT 1'))[0]?.id ?? '';
  ids.log = (await h.q<{ id: string }>('SELECT id FROM _webhook_logs LIMIT 1'))[0]?.id ?? '';
  const form = new FormData();
  form.append('file', new Blob(['hello']), 'hello.txt');
  const upload = await fetch(`${h.s.rocket.url}${h.base}/_files/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.app.token}` },
    body: form,
  });
  ids.file = ((await upload.json()) as { data: { id: string } }).data.id;
  expect([ids.instance, ids.log, ids.file].every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
}, 120_000);

afterAll(async () => {
  for (const name of ['fzapp'])
    await send({ method: 'DELETE', path: `/api/_platform/apps/${name}`, token: h?.s.platformToken }).catch(() => undefined);
  await h?.close();
});

// ---------------------------------------------------------------- the fuzz loop

const WRITE = new Set(['POST', 'PUT', 'DELETE']);
const CASES = Number(process.env.FUZZ_CASES ?? 1200);

describe('hostile input on every route (seeded fuzz)', () => {
  it(
    'answers every hostile request below 500, in time, with the envelope, and writes nothing when it refuses',
    async () => {
      const rng = prng(Number(process.env.FUZZ_SEED ?? 0x5eed11));
      const ops = operations();
      const problems: string[] = [];
      let state = await snapshot(true);
      for (let i = 0; i < CASES; i++) {
        const op = ops[i % ops.length]!;
        const req = hostileRequest(rng, op);
        const watched = WRITE.has(req.method);
        let answer: Answer;
        try {
          answer = await send(req);
        } catch (err) {
          problems.push(`#${i} ${req.method} ${req.path.slice(0, 160)}: ${(err as Error).message}`);
          continue;
        }
        const what = `#${i} ${req.method} ${req.path.slice(0, 160)} ${JSON.stringify(req.headers ?? {}).slice(0, 120)} ${String(req.body ?? '').slice(0, 160)}`;
        const problem = problemOf(req, answer);
        if (problem) problems.push(`${what} -> ${problem}: ${answer.text.slice(0, 200)}`);
        if (watched) {
          // Only platform routes can change the list of apps; elsewhere the last listing carries over.
          const after = await snapshot(req.path.startsWith('/api/_platform/'));
          if (!after.has('#apps')) after.set('#apps', state.get('#apps')!);
          const diff = answer.status >= 400 ? changed(state, after) : [];
          if (diff.length > 0) problems.push(`${what} -> refused (${answer.status}) but changed ${diff.join(', ')}`);
          state = after;
        }
      }
      expect(problems).toEqual([]);
    },
    Math.max(120_000, CASES * 100),
  );
});
