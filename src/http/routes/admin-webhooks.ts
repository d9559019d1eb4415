import type { FastifyInstance } from 'fastify';
import * as webhooks from '../../webhooks/admin.js';
import * as logs from '../../webhooks/logs.js';
import { appOf, type Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

type ById = { Params: { id: string } };

/** /api/:app/_admin/webhooks and /api/:app/_admin/webhook-logs */
export async function adminWebhookRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  adminResourceRoutes(
    app,
    'webhooks',
    {
      list: webhooks.listWebhooks,
      get: webhooks.getWebhook,
      create: webhooks.createWebhook,
      update: webhooks.updateWebhook,
      remove: webhooks.deleteWebhook,
    },
    { collection: '_webhooks' },
  );

  app.get<{ Querystring: Record<string, unknown> }>('/webhook-logs', async (req) => ({
    data: await logs.listLogs(appOf(req).db, req.query),
  }));
  app.get<ById>('/webhook-logs/:id', async (req) => ({ data: await logs.getLog(appOf(req).db, req.params.id) }));
  app.post<ById>('/webhook-logs/:id/retry', async (req) => ({
    data: await logs.retryLog(appOf(req).db, req.params.id),
  }));
}
