import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { Backoff } from './definition.js';
import { deliver } from '../outbound/delivery.js';
import { INTERRUPTED, recordAttempt, storedRequest, type WebhookLog } from './logs.js';
import { DEFAULT_WEBHOOK_SETTINGS, resolveHeaders, type WebhookSettings } from './settings.js';
import { claim, type ClaimSpec } from '../jobs/claim.js';
import { getOrInsert } from '../collections.js';
import { exactJson, jsonOfText } from '../db/exact-json.js';
import { isObject } from '../metadata/problems.js';

/**
 * Sending stored log rows: the async deliveries right after commit, and the
 * retry job's. A row is claimed before it is sent (DESIGN.md principle 6): a
 * single statement locks it (`FOR UPDATE SKIP LOCKED`) and pushes its
 * `next_retry_at` a lease ahead, so no other instance or pass takes it while
 * the call runs; if this process dies mid-call, the row is due again when the
 * lease ends. No connection is held during the HTTP call.
 */

export interface DispatchApp {
  readonly name: string;
  readonly db: Database;
  readonly log: Logger;
}

/** Longer than the 30 s call timeout plus the outcome's UPDATE. */
const LEASE_SECONDS = 90;
/** Pending rows older than this are orphans of a crash (or of a lost post-commit dispatch). */
export const STALE_PENDING_SECONDS = 10;
/** Calls one instance has in flight per app while draining a backlog. */
export const DRAIN_CONCURRENCY = 50;

type Claimed = Pick<WebhookLog, 'id' | 'url' | 'method' | 'request_headers' | 'request_body' | 'attempt' | 'max_attempts'> & {
  /** The webhook's `retry` as stored (JSON text where the legacy server wrote it so); null once the webhook is gone. */
  retry: unknown;
};

/** The backoff of a stored `retry`, read as the object it holds also when stored as JSON text; exponential by default. */
function backoffOf(retry: unknown): Backoff {
  const policy = typeof retry === 'string' ? jsonOfText(retry) : retry;
  return isObject(policy) && policy.backoff === 'linear' ? 'linear' : 'exponential';
}

/** Claims log rows with a lease, returning what sending them needs. */
function claimLogs(db: Database, rows: Pick<ClaimSpec, 'where' | 'orderBy' | 'limit' | 'params'>): Promise<Claimed[]> {
  return claim<Claimed>(db, {
    ...rows,
    table: '_webhook_logs',
    set: `next_retry_at = NOW() + make_interval(secs => ${LEASE_SECONDS}),
      attempt = t.attempt + (t.error IS NOT DISTINCT FROM '${INTERRUPTED}')::int, error = '${INTERRUPTED}'`,
    returning: `t.id, t.url, t.method, COALESCE(t.request_headers, '{}'::jsonb) AS request_headers,
      COALESCE(t.request_body, '{}'::jsonb) AS request_body, t.attempt, t.max_attempts,
      (SELECT w.retry FROM _webhooks w WHERE w.id = t.webhook_id) AS retry`,
  });
}

/** Claims these pending rows (those another instance has not taken already). */
function claimPending(db: Database, ids: readonly string[]): Promise<Claimed[]> {
  return claimLogs(db, {
    where: `id = ANY($1::uuid[]) AND status = 'pending' AND (next_retry_at IS NULL OR next_retry_at <= NOW())`,
    params: [ids],
  });
}

/** Claims up to `limit` retrying rows that are due, oldest due first. */
function claimDue(db: Database, limit: number): Promise<Claimed[]> {
  return claimLogs(db, { where: `status = 'retrying' AND next_retry_at <= NOW()`, orderBy: 'next_retry_at, created_at', limit });
}

/**
 * Pending rows claimed before, whose claim ended (given back at a shutdown, or its lease ran out): no
 * post-commit dispatch can still take them, so they are due at once rather than when they count as stale.
 */
const RELEASED = `(error = '${INTERRUPTED}' AND next_retry_at IS NOT NULL)`;

/** Claims up to `limit` pending rows left behind (committed, never sent, or cut off mid-call), oldest first. */
function claimStale(db: Database, limit: number): Promise<Claimed[]> {
  return claimLogs(db, {
    where: `status = 'pending' AND (created_at < NOW() - make_interval(secs => ${STALE_PENDING_SECONDS}) OR ${RELEASED})
      AND (next_retry_at IS NULL OR next_retry_at <= NOW())`,
    orderBy: 'created_at',
    limit,
  });
}

// ---- in-flight work per app, so shutdown can wait for it (or cancel it) ----------------------------

interface Tracker {
  readonly running: Set<Promise<void>>;
  readonly abort: AbortController;
}
const trackers = new WeakMap<Database, Tracker>();

function trackerOf(db: Database): Tracker {
  return getOrInsert(trackers, db, () => ({ running: new Set(), abort: new AbortController() }));
}

function track(app: DispatchApp, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const t = trackerOf(app.db);
  const p: Promise<void> = work(t.abort.signal)
    .catch((err: unknown) => app.log.error({ err, app: app.name }, 'webhook delivery failed'))
    .finally(() => t.running.delete(p));
  t.running.add(p);
  return p;
}

/** Waits up to `graceMs` for the app's deliveries, then cancels the rest (their rows stay claimed and are retried later). */
export async function drainDeliveries(db: Database, graceMs: number): Promise<void> {
  const t = trackers.get(db);
  if (!t || t.running.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([Promise.allSettled([...t.running]), grace]);
  clearTimeout(timer);
  t.abort.abort();
  await Promise.allSettled([...t.running]);
}

// ---- sending -------------------------------------------------------------------------------------

async function send(app: DispatchApp, settings: WebhookSettings, claimed: Claimed, signal: AbortSignal): Promise<void> {
  const log = storedRequest(claimed);
  const result = await deliver(
    {
      url: log.url,
      method: log.method,
      headers: resolveHeaders(log.request_headers, settings.envAllowlist),
      body: exactJson(log.request_body),
    },
    { denyPrivateNetworks: settings.denyPrivateNetworks, signal },
  );
  if (result.cancelled) {
    // Shutdown: hand the row back at once instead of leaving it leased for another instance to wait out.
    await app.db.query('UPDATE _webhook_logs SET next_retry_at = NOW() WHERE id = $1', [log.id]);
    return;
  }
  const status = await recordAttempt(app.db, log, backoffOf(log.retry), result);
  settings.onDelivery?.(status);
}

/** After commit: sends the pending rows of a write in the background (the response does not wait). */
export function dispatchPending(app: DispatchApp, settings: WebhookSettings, ids: readonly string[]): void {
  if (ids.length === 0) return;
  void track(app, async (signal) => {
    const claimed = await claimPending(app.db, ids);
    await Promise.all(claimed.map((log) => send(app, settings, log, signal)));
  });
}

export interface PassResult {
  /** Retrying rows that were due and sent again. */
  retried: number;
  /** Pending rows left behind by a crash, sent now. */
  recovered: number;
}

/**
 * One pass of the retry job for one app (spec: webhooks.md §Automatic retries,
 * operations.md §Several instances): due `retrying` rows and stale `pending`
 * rows, each sent once, until none is due — a backlog drains as fast as the
 * receivers answer, with at most DRAIN_CONCURRENCY calls in flight; claims
 * are topped up as calls finish rather than batch by batch, so one slow
 * receiver does not hold back the rest. Resolves when the outcomes are stored.
 */
export async function runWebhookPass(app: DispatchApp, settings: WebhookSettings = DEFAULT_WEBHOOK_SETTINGS): Promise<PassResult> {
  const result: PassResult = { retried: 0, recovered: 0 };
  const inFlight = new Set<Promise<void>>();
  const stopping = trackerOf(app.db).abort.signal;
  while (!stopping.aborted) {
    const room = DRAIN_CONCURRENCY - inFlight.size;
    const due = await claimDue(app.db, room);
    const stale = due.length < room ? await claimStale(app.db, room - due.length) : [];
    if (due.length + stale.length === 0) break;
    result.retried += due.length;
    result.recovered += stale.length;
    for (const log of [...due, ...stale]) {
      const call: Promise<void> = track(app, (signal) => send(app, settings, log, signal)).finally(() => inFlight.delete(call));
      inFlight.add(call);
    }
    // Claim again once half the window is free: rows stay unclaimed (takeable by other instances) until we can send them.
    while (inFlight.size > DRAIN_CONCURRENCY / 2) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return result;
}

/**
 * When the app next has a row to send: the earliest due retry, or a pending row's moment to count as left
 * behind; null when none waits. The job runner skips an idle app until then.
 */
export async function nextDelivery(db: Database): Promise<Date | null> {
  const [row] = await db.query<{ at: Date | null }>(
    `SELECT LEAST(
       (SELECT min(next_retry_at) FROM _webhook_logs WHERE status = 'retrying'),
       (SELECT min(CASE WHEN ${RELEASED} THEN next_retry_at
                   ELSE GREATEST(created_at + make_interval(secs => ${STALE_PENDING_SECONDS}), COALESCE(next_retry_at, '-infinity')) END)
          FROM _webhook_logs WHERE status = 'pending')) AS at`,
  );
  return row?.at ?? null;
}
