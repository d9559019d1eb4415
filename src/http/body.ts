import type { FastifyRequest } from 'fastify';
import { objectPayload } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** A parsed body as a JSON object, or 400 INVALID_PAYLOAD. */
export function bodyOf(body: unknown, message = 'Invalid request body'): JsonObject {
  return objectPayload(body, message);
}

/** The request body as a JSON object, or 400 INVALID_PAYLOAD. */
export function bodyObject(request: FastifyRequest, message = 'Invalid request body'): JsonObject {
  return bodyOf(request.body, message);
}
