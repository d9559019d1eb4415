import type { FastifyInstance } from 'fastify';
import * as meta from '../../metadata/admin.js';
import { bodyObject } from '../body.js';
import { appOf, hooks, type Services } from '../context.js';

type Named = { Params: { name: string } };

/** /api/:app/_admin/entities and /_admin/relations. */
export async function adminMetadataRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const admin = { onRequest: hooks(services).admin };

  app.get('/api/:app/_admin/entities', admin, async (req) => ({ data: await meta.listEntities(appOf(req)) }));
  app.get<Named>('/api/:app/_admin/entities/:name', admin, async (req) => ({
    data: await meta.getEntity(appOf(req), req.params.name),
  }));
  app.post('/api/:app/_admin/entities', admin, async (req, reply) =>
    reply.status(201).send({ data: await meta.createEntity(appOf(req), bodyObject(req)) }),
  );
  app.put<Named>('/api/:app/_admin/entities/:name', admin, async (req) => ({
    data: await meta.updateEntity(appOf(req), req.params.name, bodyObject(req)),
  }));
  app.delete<Named>('/api/:app/_admin/entities/:name', admin, async (req) => ({
    data: await meta.deleteEntity(appOf(req), req.params.name),
  }));

  app.get('/api/:app/_admin/relations', admin, async (req) => ({ data: await meta.listRelations(appOf(req)) }));
  app.get<Named>('/api/:app/_admin/relations/:name', admin, async (req) => ({
    data: await meta.getRelation(appOf(req), req.params.name),
  }));
  app.post('/api/:app/_admin/relations', admin, async (req, reply) =>
    reply.status(201).send({ data: await meta.createRelation(appOf(req), bodyObject(req)) }),
  );
  app.put<Named>('/api/:app/_admin/relations/:name', admin, async (req) => ({
    data: await meta.updateRelation(appOf(req), req.params.name, bodyObject(req)),
  }));
  app.delete<Named>('/api/:app/_admin/relations/:name', admin, async (req) => ({
    data: await meta.deleteRelation(appOf(req), req.params.name),
  }));
}
