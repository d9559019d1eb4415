import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RocketError } from '../../errors.js';
import { listQueryFromParams } from '../../engine/query.js';
import { getRecord, listRecords } from '../../engine/read.js';
import { createRecord, updateRecord } from '../../engine/write/pipeline.js';
import { deleteRecord } from '../../engine/write/pipeline.js';
import { attachIncludes, parseIncludes } from '../../engine/includes.js';
import { entityOf, type OpContext, type Record_ } from '../../engine/context.js';
import { RESERVED_ENTITY_NAMES } from '../../metadata/types.js';
import { appOf, callerOf, hooks, type Services } from '../context.js';

type EntityParams = { Params: { app: string; entity: string }; Querystring: Record<string, unknown> };
type RecordParams = { Params: { app: string; entity: string; id: string }; Querystring: Record<string, unknown> };

const JSON_BODY = { invalidBody: 'Invalid JSON body' };

function ctxOf(req: FastifyRequest<{ Params: { entity: string } }>): OpContext {
  // Reserved prefixes with no route of their own are unknown routes, not entities.
  if (RESERVED_ENTITY_NAMES.has(req.params.entity)) {
    throw new RocketError('NOT_FOUND', `Route not found: ${req.method} ${req.url.split('?')[0]}`);
  }
  return { app: appOf(req), caller: callerOf(req) };
}

/** `include=` on a write response: the written relations, read back after commit. */
async function withIncludes(ctx: OpContext, entity: string, record: Record_, include: unknown): Promise<Record_> {
  if (typeof include !== 'string' || include === '') return record;
  const meta = entityOf(ctx.app, entity);
  await attachIncludes(ctx, meta, [record], parseIncludes(meta, include, ctx));
  return record;
}

/** The dynamic CRUD routes: /api/:app/:entity[/:id]. Registered last. */
export async function recordRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const user = { onRequest: hooks(services).user };
  const withBody = { ...user, config: JSON_BODY };

  app.get<EntityParams>('/api/:app/:entity', user, async (req) =>
    listRecords(ctxOf(req), req.params.entity, listQueryFromParams(req.query)),
  );
  app.get<RecordParams>('/api/:app/:entity/:id', user, async (req) => ({
    data: await getRecord(ctxOf(req), req.params.entity, req.params.id, listQueryFromParams(req.query).include),
  }));
  app.post<EntityParams>('/api/:app/:entity', withBody, async (req, reply) => {
    const ctx = ctxOf(req);
    const record = await createRecord(ctx, req.params.entity, req.body);
    return reply.status(201).send({ data: await withIncludes(ctx, req.params.entity, record, req.query.include) });
  });
  app.put<RecordParams>('/api/:app/:entity/:id', withBody, async (req) => {
    const ctx = ctxOf(req);
    const record = await updateRecord(ctx, req.params.entity, req.params.id, req.body);
    return { data: await withIncludes(ctx, req.params.entity, record, req.query.include) };
  });
  app.delete<RecordParams>('/api/:app/:entity/:id', user, async (req) => ({
    data: await deleteRecord(ctxOf(req), req.params.entity, req.params.id),
  }));
}
