import type { FastifyInstance } from 'fastify';
import { auditLog, recordHistory } from '../../history/read.js';
import { appOf, callerOf, type Services } from '../context.js';

type RecordParams = { Params: { app: string; entity: string; id: string }; Querystring: Record<string, unknown> };

/** GET /api/:app/_admin/history (spec: history.md), in the admin area. */
export async function auditLogRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  app.get<{ Querystring: Record<string, unknown> }>('/history', async (req) => auditLog({ app: appOf(req), caller: callerOf(req) }, req.query));
}

/** GET /api/:app/:entity/:id/_history (spec: history.md), in the records area's scope. */
export function recordHistoryRoutes(app: FastifyInstance): void {
  app.get<RecordParams>('/:entity/:id/_history', async (req) =>
    recordHistory({ app: appOf(req), caller: callerOf(req) }, req.params.entity, req.params.id, req.query),
  );
}
