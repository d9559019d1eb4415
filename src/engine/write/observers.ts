import type { OpContext } from '../context.js';
import type { WriteEvent } from './execute.js';
import type { StageContext } from './stages.js';
import { workflowObserver } from '../../workflows/observer.js';
import { webhookObserver } from '../../webhooks/observer.js';

/**
 * Something that reacts to the rows a request wrote: synchronous webhooks
 * (inside the transaction, may veto), outbox rows, and post-commit work such
 * as async webhook delivery and workflow starts. Observers see every write,
 * top-level or nested, create, update or delete.
 */
export interface WriteObserver {
  readonly name: string;
  /** After all SQL of the write, before COMMIT; throwing aborts the write. */
  beforeCommit?(sc: StageContext, writes: readonly WriteEvent[]): Promise<void>;
  /** After COMMIT, with the connection released; awaited before the response, never fails the request. */
  afterCommit?(ctx: OpContext, writes: readonly WriteEvent[]): Promise<void>;
  /** After the transaction failed and rolled back, with the connection released; awaited before the error is thrown on. */
  afterRollback?(ctx: OpContext, writes: readonly WriteEvent[], error: unknown): Promise<void>;
}

/** Observers in the order they run. Features add themselves here. */
export const WRITE_OBSERVERS: WriteObserver[] = [workflowObserver, webhookObserver];
