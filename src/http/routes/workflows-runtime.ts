import type { FastifyInstance } from 'fastify';
import { decide, deleteInstance, getInstance, pendingInstances } from '../../workflows/runtime.js';
import { appOf, callerOf, hooks, type Services } from '../context.js';

type ById = { Params: { id: string } };

/** /api/:app/_workflows (spec: workflows.md §Runtime endpoints). Registered before the record routes. */
export async function workflowRuntimeRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const h = hooks(services);
  const user = { onRequest: h.user };
  const admin = { onRequest: h.admin };
  app.get('/api/:app/_workflows/pending', user, async (req) => ({ data: await pendingInstances(appOf(req), callerOf(req)) }));
  app.get<ById>('/api/:app/_workflows/:id', user, async (req) => ({ data: await getInstance(appOf(req), req.params.id) }));
  app.post<ById>('/api/:app/_workflows/:id/approve', user, async (req) => ({
    data: await decide(appOf(req), callerOf(req), req.params.id, 'approved'),
  }));
  app.post<ById>('/api/:app/_workflows/:id/reject', user, async (req) => ({
    data: await decide(appOf(req), callerOf(req), req.params.id, 'rejected'),
  }));
  app.delete<ById>('/api/:app/_workflows/:id', admin, async (req) => ({ data: await deleteInstance(appOf(req), req.params.id) }));
}
