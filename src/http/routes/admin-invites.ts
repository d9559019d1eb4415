import type { FastifyInstance } from 'fastify';
import { bulkInvite, createInvite, deleteInvite, listInvites } from '../../auth/invites.js';
import { bodyObject } from '../body.js';
import { appOf, callerOf, hooks, type Services } from '../context.js';

/** /api/:app/_admin/invites: invite users by email (admin only). Accepting is in app-auth.ts. */
export async function adminInvitesRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { admin } = hooks(services);
  const base = '/api/:app/_admin/invites';

  app.get(base, { onRequest: admin }, async (req) => ({ data: await listInvites(appOf(req).db) }));
  app.post(base, { onRequest: admin }, async (req, reply) => {
    const created = await createInvite(appOf(req).db, callerOf(req).id, bodyObject(req));
    return reply.status(201).send({ data: created });
  });
  app.post(`${base}/bulk`, { onRequest: admin }, async (req) => ({
    data: await bulkInvite(appOf(req).db, callerOf(req).id, bodyObject(req)),
  }));
  app.delete<{ Params: { app: string; id: string } }>(`${base}/:id`, { onRequest: admin }, async (req) => ({
    data: await deleteInvite(appOf(req).db, req.params.id),
  }));
}
