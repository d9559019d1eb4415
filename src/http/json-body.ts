import secureJson from 'secure-json-parse';
import { RefusedBody, RocketError } from '../errors.js';
import { markInexactNumbers, reviveExact } from '../db/exact-json.js';

/**
 * Deepest array/object nesting a JSON body may have. Far above what records,
 * `json` fields or metadata need; far below what would exhaust the stack of
 * the code that walks a parsed body.
 */
export const MAX_JSON_DEPTH = 256;

/** Whether JSON text nests arrays/objects deeper than `max` (strings skipped; the text need not be valid). */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** A body of a content type no route reads (uploads have their own parser in their scope). */
export function unsupportedMediaType(contentType: string | undefined): RocketError {
  return new RocketError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Type ${contentType ? `'${contentType.slice(0, 100)}'` : '(none)'}: request bodies must be application/json`,
  );
}

/** Route config keys: a body read after the route's own checks; numbers kept exact (record writes). */
export interface LateBody {
  lateBody?: boolean;
  exactNumbers?: boolean;
  /** Answers may hold ExactNumber values whatever the app's fields (rule thresholds): written with their digits. */
  exactReplies?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig extends LateBody {}
}

/**
 * A JSON request body: parsed safely (a __proto__ key is a 422, constructor.prototype
 * keys are dropped), nesting limited; an empty body is no body, so a DELETE sent with a
 * JSON content type still works. With `exact`, a number a double would change
 * (99999999999999.99) becomes an ExactNumber, so a decimal or bigint field stores what was sent.
 */
export function parseJsonBody(text: string, exact = false): unknown {
  if (text.trim() === '') return undefined;
  // Nesting needs at least one character per level: short bodies cannot be too deep.
  if (text.length > MAX_JSON_DEPTH && jsonTooDeep(text)) {
    throw new RocketError('INVALID_PAYLOAD', `Invalid request body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    const marked = exact ? markInexactNumbers(text) : undefined;
    const options = { protoAction: 'error', constructorAction: 'remove' } as const;
    return marked === undefined ? secureJson.parse(text, undefined, options) : secureJson.parse(marked, reviveExact, options);
  } catch (err) {
    // A `__proto__` key is refused like any key nothing defines (removing it silently would hide the mistake),
    // named where it is: at the top a field, deeper inside a json value or a nested row.
    if (err instanceof SyntaxError && /forbidden prototype/.test(err.message)) {
      const path = protoPath(JSON.parse(text) as unknown) ?? '__proto__';
      const message = path === '__proto__' ? 'Unknown field or relation: __proto__' : `A __proto__ key is not accepted: ${path}`;
      throw new RocketError('VALIDATION_FAILED', 'Validation failed', [{ field: path, rule: 'unknown', message }]);
    }
    throw new UnreadableJson();
  }
}

/**
 * Where the first `__proto__` key of a parsed value is (`meta.a.__proto__`, `lines[0].__proto__`). Plain
 * JSON.parse keeps such a key as an own property, so it can be found; it never reaches a prototype.
 */
function protoPath(value: unknown, at = ''): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = protoPath(value[i], `${at}[${i}]`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      const here = at === '' ? key : `${at}.${key}`;
      if (key === '__proto__') return here;
      const found = protoPath((value as Record<string, unknown>)[key], here);
      if (found) return found;
    }
  }
  return undefined;
}

/** Text that is not JSON at all (a body too deep or with `__proto__` is refused otherwise). */
export class UnreadableJson extends RocketError {
  constructor() {
    super('INVALID_PAYLOAD', 'Invalid request body');
  }
}

/** The body of a late-body route once its earlier checks passed: 400 if it was not JSON, 415 if not even meant to be. */
export function lateBody(body: unknown): unknown {
  if (body instanceof RefusedBody) throw body.error;
  return body;
}
