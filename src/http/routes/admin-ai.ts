import type { FastifyInstance } from 'fastify';
import type { Services } from '../context.js';

/**
 * /api/:app/_admin/ai/status: the AI schema generator is out of scope, but
 * clients written for the legacy API ask before showing it, so the route
 * answers "not configured" exactly like the platform one.
 */
export async function adminAiRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  app.get('/ai/status', async () => ({
    data: { configured: false, model: '' },
  }));
}
