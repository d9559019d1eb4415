import type { FastifyInstance } from 'fastify';
import * as ui from '../../metadata/ui-configs-admin.js';
import { type Area, appOf, type Services, withAccess } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

type ByEntity = { Params: { entity: string } };

/** /api/:app/_admin/ui-configs (spec: metadata.md §8), in the admin area. */
export async function uiConfigAdminRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  adminResourceRoutes(
    app,
    'ui-configs',
    {
      list: ui.listUIConfigs,
      get: ui.getUIConfig,
      create: ui.createUIConfig,
      update: ui.updateUIConfig,
      remove: ui.deleteUIConfig,
    },
    { collection: '_ui_configs' },
  );
}

/** /api/:app/_ui/*: the default UI configs any caller of the app may read. */
export const uiArea: Area = async (area, { services }) =>
  withAccess(area, services, 'user', (app) => {
    app.get('/configs', async (req) => ({ data: await ui.defaultUIConfigs(appOf(req)) }));
    app.get<ByEntity>('/config/:entity', async (req) => ({
      data: await ui.defaultUIConfig(appOf(req), req.params.entity),
    }));
  });
