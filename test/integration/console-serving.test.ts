import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIR } from '../../src/http/routes/console.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The console's build is made by the test run's global setup (test/support/console-build.ts).
describe('GET /admin/*', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it('serves index.html at /admin/ and for any client-side route, never cached, same-origin only', async () => {
    for (const path of ['/admin/', '/admin', '/admin/login', '/admin/a/shop/data/order/123', '/admin/a/x/schema?tab=1']) {
      const res = await fetch(server.rocket.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      const html = await res.text();
      expect(html).toContain('<div id="root"></div>');
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing from another origin
    }
  });

  it('serves hashed assets with immutable caching; a missing asset is a 404 envelope', async () => {
    const assets = await readdir(join(CONSOLE_DIR, 'assets'));
    const js = assets.find((a) => a.endsWith('.js'))!;
    const res = await fetch(`${server.rocket.url}/admin/assets/${js}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await server.client.get('/admin/assets/nope-1234.js');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Route not found: GET /admin/assets/nope-1234.js' } });
  });

  it('answers other methods under /admin/ with the 404 envelope', async () => {
    const res = await server.client.post('/admin/login', { body: {} });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});
