import type { FastifyInstance } from 'fastify';
import {
  createPermission,
  deletePermission,
  getPermission,
  listPermissions,
  updatePermission,
} from '../../auth/permission-admin.js';
import { bodyObject } from '../body.js';
import { appOf, hooks, type Services } from '../context.js';

type IdParams = { Params: { app: string; id: string } };

/** /api/:app/_admin/permissions: permission policies (admin only). */
export async function adminPermissionsRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { admin } = hooks(services);
  const base = '/api/:app/_admin/permissions';

  app.get(base, { onRequest: admin }, async (req) => ({ data: await listPermissions(appOf(req).db) }));
  app.get<IdParams>(`${base}/:id`, { onRequest: admin }, async (req) => ({
    data: await getPermission(appOf(req).db, req.params.id),
  }));
  app.post(base, { onRequest: admin }, async (req, reply) => {
    const created = await createPermission(appOf(req), bodyObject(req));
    return reply.status(201).send({ data: created });
  });
  app.put<IdParams>(`${base}/:id`, { onRequest: admin }, async (req) => {
    const rt = appOf(req);
    await getPermission(rt.db, req.params.id); // 404 before the body is looked at
    return { data: await updatePermission(rt, req.params.id, bodyObject(req)) };
  });
  app.delete<IdParams>(`${base}/:id`, { onRequest: admin }, async (req) => ({
    data: await deletePermission(appOf(req), req.params.id),
  }));
}
