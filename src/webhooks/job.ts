import type { Job } from '../jobs/runner.js';
import { drainDeliveries, nextDelivery, runWebhookPass, type DispatchApp } from './dispatch.js';
import type { WebhookSettings } from './settings.js';

/**
 * The webhook retry job (spec: multi-app.md §Background jobs, about every
 * 30 s per app): each pass sends the due `retrying` rows and the `pending`
 * rows a crash left behind. Rows are claimed in the database, so any number
 * of server instances can run it side by side.
 */

export const RETRY_INTERVAL_MS = 30_000;
/** How long shutdown waits for deliveries in flight before cancelling them. */
const SHUTDOWN_GRACE_MS = 3_000;

export function webhookRetryJob(settings: WebhookSettings, intervalMs: number = RETRY_INTERVAL_MS): Job<DispatchApp> {
  return {
    name: 'webhook-retries',
    intervalMs,
    run: (app) => runWebhookPass(app, settings),
    nextDue: (app) => nextDelivery(app.db),
    // lets in-flight deliveries finish (briefly) and cancels the rest; their rows are retried later
    async stop(apps) {
      await Promise.all(apps.map((app) => drainDeliveries(app.db, SHUTDOWN_GRACE_MS)));
    },
  };
}
