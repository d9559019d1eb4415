import type { FastifyInstance } from 'fastify';
import { createPermission, deletePermission, getPermission, listPermissions, updatePermission } from '../../auth/permission-admin.js';
import { withoutTimestamps } from '../../history/audit.js';
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
    { collection: '_permissions', view: loggedPermission },
    true, // condition values beyond a double's digits (an int8's) are kept exact
  );
}

/**
 * A permission as the audit log holds it: as POST and PUT answer it (`conditions` left out when empty). GET
 * answers `conditions: []`, and the `from` of an update or delete is read by GET: without this an update of
 * the roles alone would log its conditions as changed too.
 */
function loggedPermission(item: unknown): unknown {
  const view = withoutTimestamps(item);
  if (view === null || typeof view !== 'object' || Array.isArray(view)) return view;
  const { conditions, ...rest } = view as Record<string, unknown>;
  return Array.isArray(conditions) && conditions.length === 0 ? rest : view;
}
