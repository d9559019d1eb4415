import type { FastifyInstance } from 'fastify';
import * as rules from '../../metadata/rules-admin.js';
import { appOf, hooks, type Services } from '../context.js';

type ById = { Params: { id: string } };

/** /api/:app/_admin/rules */
export async function adminRulesRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const admin = { onRequest: hooks(services).admin };
  app.get('/api/:app/_admin/rules', admin, async (req) => ({ data: await rules.listRules(appOf(req)) }));
  app.get<ById>('/api/:app/_admin/rules/:id', admin, async (req) => ({ data: await rules.getRule(appOf(req), req.params.id) }));
  app.post('/api/:app/_admin/rules', admin, async (req, reply) =>
    reply.status(201).send({ data: await rules.createRule(appOf(req), req.body) }),
  );
  app.put<ById>('/api/:app/_admin/rules/:id', admin, async (req) => ({
    data: await rules.updateRule(appOf(req), req.params.id, req.body),
  }));
  app.delete<ById>('/api/:app/_admin/rules/:id', admin, async (req) => ({ data: await rules.deleteRule(appOf(req), req.params.id) }));
}
