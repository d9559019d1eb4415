import type { ErrorDetail } from '../../errors.js';
import type { OpContext, Record_ } from '../context.js';
import type { RowPlan } from './plan.js';
import type { Exec } from './execute.js';

/** What a pipeline stage sees: the operation, its transaction, the clock of the write, what was written. */
export interface StageContext extends OpContext, Exec {
  /** Problems found so far in this tree; a stage adds to them and the pipeline throws one 422. */
  details: ErrorDetail[];
  /** Post-commit effects recorded by this write; stored in the same transaction. */
  outbox: OutboxEntry[];
  /** Creates a record of another entity in this transaction, through the whole pipeline, as the system actor. */
  createRecord(entity: string, body: Record_, pathPrefix: string): Promise<Record_>;
}

export type OutboxEntry =
  | { kind: 'webhook'; payload: { url: string; method: string; body: Record_ } }
  | { kind: 'event'; payload: { event: string; entity: string; record_id: unknown; record: Record_; old: Record_ | null } };

/**
 * A step of the write pipeline run for every row of the tree (top-level and
 * nested) after field validation and before any write SQL. Stages are
 * registered in order; a stage with nothing to do for an entity returns at once.
 */
export interface RowStage {
  readonly name: string;
  run(ctx: StageContext, row: RowPlan): Promise<void> | void;
}

