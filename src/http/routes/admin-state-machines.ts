import type { FastifyInstance } from 'fastify';
import * as sm from '../../metadata/state-machines-admin.js';
import { appOf, hooks, type Services } from '../context.js';

type ById = { Params: { id: string } };

/** /api/:app/_admin/state-machines */
export async function adminStateMachineRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const admin = { onRequest: hooks(services).admin };
  const base = '/api/:app/_admin/state-machines';
  app.get(base, admin, async (req) => ({ data: await sm.listStateMachines(appOf(req)) }));
  app.get<ById>(`${base}/:id`, admin, async (req) => ({ data: await sm.getStateMachine(appOf(req), req.params.id) }));
  app.post(base, admin, async (req, reply) => reply.status(201).send({ data: await sm.createStateMachine(appOf(req), req.body) }));
  app.put<ById>(`${base}/:id`, admin, async (req) => ({ data: await sm.updateStateMachine(appOf(req), req.params.id, req.body) }));
  app.delete<ById>(`${base}/:id`, admin, async (req) => ({ data: await sm.deleteStateMachine(appOf(req), req.params.id) }));
}
