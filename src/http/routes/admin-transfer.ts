import type { FastifyInstance } from 'fastify';
import { exportSchema } from '../../metadata/transfer.js';
import { auditedImport } from '../../history/audit.js';
import { appOf, callerOf, type Services } from '../context.js';

/** /api/:app/_admin/export and /_admin/import */
export async function adminTransferRoutes(app: FastifyInstance, services: Services): Promise<void> {
  // exactReplies: a rule threshold beyond a double's digits is written as the number it is, whatever the app's fields.
  app.get('/export', { config: { exactReplies: true } }, async (req) => {
    const rt = appOf(req);
    return { data: await exportSchema(rt, rt.extensions.transferSections) };
  });
  // exactNumbers: sample rows keep numbers a double would round (importSchema reads the metadata as plain numbers).
  app.post('/import', { bodyLimit: 16 * 1024 * 1024, config: { exactNumbers: true } }, async (req) => {
    const rt = appOf(req);
    const caller = callerOf(req);
    const result = await auditedImport(rt, caller, req.body, services.realtime ? [services.realtime.sampleRows(rt.name, caller)] : []);
    services.realtime?.kick(rt);
    return { data: result };
  });
}
