import type { Caller } from '../auth/caller.js';
import type { PermissionSet } from '../auth/permissions.js';
import type { Database } from '../db/database.js';
import type { Logger } from 'pino';
import { RocketError } from '../errors.js';
import type { EntityMeta, Registry } from '../metadata/registry.js';
import type { EngineExtensions } from './extensions.js';
import type { ListSettings } from './list-settings.js';
import { timestampMillis } from '../types/coerce.js';

/** What an engine operation needs of an app: no HTTP, just data. */
export interface EngineApp {
  readonly name: string;
  readonly log: Logger;
  readonly db: Database;
  readonly registry: Registry;
  readonly permissions: PermissionSet;
  /** Observers and sinks of the features, handed in when the app runtime was built. */
  readonly extensions: EngineExtensions;
  /** Count threshold and cursor key of list reads; defaults when absent. */
  readonly listSettings?: ListSettings;
}

export interface OpContext {
  app: EngineApp;
  caller: Caller;
  /** Set on writes made by workflows: they do not start workflows themselves. */
  origin?: 'request' | 'workflow';
  /** How many workflow/event hops led to this write (bounded to stop loops). */
  depth?: number;
  /**
   * Set on writes made on someone's behalf (workflow actions, as the system
   * actor): the user whose request caused them, or null when background work
   * did (a deadline).
   */
  actingFor?: ActingFor | null;
}

/** The user a system write was made for. */
export interface ActingFor {
  id: string;
  email: string | null;
}

export type Record_ = Record<string, unknown>;

export function entityOf(app: EngineApp, name: string): EntityMeta {
  const entity = app.registry.entities.get(name);
  if (!entity) throw new RocketError('UNKNOWN_ENTITY', `Unknown entity: ${name}`);
  return entity;
}

/** A record as the API returns it: declared fields (+ deleted_at for soft-delete entities). */
export function recordOf(entity: EntityMeta, row: Record_): Record_ {
  const out: Record_ = {};
  for (const f of entity.fieldList) out[f.name] = row[f.name];
  if (entity.softDelete && !entity.fields.has('deleted_at')) out.deleted_at = row.deleted_at ?? null;
  return out;
}

/**
 * A stored row as rules, guards and actions see it (`record` overlaid on it, `old`): timestamps as the RFC 3339
 * text the API returns and clients send, so an expression reads a field the same whether it was sent or stored.
 */
export function envRecordOf(entity: EntityMeta, row: Record_): Record_ {
  const out = recordOf(entity, row);
  for (const [k, v] of Object.entries(out)) if (v instanceof Date) out[k] = v.toISOString();
  return out;
}

/**
 * Sent timestamps of a row's `record` in the form envRecordOf gives stored ones (UTC, milliseconds): a rule that
 * passed for `08:00+09:00` must not fail on the next update, which reads the same instant back as `23:00Z`.
 * Only the record changes; the value written keeps the client's text (and its microseconds).
 */
export function canonicalTimestamps(entity: EntityMeta, record: Record_): void {
  for (const f of entity.fieldList) {
    if (f.type !== 'timestamp') continue;
    const v = record[f.name];
    if (typeof v !== 'string') continue;
    const t = timestampMillis(v);
    if (!Number.isNaN(t)) record[f.name] = new Date(t).toISOString();
  }
}
