import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { type ErrorCode, RocketError, type ErrorDetail } from '../errors.js';
import { unsupportedMediaType } from './json-body.js';

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
  /** The body type the route reads (default application/json), named when a body of another type is refused. */
  bodyType?: string;
}

/** The spec's code of a status a plugin answers with (a static file outside its root is 403), where the table has one. */
const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** A path (or method) no route serves. */
export function routeNotFound(request: FastifyRequest): RocketError {
  return new RocketError('NOT_FOUND', `Route not found: ${request.method} ${request.url.split('?')[0]}`);
}

/** Maps every thrown thing to the spec's error envelope; only real bugs become 500. */
export function toRocketError(err: unknown, request: FastifyRequest): RocketError {
  const messages = request.routeOptions?.config as RouteMessages | undefined;
  const invalidBody = messages?.invalidBody ?? 'Invalid request body';
  if (err instanceof RocketError) {
    // Body-parse failures learn their route's wording here.
    return err.code === 'INVALID_PAYLOAD' && err.message === 'Invalid request body' ? new RocketError('INVALID_PAYLOAD', invalidBody) : err;
  }
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // An unknown route is a 404 whatever it was sent, a body too large to read included.
      return request.is404 ? routeNotFound(request) : new RocketError('PAYLOAD_TOO_LARGE', 'Request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return unsupportedMediaType(request.headers['content-type'], messages?.bodyType);
    case 'FST_ERR_BAD_URL':
      return new RocketError('INVALID_PAYLOAD', 'Malformed URL: invalid percent-encoding in the path');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new RocketError('INVALID_PAYLOAD', 'URL path segment too long', [], 414);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RocketError('INVALID_PAYLOAD', invalidBody);
  }
  if (fe instanceof SyntaxError || (fe.statusCode === 400 && fe.code?.startsWith('FST_'))) {
    return new RocketError('INVALID_PAYLOAD', invalidBody);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RocketError(CODE_OF_STATUS[fe.statusCode] ?? 'INVALID_PAYLOAD', fe.message, [], fe.statusCode);
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

const CLIENT_ERRORS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request headers too large'],
};

/**
 * Answer to a request Node's HTTP parser refused before Fastify saw it (unknown
 * method, malformed request line, header overflow, timeout): the envelope too.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Malformed HTTP request'];
  const body = JSON.stringify(envelope(new RocketError('INVALID_PAYLOAD', message, [], status)));
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
