/**
 * Audit 12: metadata.md and files.md checked sentence by sentence over HTTP; one test per defect found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
});

afterAll(async () => {
  await s?.close();
});

const admin = (method: 'get' | 'put', path: string, body?: unknown) =>
  s.client[method](`/api/${app.name}/_admin/${path}`, { token: app.token, body });

describe('metadata.md', () => {
  it('§9 + §6: an entity row whose definition cannot be parsed is skipped at load, and a PUT replaces it (not a 500)', async () => {
    // The legacy server stored definitions as JSON text; one that no longer reads as JSON is skipped by the registry.
    await runtime.db.query('CREATE TABLE legacy_notes (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), body TEXT)');
    await runtime.db.query(`INSERT INTO legacy_notes (body) VALUES ('kept')`);
    await runtime.db.query(
      `INSERT INTO _entities (name, table_name, definition) VALUES ('note', 'legacy_notes', to_jsonb('{"name": "note", '::text))`,
    );
    await runtime.reload();
    expect((await s.client.get(`/api/${app.name}/note`, { token: app.token })).status).toBe(404);
    expect((await admin('get', 'entities/note')).status).toBe(200);

    const put = await admin('put', 'entities/note', {
      table: 'legacy_notes',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'body', type: 'string' },
      ],
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.data).toMatchObject({ name: 'note', table: 'legacy_notes' });
    const list = await s.client.get(`/api/${app.name}/note`, { token: app.token });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([expect.objectContaining({ body: 'kept' })]);
  });
});
