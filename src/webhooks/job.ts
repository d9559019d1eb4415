import type { Logger } from 'pino';
import type { AppRuntime } from '../platform/app-runtime.js';
import { drainDeliveries, runWebhookPass } from './dispatch.js';

/**
 * The webhook retry job (spec: multi-app.md §Background jobs, about every
 * 30 s per app): each pass sends the due `retrying` rows and the `pending`
 * rows a crash left behind. Rows are claimed in the database, so any number
 * of server instances can run it side by side.
 */

export const RETRY_INTERVAL_MS = 30_000;
/** How long shutdown waits for deliveries in flight before cancelling them. */
const SHUTDOWN_GRACE_MS = 3_000;

export interface WebhookJob {
  /** Runs one pass for every live app now (tests, operations). */
  runNow(): Promise<void>;
  /** Stops the timer, lets in-flight deliveries finish (briefly) and cancels the rest. */
  stop(): Promise<void>;
}

export function startWebhookJob(
  apps: { runtimes(): AppRuntime[] },
  log: Logger,
  intervalMs: number = RETRY_INTERVAL_MS,
): WebhookJob {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const pass = async () => {
    await Promise.all(
      apps.runtimes().map((app) =>
        runWebhookPass(app).catch((err: unknown) => log.error({ err, app: app.name }, 'webhook retry pass failed')),
      ),
    );
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = pass().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runNow() {
      const run = current.then(pass);
      current = run.catch(() => undefined);
      return run;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(apps.runtimes().map((app) => drainDeliveries(app.db, SHUTDOWN_GRACE_MS)));
      await current.catch(() => undefined);
    },
  };
}
