import { bodyObject } from '../body.js';
import { type Area, requirePlatformAdmin } from '../context.js';
import { platformOpenapiRoutes } from './openapi.js';

/** /api/_platform/*: platform auth (public), then app management and the platform's OpenAPI document (platform admins). */
export const platformArea: Area = async (area, { services }) => {
  const { sessions } = services.platform;

  area.post('/auth/login', async (req) => ({ data: await sessions.login(bodyObject(req)) }));
  area.post('/auth/refresh', async (req) => ({ data: await sessions.refresh(bodyObject(req)) }));
  area.post('/auth/logout', async (req) => {
    await sessions.logout(bodyObject(req));
    return { message: 'Logged out' };
  });

  await area.register(async (app) => {
    requirePlatformAdmin(app, services);
    app.get('/apps', async () => ({ data: await services.apps.list() }));
    app.post('/apps', async (req, reply) => {
      const created = await services.apps.create(bodyObject(req));
      return reply.status(201).send({ data: created });
    });
    app.get<{ Params: { name: string } }>('/apps/:name', async (req) => ({
      data: await services.apps.find(req.params.name),
    }));
    app.delete<{ Params: { name: string } }>('/apps/:name', async (req) => {
      await services.apps.delete(req.params.name);
      return { message: 'App deleted' };
    });
    app.get('/ai/status', async () => ({
      data: { configured: false, model: '' },
    }));
    platformOpenapiRoutes(app);
  });
};
