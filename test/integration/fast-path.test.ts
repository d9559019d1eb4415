import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { decideFastPath } from '../../src/engine/write/fast-path.js';
import { ROW_STAGES } from '../../src/engine/write/row-stages.js';
import type { RowStage } from '../../src/engine/write/stages.js';
import { MISSING_UUID, UUID_PK, startEngine, type EngineHarness } from '../support/engine.js';

/**
 * Which writes take the one-statement fast paths is derived from the row
 * stages and write observers (src/engine/write/fast-path.ts). An entity whose
 * only special trait is one thing a stage or an observer involves must take
 * the general path, and that thing must happen.
 */

let h: EngineHarness;
let runtime: AppRuntime;

/** Statements the app database ran for one request. */
async function counted<T>(fn: () => Promise<T>): Promise<{ res: T; statements: number }> {
  const before = runtime.db.statements;
  const res = await fn();
  return { res, statements: runtime.db.statements - before };
}

beforeAll(async () => {
  h = await startEngine();
  runtime = await h.runtime();
  await h.entity({
    name: 'plain',
    table: 'plains',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
    ],
  });
  await h.entity({
    name: 'slugged',
    table: 'sluggeds',
    primary_key: UUID_PK,
    slug: { field: 'slug', source: 'title' },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
      { name: 'slug', type: 'string', unique: true },
    ],
  });
  await h.entity({
    name: 'filed',
    table: 'fileds',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
      { name: 'doc', type: 'file' },
    ],
  });
  await h.entity({
    name: 'hooked',
    table: 'hookeds',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
    ],
  });
  await h.entity({
    name: 'parent',
    table: 'parents',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
    ],
  });
  await h.entity({
    name: 'part',
    table: 'parts',
    primary_key: UUID_PK,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'parent_id', type: 'uuid' },
      { name: 'doc', type: 'file' },
    ],
  });
  await h.relation({ name: 'parts', type: 'one_to_many', source: 'parent', target: 'part', target_key: 'parent_id' });
  // The first write after a metadata change loads the webhook and workflow catalogs.
  await h.create('plain', { title: 'warm-up' });
});

afterAll(async () => {
  await h?.close();
});

describe('the fast path is derived from stages and observers', () => {
  it('a plain entity is written in one statement', async () => {
    const { res, statements } = await counted(() => h.post('/plain', { title: 'Hello' }));
    expect(res.status).toBe(201);
    expect(statements).toBe(1);
  });

  it('an entity whose only stage is slug generation takes the general path and gets its slug', async () => {
    const { res, statements } = await counted(() => h.post('/slugged', { title: 'Héllo, World!' }));
    expect(res.status).toBe(201);
    expect(res.body.data.slug).toBe('hello-world');
    expect(statements).toBeGreaterThan(1);
    const second = await h.post('/slugged', { title: 'Hello world' });
    expect(second.body.data.slug).toBe('hello-world-2');
    expect((await h.q('SELECT slug FROM sluggeds ORDER BY slug')).map((r) => r.slug)).toEqual(['hello-world', 'hello-world-2']);
  });

  it('a file field decides per row: a sent file id is resolved on the general path, other rows stay plain', async () => {
    const plainRow = await counted(() => h.post('/filed', { title: 'no file' }));
    expect(plainRow.res.status).toBe(201);
    expect(plainRow.statements).toBe(1);

    const form = new FormData();
    form.append('file', new Blob(['fast path'], { type: 'text/plain' }), 'note.txt');
    const up = await fetch(`${h.s.rocket.url}${h.base}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.app.token}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const file = ((await up.json()) as { data: { id: string } }).data;

    const withFile = await counted(() => h.post('/filed', { title: 'with file', doc: file.id }));
    expect(withFile.res.status).toBe(201);
    expect(withFile.res.body.data.doc).toEqual({ id: file.id, filename: 'note.txt', size: 9, mime_type: 'text/plain' });
    expect(withFile.statements).toBeGreaterThan(1);

    const missing = await h.post('/filed', { title: 'ghost file', doc: MISSING_UUID });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect(await h.q('SELECT 1 FROM fileds WHERE title = $1', ['ghost file'])).toHaveLength(0);

    // The same holds for the children of a one-statement tree.
    const tree = await h.post('/parent', { title: 't', parts: { data: [{}, { doc: file.id }] } });
    expect(tree.status).toBe(201);
    const parts = await h.q('SELECT doc FROM parts WHERE parent_id = $1', [tree.body.data.id]);
    expect(parts.map((p) => p.doc).filter(Boolean)).toEqual([{ id: file.id, filename: 'note.txt', size: 9, mime_type: 'text/plain' }]);
    const badTree = await h.post('/parent', { title: 'ghost tree', parts: { data: [{ doc: MISSING_UUID }] } });
    expect(badTree.status).toBe(404);
    expect(await h.q('SELECT 1 FROM parents WHERE title = $1', ['ghost tree'])).toHaveLength(0);
  });

  it('an entity an observer involves (a synchronous webhook) takes the general path and the observer runs', async () => {
    expect((await counted(() => h.post('/hooked', { title: 'before' }))).statements).toBe(1);
    const hook = await h.s.client.post(`${h.base}/_admin/webhooks`, {
      token: h.app.token,
      body: { entity: 'hooked', hook: 'before_write', async: false, url: 'http://127.0.0.1:1/closed' },
    });
    expect(hook.status).toBe(201);
    const res = await h.post('/hooked', { title: 'vetoed' });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('WEBHOOK_FAILED');
    expect(await h.q('SELECT 1 FROM hookeds WHERE title = $1', ['vetoed'])).toHaveLength(0);
  });

  it('any stage that involves an entity takes it off the fast path; a per-row stage leaves the decision to each row', async () => {
    const plain = runtime.registry.entities.get('plain')!;
    // Realtime offers its capture for every entity; it joins a statement only while the app has subscribers.
    expect(await decideFastPath(runtime, plain)).toEqual({ captures: [h.s.rocket.services.realtime!.capture], rowStages: [] });
    const everything: RowStage = { name: 'new stage', involves: () => true, run: async () => undefined };
    expect(await decideFastPath(runtime, plain, [...ROW_STAGES, everything])).toBeUndefined();
    const someRows: RowStage = { ...everything, needs: () => false };
    expect((await decideFastPath(runtime, plain, [...ROW_STAGES, someRows]))?.rowStages).toEqual([someRows]);
    for (const name of ['slugged', 'hooked']) expect(await decideFastPath(runtime, runtime.registry.entities.get(name)!)).toBeUndefined();
    expect((await decideFastPath(runtime, runtime.registry.entities.get('filed')!))?.rowStages.map((s) => s.name)).toEqual(['files']);
  });
});
