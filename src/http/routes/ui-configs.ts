import type { FastifyInstance } from 'fastify';
import * as ui from '../../metadata/ui-configs-admin.js';
import { appOf, hooks, type Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

type ByEntity = { Params: { entity: string } };

/** /api/:app/_admin/ui-configs and /api/:app/_ui/* (spec: metadata.md §8) */
export async function uiConfigRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const h = hooks(services);
  const user = { onRequest: h.user };
  adminResourceRoutes(
    app,
    services,
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

  app.get('/api/:app/_ui/configs', user, async (req) => ({ data: await ui.defaultUIConfigs(appOf(req)) }));
  app.get<ByEntity>('/api/:app/_ui/config/:entity', user, async (req) => ({
    data: await ui.defaultUIConfig(appOf(req), req.params.entity),
  }));
}
