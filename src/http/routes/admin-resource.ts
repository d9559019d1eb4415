import type { FastifyInstance } from 'fastify';
import type { AppRuntime } from '../../platform/app-runtime.js';
import { appOf, hooks, type Services } from '../context.js';

/** The five operations of an admin metadata collection, as engine functions. */
export interface AdminResource {
  list(app: AppRuntime): Promise<unknown>;
  get(app: AppRuntime, key: string): Promise<unknown>;
  create(app: AppRuntime, body: unknown): Promise<unknown>;
  update(app: AppRuntime, key: string, body: unknown): Promise<unknown>;
  remove(app: AppRuntime, key: string): Promise<unknown>;
}

type ByKey = { Params: { key: string } };

/**
 * Registers GET/POST `/api/:app/_admin/<name>` and GET/PUT/DELETE `…/<name>/:key`
 * (admin only); every admin collection of the spec has this shape.
 */
export function adminResourceRoutes(app: FastifyInstance, services: Services, name: string, r: AdminResource): void {
  const admin = { onRequest: hooks(services).admin };
  const base = `/api/:app/_admin/${name}`;
  app.get(base, admin, async (req) => ({ data: await r.list(appOf(req)) }));
  app.get<ByKey>(`${base}/:key`, admin, async (req) => ({ data: await r.get(appOf(req), req.params.key) }));
  app.post(base, admin, async (req, reply) => reply.status(201).send({ data: await r.create(appOf(req), req.body) }));
  app.put<ByKey>(`${base}/:key`, admin, async (req) => ({ data: await r.update(appOf(req), req.params.key, req.body) }));
  app.delete<ByKey>(`${base}/:key`, admin, async (req) => ({ data: await r.remove(appOf(req), req.params.key) }));
}
