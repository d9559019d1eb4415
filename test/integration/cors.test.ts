/**
 * Cross-origin browser access (ROCKET_CORS_ORIGINS; the spec is silent, README documents it): off unless
 * configured, then preflights answered and every answer — errors and the realtime stream included — carries
 * the allowed origin.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const ALLOWED = 'https://app.example.com';
let open: TestServer;
let closed: TestServer;
let app: { name: string; token: string };

beforeAll(async () => {
  [open, closed] = await Promise.all([startTestServer({ ROCKET_CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` }), startTestServer()]);
  app = await open.createApp();
  const entity = await fetch(`${open.rocket.url}/api/${app.name}/_admin/entities`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'note',
      table: 'notes',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
      ],
    }),
  });
  expect(entity.status).toBe(201);
});
afterAll(async () => {
  await Promise.all([open?.close(), closed?.close()]);
});

const preflight = (base: string, path: string, origin: string) =>
  fetch(`${base}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
  });

describe('with ROCKET_CORS_ORIGINS', () => {
  it('answers a preflight of an allowed origin', async () => {
    const res = await preflight(open.rocket.url, `/api/${app.name}/note/00000000-0000-4000-8000-000000000000`, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST, PUT, DELETE');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it('marks answers, errors included, for an allowed origin and for no other', async () => {
    const ok = await fetch(`${open.rocket.url}/api/${app.name}/note`, { headers: { origin: ALLOWED, authorization: `Bearer ${app.token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-expose-headers')).toBe('Content-Disposition, Retry-After');

    const refused = await fetch(`${open.rocket.url}/api/${app.name}/note`, { headers: { origin: 'http://localhost:5173' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect((await refused.json()).error.code).toBe('UNAUTHORIZED');

    const stranger = await fetch(`${open.rocket.url}/api/${app.name}/note`, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${app.token}` },
    });
    expect(stranger.status).toBe(200);
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    const strangerPreflight = await preflight(open.rocket.url, `/api/${app.name}/note`, 'https://evil.example');
    expect(strangerPreflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('marks the realtime stream, which writes its own headers', async () => {
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      const req = http.get(
        `${open.rocket.url}/api/${app.name}/_realtime?entities=note`,
        { headers: { accept: 'text/event-stream', authorization: `Bearer ${app.token}`, origin: ALLOWED } },
        (res) => {
          resolve(res.headers);
          req.destroy();
        },
      );
      req.on('error', reject);
    });
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    expect(headers['access-control-allow-origin']).toBe(ALLOWED);
  });
});

describe('without it', () => {
  it('adds no CORS header and OPTIONS stays an unknown route', async () => {
    const res = await preflight(closed.rocket.url, '/health', ALLOWED);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('NOT_FOUND');
    const health = await fetch(`${closed.rocket.url}/health`, { headers: { origin: ALLOWED } });
    expect(health.status).toBe(200);
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });
});
