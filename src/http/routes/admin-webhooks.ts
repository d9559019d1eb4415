import type { FastifyInstance } from 'fastify';
import * as webhooks from '../../webhooks/admin.js';
import * as logs from '../../webhooks/logs.js';
import { appOf, hooks, type Services } from '../context.js';

type ById = { Params: { id: string } };

/** /api/:app/_admin/webhooks and /api/:app/_admin/webhook-logs */
export async function adminWebhookRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const admin = { onRequest: hooks(services).admin };
  app.get('/api/:app/_admin/webhooks', admin, async (req) => ({ data: await webhooks.listWebhooks(appOf(req)) }));
  app.get<ById>('/api/:app/_admin/webhooks/:id', admin, async (req) => ({ data: await webhooks.getWebhook(appOf(req), req.params.id) }));
  app.post('/api/:app/_admin/webhooks', admin, async (req, reply) =>
    reply.status(201).send({ data: await webhooks.createWebhook(appOf(req), req.body) }),
  );
  app.put<ById>('/api/:app/_admin/webhooks/:id', admin, async (req) => ({
    data: await webhooks.updateWebhook(appOf(req), req.params.id, req.body),
  }));
  app.delete<ById>('/api/:app/_admin/webhooks/:id', admin, async (req) => ({
    data: await webhooks.deleteWebhook(appOf(req), req.params.id),
  }));

  app.get<{ Querystring: Record<string, unknown> }>('/api/:app/_admin/webhook-logs', admin, async (req) => ({
    data: await logs.listLogs(appOf(req).db, req.query),
  }));
  app.get<ById>('/api/:app/_admin/webhook-logs/:id', admin, async (req) => ({ data: await logs.getLog(appOf(req).db, req.params.id) }));
  app.post<ById>('/api/:app/_admin/webhook-logs/:id/retry', admin, async (req) => ({
    data: await logs.retryLog(appOf(req).db, req.params.id),
  }));
}
