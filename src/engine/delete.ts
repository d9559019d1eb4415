import { entityOf, type OpContext } from './context.js';
import { deleteRows } from './cascade.js';
import { findRecord, recordNotFound, recordOf } from './read.js';
import { runRules } from './rules.js';
import { RocketError, type ErrorDetail } from '../errors.js';

/** DELETE /:entity/:id — permission against the current row, cascades, then the row itself; one transaction. */
export async function deleteRecord(ctx: OpContext, entityName: string, id: string): Promise<{ id: string }> {
  const entity = entityOf(ctx.app, entityName);
  await ctx.app.db.transaction(async (tx) => {
    const current = await findRecord(tx, entity, id, { forUpdate: true });
    if (!current) throw recordNotFound(entity, id);
    ctx.app.permissions.check(ctx.caller, entity.name, 'delete', current);
    const now = new Date();
    const details: ErrorDetail[] = [];
    const record = recordOf(entity, current);
    await runRules(tx, ctx.caller, now, { entity, record, old: record, pk: current[entity.pk.name], action: 'delete' }, details);
    if (details.length) throw new RocketError('VALIDATION_FAILED', 'Validation failed', details);
    await deleteRows(tx, entity, [current[entity.pk.name]], now.toISOString());
  });
  return { id };
}
