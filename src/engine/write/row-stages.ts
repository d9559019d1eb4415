import { runRules } from '../rules.js';
import { runStateMachines } from '../state-machine.js';
import { canonicalTimestamps, envRecordOf, type StageContext } from '../context.js';
import { prefixDetails, type RowPlan } from './plan.js';
import type { RowStage } from './stages.js';
import { slugStage } from './slug.js';
import { fileStage } from './files.js';

/** Field, expression and computed rules of the row's entity (spec: rules.md). */
const rulesStage: RowStage = {
  name: 'rules',
  involves: (entity) => entity.rules.field.length + entity.rules.expression.length + entity.rules.computed.length > 0,
  async run(sc: StageContext, rows: readonly RowPlan[]) {
    for (const row of rows) {
      const found: typeof sc.details = [];
      canonicalTimestamps(row.entity, row.record);
      await runRules(
        sc.tx,
        sc.caller,
        new Date(sc.now),
        {
          entity: row.entity,
          record: row.record,
          old: row.current ? envRecordOf(row.entity, row.current) : null,
          pk: row.current?.[row.entity.pk.name],
          action: row.op === 'insert' ? 'create' : 'update',
          values: row.values,
          files: row.files,
        },
        found,
      );
      sc.details.push(...prefixDetails(row.path, found));
    }
  },
};

/** Initial states, transitions, roles, guards and actions (spec: state-machines.md). */
const stateMachineStage: RowStage = {
  name: 'state machines',
  involves: (entity) => entity.machines.length > 0,
  async run(sc: StageContext, rows: readonly RowPlan[]) {
    for (const row of rows) {
      canonicalTimestamps(row.entity, row.record);
      await runStateMachines(sc, row);
    }
  },
};

/**
 * Every stage of the write pipeline, in the order it runs before write SQL.
 * Slugs follow state machines (an action may set the slug's source); file
 * references are resolved last.
 */
export const ROW_STAGES: readonly RowStage[] = [rulesStage, stateMachineStage, slugStage, fileStage];
