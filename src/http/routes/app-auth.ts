import type { FastifyInstance } from 'fastify';
import { acceptInvite } from '../../auth/invites.js';
import { bodyObject } from '../body.js';
import { makeCaller } from '../../auth/caller.js';
import { recordChange } from '../../history/audit.js';
import { appOf, hooks, type Services } from '../context.js';
import type { RouteMessages } from '../errors.js';

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
  const invalidJson: RouteMessages = { invalidBody: 'Invalid JSON body' };
  app.post('/api/:app/auth/accept-invite', { onRequest: h.app, config: invalidJson }, async (req, reply) => {
    const rt = appOf(req);
    const accepted = await acceptInvite(rt, bodyObject(req, 'Invalid JSON body'));
    const { user } = accepted;
    // The invitee creates their own user.
    await recordChange(rt.db, makeCaller(user.id, user.roles, user.email), {
      collection: '_users',
      key: user.id,
      action: 'create',
      before: null,
      after: user,
    });
    return reply.status(201).send({ data: accepted });
  });
}
