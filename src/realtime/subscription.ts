import type { Caller } from '../auth/caller.js';
import type { EngineApp } from '../engine/context.js';
import { entityOf } from '../engine/context.js';
import { Params } from '../engine/params.js';
import { filterSql, listQueryFromParams, type ListQuery } from '../engine/query.js';
import { invalidPayload } from '../errors.js';

/** What a stream asked for, checked against the app before the stream opens. */
export interface SubscriptionRequest {
  /** Entity names, in the order given, without repeats. */
  entities: string[];
  /** `filter[...]` of the one entity (list syntax), already validated. */
  filters: ListQuery['filters'];
}

/**
 * `?entities=a,b[&filter[...]]` (spec: realtime.md §Subscribing), in the
 * spec's order: entities missing or empty → 400; unknown → 404; no read
 * permission → 403; filters with several entities → 400; filters validated
 * like list filters (400 UNKNOWN_FIELD / INVALID_PAYLOAD).
 */
export function parseSubscription(app: EngineApp, caller: Caller, query: Record<string, unknown>): SubscriptionRequest {
  const raw = query.entities;
  const text = Array.isArray(raw) ? raw.map(String).join(',') : typeof raw === 'string' ? raw : '';
  if (text.trim() === '') throw invalidPayload('entities is required: ?entities=<name>[,<name>…]');
  const names = text.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw invalidPayload('entities must not contain empty names');
  const entities = [...new Set(names)];
  for (const name of entities) entityOf(app, name);
  for (const name of entities) app.permissions.readScope(caller, name);
  const list = listQueryFromParams(query);
  if (list.malformed?.length) throw invalidPayload(`Invalid filter parameter: ${list.malformed[0]}`);
  if (list.filters.length > 0) {
    if (entities.length !== 1) throw invalidPayload('filter parameters need exactly one entity');
    filterSql(entityOf(app, entities[0]!), list.filters, new Params());
  }
  return { entities, filters: list.filters };
}
