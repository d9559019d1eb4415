import type { FastifyRequest } from 'fastify';
import { invalidPayload } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** A parsed body as a JSON object, or 400 INVALID_PAYLOAD. */
export function bodyOf(body: unknown, message = 'Invalid request body'): JsonObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidPayload(message);
  return body as JsonObject;
}

/** The request body as a JSON object, or 400 INVALID_PAYLOAD. */
export function bodyObject(request: FastifyRequest, message = 'Invalid request body'): JsonObject {
  return bodyOf(request.body, message);
}
