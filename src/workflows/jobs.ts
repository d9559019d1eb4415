import type { Logger } from 'pino';
import type { EngineApp } from '../engine/context.js';
import { sweepEvents } from './events.js';
import { processDeadlines } from './runtime.js';

/**
 * Background work of workflows (spec: multi-app.md §Background jobs): about
 * every 60 s, for every live app, time out approvals whose deadline passed
 * and pick up event rows a crash left pending. Both claim their rows in the
 * database (FOR UPDATE SKIP LOCKED / conditional UPDATE), so several servers
 * on one database process each item once.
 */

/** One pass for one app; errors are logged, never thrown. */
export async function runWorkflowJobsOnce(app: EngineApp): Promise<{ timedOut: number; events: number }> {
  let timedOut = 0;
  let events = 0;
  try {
    timedOut = await processDeadlines(app);
  } catch (err) {
    app.log.error({ err, app: app.name }, 'workflow deadline job failed');
  }
  try {
    events = await sweepEvents(app);
  } catch (err) {
    app.log.error({ err, app: app.name }, 'event sweep job failed');
  }
  return { timedOut, events };
}

export interface JobRunner {
  stop(): Promise<void>;
}

/** Runs a pass over `apps()` every `intervalMs` until stopped; stop waits for a pass in progress. */
export function startWorkflowJobs(apps: () => readonly EngineApp[], log: Logger, intervalMs = 60_000): JobRunner {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const pass = async () => {
    for (const app of apps()) {
      if (stopped) return;
      await runWorkflowJobsOnce(app);
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass()
        .catch((err: unknown) => log.error({ err }, 'workflow jobs failed'))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
