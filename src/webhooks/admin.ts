import { jsonOfText } from '../db/exact-json.js';
import { objectPayload, notFound } from '../errors.js';
import { UUID_RE } from '../types/ids.js';
import type { AdminApp } from '../metadata/admin-app.js';
import { parseHeaders, parseRetry, parseWebhook, type WebhookInput } from './definition.js';

/** Webhook admin operations (spec: webhooks.md §Admin API). */

export type WebhookRow = WebhookInput & { id: string; created_at: Date; updated_at: Date };

// Nullable JSON/text columns read with their defaults, so a row always has the documented shape.
export const WEBHOOK_COLUMNS = `id, entity, hook, url, method, COALESCE(headers, '{}'::jsonb) AS headers,
  COALESCE(condition, '') AS condition, async,
  COALESCE(retry, '{"max_attempts":3,"backoff":"exponential"}'::jsonb) AS retry, active, created_at, updated_at`;

type Admin = Pick<AdminApp, 'db' | 'reload'>;

const params = (w: WebhookInput) =>
  [w.entity, w.hook, w.url, w.method, JSON.stringify(w.headers), w.condition, w.async, JSON.stringify(w.retry), w.active] as const;

/** A column the legacy server wrote as JSON text, read as the admin API reads the value; its default when that fails. */
function fromText<T>(value: T | string, read: (v: unknown) => T): T {
  if (typeof value !== 'string') return value;
  try {
    return read(jsonOfText(value));
  } catch {
    return read(undefined);
  }
}

/**
 * A row whose headers or retry the legacy server stored as JSON text (a jsonb string), with the objects that
 * text holds: its deliveries then log and send like any other, and it is answered in the documented shape.
 */
export function readWebhookRow(row: WebhookRow): WebhookRow {
  if (typeof row.headers !== 'string' && typeof row.retry !== 'string') return row;
  return { ...row, headers: fromText(row.headers, parseHeaders), retry: fromText(row.retry, parseRetry) };
}

export async function listWebhooks(app: Admin): Promise<WebhookRow[]> {
  const rows = await app.db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM _webhooks ORDER BY entity, hook, created_at, id`);
  return rows.map(readWebhookRow);
}

export async function getWebhook(app: Admin, id: string): Promise<WebhookRow> {
  const rows = UUID_RE.test(id) ? await app.db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM _webhooks WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`Webhook not found: ${id}`);
  return readWebhookRow(rows[0]);
}

export async function createWebhook(app: Admin, input: unknown): Promise<WebhookRow> {
  const w = parseWebhook(objectPayload(input));
  const rows = await app.db.query<WebhookRow>(
    `INSERT INTO _webhooks (entity, hook, url, method, headers, condition, async, retry, active)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9) RETURNING ${WEBHOOK_COLUMNS}`,
    params(w),
  );
  await app.reload();
  return rows[0]!;
}

export async function updateWebhook(app: Admin, id: string, input: unknown): Promise<WebhookRow> {
  await getWebhook(app, id);
  const w = parseWebhook(objectPayload(input));
  await app.db.query(
    `UPDATE _webhooks SET entity = $2, hook = $3, url = $4, method = $5, headers = $6::jsonb, condition = $7, async = $8,
       retry = $9::jsonb, active = $10, updated_at = NOW() WHERE id = $1`,
    [id, ...params(w)],
  );
  await app.reload();
  return getWebhook(app, id);
}

/** Deletes the webhook; its delivery logs go with it (ON DELETE CASCADE). */
export async function deleteWebhook(app: Admin, id: string): Promise<{ id: string; deleted: true }> {
  await getWebhook(app, id);
  // Checked again by the DELETE itself: of two deletes at once only one removed the webhook (the other is a 404).
  const rows = await app.db.query('DELETE FROM _webhooks WHERE id = $1 RETURNING id', [id]);
  if (!rows[0]) throw notFound(`Webhook not found: ${id}`);
  await app.reload();
  return { id, deleted: true };
}
