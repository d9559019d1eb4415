/**
 * Audit 12: claim-by-claim checks of multi-app.md, operations.md and export-import.md over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});

afterAll(async () => {
  await s?.close();
});

describe('import sample_data (export-import.md)', () => {
  it('inserts a row without a key that follows a row with its own key of a generated int primary key', async () => {
    const app = await s.createApp();
    const doc = {
      version: 1,
      entities: [
        {
          name: 'ticket',
          table: 'tickets',
          primary_key: { field: 'id', type: 'int', generated: true },
          fields: [
            { name: 'id', type: 'int' },
            { name: 'title', type: 'string' },
          ],
        },
      ],
      sample_data: { ticket: [{ id: 1, title: 'keyed' }, { title: 'keyless' }] },
    };
    const imported = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body: doc });
    expect(imported.status).toBe(200);
    // Only a conflict with an existing key or unique value skips a row; this one names no key at all.
    expect(imported.body.data.summary.records).toBe(2);
    expect(imported.body.data.errors).toBeUndefined();

    const list = await s.client.get(`/api/${app.name}/ticket?sort=id`, { token: app.token });
    expect(list.body.data.map((r: { title: string }) => r.title)).toEqual(['keyed', 'keyless']);
    const next = await s.client.post(`/api/${app.name}/ticket`, { token: app.token, body: { title: 'created' } });
    expect(next.status).toBe(201);
    expect(next.body.data.id).toBe(3);
  });
});
