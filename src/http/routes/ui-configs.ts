import type { FastifyInstance } from 'fastify';
import * as ui from '../../metadata/ui-configs-admin.js';
import { appOf, hooks, type Services } from '../context.js';

type ById = { Params: { id: string } };
type ByEntity = { Params: { entity: string } };

/** /api/:app/_admin/ui-configs and /api/:app/_ui/* (spec: metadata.md §8) */
export async function uiConfigRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const h = hooks(services);
  const admin = { onRequest: h.admin };
  const user = { onRequest: h.user };
  app.get('/api/:app/_admin/ui-configs', admin, async (req) => ({ data: await ui.listUIConfigs(appOf(req)) }));
  app.get<ById>('/api/:app/_admin/ui-configs/:id', admin, async (req) => ({ data: await ui.getUIConfig(appOf(req), req.params.id) }));
  app.post('/api/:app/_admin/ui-configs', admin, async (req, reply) =>
    reply.status(201).send({ data: await ui.createUIConfig(appOf(req), req.body) }),
  );
  app.put<ById>('/api/:app/_admin/ui-configs/:id', admin, async (req) => ({
    data: await ui.updateUIConfig(appOf(req), req.params.id, req.body),
  }));
  app.delete<ById>('/api/:app/_admin/ui-configs/:id', admin, async (req) => ({
    data: await ui.deleteUIConfig(appOf(req), req.params.id),
  }));

  app.get('/api/:app/_ui/configs', user, async (req) => ({ data: await ui.defaultUIConfigs(appOf(req)) }));
  app.get<ByEntity>('/api/:app/_ui/config/:entity', user, async (req) => ({
    data: await ui.defaultUIConfig(appOf(req), req.params.entity),
  }));
}
