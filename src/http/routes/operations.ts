import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RocketError, serviceUnavailable, unauthorized } from '../../errors.js';
import { bearerToken } from '../../auth/authenticate.js';
import { envelope, sendError } from '../errors.js';
import type { Lifecycle } from '../../ops/lifecycle.js';
import type { Metrics } from '../../ops/metrics.js';

/** What a client is told to wait before trying again while this instance shuts down (another one will answer). */
const SHUTDOWN_RETRY_AFTER_SECONDS = 5;
/** /ready waits this long for the management database. */
const READY_TIMEOUT_MS = 2000;

/** Compares in constant time (digests have one length whatever was sent). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export interface OperationsOptions {
  lifecycle: Lifecycle;
  /** Answers when the management database does (a trivial query). */
  ping: () => Promise<void>;
  /** Present when ROCKET_METRICS is on. */
  metrics?: Metrics;
  /** Bearer token /metrics requires, when set. */
  metricsToken?: string;
}

/**
 * Probes and metrics (operations.md §Health and metrics, §Shutdown): `/ready`,
 * `/metrics`, the per-request counters, and the refusal of requests that
 * arrive while the instance shuts down. Registered before any other route.
 */
export function operationsRoutes(app: FastifyInstance, opts: OperationsOptions): void {
  const { lifecycle, metrics } = opts;

  // Callback style: every request passes here, and while the instance serves it only reads one flag.
  app.addHook('onRequest', (request, reply, done) => {
    // The liveness probe still says "alive" while the instance drains.
    if (!lifecycle.closing || request.routeOptions.url === '/health') return done();
    reply.header('connection', 'close');
    sendError(serviceUnavailable('This server is shutting down; try again', SHUTDOWN_RETRY_AFTER_SECONDS), request, reply);
  });

  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.request(request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  app.get('/ready', async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([opts.ping(), timeout]);
    } catch {
      reply.header('Retry-After', '1');
      return reply.status(503).send(envelope(new RocketError('SERVICE_UNAVAILABLE', 'The management database does not answer')));
    } finally {
      clearTimeout(timer);
    }
    return { status: 'ready' };
  });

  if (metrics) {
    app.get('/metrics', async (request, reply) => {
      if (opts.metricsToken !== undefined && !sameSecret(bearerToken(request.headers.authorization), opts.metricsToken)) {
        throw unauthorized('A valid metrics token is required');
      }
      reply.type(metrics.contentType);
      return metrics.text();
    });
  }
}
