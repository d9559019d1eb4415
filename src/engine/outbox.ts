import type { Database, Queryable } from '../db/database.js';
import { type CallOut, DEFAULT_CALL_OUT } from '../outbound/delivery.js';
import { exactJson } from '../db/exact-json.js';
import type { EngineApp, OutboxEntry, StoredEffect } from './context.js';

/**
 * Post-commit effects (DESIGN.md principle 5): recorded as `_outbox` rows in
 * the write's transaction, dispatched right after COMMIT. State-machine
 * `webhook` actions are delivered here (fire-and-forget, 30 s timeout, no
 * retry, per spec); `event` rows go to the app's event sink (the
 * workflow engine), which claims and processes them.
 */

export async function recordEffects(tx: Queryable, entries: readonly OutboxEntry[]): Promise<StoredEffect[]> {
  if (entries.length === 0) return [];
  return tx.query<StoredEffect>(
    'INSERT INTO _outbox (kind, payload) SELECT k, p FROM unnest($1::text[], $2::jsonb[]) AS x(k, p) RETURNING id, kind, payload',
    [entries.map((e) => e.kind), entries.map((e) => exactJson(e.payload))],
  );
}

/** Claims and sends webhook effects, then hands events to the app's sink; a crash before this leaves them pending. */
export async function dispatchEffects(app: EngineApp, effects: readonly StoredEffect[]): Promise<void> {
  await sendWebhooks(
    app.db,
    app.extensions.callOut ?? DEFAULT_CALL_OUT,
    effects.filter((e) => e.kind === 'webhook'),
  );
  const events = effects.filter((e) => e.kind === 'event');
  const sink = app.extensions.eventSink;
  if (events.length && sink) await sink(app, events).catch(() => undefined);
}

async function sendWebhooks(db: Database, callOut: CallOut, webhooks: readonly StoredEffect[]): Promise<void> {
  if (webhooks.length === 0) return;
  const claimed = await db.query<StoredEffect>(
    `UPDATE _outbox SET claimed_at = NOW() WHERE id = ANY($1::uuid[]) AND claimed_at IS NULL RETURNING id, kind, payload`,
    [webhooks.map((w) => w.id)],
  );
  for (const effect of claimed) {
    const { url, method, body } = effect.payload as { url: string; method: string; body: unknown };
    // Not awaited: the write's answer does not wait for the receiver (fire-and-forget per spec).
    void callOut({ url, method, headers: {}, body: method === 'GET' ? '' : exactJson(body) })
      .then((res) => db.query('UPDATE _outbox SET processed_at = NOW(), error = $2 WHERE id = $1', [effect.id, res.ok ? null : res.error]))
      .catch(() => undefined);
  }
}
