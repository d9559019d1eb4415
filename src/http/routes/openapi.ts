import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROJECT_ROOT } from '../../project-root.js';
import { DocumentCache, audienceKey, digest, matchesEtag, metadataVersion, serve, type ServedDocument } from '../../openapi/cache.js';
import { GENERATOR_REVISION, buildAppDocument, buildPlatformDocument } from '../../openapi/document.js';
import { NullColumnsCache, nullColumnsKey } from '../../openapi/null-columns.js';
import { catalogFor } from '../../webhooks/catalog.js';
import { definitionsStamp } from '../../metadata/stamp.js';
import { type Area, appOf, callerOf, withAccess } from '../context.js';
import { envelope, routeNotFound } from '../errors.js';

/** The page's own script and styles (repo folder api-reference/; src/http/routes and dist/http/routes are both three levels down). */
const PAGE_DIR = resolve(PROJECT_ROOT, 'api-reference');
/** Swagger UI, installed as an npm package and served from here: the page loads nothing from another origin. */
const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const ASSETS: Readonly<Record<string, { dir: string; type: string }>> = {
  'swagger-ui.css': { dir: SWAGGER_DIR, type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { dir: SWAGGER_DIR, type: 'text/javascript; charset=utf-8' },
  'rocket-docs.js': { dir: PAGE_DIR, type: 'text/javascript; charset=utf-8' },
  'rocket-docs.css': { dir: PAGE_DIR, type: 'text/css; charset=utf-8' },
};

// Nothing but this origin: the browser itself then guarantees the page works offline.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(app: string, title: string, version: string): string {
  const base = `/api/${encodeURIComponent(app)}/_docs`;
  const asset = (name: string) => `${base}/${name}?v=${version}`;
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t} · API reference</title>
<link rel="stylesheet" href="${asset('swagger-ui.css')}">
<link rel="stylesheet" href="${asset('rocket-docs.css')}">
</head>
<body data-app="${escapeHtml(app)}">
<header class="rocket-docs-bar">
<h1>${t} <span>API reference</span></h1>
<form id="rocket-token-form">
<label for="rocket-token">Access token</label>
<input id="rocket-token" name="token" type="password" autocomplete="off" spellcheck="false" placeholder="paste an access token">
<button type="submit">Use token</button>
</form>
<p id="rocket-status" role="status"></p>
<a href="/admin/a/${encodeURIComponent(app)}/api">Console</a>
</header>
<main id="swagger-ui"></main>
<script src="${asset('swagger-ui-bundle.js')}"></script>
<script src="${asset('rocket-docs.js')}"></script>
</body>
</html>
`;
}

function send(request: FastifyRequest, reply: FastifyReply, doc: ServedDocument) {
  reply.header('etag', doc.etag).header('cache-control', 'private, no-cache').header('vary', 'Authorization');
  if (matchesEtag(request.headers['if-none-match'], doc.etag)) return reply.status(304).send();
  return reply.type('application/json; charset=utf-8').send(doc.body);
}

/** GET /api/:app/_openapi, /api/:app/_docs and its assets (spec: openapi.md). */
export const openapiArea: Area = async (app, { services }) => {
  const cache = new DocumentCache();
  const nullColumns = new NullColumnsCache();
  const swaggerVersion = (JSON.parse(readFileSync(resolve(SWAGGER_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  const pageVersion = digest(
    swaggerVersion + readFileSync(resolve(PAGE_DIR, 'rocket-docs.js'), 'utf8') + readFileSync(resolve(PAGE_DIR, 'rocket-docs.css'), 'utf8'),
    10,
  );
  const rocketVersion = readRocketVersion();
  const assetBytes = new Map<string, Buffer>();

  await withAccess(app, services, 'user', (scope) => {
    scope.get('/_openapi', async (req, reply) => {
      const rt = appOf(req);
      const caller = callerOf(req);
      const { registry, permissions } = rt;
      const catalog = await catalogFor(registry, rt.db);
      const sync = new Set(
        [...catalog].filter(([, byHook]) => [...byHook.values()].some((list) => list.some((w) => !w.row.async))).map(([entity]) => entity),
      );
      const title = rt.row.display_name || rt.name;
      const nulls = await nullColumns.get(rt.db, registry);
      const doc = cache.served(
        registry,
        permissions,
        audienceKey(caller),
        // The snapshots' hash and the stored definitions' stamp both go into the version: the registry may
        // lag the tables for a moment after another instance's change, and must not share a version with them.
        () => metadataVersion(registry, permissions, sync, `${rocketVersion}/${GENERATOR_REVISION}/${rt.name}/${title}/${nullColumnsKey(nulls)}`),
        await definitionsStamp(rt.db),
        (version) =>
          buildAppDocument({
            app: rt.name,
            title,
            version,
            registry,
            syncWebhooks: sync,
            nullColumns: nulls,
            audience: { isAdmin: caller.isAdmin, may: (entity, action) => permissions.grants(caller, entity, action) },
          }),
      );
      return send(req, reply, doc);
    });
  });

  app.get('/_docs', async (req, reply) => {
    const rt = appOf(req);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .send(page(rt.name, rt.row.display_name || rt.name, pageVersion));
  });

  app.get<{ Params: { app: string; asset: string } }>('/_docs/:asset', async (req, reply) => {
    const asset = Object.hasOwn(ASSETS, req.params.asset) ? ASSETS[req.params.asset] : undefined;
    if (!asset) {
      return reply.status(404).send(envelope(routeNotFound(req)));
    }
    return reply
      .type(asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(assetBytes.get(req.params.asset) ?? load(req.params.asset, asset.dir));
  });

  function load(name: string, dir: string): Buffer {
    const bytes = readFileSync(resolve(dir, name));
    assetBytes.set(name, bytes);
    return bytes;
  }
};

const readRocketVersion = () => (JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** GET /api/_platform/openapi, in the platform admins' scope. */
export function platformOpenapiRoutes(app: FastifyInstance): void {
  let platformDoc: ServedDocument | undefined;
  app.get('/openapi', async (req, reply) => {
    platformDoc ??= serve(buildPlatformDocument(readRocketVersion()));
    return send(req, reply, platformDoc);
  });
}
