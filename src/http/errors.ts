import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RocketError, type ErrorDetail } from '../errors.js';

interface Envelope {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

export function envelope(err: RocketError): Envelope {
  const body: Envelope = { error: { code: err.code, message: err.message } };
  if (err.details.length > 0) body.error.details = err.details;
  return body;
}

/** Route config key: the message a body-parse failure gets on that route. */
export interface RouteMessages {
  invalidBody?: string;
}

/** Maps every thrown thing to the spec's error envelope; only real bugs become 500. */
export function toRocketError(err: unknown, request: FastifyRequest): RocketError {
  const invalidBody = (request.routeOptions?.config as RouteMessages | undefined)?.invalidBody ?? 'Invalid request body';
  if (err instanceof RocketError) {
    // Body-parse failures learn their route's wording here.
    return err.code === 'INVALID_PAYLOAD' && err.message === 'Invalid request body' ? new RocketError('INVALID_PAYLOAD', invalidBody) : err;
  }
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RocketError('PAYLOAD_TOO_LARGE', 'Request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RocketError('INVALID_PAYLOAD', invalidBody);
  }
  if (fe instanceof SyntaxError || (fe.statusCode === 400 && fe.code?.startsWith('FST_'))) {
    return new RocketError('INVALID_PAYLOAD', invalidBody);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RocketError('INVALID_PAYLOAD', fe.message, [], fe.statusCode);
  }
  return new RocketError('INTERNAL_ERROR', 'Internal server error');
}

export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const rocket = toRocketError(err, request);
  if (rocket.status >= 500) {
    request.log.error({ err, reqId: request.id }, 'request failed');
  }
  if (rocket.retryAfter !== undefined) reply.header('Retry-After', String(rocket.retryAfter));
  return reply.status(rocket.status).send(envelope(rocket));
}
