import type { EntityMeta } from '../../metadata/registry.js';
import type { StageContext } from '../context.js';
import type { RowPlan } from './plan.js';

/**
 * A step of the write pipeline run over the inserted and updated rows of a
 * tree (top-level and nested, parents first) after field validation and
 * before any write SQL. The one-statement fast paths run no stage, so what a
 * stage `involves` is also what keeps an entity off them (see fast-path.ts):
 * a stage cannot be skipped by a fast path without saying so.
 */
export interface RowStage {
  readonly name: string;
  /** Whether rows of this entity may need the stage; depends on the metadata snapshot only. */
  involves(entity: EntityMeta): boolean;
  /**
   * For an involved entity, whether this row needs the stage (absent: every
   * inserted or updated row does). A row no involved stage needs may still
   * take a fast path.
   */
  needs?(row: RowPlan): boolean;
  /** Runs over the rows that need the stage (never empty); problems go to `sc.details`. */
  run(sc: StageContext, rows: readonly RowPlan[]): Promise<void>;
}

/** Whether the stage has work for this row of a write tree. */
export function stageApplies(stage: RowStage, row: RowPlan): boolean {
  return (row.op === 'insert' || row.op === 'update') && stage.involves(row.entity) && (stage.needs?.(row) ?? true);
}
