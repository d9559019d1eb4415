import type { EngineApp, OpContext } from '../context.js';
import type { EntityMeta } from '../../metadata/registry.js';
import type { WriteEvent } from './execute.js';
import type { StageContext } from './stages.js';
import type { InlineCapture } from './inline.js';

/**
 * Something that reacts to the rows a request wrote: synchronous webhooks
 * (inside the transaction, may veto), outbox rows, and post-commit work such
 * as async webhook delivery and workflow starts. Observers see every write,
 * top-level or nested, create, update or delete. Features do not register
 * themselves: the composition root (rocket.ts) lists them in the app's
 * `EngineExtensions`, and they run in that order.
 */
export interface WriteObserver {
  readonly name: string;
  /** Whether writes of this entity concern the observer at all; absent means always. An involved entity takes no fast path (fast-path.ts). */
  involves?(app: EngineApp, entity: EntityMeta): Promise<boolean>;
  /**
   * For an entity the observer does not `involve`: its capture as part of a
   * one-statement fast-path write (undefined: nothing to capture). Asked once
   * per metadata snapshot; observers that capture this way also see the
   * general path's writes in `beforeCommit`.
   */
  inline?(app: EngineApp, entity: EntityMeta): Promise<InlineCapture | undefined>;
  /** After all SQL of the write, before COMMIT; throwing aborts the write. */
  beforeCommit?(sc: StageContext, writes: readonly WriteEvent[]): Promise<void>;
  /** After COMMIT, with the connection released; awaited before the response, never fails the request. */
  afterCommit?(ctx: OpContext, writes: readonly WriteEvent[]): Promise<void>;
  /** After the transaction failed and rolled back, with the connection released; awaited before the error is thrown on. */
  afterRollback?(ctx: OpContext, writes: readonly WriteEvent[], error: unknown): Promise<void>;
}
