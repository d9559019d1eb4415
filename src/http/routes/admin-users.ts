import type { FastifyInstance } from 'fastify';
import { createUser, deleteUser, getUser, listUsers, updateUser } from '../../auth/users.js';
import { bodyObject } from '../body.js';
import { appOf, hooks, type Services } from '../context.js';

type IdParams = { Params: { app: string; id: string } };

/** /api/:app/_admin/users: the app's users (admin only). */
export async function adminUsersRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { admin } = hooks(services);
  const base = '/api/:app/_admin/users';

  app.get(base, { onRequest: admin }, async (req) => ({ data: await listUsers(appOf(req).db) }));
  app.get<IdParams>(`${base}/:id`, { onRequest: admin }, async (req) => ({
    data: await getUser(appOf(req).db, req.params.id),
  }));
  app.post(base, { onRequest: admin }, async (req, reply) => {
    const created = await createUser(appOf(req), bodyObject(req));
    return reply.status(201).send({ data: created });
  });
  app.put<IdParams>(`${base}/:id`, { onRequest: admin }, async (req) => {
    const rt = appOf(req);
    await getUser(rt.db, req.params.id); // 404 before the body is looked at
    return { data: await updateUser(rt, req.params.id, bodyObject(req)) };
  });
  app.delete<IdParams>(`${base}/:id`, { onRequest: admin }, async (req) => ({
    data: await deleteUser(appOf(req), req.params.id),
  }));
}
