import type { FastifyInstance } from 'fastify';
import { exportSchema } from '../../metadata/transfer.js';
import { auditedImport } from '../../history/audit.js';
import { appOf, callerOf, type Services } from '../context.js';

/** Import documents (a whole schema plus sample rows) may be larger than the usual JSON body. */
const IMPORT_BODY_LIMIT = 16 * 1024 * 1024;

/** /api/:app/_admin/export and /_admin/import */
export async function adminTransferRoutes(app: FastifyInstance, services: Services): Promise<void> {
  // Never below the server's own body limit: an operator who raised it for large payloads must not find the
  // import, the route meant for them, refusing what every other route accepts.
  const importBodyLimit = Math.max(app.initialConfig.bodyLimit ?? 0, IMPORT_BODY_LIMIT);
  // exactReplies: a rule threshold beyond a double's digits is written as the number it is, whatever the app's fields.
  app.get('/export', { config: { exactReplies: true } }, async (req) => {
    const rt = appOf(req);
    return { data: await exportSchema(rt, rt.extensions.transferSections) };
  });
  // exactNumbers: sample rows keep numbers a double would round (importSchema reads the metadata as plain numbers).
  app.post('/import', { bodyLimit: importBodyLimit, config: { exactNumbers: true } }, async (req) => {
    const rt = appOf(req);
    const caller = callerOf(req);
    const result = await auditedImport(rt, caller, req.body, services.realtime ? [services.realtime.sampleRows(rt.name, caller)] : []);
    services.realtime?.kick(rt);
    return { data: result };
  });
}
