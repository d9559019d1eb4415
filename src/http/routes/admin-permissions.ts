import type { FastifyInstance } from 'fastify';
import { createPermission, deletePermission, getPermission, listPermissions, updatePermission } from '../../auth/permission-admin.js';
import { bodyOf } from '../body.js';
import type { Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

/** /api/:app/_admin/permissions: permission policies (admin only). */
export async function adminPermissionsRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  adminResourceRoutes(
    app,
    'permissions',
    {
      list: (rt) => listPermissions(rt.db),
      get: (rt, id) => getPermission(rt.db, id),
      create: (rt, body) => createPermission(rt, bodyOf(body)),
      update: (rt, id, body) => updatePermission(rt, id, bodyOf(body)),
      remove: (rt, id) => deletePermission(rt, id),
    },
    { collection: '_permissions' },
    true, // condition values beyond a double's digits (an int8's) are kept exact
  );
}
