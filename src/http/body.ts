import type { FastifyRequest } from 'fastify';
import { invalidPayload } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** The request body as a JSON object, or 400 INVALID_PAYLOAD. */
export function bodyObject(request: FastifyRequest, message = 'Invalid request body'): JsonObject {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidPayload(message);
  return body as JsonObject;
}
