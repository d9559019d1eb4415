import { runRules } from '../rules.js';
import { runStateMachines } from '../state-machine.js';
import { recordOf } from '../read.js';
import { prefixDetails, type RowPlan } from './plan.js';
import type { RowStage, StageContext } from './stages.js';

/** Field, expression and computed rules of the row's entity (spec: rules.md). */
const rulesStage: RowStage = {
  name: 'rules',
  async run(sc: StageContext, row: RowPlan) {
    const found: typeof sc.details = [];
    await runRules(sc.tx, sc.caller, new Date(sc.now), {
      entity: row.entity,
      record: row.record,
      old: row.current ? recordOf(row.entity, row.current) : null,
      pk: row.current?.[row.entity.pk.name],
      action: row.op === 'insert' ? 'create' : 'update',
      values: row.values,
    }, found);
    sc.details.push(...prefixDetails(row.path, found));
  },
};

/** Initial states, transitions, roles, guards and actions (spec: state-machines.md). */
const stateMachineStage: RowStage = { name: 'state machines', run: runStateMachines };

/** Pipeline stages run for every inserted or updated row, in this order, before write SQL. */
export const ROW_STAGES: readonly RowStage[] = [rulesStage, stateMachineStage];
