import type { FastifyInstance } from 'fastify';
import { exportSchema } from '../../metadata/transfer.js';
import { auditedImport } from '../../history/audit.js';
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
    const result = await auditedImport(rt, caller, req.body, services.realtime ? [services.realtime.sampleRows(rt.name, caller)] : []);
    services.realtime?.kick(rt);
    return { data: result };
  });
}
