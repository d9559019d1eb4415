import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import secureJson from 'secure-json-parse';
import type { Config } from '../config.js';
import { RocketError } from '../errors.js';
import { envelope, sendError } from './errors.js';
import type { Services } from './context.js';
import { appAuthRoutes } from './routes/app-auth.js';
import { platformRoutes } from './routes/platform.js';
import { type OperationsOptions, operationsRoutes } from '../ops/http.js';

export type RouteModule = (app: FastifyInstance, services: Services) => Promise<void>;

/** The Fastify app: parsing, the error envelope, and one route module per area. */
export async function buildHttp(
  config: Config,
  log: Logger,
  services: Services,
  extraRoutes: readonly RouteModule[] = [],
  ops?: OperationsOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    logController: new LogController({
      disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
    }),
    // Requests during shutdown get the error envelope and Retry-After (ops/http.ts), not Fastify's own 503.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
  });

  // JSON bodies, parsed safely (no __proto__ / constructor.prototype keys); an empty body is
  // no body, so a DELETE sent with a JSON content type still works.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' }));
    } catch {
      done(new RocketError('INVALID_PAYLOAD', 'Invalid request body'), undefined);
    }
  });

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(envelope(new RocketError('NOT_FOUND', `Route not found: ${request.method} ${request.url.split('?')[0]}`))),
  );

  if (ops) operationsRoutes(app, ops);
  app.get('/health', async () => ({ status: 'ok' }));
  await platformRoutes(app, services);
  await appAuthRoutes(app, services);
  for (const routes of extraRoutes) await routes(app, services);
  return app;
}
