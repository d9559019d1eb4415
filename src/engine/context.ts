import type { Caller } from '../auth/caller.js';
import type { PermissionSet } from '../auth/permissions.js';
import type { Database } from '../db/database.js';
import { RocketError } from '../errors.js';
import type { EntityMeta, Registry } from '../metadata/registry.js';

/** What an engine operation needs of an app: no HTTP, just data. */
export interface EngineApp {
  readonly db: Database;
  readonly registry: Registry;
  readonly permissions: PermissionSet;
}

export interface OpContext {
  app: EngineApp;
  caller: Caller;
}

export type Record_ = Record<string, unknown>;

export function entityOf(app: EngineApp, name: string): EntityMeta {
  const entity = app.registry.entities.get(name);
  if (!entity) throw new RocketError('UNKNOWN_ENTITY', `Unknown entity: ${name}`);
  return entity;
}
