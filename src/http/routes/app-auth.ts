import type { FastifyRequest } from 'fastify';
import { acceptInvite } from '../../auth/invites.js';
import { bodyObject } from '../body.js';
import { inviteAcceptance } from '../../history/audit.js';
import { type Area, appOf } from '../context.js';
import { routeNotFound, type RouteMessages } from '../errors.js';

/** /api/:app/auth/*: the app's own users log in here (no token needed). */
export const appAuthArea: Area = async (app) => {
  app.post('/login', async (req) => ({
    data: await appOf(req).sessions.login(bodyObject(req)),
  }));
  app.post('/refresh', async (req) => ({
    data: await appOf(req).sessions.refresh(bodyObject(req)),
  }));
  app.post('/logout', async (req) => {
    await appOf(req).sessions.logout(bodyObject(req));
    return { message: 'Logged out' };
  });
  const invalidJson: RouteMessages = { invalidBody: 'Invalid JSON body' };
  app.post('/accept-invite', { config: invalidJson }, async (req, reply) => {
    const accepted = await acceptInvite(appOf(req), bodyObject(req, 'Invalid JSON body'), inviteAcceptance);
    return reply.status(201).send({ data: accepted });
  });
  // The prefix is public: any other method or path under it is an unknown route, answered before a token is asked
  // for (the dynamic /:entity routes would otherwise take it and answer 401), as under /api/_platform/auth.
  const unknownRoute = async (req: FastifyRequest) => {
    throw routeNotFound(req);
  };
  for (const url of ['', '/*']) app.route({ method: ['GET', 'POST', 'PUT', 'DELETE'], url, onRequest: unknownRoute, handler: unknownRoute });
};
