import { acceptInvite } from '../../auth/invites.js';
import { bodyObject } from '../body.js';
import { makeCaller } from '../../auth/caller.js';
import { recordChange } from '../../history/audit.js';
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
};
