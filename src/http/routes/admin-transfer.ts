import type { FastifyInstance } from 'fastify';
import { allSampleRowHooks, exportSchema, importSchema } from '../../metadata/transfer.js';
import { recordChange, sampleRowHistory } from '../../history/audit.js';
import { appOf, callerOf, type Services } from '../context.js';

/** /api/:app/_admin/export and /_admin/import */
export async function adminTransferRoutes(app: FastifyInstance, services: Services): Promise<void> {
  app.get('/export', async (req) => {
    const rt = appOf(req);
    return { data: await exportSchema(rt, rt.extensions.transferSections) };
  });
  app.post('/import', { bodyLimit: 16 * 1024 * 1024 }, async (req) => {
    const rt = appOf(req);
    const caller = callerOf(req);
    const hooks = [sampleRowHistory(caller), ...(services.realtime ? [services.realtime.sampleRows(rt.name, caller)] : [])];
    const result = await importSchema(rt, rt.extensions.transferSections, req.body, allSampleRowHooks(hooks), (change) =>
      recordChange(rt.db, caller, change),
    );
    services.realtime?.kick(rt);
    // An import is many operations, not one transaction: its summary is logged once it is done.
    await recordChange(rt.db, callerOf(req), { collection: '_import', key: null, action: 'create', before: null, after: result.summary });
    return { data: result };
  });
}
