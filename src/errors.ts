/** One typed error for every failure the engine reports; the HTTP layer only serialises it. */
export interface ErrorDetail {
  field?: string;
  rule?: string;
  message: string;
}

export type ErrorCode =
  | 'INVALID_PAYLOAD'
  | 'UNKNOWN_FIELD'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'UNKNOWN_ENTITY'
  | 'APP_NOT_FOUND'
  | 'CONFLICT'
  | 'FILE_TOO_LARGE'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_REQUESTS'
  | 'VALIDATION_FAILED'
  | 'WEBHOOK_FAILED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_ERROR';

const STATUS: Record<ErrorCode, number> = {
  INVALID_PAYLOAD: 400,
  UNKNOWN_FIELD: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_ENTITY: 404,
  APP_NOT_FOUND: 404,
  CONFLICT: 409,
  FILE_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  VALIDATION_FAILED: 422,
  WEBHOOK_FAILED: 502,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

export class RocketError extends Error {
  readonly status: number;
  /** Seconds after which a refused request may be tried again (429, 503). */
  retryAfter?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    status?: number,
  ) {
    super(message);
    this.status = status ?? STATUS[code];
  }
}

export function tooManyRequests(message: string, retryAfter: number): RocketError {
  const err = new RocketError('TOO_MANY_REQUESTS', message);
  err.retryAfter = retryAfter;
  return err;
}

/** No database connection could be had in time, or the instance is shutting down: try again shortly. */
export function serviceUnavailable(message: string, retryAfter: number): RocketError {
  const err = new RocketError('SERVICE_UNAVAILABLE', message);
  err.retryAfter = retryAfter;
  return err;
}

export const invalidPayload = (message = 'Invalid request body') => new RocketError('INVALID_PAYLOAD', message);
/**
 * The body of a route that checks its entity, record or permission before it reads the body
 * (rest-api.md: create and update; admin updates by key) when the body could not be read — text that is
 * not JSON (400), a content type other than JSON (415): `error` is thrown where the body is first looked
 * at, after those checks' 404 and 403.
 */
export class RefusedBody {
  constructor(readonly error: RocketError) {}
}

/** A parsed request body that must be a JSON object; anything else is 400 INVALID_PAYLOAD. */
export function objectPayload(body: unknown, message = 'Invalid request body'): Record<string, unknown> {
  if (body instanceof RefusedBody) throw body.error;
  // A Number object is a whole body of one number parsed exactly (9007199254740993): no object either.
  if (body === null || typeof body !== 'object' || Array.isArray(body) || body instanceof Number) throw invalidPayload(message);
  return body as Record<string, unknown>;
}

export const unauthorized = (message: string) => new RocketError('UNAUTHORIZED', message);
export const forbidden = (message: string) => new RocketError('FORBIDDEN', message);
export const notFound = (message: string) => new RocketError('NOT_FOUND', message);
export const conflict = (message: string) => new RocketError('CONFLICT', message);
export const validationFailed = (message: string, details: ErrorDetail[] = []) => new RocketError('VALIDATION_FAILED', message, details);
/** A single-message 422, the shape admin APIs use for metadata problems. */
export const invalid = (message: string) => new RocketError('VALIDATION_FAILED', message);
