import type { FastifyInstance } from 'fastify';
import { auditLog, recordHistory } from '../../history/read.js';
import { appOf, callerOf, hooks, type Services } from '../context.js';

type RecordParams = { Params: { app: string; entity: string; id: string }; Querystring: Record<string, unknown> };

/** GET /api/:app/:entity/:id/_history and GET /api/:app/_admin/history (spec: history.md). */
export async function historyRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const h = hooks(services);
  app.get<{ Querystring: Record<string, unknown> }>('/api/:app/_admin/history', { onRequest: h.admin }, async (req) =>
    auditLog({ app: appOf(req), caller: callerOf(req) }, req.query),
  );
  app.get<RecordParams>('/api/:app/:entity/:id/_history', { onRequest: h.user }, async (req) =>
    recordHistory({ app: appOf(req), caller: callerOf(req) }, req.params.entity, req.params.id, req.query),
  );
}
