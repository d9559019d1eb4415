import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { exactJson } from '../db/exact-json.js';
import { RefusedBody, RocketError } from '../errors.js';
import { clientErrorResponse, envelope, routeNotFound, sendError } from './errors.js';
import { jsonText, type LateBody, parseJsonBody, UnreadableJson, unreadableEncoding, unsupportedMediaType } from './json-body.js';
import type { Area, Services } from './context.js';
import { type OperationsOptions, operationsRoutes } from './routes/operations.js';

const requireLazily = createRequire(import.meta.url);
type CompilerFactory = (externalSchemas: unknown, options: unknown) => unknown;
const lazyFactory = (module: string) =>
  ((schemas: unknown, options: unknown) => (requireLazily(module) as () => CompilerFactory)()(schemas, options)) as unknown;
const lazyValidator = lazyFactory('@fastify/ajv-compiler') as ValidatorFactory;
const lazySerializer = lazyFactory('@fastify/fast-json-stringify-compiler') as SerializerFactory;

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
    // Requests during shutdown get the error envelope and Retry-After (routes/operations.ts), not Fastify's own 503.
    return503OnClosing: false,
    frameworkErrors: (err, request, reply) => sendError(err, request, reply),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err));
      socket.destroy(err);
    },
    forceCloseConnections: 'idle',
    // Node would answer a request without Host itself, with an empty 400: it reaches the hook below instead.
    http: { requireHostHeader: false },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // No route declares a JSON schema (bodies are checked against the metadata), so Ajv and the serializer
    // compiler are loaded only if one ever does: at start-up they would cost several megabytes of memory.
    schemaController: { compilersFactory: { buildValidator: lazyValidator, buildSerializer: lazySerializer } },
  });

  // JSON is the only body type (uploads parse multipart in their own scope); others are 415. Routes that check
  // their entity, record or permission first read either failure at their body step.
  // An unknown route reads no body either: it is a 404 whatever was sent (an upload posted to a wrong path too).
  const late = (req: FastifyRequest) => req.is404 || (req.routeOptions.config as LateBody | undefined)?.lateBody === true;
  const exact = (req: FastifyRequest) => (req.routeOptions.config as LateBody | undefined)?.exactNumbers === true;
  app.removeAllContentTypeParsers();
  // Read as bytes: whether they are UTF-8 is only known before decoding (json-body.ts jsonText).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const refused = unreadableEncoding(req.headers['content-type'] ?? '', req.headers['content-encoding']);
    if (refused) return late(req) ? done(null, new RefusedBody(refused)) : done(refused, undefined);
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : jsonText(body), exact(req)));
    } catch (err) {
      if (err instanceof UnreadableJson && late(req)) return done(null, new RefusedBody(err));
      done(err as Error, undefined);
    }
  });
  // Read (within the body limit) and refused; a missing Content-Type on a body lands here too. No bytes are no
  // body, whatever type some clients declare on every request (a DELETE, an approve): the route sees none.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    if (body.length === 0) return done(null, undefined);
    const refused = unsupportedMediaType(req.headers['content-type']);
    if (late(req)) return done(null, new RefusedBody(refused));
    done(refused, undefined);
  });

  // Objects of an app with bigint, decimal or json fields go through the exact encoder (an int8 beyond 2^53, a
  // decimal or a json number a double would round stay exact). Set here, not earlier: a reply serializer would also re-encode the
  // ready-made JSON strings some routes send.
  app.addHook('preSerialization', (request, reply, payload, done) => {
    if (request.rocketApp?.registry.hasExactNumbers || (request.routeOptions.config as LateBody | undefined)?.exactReplies)
      reply.serializer(exactJson);
    done(null, payload);
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers.host !== undefined || request.raw.httpVersion !== '1.1') return done();
    sendError(new RocketError('INVALID_PAYLOAD', 'Missing Host header (required by HTTP/1.1)'), request, reply);
  });
  // What Node's HTTP server would otherwise answer on its own, without a body (an unknown Expect) or not at all (CONNECT).
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(
      envelope(new RocketError('INVALID_PAYLOAD', `Unsupported Expect header: ${String(req.headers.expect).slice(0, 100)}`, [], 417)),
    );
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  app.server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(envelope(new RocketError('NOT_FOUND', `Route not found: CONNECT ${String(req.url).slice(0, 200)}`)));
    socket.end(
      `HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) => reply.status(404).send(envelope(routeNotFound(request))));

  // Declared up front, so every request object has the same shape; the /api/:app scope and the access hooks fill them.
  app.decorateRequest('rocketApp', undefined);
  app.decorateRequest('caller', undefined);

  // Browser pages of other origins calling the API (spec silent; off unless configured). Tokens travel in the
  // Authorization header, never in cookies, so no credentials mode. A preflight is never refused: an error here
  // would be the plugin's own plain-text answer, not the envelope, and a browser reads none of it anyway.
  if (config.corsOrigins.length > 0) {
    // Loaded only when configured, like the other optional parts.
    const { default: cors } = await import('@fastify/cors');
    await app.register(cors, {
      origin: config.corsOrigins[0] === '*' ? '*' : config.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      exposedHeaders: ['Content-Disposition', 'Retry-After'],
      maxAge: 600,
      strictPreflight: false,
    });
  }
  if (ops) operationsRoutes(app, ops);
  app.get('/health', async () => ({ status: 'ok' }));
  for (const [prefix, area] of areas) await app.register(area, { prefix, services });
  return app;
}
