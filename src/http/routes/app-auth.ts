import type { FastifyInstance } from 'fastify';
import { bodyObject } from '../body.js';
import { appOf, hooks, type Services } from '../context.js';

/** /api/:app/auth/*: the app's own users log in here (no token needed). */
export async function appAuthRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const h = hooks(services);
  app.post('/api/:app/auth/login', { onRequest: h.app }, async (req) => ({
    data: await appOf(req).sessions.login(bodyObject(req)),
  }));
  app.post('/api/:app/auth/refresh', { onRequest: h.app }, async (req) => ({
    data: await appOf(req).sessions.refresh(bodyObject(req)),
  }));
  app.post('/api/:app/auth/logout', { onRequest: h.app }, async (req) => {
    await appOf(req).sessions.logout(bodyObject(req));
    return { message: 'Logged out' };
  });
}
