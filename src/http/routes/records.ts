import type { FastifyRequest } from 'fastify';
import { routeNotFound } from '../errors.js';
import { listQueryFromParams, writeIncludeNames } from '../../engine/list-query.js';
import { getRecord, listRecords } from '../../engine/read.js';
import { createRecord, updateRecord } from '../../engine/write/pipeline.js';
import { deleteRecord } from '../../engine/write/pipeline.js';
import { attachIncludes, resolveIncludes, type Include } from '../../engine/includes.js';
import { entityOf, type OpContext, type Record_ } from '../../engine/context.js';
import { RESERVED_ENTITY_NAMES } from '../../metadata/types.js';
import { type Area, appOf, callerOf, withAccess } from '../context.js';
import { recordHistoryRoutes } from './history.js';

type EntityParams = { Params: { app: string; entity: string }; Querystring: Record<string, unknown> };
type RecordParams = { Params: { app: string; entity: string; id: string }; Querystring: Record<string, unknown> };

// The engine reads the body after the entity, record and permission checks (a body that was not JSON fails its object check then).
// Numbers stay exact: a decimal or bigint field stores the digits sent, not their nearest double.
const JSON_BODY = { invalidBody: 'Invalid JSON body', lateBody: true, exactNumbers: true };

function ctxOf(req: FastifyRequest<{ Params: { entity: string } }>): OpContext {
  // Reserved prefixes with no route of their own are unknown routes, not entities.
  if (RESERVED_ENTITY_NAMES.has(req.params.entity)) {
    throw routeNotFound(req);
  }
  return { app: appOf(req), caller: callerOf(req) };
}

/**
 * `include=` on a write response: the written relations, read back after commit. The names are
 * resolved before the write, so an unknown one is refused (400) without anything being written, and
 * after the entity, record and permission checks (a 404 or 403 comes first, as on a read).
 */
function writeIncludes(ctx: OpContext, entity: string, query: Record<string, unknown>): Include[] {
  const names = writeIncludeNames(query);
  return names.length === 0 ? [] : resolveIncludes(entityOf(ctx.app, entity), names, ctx);
}

async function withIncludes(ctx: OpContext, entity: string, record: Record_, includes: Include[]): Promise<Record_> {
  if (includes.length === 0) return record;
  await attachIncludes(ctx, entityOf(ctx.app, entity), [record], includes);
  return record;
}

/** The dynamic CRUD routes /api/:app/:entity[/:id] and a record's history. Registered last. */
export const recordsArea: Area = async (area, { services }) =>
  withAccess(area, services, 'user', (app) => {
    const withBody = { config: JSON_BODY };

    app.get<EntityParams>('/:entity', async (req) => listRecords(ctxOf(req), req.params.entity, listQueryFromParams(req.query)));
    app.get<RecordParams>('/:entity/:id', async (req) => ({
      data: await getRecord(ctxOf(req), req.params.entity, req.params.id, listQueryFromParams(req.query).include),
    }));
    app.post<EntityParams>('/:entity', withBody, async (req, reply) => {
      const ctx = ctxOf(req);
      let includes: Include[] = [];
      const record = await createRecord(ctx, req.params.entity, req.body, () => {
        includes = writeIncludes(ctx, req.params.entity, req.query);
      });
      return reply.status(201).send({ data: await withIncludes(ctx, req.params.entity, record, includes) });
    });
    app.put<RecordParams>('/:entity/:id', withBody, async (req) => {
      const ctx = ctxOf(req);
      let includes: Include[] = [];
      const record = await updateRecord(ctx, req.params.entity, req.params.id, req.body, () => {
        includes = writeIncludes(ctx, req.params.entity, req.query);
      });
      return { data: await withIncludes(ctx, req.params.entity, record, includes) };
    });
    app.delete<RecordParams>('/:entity/:id', async (req) => ({
      data: await deleteRecord(ctxOf(req), req.params.entity, req.params.id),
    }));
    recordHistoryRoutes(app);
  });
