import type { Database, Queryable } from '../db/database.js';
import type { EngineApp } from './context.js';
import type { OutboxEntry } from './write/stages.js';

/**
 * Post-commit effects (DESIGN.md principle 5): recorded as `_outbox` rows in
 * the write's transaction, dispatched right after COMMIT. State-machine
 * `webhook` actions are delivered here (fire-and-forget, 30 s timeout, no
 * retry, per spec); `event` rows go to the app's event sink (the
 * workflow engine), which claims and processes them.
 */

export interface StoredEffect {
  id: string;
  kind: OutboxEntry['kind'];
  payload: OutboxEntry['payload'];
}

export async function recordEffects(tx: Queryable, entries: readonly OutboxEntry[]): Promise<StoredEffect[]> {
  if (entries.length === 0) return [];
  return tx.query<StoredEffect>(
    'INSERT INTO _outbox (kind, payload) SELECT k, p FROM unnest($1::text[], $2::jsonb[]) AS x(k, p) RETURNING id, kind, payload',
    [entries.map((e) => e.kind), entries.map((e) => JSON.stringify(e.payload))],
  );
}

/** Receives a write's `event` effects after COMMIT; awaited, so its work lands before the response. */
export type EventSink = (app: EngineApp, events: readonly StoredEffect[]) => Promise<void>;

/** Claims and sends webhook effects, then hands events to the app's sink; a crash before this leaves them pending. */
export async function dispatchEffects(app: EngineApp, effects: readonly StoredEffect[]): Promise<void> {
  await sendWebhooks(app.db, effects.filter((e) => e.kind === 'webhook'));
  const events = effects.filter((e) => e.kind === 'event');
  const sink = app.extensions.eventSink;
  if (events.length && sink) await sink(app, events).catch(() => undefined);
}

async function sendWebhooks(db: Database, webhooks: readonly StoredEffect[]): Promise<void> {
  if (webhooks.length === 0) return;
  const claimed = await db.query<StoredEffect>(
    `UPDATE _outbox SET claimed_at = NOW() WHERE id = ANY($1::uuid[]) AND claimed_at IS NULL RETURNING id, kind, payload`,
    [webhooks.map((w) => w.id)],
  );
  for (const effect of claimed) {
    const { url, method, body } = effect.payload as { url: string; method: string; body: unknown };
    void fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
      .then(
        (res) => db.query('UPDATE _outbox SET processed_at = NOW(), error = $2 WHERE id = $1', [effect.id, res.ok ? null : `HTTP ${res.status}`]),
        (err: unknown) => db.query('UPDATE _outbox SET processed_at = NOW(), error = $2 WHERE id = $1', [effect.id, String(err)]),
      )
      .catch(() => undefined);
  }
}
