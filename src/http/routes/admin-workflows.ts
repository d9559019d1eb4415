import type { FastifyInstance } from 'fastify';
import * as workflows from '../../workflows/admin.js';
import { appOf, hooks, type Services } from '../context.js';

type ById = { Params: { id: string } };

/** /api/:app/_admin/workflows (spec: workflows.md §Admin API) */
export async function adminWorkflowRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const admin = { onRequest: hooks(services).admin };
  app.get('/api/:app/_admin/workflows', admin, async (req) => ({ data: await workflows.listWorkflows(appOf(req)) }));
  app.get<ById>('/api/:app/_admin/workflows/:id', admin, async (req) => ({
    data: await workflows.getWorkflow(appOf(req), req.params.id),
  }));
  app.post('/api/:app/_admin/workflows', admin, async (req, reply) =>
    reply.status(201).send({ data: await workflows.createWorkflow(appOf(req), req.body) }),
  );
  app.put<ById>('/api/:app/_admin/workflows/:id', admin, async (req) => ({
    data: await workflows.updateWorkflow(appOf(req), req.params.id, req.body),
  }));
  app.delete<ById>('/api/:app/_admin/workflows/:id', admin, async (req) => ({
    data: await workflows.deleteWorkflow(appOf(req), req.params.id),
  }));
}
