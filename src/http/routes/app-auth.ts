import { acceptInvite } from '../../auth/invites.js';
import { bodyObject } from '../body.js';
import { inviteAcceptance } from '../../history/audit.js';
import { type Area, appOf } from '../context.js';
import type { RouteMessages } from '../errors.js';

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
};
