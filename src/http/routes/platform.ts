import type { FastifyInstance } from 'fastify';
import { bodyObject } from '../body.js';
import { hooks, type Services } from '../context.js';

/** /api/_platform/*: platform auth and app management. */
export async function platformRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const h = hooks(services);
  const { sessions } = services.platform;

  app.post('/api/_platform/auth/login', async (req) => ({ data: await sessions.login(bodyObject(req)) }));
  app.post('/api/_platform/auth/refresh', async (req) => ({ data: await sessions.refresh(bodyObject(req)) }));
  app.post('/api/_platform/auth/logout', async (req) => {
    await sessions.logout(bodyObject(req));
    return { message: 'Logged out' };
  });

  app.get('/api/_platform/apps', { onRequest: h.platformAdmin }, async () => ({ data: await services.apps.list() }));
  app.post('/api/_platform/apps', { onRequest: h.platformAdmin }, async (req, reply) => {
    const created = await services.apps.create(bodyObject(req));
    return reply.status(201).send({ data: created });
  });
  app.get<{ Params: { name: string } }>('/api/_platform/apps/:name', { onRequest: h.platformAdmin }, async (req) => ({
    data: await services.apps.find(req.params.name),
  }));
  app.delete<{ Params: { name: string } }>('/api/_platform/apps/:name', { onRequest: h.platformAdmin }, async (req) => {
    await services.apps.delete(req.params.name);
    return { message: 'App deleted' };
  });
  app.get('/api/_platform/ai/status', { onRequest: h.platformAdmin }, async () => ({
    data: { configured: false, model: '' },
  }));
}
