import type { EngineApp } from '../engine/context.js';
import type { Job } from '../jobs/runner.js';
import { sweepEvents } from './events.js';
import { nextDeadline, processDeadlines, WORKFLOW_DEADLINE_JOB } from './runtime.js';

/**
 * Background work of workflows (spec: multi-app.md §Background jobs): time
 * out approvals whose deadline passed — at the earliest deadline (armed by the
 * instance that stored it and by every pass's `nextDue`), with a pass every
 * 60 s as the safety net — and pick up event rows a crash left pending. Both
 * claim their rows in the database, so several servers on one database
 * process each item once.
 */

export const WORKFLOW_JOB_INTERVAL_MS = 60_000;

export const workflowDeadlineJob: Job<EngineApp> = {
  name: WORKFLOW_DEADLINE_JOB,
  intervalMs: WORKFLOW_JOB_INTERVAL_MS,
  run: (app) => processDeadlines(app),
  nextDue: (app) => nextDeadline(app),
};

export const eventSweepJob: Job<EngineApp> = {
  name: 'event-sweep',
  intervalMs: WORKFLOW_JOB_INTERVAL_MS,
  run: (app) => sweepEvents(app),
};
