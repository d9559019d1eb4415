import { targetUrlProblem } from '../outbound/target.js';
import { invalid } from '../errors.js';
import { ExprCompileError, WEBHOOK_VARIABLES, compileExpr, formatCompileError } from '../expr/index.js';

/** Webhook definitions (spec: webhooks.md §Webhook object, §Admin API). */

export const HOOKS = ['after_write', 'before_write', 'after_delete', 'before_delete'] as const;
export type Hook = (typeof HOOKS)[number];
export const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'] as const;
export type Method = (typeof METHODS)[number];
export type Backoff = 'exponential' | 'linear';

export interface RetryPolicy {
  max_attempts: number;
  backoff: Backoff;
}

/** A webhook as stored, without id and timestamps. */
export interface WebhookInput {
  entity: string;
  hook: Hook;
  url: string;
  method: Method;
  headers: Record<string, string>;
  condition: string;
  async: boolean;
  retry: RetryPolicy;
  active: boolean;
}

/** `before_*` hooks run inside the write (sync); `after_*` hooks after commit (async). */
export const requiresAsync = (hook: Hook): boolean => hook.startsWith('after_');

/** The largest `retry.max_attempts` accepted (keeps backoff delays and the INT column in range). */
export const MAX_ATTEMPTS_LIMIT = 100;

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Values may hold anything printable; CR, LF and NUL would split or break the request.
const HEADER_VALUE_BAD_RE = /[\r\n\0]/;
// A header value is a byte string: tab, printable ASCII and Latin-1 (what node:http sends); anything else makes
// every call fail before it is sent, so it is refused at save instead.
const HEADER_VALUE_NOT_BYTES_RE = /[^\t\x20-\x7e\x80-\xff]/;

const absent = (v: unknown): boolean => v === undefined || v === null;

/**
 * Validates a POST/PUT body and applies the defaults of absent keys (PUT
 * replaces the whole definition, with the same defaults). Throws 422 with the
 * first problem.
 */
export function parseWebhook(body: Record<string, unknown>): WebhookInput {
  // PostgreSQL text cannot hold NUL: refuse it here rather than fail in SQL.
  for (const key of ['entity', 'url', 'condition'] as const) {
    if (typeof body[key] === 'string' && (body[key] as string).includes('\0')) throw invalid(`${key} must not contain NUL characters`);
  }
  const { entity, url } = body;
  if (absent(entity) || entity === '') throw invalid('entity is required');
  if (typeof entity !== 'string' || entity.trim() === '') throw invalid('entity must be a non-empty string');

  const hook = absent(body.hook) ? 'after_write' : body.hook;
  if (typeof hook !== 'string' || !(HOOKS as readonly string[]).includes(hook)) {
    throw invalid('hook must be after_write, before_write, after_delete, or before_delete');
  }

  const urlProblem = targetUrlProblem(url, 'url');
  if (urlProblem) throw invalid(urlProblem);

  const methodIn = absent(body.method) ? 'POST' : body.method;
  const method = typeof methodIn === 'string' ? methodIn.toUpperCase() : '';
  if (!(METHODS as readonly string[]).includes(method)) throw invalid('method must be POST, PUT, PATCH, GET, or DELETE');

  const headers = parseHeaders(body.headers);

  const condition = absent(body.condition) ? '' : body.condition;
  if (typeof condition !== 'string') throw invalid('condition must be a string');
  if (condition.trim() !== '') {
    try {
      compileExpr(condition, WEBHOOK_VARIABLES);
    } catch (err) {
      if (err instanceof ExprCompileError) throw invalid(formatCompileError(err));
      throw err;
    }
  }

  const isAsync = absent(body.async) ? true : body.async;
  if (typeof isAsync !== 'boolean') throw invalid('async must be a boolean');
  const needed = requiresAsync(hook as Hook);
  if (isAsync !== needed) throw invalid(`hook ${hook} requires async ${String(needed)}`);

  const retry = parseRetry(body.retry);

  const active = absent(body.active) ? true : body.active;
  if (typeof active !== 'boolean') throw invalid('active must be a boolean');

  return { entity, hook: hook as Hook, url: url as string, method: method as Method, headers, condition, async: isAsync, retry, active };
}

export function parseHeaders(value: unknown): Record<string, string> {
  if (absent(value)) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('headers must be an object of header names to string values');
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (!HEADER_NAME_RE.test(name)) throw invalid(`headers: invalid header name "${name}"`);
    if (typeof v !== 'string') throw invalid(`headers.${name} must be a string`);
    if (HEADER_VALUE_BAD_RE.test(v)) throw invalid(`headers.${name} must not contain line breaks or NUL`);
    if (HEADER_VALUE_NOT_BYTES_RE.test(v)) throw invalid(`headers.${name} must contain only printable Latin-1 characters`);
    out[name] = v;
  }
  return out;
}

export function parseRetry(value: unknown): RetryPolicy {
  if (absent(value)) return { max_attempts: 3, backoff: 'exponential' };
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('retry must be an object');
  const r = value as Record<string, unknown>;
  const max = absent(r.max_attempts) ? 3 : r.max_attempts;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw invalid('retry.max_attempts must be an integer >= 1');
  if (max > MAX_ATTEMPTS_LIMIT) throw invalid(`retry.max_attempts must be at most ${MAX_ATTEMPTS_LIMIT}`);
  const backoff = absent(r.backoff) ? 'exponential' : r.backoff;
  if (backoff !== 'exponential' && backoff !== 'linear') throw invalid('retry.backoff must be exponential or linear');
  return { max_attempts: max, backoff };
}
