import { RocketError } from '../errors.js';
import { ExprRuntimeError, truthy } from '../expr/index.js';
import type { OpContext, WriteEvent, WriteObserver, StageContext } from '../engine/context.js';
import { catalogFor, type ActiveWebhook } from './catalog.js';
import type { Hook } from './definition.js';
import { deliver } from '../outbound/delivery.js';
import { exactJson } from '../db/exact-json.js';
import { dispatchPending } from './dispatch.js';
import { insertLogs, type NewLog } from './logs.js';
import { buildEvent, type WebhookEvent } from './payload.js';
import { resolveHeaders, type WebhookSettings } from './settings.js';

/**
 * Webhooks on writes (spec: webhooks.md §When webhooks fire):
 * - `before_write` / `before_delete` are called one after another before COMMIT; the first
 *   condition error, network error or non-2xx aborts the write with 502 WEBHOOK_FAILED.
 * - `after_write` / `after_delete` get a `pending` log row in the write's transaction (the
 *   outbox) and are sent right after COMMIT; the retry job sends what a crash left behind.
 * Log rows of synchronous calls are written in the transaction when it commits, and again,
 * on a pool connection, after it rolled back — never while the transaction holds its own.
 */

interface TxState {
  /** Logs of the synchronous calls made during this write. */
  sync: NewLog[];
  /** Pending async rows stored in the transaction, to send after COMMIT. */
  pending: string[];
}

/** Per write: keyed by the write's event list, which the pipeline hands to every observer hook. */
const states = new WeakMap<readonly WriteEvent[], TxState>();

const HOOKS_OF: Record<WriteEvent['action'], readonly [Hook, Hook]> = {
  create: ['before_write', 'after_write'],
  update: ['before_write', 'after_write'],
  delete: ['before_delete', 'after_delete'],
};

type Verdict = { fire: boolean; error?: undefined } | { fire: false; error: string };

function evaluate(w: ActiveWebhook, event: WebhookEvent): Verdict {
  if (w.conditionError) return { fire: false, error: `condition error: ${w.conditionError}` };
  if (!w.condition) return { fire: true };
  try {
    return { fire: truthy(w.condition.evaluate(event.vars)) };
  } catch (err) {
    return { fire: false, error: `condition error: ${err instanceof ExprRuntimeError ? err.message : String(err)}` };
  }
}

function logOf(
  w: ActiveWebhook,
  event: WebhookEvent,
  fields: Pick<NewLog, 'status' | 'attempt' | 'response_status' | 'response_body' | 'error'>,
): NewLog {
  const { row } = w;
  return {
    webhook_id: row.id,
    entity: row.entity,
    hook: row.hook,
    url: row.url,
    method: row.method,
    request_headers: row.headers,
    request_body: event.payload,
    max_attempts: row.retry.max_attempts,
    idempotency_key: event.payload.idempotency_key,
    ...fields,
  };
}

const webhookFailed = (id: string, reason: string) => new RocketError('WEBHOOK_FAILED', `Webhook ${id} failed: ${reason}`);

async function beforeCommit(settings: WebhookSettings, sc: StageContext, writes: readonly WriteEvent[]): Promise<void> {
  if (writes.length === 0) return;
  const catalog = await catalogFor(sc.app.registry, sc.tx);
  if (catalog.size === 0) return;
  const state: TxState = { sync: [], pending: [] };
  const outbox: NewLog[] = [];

  for (const write of writes) {
    if (write.cause === 'cascade') continue; // cascades fire no webhooks (their rows are not the request's writes)
    const hooks = catalog.get(write.entity.name);
    if (!hooks) continue;
    for (const hook of HOOKS_OF[write.action]) {
      const list = hooks.get(hook);
      if (!list?.length) continue;
      const event = buildEvent(write, hook, sc.caller, sc.now);
      const sync = hook.startsWith('before_');
      for (const w of list) {
        const verdict = evaluate(w, event);
        if (verdict.error !== undefined) {
          const log = logOf(w, event, { status: 'failed', attempt: 0, response_status: null, response_body: '', error: verdict.error });
          if (!sync) {
            outbox.push(log); // skipped, and the reason is logged
            continue;
          }
          state.sync.push(log);
          states.set(writes, state);
          throw webhookFailed(w.row.id, verdict.error);
        }
        if (!verdict.fire) continue;
        if (!sync) {
          outbox.push(logOf(w, event, { status: 'pending', attempt: 0, response_status: null, response_body: '', error: '' }));
          continue;
        }
        states.set(writes, state);
        const result = await deliver(
          {
            url: w.row.url,
            method: w.row.method,
            headers: resolveHeaders(w.row.headers, settings.envAllowlist),
            body: exactJson(event.payload),
          },
          { denyPrivateNetworks: settings.denyPrivateNetworks },
        );
        state.sync.push(
          logOf(w, event, {
            status: result.ok ? 'delivered' : 'failed',
            attempt: 1,
            response_status: result.status,
            response_body: result.body,
            error: result.error,
          }),
        );
        settings.onDelivery?.(result.ok ? 'delivered' : 'failed');
        if (!result.ok) throw webhookFailed(w.row.id, result.error);
      }
    }
  }

  const stored = await insertLogs(sc.tx, [...state.sync, ...outbox]);
  state.pending = stored.filter((r) => r.status === 'pending').map((r) => r.id);
  if (state.sync.length || state.pending.length) states.set(writes, state);
}

async function afterCommit(settings: WebhookSettings, ctx: OpContext, writes: readonly WriteEvent[]): Promise<void> {
  const state = states.get(writes);
  if (!state) return;
  states.delete(writes);
  dispatchPending(ctx.app, settings, state.pending);
}

/** The transaction rolled back (a veto, or any later failure): its synchronous calls still leave their log rows. */
async function afterRollback(ctx: OpContext, writes: readonly WriteEvent[]): Promise<void> {
  const state = states.get(writes);
  if (!state) return;
  states.delete(writes);
  await insertLogs(ctx.app.db, state.sync);
}

/** The webhooks' write observer, calling out with the server's webhook settings. */
export function webhookObserver(settings: WebhookSettings): WriteObserver {
  return {
    name: 'webhooks',
    async involves(app, entity) {
      return (await catalogFor(app.registry, app.db)).has(entity.name);
    },
    beforeCommit: (sc, writes) => beforeCommit(settings, sc, writes),
    afterCommit: (ctx, writes) => afterCommit(settings, ctx, writes),
    afterRollback,
  };
}
