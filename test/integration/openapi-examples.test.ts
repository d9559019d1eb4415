import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { getOrInsert } from '../../src/collections.js';

/**
 * issue 13 "Must hold" for the four example schemas: each app's document is valid OpenAPI 3.1,
 * openapi-typescript turns it into TypeScript that compiles under --strict, a client written
 * against those types works, and the real responses of every entity match the document's schemas.
 */

const EXAMPLES = join(import.meta.dirname, '../fixtures/examples');
const FILES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json'))
  .sort();
const CLIENT_DIR = resolve(import.meta.dirname, '../openapi-client');
const GENERATED = join(CLIENT_DIR, 'generated');

type Doc = {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  info: { version: string; title: string };
};
type Example = {
  entities: Array<{ name: string; fields: Array<{ name: string; type: string; required?: boolean; enum?: string[] }> }>;
  relations: Array<{ name: string; source: string; target: string; target_key?: string }>;
};

// ajv-formats is CommonJS: its callable is the default export's default under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

let s: TestServer;
const apps = new Map<string, { name: string; token: string; doc: Doc; example: Example }>();

beforeAll(async () => {
  s = await startTestServer();
  for (const file of FILES) {
    const example = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Example;
    const app = await s.createApp();
    const imported = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body: example });
    if (imported.status !== 200) throw new Error(`import ${file}: ${imported.status} ${JSON.stringify(imported.body)}`);
    const res = await s.client.get(`/api/${app.name}/_openapi`, { token: app.token });
    if (res.status !== 200) throw new Error(`_openapi ${file}: ${res.status}`);
    apps.set(file.replace(/\.json$/, ''), { ...app, doc: res.body as Doc, example });
  }
});
afterAll(async () => {
  await s?.close();
});

describe('the documents of the example schemas', () => {
  it.each(FILES.map((f) => f.replace(/\.json$/, '')))('%s validates against the OpenAPI 3.1 schema', async (name) => {
    const { doc, example } = apps.get(name)!;
    const result = await new Validator().validate(structuredClone(doc) as object);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // every entity is described, with its CRUD paths
    for (const e of example.entities) {
      expect(Object.keys(doc.paths[`/${e.name}`] ?? {})).toEqual(expect.arrayContaining(['get', 'post']));
      expect(Object.keys(doc.paths[`/${e.name}/{id}`] ?? {})).toEqual(expect.arrayContaining(['get', 'put', 'delete']));
    }
  });

  it('openapi-typescript output compiles under tsc --strict, with a client written against it', async () => {
    rmSync(GENERATED, { recursive: true, force: true });
    mkdirSync(GENERATED, { recursive: true });
    for (const [name, { doc }] of apps) {
      const ast = await openapiTS(structuredClone(doc) as Parameters<typeof openapiTS>[0]);
      writeFileSync(join(GENERATED, `${name}.ts`), astToString(ast));
    }
    const tsc = resolve(import.meta.dirname, '../../node_modules/typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', join(CLIENT_DIR, 'tsconfig.json')], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 120_000);

  it('the typed client creates, lists with a filter, gets with includes and reads errors', async () => {
    const app = apps.get('helpdesk-ticketing')!;
    // compiled by the test above; imported here as TypeScript
    const { run } = (await import(join(CLIENT_DIR, 'helpdesk-client.ts'))) as typeof import('../openapi-client/helpdesk-client.js');
    const out = await run(`${s.rocket.url}/api/${app.name}`, app.token);
    expect(out.customer).toMatchObject({ name: 'Ada Lovelace', company: 'Engines' });
    expect(out.ticket).toMatchObject({ title: 'Printer jams daily', priority: 'critical', status: 'open', customer_id: out.customer.id });
    expect(out.listed.map((t) => t.id)).toEqual([out.ticket.id]);
    expect(out.total).toBe(1);
    expect(out.listed[0]!.customer).toMatchObject({ id: out.customer.id, name: 'Ada Lovelace' });
    expect(out.fetched.customer).toMatchObject({ id: out.customer.id });
    expect(out.fetched.ticket_responses).toEqual([]);
    expect(out.invalid.status).toBe(422);
    expect(out.invalid.error?.error.code).toBe('VALIDATION_FAILED');
    expect(out.invalid.error?.error.details?.[0]?.field).toBe('title');
    expect(out.missing.status).toBe(404);
    expect(out.missing.error?.error.code).toBe('NOT_FOUND');

    // what the client received matches the document's schemas too
    const check = validators(app.doc);
    expect(check('Ticket', out.fetched)).toEqual([]);
    expect(check('Customer', out.customer)).toEqual([]);
  });

  it('a nested create documented by the Create schema (children without their foreign key) is accepted as documented', async () => {
    const { doc, example, token, name: app } = apps.get('helpdesk-ticketing')!;
    const check = validators(doc);
    const response = await sampleBody(app, token, example, 'response');
    expect(response).toHaveProperty('ticket_id'); // required on its own: the parent's key
    delete response.ticket_id;
    const body = { ...(await sampleBody(app, token, example, 'ticket')), ticket_responses: { data: [response, { ...response }] } };
    expect(check('TicketCreate', body)).toEqual([]);
    // the contract's reading holds too: children are the target's Create (or keyed rows)
    expect(JSON.stringify((doc.components.schemas.TicketCreate!.properties as Record<string, unknown>).ticket_responses)).toContain(
      '#/components/schemas/ResponseCreate',
    );
    const created = await s.client.post(`/api/${app}/ticket?include=ticket_responses`, { token, body });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data.ticket_responses).toHaveLength(2);
    for (const r of created.body.data.ticket_responses) expect(r.ticket_id).toBe(created.body.data.id);
    // a new child still needs its own required fields
    const required = (doc.components.schemas.ResponseCreate as { required: string[] }).required.filter((f) => f !== 'ticket_id');
    expect(required.length).toBeGreaterThan(0);
    const incomplete = { ...body, ticket_responses: { data: [{}] } };
    expect(check('TicketCreate', incomplete).length).toBeGreaterThan(0);
    const refused = await s.client.post(`/api/${app}/ticket`, { token, body: incomplete });
    expect(refused.status).toBe(422);
  });

  it('bodies the server refuses are invalid by the document: null for a state field, "" for a required string', async () => {
    const { doc, example, token, name: app } = apps.get('content-management')!;
    const check = validators(doc);
    const post = await sampleBody(app, token, example, 'post');
    for (const bad of [
      { ...post, status: null },
      { ...post, title: '' },
    ]) {
      expect(check('PostCreate', bad).length, JSON.stringify(bad)).toBeGreaterThan(0);
      expect((await s.client.post(`/api/${app}/post`, { token, body: bad })).status, JSON.stringify(bad)).toBe(422);
    }
    expect(
      (doc.components.schemas.PostCreate!.properties as Record<string, Record<string, unknown>>).status!['x-rocket-state-machine'],
    ).toMatchObject({
      initial: 'draft',
    });
  });

  it.each(FILES.map((f) => f.replace(/\.json$/, '')))(
    '%s: real responses of every entity (list, get with every include, create, update) match the response schemas',
    async (name) => {
      const { doc, example, token, name: app } = apps.get(name)!;
      const check = validators(doc);
      for (const e of example.entities) {
        const base = schemaName(doc, e.name);
        const includes = includeNames(doc, e.name);
        const query = includes.length ? `?include=${includes.join(',')}` : '';
        let list = await s.client.get(`/api/${app}/${e.name}${query}`, { token });
        expect(list.status, `${e.name} list`).toBe(200);
        if (list.body.data.length === 0) {
          // no sample rows (entities with a required file): create one from the document's Create schema
          const created = await s.client.post(`/api/${app}/${e.name}`, { token, body: await sampleBody(app, token, example, e.name) });
          expect(created.status, `${e.name} create ${JSON.stringify(created.body)}`).toBe(201);
          expect(check(base, created.body.data), `${e.name} created`).toEqual([]);
          list = await s.client.get(`/api/${app}/${e.name}${query}`, { token });
        }
        expect(check(`${base}List`, list.body), `${e.name} list`).toEqual([]);
        expect(list.body.data.length).toBeGreaterThan(0);
        const id = list.body.data[0].id as string;
        const one = await s.client.get(`/api/${app}/${e.name}/${id}${query}`, { token });
        expect(one.status).toBe(200);
        expect(check(base, one.body.data), `${e.name} get`).toEqual([]);
        for (const inc of includes) expect(one.body.data, `${e.name} include ${inc}`).toHaveProperty(inc);
        // (a sample row may break one of the app's rules, which an update re-checks: then the 422 is checked)
        const updated = await s.client.put(`/api/${app}/${e.name}/${id}`, { token, body: {} });
        expect([200, 422], `${e.name} update ${JSON.stringify(updated.body)}`).toContain(updated.status);
        if (updated.status === 200) expect(check(base, updated.body.data), `${e.name} update`).toEqual([]);
        else expect(check('Error', updated.body)).toEqual([]);
      }
      // error answers match the shared Error schema
      const bad = await s.client.get(`/api/${app}/${example.entities[0]!.name}?filter[nope]=1`, { token });
      expect(bad.status).toBe(400);
      expect(check('Error', bad.body)).toEqual([]);
    },
  );
});

/** Validates a value against a component schema of the document; returns the problems. */
function validators(doc: Doc): (schema: string, value: unknown) => string[] {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'rocket:doc', ...structuredClone(doc) } as object);
  const compiled = new Map<string, ValidateFunction>();
  return (schema, value) => {
    const v = getOrInsert(compiled, schema, () => ajv.compile({ $ref: `rocket:doc#/components/schemas/${schema}` }));
    return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  };
}

/** The component name of an entity's record schema, read from its get operation. */
function schemaName(doc: Doc, entity: string): string {
  const get = doc.paths[`/${entity}/{id}`]!.get as {
    responses: { '200': { content: { 'application/json': { schema: { properties: { data: { $ref: string } } } } } } };
  };
  return get.responses['200'].content['application/json'].schema.properties.data.$ref.split('/').pop()!;
}

/** The include names the list operation documents. */
function includeNames(doc: Doc, entity: string): string[] {
  const list = doc.paths[`/${entity}`]!.get as { parameters: Array<{ name?: string; description?: string }> };
  const p = list.parameters.find((x) => x.name === 'include');
  if (!p?.description?.includes(':')) return []; // "This entity has no relation to include."
  return p
    .description!.replace(/^[^:]*: /, '')
    .replace(/\.$/, '')
    .split(', ');
}

/** A create body from the example's fields: FKs point at an existing parent, files are uploaded. */
async function sampleBody(app: string, token: string, example: Example, entity: string): Promise<Record<string, unknown>> {
  const def = example.entities.find((e) => e.name === entity)!;
  const body: Record<string, unknown> = {};
  for (const f of def.fields) {
    if (!f.required || f.name === 'id') continue;
    const parent = example.relations.find((r) => r.target === entity && r.target_key === f.name);
    if (parent) {
      const rows = await s.client.get(`/api/${app}/${parent.source}?per_page=1`, { token });
      body[f.name] = rows.body.data[0].id;
    } else if (f.enum?.length) body[f.name] = f.enum[0];
    else if (f.type === 'file') {
      const form = new FormData();
      form.append('file', new Blob(['hello'], { type: 'text/plain' }), 'hello.txt');
      const up = await fetch(`${s.rocket.url}/api/${app}/_files/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: form,
      });
      body[f.name] = ((await up.json()) as { data: { id: string } }).data.id;
    } else if (f.type === 'uuid') body[f.name] = '00000000-0000-4000-8000-000000000001';
    else if (f.type === 'date') body[f.name] = '2025-01-02';
    else if (f.type === 'timestamp') body[f.name] = '2025-01-02T03:04:05Z';
    else if (['int', 'integer', 'bigint', 'float', 'decimal'].includes(f.type)) body[f.name] = 1;
    else if (f.type === 'boolean') body[f.name] = true;
    else body[f.name] = `${f.name} sample`;
  }
  return body;
}
