import type { EngineApp } from '../engine/context.js';
import type { Job } from '../jobs/runner.js';
import { sweepEvents } from './events.js';
import { processDeadlines } from './runtime.js';

/**
 * Background work of workflows (spec: multi-app.md §Background jobs): about
 * every 60 s, for every live app, time out approvals whose deadline passed
 * and pick up event rows a crash left pending. Both claim their rows in the
 * database, so several servers on one database process each item once.
 */

export const WORKFLOW_JOB_INTERVAL_MS = 60_000;

export const workflowDeadlineJob: Job<EngineApp> = {
  name: 'workflow-deadlines',
  intervalMs: WORKFLOW_JOB_INTERVAL_MS,
  run: (app) => processDeadlines(app),
};

export const eventSweepJob: Job<EngineApp> = {
  name: 'event-sweep',
  intervalMs: WORKFLOW_JOB_INTERVAL_MS,
  run: (app) => sweepEvents(app),
};
