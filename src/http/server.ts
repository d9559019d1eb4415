import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { RocketError } from '../errors.js';
import { clientErrorResponse, envelope, sendError } from './errors.js';
import { exactJson } from '../types/exact-json.js';
import { parseJsonBody } from './json-body.js';
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
    frameworkErrors: (err, request, reply) => sendError(err, request, reply),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err));
      socket.destroy(err);
    },
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
  });

  // JSON is the only body type (uploads parse multipart in their own scope); others are 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('preSerialization', async (request, reply, payload) => {
    if (request.rocketApp?.registry.hasBigint) reply.serializer(exactJson);
    return payload;
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
