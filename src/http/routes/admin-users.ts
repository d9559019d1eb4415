import type { FastifyInstance } from 'fastify';
import { createUser, deleteUser, getUser, listUsers, updateUser } from '../../auth/users.js';
import { bodyOf } from '../body.js';
import type { Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

/** /api/:app/_admin/users: the app's users (admin only). */
export async function adminUsersRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  adminResourceRoutes(
    app,
    'users',
    {
      list: (rt) => listUsers(rt.db),
      get: (rt, id) => getUser(rt.db, id),
      create: (rt, body) => createUser(rt, bodyOf(body)),
      update: (rt, id, body) => updateUser(rt, id, bodyOf(body)),
      remove: (rt, id) => deleteUser(rt, id),
    },
    { collection: '_users' },
  );
}
