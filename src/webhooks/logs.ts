import type { Database, Queryable } from '../db/database.js';
import { conflict, invalid, invalidPayload, notFound } from '../errors.js';
import { UUID_RE } from '../types/ids.js';
import { exactJson, jsonColumns } from '../db/exact-json.js';
import type { Backoff, Hook } from './definition.js';
import type { DeliveryResult } from '../outbound/delivery.js';

/** `_webhook_logs`: delivery rows, their state changes, and the logs API (spec: webhooks.md §Delivery log). */

export type LogStatus = 'pending' | 'delivered' | 'retrying' | 'failed';

export interface WebhookLog {
  id: string;
  webhook_id: string;
  entity: string;
  hook: Hook;
  url: string;
  method: string;
  request_headers: Record<string, string>;
  request_body: unknown;
  response_status: number | null;
  response_body: string;
  status: LogStatus;
  attempt: number;
  max_attempts: number;
  next_retry_at: Date | null;
  error: string;
  idempotency_key: string;
  created_at: Date;
  updated_at: Date;
}

/** A new log row, as the observer builds it: a stored row before the database fills in its own columns. */
export type NewLog = Omit<WebhookLog, 'id' | 'next_retry_at' | 'created_at' | 'updated_at'>;

/**
 * Stored in `error` while a call runs. A claim that finds it there knows the previous claim's call never
 * recorded an outcome (the process died or stopped mid-call) and counts that attempt before trying again.
 */
export const INTERRUPTED = 'interrupted: the call was cut off before its outcome was recorded';

/** A call in flight: its claim's lease still runs. It has no error and no retry time yet. */
const IN_FLIGHT = `(error = '${INTERRUPTED}' AND next_retry_at > NOW())`;

export const LOG_COLUMNS = `id, webhook_id, entity, hook, url, method, COALESCE(request_headers, '{}'::jsonb) AS request_headers,
  COALESCE(request_body, '{}'::jsonb) AS request_body, response_status, COALESCE(response_body, '') AS response_body, status,
  attempt, max_attempts, CASE WHEN ${IN_FLIGHT} THEN NULL ELSE next_retry_at END AS next_retry_at,
  CASE WHEN ${IN_FLIGHT} THEN '' ELSE COALESCE(error, '') END AS error, idempotency_key, created_at, updated_at`;

/** A log's request as sent: the legacy server could store headers and body as JSON text, read as the value it holds. */
export const storedRequest = <R extends Pick<WebhookLog, 'request_headers' | 'request_body'>>(row: R): R =>
  jsonColumns(row, ['request_headers', 'request_body']);

/** First retry 30 s after attempt 1; then 30 s × 2^attempt (exponential) or 30 s × attempt (linear). */
export const RETRY_BASE_SECONDS = 30;
/** Backoff delays are capped so they stay within timestamp range whatever the attempt count. */
const MAX_DELAY_SECONDS = 30 * 24 * 3600;

export function retryDelaySeconds(attempt: number, backoff: Backoff): number {
  const raw = attempt <= 1 ? RETRY_BASE_SECONDS : backoff === 'linear' ? RETRY_BASE_SECONDS * attempt : RETRY_BASE_SECONDS * 2 ** attempt;
  return Math.min(raw, MAX_DELAY_SECONDS);
}

/**
 * Inserts log rows in one statement; returns their ids and statuses. Rows of a webhook deleted since the
 * write read its definitions are dropped, as its logs would have been (they go with it): a write must not
 * fail on a foreign key because an admin removed a webhook while the write ran. The webhooks kept are
 * locked as the foreign key check would lock them, so a delete racing this insert waits for it.
 */
export async function insertLogs(db: Queryable, logs: readonly NewLog[]): Promise<Array<{ id: string; status: LogStatus }>> {
  if (logs.length === 0) return [];
  return db.query<{ id: string; status: LogStatus }>(
    `WITH x AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(webhook_id uuid, entity text, hook text, url text, method text,
         request_headers jsonb, request_body jsonb, response_status int, response_body text, status text, attempt int,
         max_attempts int, error text, idempotency_key text)
     ), live AS (
       SELECT w.id FROM _webhooks w WHERE w.id IN (SELECT webhook_id FROM x) FOR KEY SHARE
     )
     INSERT INTO _webhook_logs (webhook_id, entity, hook, url, method, request_headers, request_body, response_status,
       response_body, status, attempt, max_attempts, error, idempotency_key)
     SELECT webhook_id, entity, hook, url, method, request_headers, request_body, response_status,
       response_body, status, attempt, max_attempts, error, idempotency_key
       FROM x WHERE webhook_id IN (SELECT id FROM live)
     RETURNING id, status`,
    [exactJson(logs)],
  );
}

/** The new state of a log after one more attempt with this result. */
export function nextState(
  attempt: number,
  maxAttempts: number,
  backoff: Backoff,
  result: DeliveryResult,
): { status: LogStatus; retryInSeconds: number | null } {
  if (result.ok) return { status: 'delivered', retryInSeconds: null };
  if (result.blocked || attempt >= maxAttempts) return { status: 'failed', retryInSeconds: null };
  return { status: 'retrying', retryInSeconds: retryDelaySeconds(attempt, backoff) };
}

/** Stores the outcome of an attempt of a claimed log. */
export async function recordAttempt(
  db: Database,
  log: Pick<WebhookLog, 'id' | 'attempt' | 'max_attempts'>,
  backoff: Backoff,
  result: DeliveryResult,
): Promise<LogStatus> {
  const attempt = log.attempt + 1;
  const next = nextState(attempt, log.max_attempts, backoff, result);
  await db.query(
    `UPDATE _webhook_logs SET attempt = $2, status = $3, response_status = $4, response_body = $5, error = $6,
       next_retry_at = CASE WHEN $7::int IS NULL THEN NULL ELSE NOW() + make_interval(secs => $7::int) END, updated_at = NOW()
     WHERE id = $1`,
    [log.id, attempt, next.status, result.status, result.body, result.error, next.retryInSeconds],
  );
  return next.status;
}

// ---- logs API -------------------------------------------------------------------------------------

const FILTERS = ['webhook_id', 'status', 'entity'] as const;

/** GET /_admin/webhook-logs?webhook_id=&status=&entity= — exact filters, ANDed, newest first, at most 200. */
export async function listLogs(db: Queryable, query: Record<string, unknown>): Promise<WebhookLog[]> {
  const where: string[] = [];
  const params: string[] = [];
  for (const key of FILTERS) {
    const value = query[key];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') throw invalidPayload(`${key} must be given once`);
    if ((key === 'webhook_id' && !UUID_RE.test(value)) || value.includes('\0')) return [];
    params.push(value);
    where.push(`${key} = $${params.length}`);
  }
  const rows = await db.query<WebhookLog>(
    `SELECT ${LOG_COLUMNS} FROM _webhook_logs${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT 200`,
    params,
  );
  return rows.map(storedRequest);
}

export async function getLog(db: Queryable, id: string): Promise<WebhookLog> {
  const rows = UUID_RE.test(id) ? await db.query<WebhookLog>(`SELECT ${LOG_COLUMNS} FROM _webhook_logs WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`Webhook log not found: ${id}`);
  return storedRequest(rows[0]);
}

export type RetriedLog = Pick<
  WebhookLog,
  'id' | 'webhook_id' | 'entity' | 'hook' | 'url' | 'method' | 'status' | 'attempt' | 'max_attempts' | 'next_retry_at' | 'updated_at'
>;

/**
 * POST /_admin/webhook-logs/:id/retry — due now for the retry job; `attempt` is kept. A log whose call is in
 * flight is refused (409): making it due would let the retry job claim it again and send a second call at the
 * same time, the first one's outcome then being counted as an interrupted attempt on top of its own.
 */
export async function retryLog(db: Queryable, id: string): Promise<RetriedLog> {
  const log = await getLog(db, id);
  // The in-flight test is part of the UPDATE: after waiting for a concurrent claim's row lock, it is re-read.
  const rows = await db.query<RetriedLog>(
    `UPDATE _webhook_logs SET status = 'retrying', next_retry_at = NOW(), updated_at = NOW()
      WHERE id = $1 AND status IN ('failed', 'retrying') AND NOT COALESCE(${IN_FLIGHT}, false)
      RETURNING id, webhook_id, entity, hook, url, method, status, attempt, max_attempts, next_retry_at, updated_at`,
    [log.id],
  );
  if (rows[0]) return rows[0];
  const [row] = await db.query<{ in_flight: boolean }>(
    `SELECT status = 'retrying' AND COALESCE(${IN_FLIGHT}, false) AS in_flight FROM _webhook_logs WHERE id = $1`,
    [log.id],
  );
  if (row?.in_flight) throw conflict(`Webhook log ${log.id} is being delivered; retry it after the call ends`);
  throw invalid('Can only retry failed or retrying webhook logs');
}
