import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditFor, withoutTimestamps } from '../../history/audit.js';
import type { AdminChange, Audit } from '../../metadata/audit.js';
import type { AppRuntime } from '../../platform/app-runtime.js';
import { appOf, callerOf } from '../context.js';
import { type LateBody, lateBody } from '../json-body.js';

/**
 * The five operations of an admin metadata collection, as engine functions.
 * Mutations get the request's audit function: operations with a transaction
 * of their own record the change in it; for the others it is recorded right
 * after the operation.
 */
export interface AdminResource {
  list(app: AppRuntime): Promise<unknown>;
  get(app: AppRuntime, key: string): Promise<unknown>;
  create(app: AppRuntime, body: unknown, audit: Audit): Promise<unknown>;
  update(app: AppRuntime, key: string, body: unknown, audit: Audit): Promise<unknown>;
  remove(app: AppRuntime, key: string, audit: Audit): Promise<unknown>;
}

/** How a collection's changes appear in the audit log (spec: history.md). */
export interface AuditedAs {
  /** `_entities`, `_relations`, … */
  collection: string;
  /** The item as logged, from a GET answer or a create/update answer (default: without its timestamps). */
  view?(item: unknown): unknown;
  /** The item's name or id (default: `id`, else `name`; the key its admin routes take). */
  key?(item: unknown): string | null;
}

type ByKey = { Params: { key: string } };
type Item = Record<string, unknown>;

const isItem = (v: unknown): v is Item => v !== null && typeof v === 'object' && !Array.isArray(v);

function defaultKey(item: unknown): string | null {
  if (!isItem(item)) return null;
  const k = item.id ?? item.name;
  return typeof k === 'string' || typeof k === 'number' ? String(k) : null;
}

/**
 * The logged key of an existing item: its own id or name as stored, not the URL's spelling of it (an
 * upper-case UUID names the same user), so every entry of one item carries the same `record_id`.
 */
function keyOf(as: AuditedAs, item: unknown, fallback: string): string {
  return (as.key ?? defaultKey)((as.view ?? withoutTimestamps)(item)) ?? fallback;
}

/**
 * Runs one admin mutation and makes sure its change is in the audit log: in
 * the operation's transaction when it records it there, else right after it.
 */
export async function audited(
  req: FastifyRequest,
  as: AuditedAs,
  action: AdminChange['action'],
  before: unknown,
  key: string | null,
  op: (audit: Audit) => Promise<unknown>,
): Promise<unknown> {
  const record = auditFor(callerOf(req));
  let recorded = false;
  const audit: Audit = async (tx, change) => {
    recorded = true;
    await record(tx, change);
  };
  const result = await op(audit);
  if (!recorded) {
    const view = as.view ?? withoutTimestamps;
    const after = action === 'delete' ? null : view(result);
    await record(appOf(req).db, {
      collection: as.collection,
      key: key ?? (as.key ?? defaultKey)(after),
      action,
      before: before === null ? null : view(before),
      after,
    });
  }
  return result;
}

/**
 * Registers GET/POST `<name>` and GET/PUT/DELETE `<name>/:key` in the admin area's scope
 * (`/api/:app/_admin`, admin only); every admin collection of the spec has this shape.
 */
export function adminResourceRoutes(app: FastifyInstance, name: string, r: AdminResource, as: AuditedAs, exact = false): void {
  const base = `/${name}`;
  // `exact`: bodies keep numbers a double would change, and answers write them with their digits.
  const config: LateBody = exact ? { exactNumbers: true, exactReplies: true } : {};
  app.get(base, { config }, async (req) => ({ data: await r.list(appOf(req)) }));
  app.get<ByKey>(`${base}/:key`, { config }, async (req) => ({ data: await r.get(appOf(req), req.params.key) }));
  app.post(base, { config }, async (req, reply) => {
    const data = await audited(req, as, 'create', null, null, (audit) => r.create(appOf(req), req.body, audit));
    return reply.status(201).send({ data });
  });
  app.put<ByKey>(`${base}/:key`, { config: { ...config, lateBody: true } }, async (req) => {
    const before = await r.get(appOf(req), req.params.key); // 404 before the body is looked at
    const body = lateBody(req.body);
    return {
      data: await audited(req, as, 'update', before, keyOf(as, before, req.params.key), (audit) => r.update(appOf(req), req.params.key, body, audit)),
    };
  });
  app.delete<ByKey>(`${base}/:key`, { config }, async (req) => {
    const before = await r.get(appOf(req), req.params.key);
    return {
      data: await audited(req, as, 'delete', before, keyOf(as, before, req.params.key), (audit) => r.remove(appOf(req), req.params.key, audit)),
    };
  });
}
