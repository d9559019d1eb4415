import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

// An app being created is already an active row in _apps before its runtime is ready; the job runner's
// idle-app sweep (and any request) may ask for it in that window. It must get the runtime the creation is
// opening — not open a second one, whose bootstrap would race the creation's (seeding the default admin
// next to the chosen one) and which could replace the live runtime with a snapshot older than its metadata.

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

describe('an app asked for while it is being created', () => {
  it('is the runtime its creation opens (one runtime, one bootstrap): only the chosen admin exists, metadata is current', async () => {
    for (let round = 0; round < 3; round++) {
      const name = `race_${Date.now().toString(36)}_${round}`;
      const apps = s.rocket.services.apps;
      let done = false;
      const seen = new Set<AppRuntime>();
      // What the idle-app sweep does for an app it finds active but not loaded.
      const sweep = (async () => {
        while (!done) {
          const rt = await apps.loadForJobs(name);
          if (rt) seen.add(rt);
          // Let the server's own I/O run between two asks.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const created = await s.client.post('/api/_platform/apps', {
        token: s.platformToken,
        body: { name, admin_email: 'chosen@example.com', admin_password: 'chosen-pw' },
      });
      done = true;
      await sweep;
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const live = (await apps.get(name))!;
      for (const rt of seen) expect(rt === live, 'the sweep got a runtime of its own').toBe(true);

      const users = await live.db.query<{ email: string }>('SELECT email FROM _users ORDER BY email');
      expect(users.map((u) => u.email)).toEqual(['chosen@example.com']);

      // The live runtime follows metadata written right after the creation answered.
      const login = await s.client.post(`/api/${name}/auth/login`, { body: { email: 'chosen@example.com', password: 'chosen-pw' } });
      const token = login.body.data.access_token as string;
      const pk = { field: 'id', type: 'uuid', generated: true };
      for (const e of ['parent', 'child']) {
        const r = await s.client.post(`/api/${name}/_admin/entities`, {
          token,
          body: {
            name: e,
            table: `${e}s`,
            primary_key: pk,
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'parent_id', type: 'uuid' },
            ],
          },
        });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
      const rel = await s.client.post(`/api/${name}/_admin/relations`, {
        token,
        body: { name: 'children', type: 'one_to_many', source: 'parent', target: 'child', target_key: 'parent_id' },
      });
      expect(rel.status, JSON.stringify(rel.body)).toBe(201);
      await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken });
    }
  }, 120_000);
});
