import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { Area } from '../context.js';
import { RocketError } from '../../errors.js';
import { PROJECT_ROOT } from '../../project-root.js';
import { envelope } from '../errors.js';

/** Where `npm run build` puts the admin console (console/ built by Vite). */
export const CONSOLE_DIR = resolve(PROJECT_ROOT, 'dist/console');

// Same-origin only: the console loads nothing from elsewhere, and the browser enforces it.
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

/**
 * The admin console at /admin/: hashed assets cached for a year (immutable), index.html never
 * cached, and any other path under /admin/ answered with index.html (client-side routes).
 */
export const consoleArea: Area = async (scope) => {
  const root = CONSOLE_DIR;
  if (!existsSync(resolve(root, 'index.html'))) {
    scope.get('/*', async (_req, reply) =>
      reply.status(404).send(envelope(new RocketError('NOT_FOUND', 'The admin console is not built: run `npm run build`'))),
    );
    return;
  }
  await scope.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: true,
    index: ['index.html'],
    cacheControl: false,
    setHeaders(res, path) {
      if (path.includes('/assets/')) res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      else {
        res.setHeader('cache-control', 'no-cache');
        res.setHeader('content-security-policy', CSP);
      }
      res.setHeader('x-content-type-options', 'nosniff');
    },
  });
  scope.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    // a missing hashed asset is a real 404; anything else is a route of the single-page app
    if ((request.method !== 'GET' && request.method !== 'HEAD') || path.startsWith('/admin/assets/')) {
      return reply.status(404).send(envelope(new RocketError('NOT_FOUND', `Route not found: ${request.method} ${path}`)));
    }
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .sendFile('index.html', root, { cacheControl: false });
  });
};
