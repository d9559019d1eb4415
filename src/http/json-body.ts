import { isUtf8 } from 'node:buffer';
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

/** A body of a content type the route does not read: JSON everywhere, multipart on the upload route. */
export function unsupportedMediaType(contentType: string | undefined, expected = 'application/json'): RocketError {
  return new RocketError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Type ${contentType ? `'${contentType.slice(0, 100)}'` : '(none)'}: request bodies must be ${expected}`,
  );
}

/** `charset=` of a Content-Type, if any; a JSON type without parameters (the usual case) is settled by one `includes`. */
const CHARSET_RE = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/** Whether a Content-Type declares a charset other than UTF-8 (or its subset US-ASCII). */
function foreignCharset(contentType: string): boolean {
  if (!contentType.includes('=')) return false;
  const charset = CHARSET_RE.exec(contentType)?.[1];
  return charset !== undefined && !/^(utf-?8|us-ascii)$/i.test(charset);
}

/**
 * Why a JSON body cannot be read as sent, known from its headers: JSON text is UTF-8 (RFC 8259 §8.1), and a body
 * declared in another charset, decoded as UTF-8, would store other characters than were meant; bodies are read as
 * sent, so a compressed one (Content-Encoding gzip, br…) would be taken for bytes that are no JSON.
 */
export function unreadableEncoding(contentType: string, contentEncoding: string | undefined): RocketError | undefined {
  const coding = contentEncoding?.trim().toLowerCase();
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    return new RocketError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Unsupported Content-Encoding '${contentEncoding!.slice(0, 100)}': request bodies must be sent uncompressed`,
    );
  }
  if (!foreignCharset(contentType)) return undefined;
  return new RocketError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Type '${contentType.slice(0, 100)}': request bodies must be application/json in UTF-8`,
  );
}

/**
 * The text of a JSON body. Bytes that are no UTF-8 make it unreadable (400): decoded anyway they would become
 * U+FFFD, and a record would store other text than was sent, with no error.
 */
export function jsonText(body: Buffer): string {
  if (!isUtf8(body)) throw new UnreadableJson();
  return body.toString('utf8');
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
    const marked = exact ? markInexactNumbers(text, true) : undefined;
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
