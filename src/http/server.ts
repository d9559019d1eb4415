import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { exactJson } from '../types/exact-json.js';
import { RocketError } from '../errors.js';
import { clientErrorResponse, envelope, sendError } from './errors.js';
import { parseJsonBody } from './json-body.js';
import type { Area, Services } from './context.js';
import { type OperationsOptions, operationsRoutes } from '../ops/http.js';

/** The Fastify app: parsing, the error envelope, and one plugin per area, registered under its prefix. */
export async function buildHttp(
  config: Config,
  log: Logger,
  services: Services,
  areas: ReadonlyArray<readonly [string, Area]>,
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

  // Objects of an app with bigint fields go through the exact encoder (int8 beyond 2^53 stays exact). Set here,
  // not earlier: a reply serializer would also re-encode the ready-made JSON strings some routes send.
  app.addHook('preSerialization', (request, reply, payload, done) => {
    if (request.rocketApp?.registry.hasBigint) reply.serializer(exactJson);
    done(null, payload);
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(envelope(new RocketError('NOT_FOUND', `Route not found: ${request.method} ${request.url.split('?')[0]}`))),
  );

  // Declared up front, so every request object has the same shape; the /api/:app scope and the access hooks fill them.
  app.decorateRequest('rocketApp', undefined);
  app.decorateRequest('caller', undefined);

  if (ops) operationsRoutes(app, ops);
  app.get('/health', async () => ({ status: 'ok' }));
  for (const [prefix, area] of areas) await app.register(area, { prefix, services });
  return app;
}
