import { entityOf, type OpContext } from './context.js';
import { deleteRows } from './cascade.js';
import { findRecord, recordNotFound } from './read.js';

/** DELETE /:entity/:id — permission against the current row, cascades, then the row itself; one transaction. */
export async function deleteRecord(ctx: OpContext, entityName: string, id: string): Promise<{ id: string }> {
  const entity = entityOf(ctx.app, entityName);
  await ctx.app.db.transaction(async (tx) => {
    const current = await findRecord(tx, entity, id, { forUpdate: true });
    if (!current) throw recordNotFound(entity, id);
    ctx.app.permissions.check(ctx.caller, entity.name, 'delete', current);
    await deleteRows(tx, entity, [current[entity.pk.name]], new Date().toISOString());
  });
  return { id };
}
