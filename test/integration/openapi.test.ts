import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/** GET /api/:app/_openapi per caller, caching headers, _docs, the platform document and bad input (spec: openapi.md). */

type Doc = {
  info: { title: string; version: string };
  servers: Array<{ url: string }>;
  paths: Record<
    string,
    Record<
      string,
      {
        operationId?: string;
        tags?: string[];
        security?: unknown[];
        parameters?: Array<{ name?: string; $ref?: string; schema?: Record<string, unknown> }>;
      }
    >
  >;
  components: {
    schemas: Record<string, { required?: string[]; properties?: Record<string, Record<string, unknown>> }>;
    securitySchemes: Record<string, unknown>;
  };
  tags: Array<{ name: string }>;
  security: unknown[];
};

let s: TestServer;
let app: { name: string; token: string };
let writer: string;
let both: string;
const url = (p: string) => `/api/${app.name}${p}`;

async function user(email: string, roles: string[]): Promise<string> {
  const res = await s.client.post(url('/_admin/users'), { token: app.token, body: { email, password: 'pw-123456', roles } });
  expect(res.status).toBe(201);
  return s.client.login(url('/auth/login'), email, 'pw-123456');
}

const policy = async (body: object) => expect((await s.client.post(url('/_admin/permissions'), { token: app.token, body })).status).toBe(201);
const doc = async (token: string) => {
  const res = await s.client.get<Doc>(url('/_openapi'), { token });
  expect(res.status).toBe(200);
  return res;
};

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  const entity = (body: object) => s.client.post(url('/_admin/entities'), { token: app.token, body });
  expect(
    (
      await entity({
        name: 'note',
        table: 'notes',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        soft_delete: true,
        history: true,
        fields: [
          { name: 'id', type: 'uuid', required: true },
          { name: 'title', type: 'string', required: true },
          { name: 'kind', type: 'string', enum: ['idea', 'todo'], default: 'idea' },
          { name: 'stars', type: 'int' },
          { name: 'done', type: 'boolean' },
          { name: 'meta', type: 'json' },
          { name: 'attachment', type: 'file' },
          { name: 'due', type: 'date' },
          { name: 'body', type: 'text' },
          { name: 'created_at', type: 'timestamp', auto: 'create' },
        ],
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await entity({
        name: 'secret',
        table: 'secrets',
        primary_key: { field: 'code', type: 'string', generated: false },
        fields: [
          { name: 'code', type: 'string', required: true },
          { name: 'note_id', type: 'uuid' },
        ],
      })
    ).status,
  ).toBe(201);
  const rel = await s.client.post(url('/_admin/relations'), {
    token: app.token,
    body: { name: 'secrets', type: 'one_to_many', source: 'note', target: 'secret', source_key: 'id', target_key: 'note_id', on_delete: 'cascade' },
  });
  expect(rel.status).toBe(201);
  await policy({ entity: 'note', action: 'read', roles: ['writer'] });
  await policy({ entity: 'note', action: 'create', roles: ['writer'] });
  await policy({ entity: 'secret', action: 'read', roles: ['keeper'], conditions: [{ field: 'code', operator: 'eq', value: 'x' }] });
  writer = await user('writer@x.io', ['writer']);
  both = await user('both@x.io', ['Keeper', 'writer']);
});
afterAll(async () => {
  await s?.close();
});

describe('the document', () => {
  it('describes the app: info, servers, security, paths, schemas and list parameters', async () => {
    const res = await doc(app.token);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const d = res.body;
    expect(d).toMatchObject({ openapi: '3.1.0', info: { title: app.name }, servers: [{ url: `/api/${app.name}` }], security: [{ bearerAuth: [] }] });
    expect(d.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect((await new Validator().validate(structuredClone(d) as object)).valid).toBe(true);

    expect(Object.keys(d.paths['/note']!)).toEqual(['get', 'post']);
    expect(Object.keys(d.paths['/note/{id}']!).sort()).toEqual(['delete', 'get', 'parameters', 'put']);
    expect(d.paths['/note']!.get!.operationId).toBe('listNote');
    expect(d.paths['/note/{id}']!.put!.operationId).toBe('updateNote');
    expect(d.paths['/note/{id}/_history']!.get!.operationId).toBe('historyNote');
    expect(d.paths['/secret/{id}']!.parameters![0]!.schema).toEqual({ type: 'string' });
    expect(d.paths['/auth/login']!.post!.security).toEqual([]);
    for (const p of ['/_files/upload', '/_files/{id}', '/_workflows/pending', '/_workflows/{id}/approve', '/_realtime', '/_realtime/tickets']) {
      expect(d.paths[p], p).toBeDefined();
    }

    const note = d.components.schemas.Note!;
    expect(note.required).toEqual(['id', 'title', 'kind', 'stars', 'done', 'meta', 'attachment', 'due', 'body', 'created_at']);
    // a text field is a string that says it is text; a string field does not
    expect(note.properties!.body).toEqual({ type: ['string', 'null'], 'x-rocket-type': 'text' });
    expect(note.properties!.title).not.toHaveProperty('x-rocket-type');
    expect(note.properties!.id).toMatchObject({ type: 'string', format: 'uuid', readOnly: true });
    expect(note.properties!.kind).toMatchObject({ type: ['string', 'null'], enum: ['idea', 'todo', null] });
    expect(note.properties!.stars).toMatchObject({ type: ['integer', 'null'] });
    expect(note.properties!.due).toMatchObject({ type: ['string', 'null'], format: 'date' });
    expect(note.properties!.created_at).toMatchObject({ format: 'date-time', readOnly: true });
    expect(note.properties!.attachment).toEqual({ anyOf: [{ $ref: '#/components/schemas/FileRef' }, { type: 'null' }] });
    expect(note.properties!.deleted_at).toMatchObject({ type: 'null', readOnly: true });
    expect(note.properties!.secrets).toMatchObject({ type: 'array', items: { $ref: '#/components/schemas/Secret' } });
    expect(d.components.schemas.Secret!.properties!.note).toMatchObject({ anyOf: [{ $ref: '#/components/schemas/Note' }, { type: 'null' }] });

    const create = d.components.schemas.NoteCreate!;
    expect(create.required).toEqual(['title']);
    expect(Object.keys(create.properties!)).not.toContain('id');
    expect(Object.keys(create.properties!)).not.toContain('created_at');
    expect(create.properties!.secrets).toMatchObject({ required: ['data'], properties: { data: { type: 'array' } } });
    expect(d.components.schemas.NoteUpdate!.required).toBeUndefined();
    expect(d.components.schemas.SecretCreate!.required).toEqual(['code']); // a client-chosen key is required

    const params = d.paths['/note']!.get!.parameters!.map((p) => p.name ?? p.$ref);
    expect(params).toEqual(
      expect.arrayContaining([
        '#/components/parameters/page',
        '#/components/parameters/per_page',
        '#/components/parameters/count',
        '#/components/parameters/cursor',
        'sort',
        'include',
        'filter[title]',
        'filter[title.like]',
        'filter[stars.gte]',
        'filter[done.in]',
        'filter[due.lt]',
      ]),
    );
    for (const absent of ['filter[meta]', 'filter[attachment]', 'filter[stars.like]']) expect(params).not.toContain(absent);
    const stars = d.paths['/note']!.get!.parameters!.find((p) => p.name === 'filter[stars.gte]')!;
    expect(stars.schema).toMatchObject({ type: 'integer' });
  });

  it('an admin sees the admin routes; a non-admin only the entities and operations granted to their roles', async () => {
    const admin = (await doc(app.token)).body;
    expect(admin.paths['/_admin/entities']).toBeDefined();
    expect(admin.paths['/_admin/history']).toBeDefined();
    expect(admin.paths['/_files/{id}']!.delete).toBeDefined();
    expect(admin.tags.map((t) => t.name)).toContain('admin');

    const w = await doc(writer);
    const mine = w.body;
    expect(Object.keys(mine.paths).filter((p) => p.startsWith('/_admin'))).toEqual([]);
    expect(mine.tags.map((t) => t.name)).not.toContain('admin');
    expect(Object.keys(mine.paths['/note']!)).toEqual(['get', 'post']);
    expect(Object.keys(mine.paths['/note/{id}']!).sort()).toEqual(['get', 'parameters']);
    expect(mine.paths['/secret']).toBeUndefined();
    expect(mine.paths['/secret/{id}']).toBeUndefined();
    expect(mine.components.schemas.Secret).toBeUndefined();
    expect(mine.components.schemas.Note!.properties!.secrets).toBeUndefined(); // a relation into an entity they cannot see
    expect(mine.paths['/_files/{id}']!.delete).toBeUndefined();
    expect(mine.paths['/_files/upload']).toBeDefined();
    expect((await new Validator().validate(structuredClone(mine) as object)).valid).toBe(true);

    // roles are matched case-insensitively; a read grant with conditions still shows the entity
    const b = (await doc(both)).body;
    expect(Object.keys(b.paths['/secret']!)).toEqual(['get']);
    expect(b.components.schemas.Note!.properties!.secrets).toBeDefined();
    expect(b.components.schemas.NoteCreate!.properties!.secrets).toBeUndefined(); // no write on secret: no nested write

    const tags = new Set([w.headers.get('etag'), (await doc(both)).headers.get('etag'), (await doc(app.token)).headers.get('etag')]);
    expect(tags.size).toBe(3);
    // the platform admin's token counts as admin
    const platform = (await doc(s.platformToken)).body;
    expect(platform.paths['/_admin/entities']).toBeDefined();
  });

  it('answers 304 to a matching If-None-Match, and the next request after a metadata change sees the change', async () => {
    const first = await doc(writer);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w.-]+"$/);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const again = await s.client.get(url('/_openapi'), { token: writer, headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    expect(again.headers.get('etag')).toBe(etag);
    expect((await s.client.get(url('/_openapi'), { token: writer, headers: { 'if-none-match': `W/${etag}, "other"` } })).status).toBe(304);
    expect((await s.client.get(url('/_openapi'), { token: writer, headers: { 'if-none-match': '"stale"' } })).status).toBe(200);
    // same document, same tag
    expect((await doc(writer)).headers.get('etag')).toBe(etag);

    await policy({ entity: 'note', action: 'update', roles: ['writer'] });
    const granted = await s.client.get<Doc>(url('/_openapi'), { token: writer, headers: { 'if-none-match': etag } });
    expect(granted.status).toBe(200);
    expect(granted.headers.get('etag')).not.toBe(etag);
    expect(granted.body.info.version).not.toBe(first.body.info.version);
    expect(granted.body.paths['/note/{id}']!.put!.operationId).toBe('updateNote');

    const added = await s.client.post(url('/_admin/entities'), {
      token: app.token,
      body: {
        name: 'tag',
        table: 'tags',
        primary_key: { field: 'id', type: 'int', generated: true },
        fields: [
          { name: 'id', type: 'int', required: true },
          { name: 'label', type: 'string' },
        ],
      },
    });
    expect(added.status).toBe(201);
    const admin = (await doc(app.token)).body;
    expect(admin.paths['/tag/{id}']!.parameters![0]!.schema).toEqual({ type: 'integer' });
    expect(admin.components.schemas.Tag!.properties!.id).toMatchObject({ type: 'integer', readOnly: true });
    expect((await doc(writer)).body.paths['/tag']).toBeUndefined();
  });
});

describe('relations', () => {
  it('a relation property names its relation as x-rocket-relation, on both sides', async () => {
    const d = (await doc(both)).body;
    const relation = { name: 'secrets', type: 'one_to_many', source: 'note', target: 'secret', target_key: 'note_id' };
    expect(d.components.schemas.Note!.properties!.secrets!['x-rocket-relation']).toEqual(relation);
    const back = Object.values(d.components.schemas.Secret!.properties!).filter((p) => p['x-rocket-relation']);
    expect(back.map((p) => p['x-rocket-relation'])).toEqual([relation]);
    expect((await new Validator().validate(structuredClone(d) as object)).valid).toBe(true);
  });
});

describe('state machines', () => {
  it('a field with a state machine carries it as x-rocket-state-machine, without guards, for any caller', async () => {
    const sm = await s.client.post(url('/_admin/state-machines'), {
      token: app.token,
      body: {
        entity: 'note',
        field: 'kind',
        definition: { initial: 'idea', transitions: [{ from: 'idea', to: 'todo', roles: ['Writer'], guard: "record.title != ''" }] },
      },
    });
    expect(sm.status).toBe(201);
    try {
      for (const token of [writer, app.token]) {
        const d = (await doc(token)).body;
        expect(d.components.schemas.Note!.properties!.kind!['x-rocket-state-machine']).toEqual({
          initial: 'idea',
          transitions: [{ from: ['idea'], to: 'todo', roles: ['writer'] }],
        });
        expect(d.components.schemas.Note!.properties!.title!['x-rocket-state-machine']).toBeUndefined();
        expect((await new Validator().validate(structuredClone(d) as object)).valid).toBe(true);
      }
    } finally {
      await s.client.delete(url(`/_admin/state-machines/${sm.body.data.id}`), { token: app.token });
    }
    expect((await doc(writer)).body.components.schemas.Note!.properties!.kind!['x-rocket-state-machine']).toBeUndefined();
  });
});

describe('bad input', () => {
  it('no token, a bad token or an app token of another app → 401; unknown app → 404 APP_NOT_FOUND', async () => {
    const none = await s.client.get(url('/_openapi'));
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const bad = await s.client.get(url('/_openapi'), { token: 'not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('UNAUTHORIZED');
    const other = await s.createApp();
    expect((await s.client.get(url('/_openapi'), { token: other.token })).status).toBe(401);
    for (const path of ['/_openapi', '/_docs', '/_docs/swagger-ui.css']) {
      const res = await s.client.get(`/api/no_such_app${path}`, { token: app.token });
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('APP_NOT_FOUND');
    }
  });

  it('other methods and unknown assets are 404 with the envelope, not entities', async () => {
    const post = await s.client.post(url('/_openapi'), { token: app.token, body: {} });
    expect(post.status).toBe(404);
    expect(post.body.error.code).toBe('NOT_FOUND');
    for (const asset of ['/_docs/nope.js', '/_docs/..%2Fpackage.json', '/_docs/index.html', '/_docs/constructor']) {
      const res = await s.client.get(url(asset));
      expect(res.status, asset).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
  });

  it.each(['_openapi', '_docs', '_realtime', '_history'])('an entity named %s is refused with 422', async (name) => {
    const res = await s.client.post(url('/_admin/entities'), {
      token: app.token,
      body: { name, table: `t${name}`, primary_key: { field: 'id', type: 'uuid', generated: true }, fields: [{ name: 'id', type: 'uuid' }] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body.error.details)).toContain('reserved');
  });
});

describe('the reference page', () => {
  it('is HTML that loads only same-origin assets, which are served', async () => {
    const res = await s.client.get(url('/_docs'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = res.body as string;
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const ref of refs) {
      expect(ref.startsWith('/'), ref).toBe(true);
      const asset = await fetch(s.rocket.url + ref);
      expect(asset.status, ref).toBe(200);
    }
    const js = await fetch(`${s.rocket.url}${url('/_docs/swagger-ui-bundle.js')}`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
  });
});

describe('GET /api/_platform/openapi', () => {
  it('is the platform API for platform admins', async () => {
    const res = await s.client.get<Doc>('/api/_platform/openapi', { token: s.platformToken });
    expect(res.status).toBe(200);
    expect(res.body.servers).toEqual([{ url: '/api/_platform' }]);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/auth/login', '/apps', '/apps/{name}']));
    expect((await new Validator().validate(structuredClone(res.body) as object)).valid).toBe(true);
    const etag = res.headers.get('etag')!;
    expect((await s.client.get('/api/_platform/openapi', { token: s.platformToken, headers: { 'if-none-match': etag } })).status).toBe(304);
    const own = res.body.paths['/openapi']!.get as unknown as { responses: object };
    expect(Object.keys(own.responses)).toContain('304');
    const none = await s.client.get('/api/_platform/openapi');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const appToken = await s.client.get('/api/_platform/openapi', { token: app.token });
    expect(appToken.status).toBe(401);
  });
});

describe('schemas and versions', () => {
  let other: { name: string; token: string };
  const at = (p: string) => `/api/${other.name}${p}`;
  const admin = async <T = Doc>(method: 'post' | 'delete', path: string, body?: object) => {
    const res = await s.client[method]<T>(at(path), { token: other.token, ...(body && { body }) });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res;
  };
  const current = async () => {
    const res = await s.client.get<Doc>(at('/_openapi'), { token: other.token });
    expect(res.status).toBe(200);
    return res;
  };

  beforeAll(async () => {
    other = await s.createApp();
    await admin('post', '/_admin/entities', {
      name: 'asset',
      table: 'assets',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid', required: true },
        { name: 'serial', type: 'bigint' },
        { name: 'active', type: 'boolean' },
        { name: 'state', type: 'string', enum: ['new', 'used'], default: 'new' },
        { name: 'photo', type: 'file' },
        { name: 'deleted_at', type: 'timestamp' },
      ],
    });
  });

  it('an app with a bigint field gets the document as an object, valid OpenAPI 3.1', async () => {
    const res = await current();
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(typeof res.body).toBe('object');
    expect((res.body as unknown as { openapi: string }).openapi).toBe('3.1.0');
    expect((await new Validator().validate(res.body as object)).valid).toBe(true);
  });

  it('every component schema is valid JSON Schema 2020-12 (a nullable file input included)', async () => {
    const { default: Ajv2020 } = await import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ strict: false });
    const { schemas } = (await current()).body.components;
    for (const [name, schema] of Object.entries(schemas)) expect(ajv.validateSchema(schema), name).toBe(true);
    expect(schemas.AssetCreate!.properties!.photo!.anyOf).toContainEqual({ type: 'null' });
  });

  it('a declared deleted_at of a soft-delete entity is read-only null, not writable', async () => {
    const { schemas } = (await current()).body.components;
    expect(schemas.Asset!.properties!.deleted_at).toMatchObject({ type: 'null', readOnly: true });
    expect(schemas.AssetCreate!.properties!.deleted_at).toBeUndefined();
    expect(schemas.AssetUpdate!.properties!.deleted_at).toBeUndefined();
  });

  it('lists every filter operator a boolean takes, and include on an entity without relations', async () => {
    const names = (await current()).body.paths['/asset']!.get!.parameters!.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['filter[active.gt]', 'filter[active.lte]', 'filter[active.in]', 'include']));
    expect((await s.client.get(at('/asset?filter[active.gt]=false'), { token: other.token })).status).toBe(200);
  });

  it('history pages are described with the meta they carry', async () => {
    const { schemas } = (await current()).body.components;
    const meta = (schemas.HistoryPage!.properties!.meta as { $ref: string }).$ref;
    expect(meta).toBe('#/components/schemas/PageMeta');
    expect(schemas.PageMeta!.required).toEqual(['page', 'per_page', 'total']);
  });

  it('a state machine, a rule or a UI config changes info.version and the ETag', async () => {
    let before = await current();
    const changed = async () => {
      const after = await s.client.get<Doc>(at('/_openapi'), { token: other.token, headers: { 'if-none-match': before.headers.get('etag')! } });
      expect(after.status).toBe(200);
      expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
      expect(after.body.info.version).not.toBe(before.body.info.version);
      before = after as typeof before;
    };
    const machine = await admin<{ data: { id: string } }>('post', '/_admin/state-machines', {
      entity: 'asset',
      field: 'state',
      definition: { initial: 'new', transitions: [{ from: ['new'], to: 'used' }] },
    });
    await changed();
    expect(before.body.components.schemas.Asset!.properties!.state!['x-rocket-state-machine']).toBeDefined();
    await admin('delete', `/_admin/state-machines/${machine.body.data.id}`);
    await changed();
    expect(before.body.components.schemas.Asset!.properties!.state!['x-rocket-state-machine']).toBeUndefined();
    await admin('post', '/_admin/rules', {
      entity: 'asset',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'state', operator: 'min_length', value: 2, message: 'state is too short' },
    });
    await changed();
    await admin('post', '/_admin/ui-configs', { entity: 'asset', config: { list: { columns: ['state'] } } });
    await changed();
  });

  it('an enum on a non-string field is typed like the field: the values records hold and requests and filters take', async () => {
    await admin('post', '/_admin/entities', {
      name: 'graded',
      table: 'gradeds',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        // "02" and "x" are members no integer reaches (the API compares the value's text form)
        { name: 'grade', type: 'int', enum: ['1', '2', '02', 'x'] },
        { name: 'flag', type: 'boolean', required: true, enum: ['true'] },
        { name: 'ratio', type: 'decimal', precision: 2, enum: ['0.5', '1.25'] },
      ],
    });
    const { default: Ajv2020 } = await import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const document = (await current()).body;
    const valid = (schema: string, value: unknown) =>
      ajv.validate({ $ref: `#/components/schemas/${schema}`, components: document.components }, value);
    const { schemas } = document.components;
    expect(schemas.Graded!.properties!.grade).toMatchObject({ type: ['integer', 'null'], enum: [1, 2, null] });
    expect(schemas.Graded!.properties!.flag).toMatchObject({ type: 'boolean', enum: [true] });
    expect(schemas.Graded!.properties!.ratio).toMatchObject({ type: ['number', 'null'], enum: [0.5, 1.25, null] });
    expect(schemas.GradedCreate!.properties!.grade).toMatchObject({ enum: [1, 2, null] });
    const filter = (name: string) => document.paths['/graded']!.get!.parameters!.find((p) => p.name === name)!.schema;
    expect(filter('filter[grade]')).toMatchObject({ type: 'integer', enum: [1, 2] });
    expect(filter('filter[flag.neq]')).toMatchObject({ type: 'boolean', enum: [true] });

    const post = (body: object) => s.client.post<{ data: unknown }>(at('/graded'), { token: other.token, body });
    for (const body of [
      { grade: 3, flag: true },
      { grade: 2, flag: false },
      { ratio: 0.75, flag: true },
    ]) {
      expect(valid('GradedCreate', body), JSON.stringify(body)).toBe(false);
      expect((await post(body)).status, JSON.stringify(body)).toBe(422);
    }
    const body = { grade: 2, flag: true, ratio: 1.25 };
    expect(valid('GradedCreate', body)).toBe(true);
    const created = await post(body);
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject(body);
    expect(valid('Graded', created.body.data)).toBe(true);
    const listed = await s.client.get<{ data: unknown[] }>(at('/graded?filter[grade]=2'), { token: other.token });
    expect(listed.body.data).toHaveLength(1);
    expect(valid('GradedList', listed.body)).toBe(true);
  });

  it('a file field takes the object its record schema returns: one the record schema refuses is refused on input too', async () => {
    const { default: Ajv2020 } = await import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const document = (await current()).body;
    const valid = (schema: string, value: unknown) =>
      ajv.validate({ $ref: `#/components/schemas/${schema}`, components: document.components }, value);
    // the server stores an object as given and answers it back as the record's value
    const odd = { photo: { id: 5, size: 'big', filename: ['a'] } };
    const stored = await s.client.post<{ data: Record<string, unknown> }>(at('/asset'), { token: other.token, body: odd });
    expect(stored.status).toBe(201);
    expect(stored.body.data.photo).toEqual(odd.photo);
    expect(valid('Asset', stored.body.data)).toBe(false);
    expect(valid('AssetCreate', odd)).toBe(false);
    expect(valid('AssetUpdate', odd)).toBe(false);
    // a file object of the documented shape goes in and comes back valid
    const shaped = { photo: { id: 'f-1', filename: 'x.pdf', size: 3, mime_type: 'application/pdf' } };
    expect(valid('AssetCreate', shaped)).toBe(true);
    const created = await s.client.post<{ data: unknown }>(at('/asset'), { token: other.token, body: shaped });
    expect(created.status).toBe(201);
    expect(valid('Asset', created.body.data)).toBe(true);
  });

  it('request and record schemas take and refuse what the server takes and refuses', async () => {
    await admin('post', '/_admin/entities', {
      name: 'keyed',
      table: 'keyeds',
      primary_key: { field: 'code', type: 'string', generated: false },
      fields: [
        { name: 'code', type: 'string' },
        { name: 'data', type: 'json', required: true },
        { name: 'asset_id', type: 'uuid' },
      ],
    });
    await admin('post', '/_admin/relations', { name: 'keyeds', type: 'one_to_many', source: 'asset', target: 'keyed', target_key: 'asset_id' });
    const { default: Ajv2020 } = await import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    let document = (await current()).body;
    const valid = (schema: string, value: unknown) =>
      ajv.validate({ $ref: `#/components/schemas/${schema}`, components: document.components }, value);
    const post = (path: string, body: object) => s.client.post(at(path), { token: other.token, body });
    // a client-chosen key and a required json field: null is refused by both
    for (const body of [
      { code: null, data: {} },
      { code: 'k1', data: null },
    ]) {
      expect(valid('KeyedCreate', body), JSON.stringify(body)).toBe(false);
      expect((await post('/keyed', body)).status, JSON.stringify(body)).toBe(422);
    }
    expect(valid('KeyedCreate', { code: 'k1', data: { a: 1 } })).toBe(true);
    expect((await post('/keyed', { code: 'k1', data: { a: 1 } })).status).toBe(201);
    // a bigint beyond 2^53 travels as digits; a file field keeps an object as given
    const body = { serial: '9007199254740993', photo: { filename: 'x.pdf' } };
    expect(valid('AssetCreate', body)).toBe(true);
    const created = await post('/asset', body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(valid('Asset', (created.body as { data: unknown }).data)).toBe(true);
    // a synchronous webhook on the child: the parent's writes, whose nested rows reach it, can answer 502
    ['post', 'put', 'delete'].map((m) => [m, Object.keys(document.paths[m === 'post' ? '/asset' : '/asset/{id}']![m] as object)]);
    const responses = (path: string, method: string) => Object.keys((document.paths[path]![method] as { responses: object }).responses);
    expect(responses('/asset', 'post')).not.toContain('502');
    await admin('post', '/_admin/webhooks', { entity: 'keyed', hook: 'before_write', url: 'http://127.0.0.1:9/veto', async: false });
    document = (await current()).body;
    expect(responses('/asset', 'post')).toContain('502');
    expect(responses('/asset/{id}', 'put')).toContain('502');
    expect(responses('/keyed', 'post')).toContain('502');
    // an upload of another content type is a 415; a stream may authenticate with a ticket alone
    expect(responses('/_files/upload', 'post')).toContain('415');
    const text = await s.client.post(at('/_files/upload'), { token: other.token, raw: 'x', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect((document.paths['/_realtime']!.get as { security?: unknown[] }).security).toEqual([{ bearerAuth: [] }, {}]);
  });
});
