import type { FieldType } from '../types/field-types.js';
import type { ExactNumber } from '../db/exact-number.js';

/** Metadata shapes as stored in `_entities.definition` / `_relations.definition` (normalised). */

export const PK_TYPES = ['uuid', 'int', 'bigint', 'string'] as const;
export type PkType = (typeof PK_TYPES)[number];

export type JsonScalar = string | number | boolean | null;

export interface FieldDef {
  name: string;
  type: FieldType;
  required?: boolean;
  unique?: boolean;
  /** A number a double would round (a bigint beyond 2^53) is kept as an ExactNumber. */
  default?: JsonScalar | ExactNumber;
  nullable?: boolean;
  enum?: string[];
  precision?: number;
  auto?: 'create' | 'update';
  /** A single-column index; on string/text fields also a `text_pattern_ops` one for prefix `like`. */
  index?: boolean;
}

/** A declared secondary index (entity key `indexes`); `name` absent → generated from table and fields. */
export interface IndexDef {
  fields: string[];
  unique?: boolean;
  name?: string;
}

export interface SlugDef {
  field: string;
  source?: string;
  regenerate_on_update?: boolean;
}

export interface EntityDef {
  name: string;
  table: string;
  primary_key: { field: string; type: PkType; generated: boolean };
  soft_delete: boolean;
  slug?: SlugDef;
  fields: FieldDef[];
  indexes?: IndexDef[];
  /** Record history of the rows (history.md); stored only when true. */
  history?: true;
}

export const RELATION_TYPES = ['one_to_one', 'one_to_many', 'many_to_many'] as const;
export type RelationType = (typeof RELATION_TYPES)[number];
export const ON_DELETE = ['cascade', 'set_null', 'restrict', 'detach', ''] as const;
export type OnDelete = (typeof ON_DELETE)[number];
export const WRITE_MODES = ['diff', 'replace', 'append'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

export interface RelationDef {
  name: string;
  type: RelationType;
  source: string;
  target: string;
  source_key: string;
  target_key?: string;
  join_table?: string;
  source_join_key?: string;
  target_join_key?: string;
  ownership: 'source' | 'target' | 'none';
  on_delete: OnDelete;
  fetch: 'lazy' | 'eager';
  write_mode: WriteMode;
}

/** Names an entity may not take: they are route prefixes inside an app (`_history` is a route suffix). */
export const RESERVED_ENTITY_NAMES = new Set([
  'auth',
  '_admin',
  '_ui',
  '_workflows',
  '_files',
  '_events',
  '_openapi',
  '_docs',
  '_realtime',
  '_history',
]);

/** Tables Rocket owns in every app database. */
export const SYSTEM_TABLES = new Set([
  '_entities',
  '_relations',
  '_rules',
  '_state_machines',
  '_workflows',
  '_workflow_instances',
  '_users',
  '_refresh_tokens',
  '_permissions',
  '_webhooks',
  '_webhook_logs',
  '_files',
  '_ui_configs',
  '_invites',
  '_events',
  '_rocket_migrations',
  '_outbox',
  '_history',
  '_realtime_pending',
  '_realtime_events',
  '_realtime_batches',
  '_realtime_log',
  '_realtime_state',
  '_realtime_tickets',
]);

/** PostgreSQL's hidden system columns: a field with one of these names cannot be created. */
export const SYSTEM_COLUMNS = new Set(['oid', 'tableoid', 'xmin', 'xmax', 'cmin', 'cmax', 'ctid']);

export const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * An identifier no field, entity or relation may take: every name becomes a key of JSON objects (bodies,
 * records, includes, sample data), and this key is the one a request body cannot carry (http/json-body.ts)
 * and assigning it to an object replaces the prototype instead of adding a key. Refused when saved;
 * definitions stored before that load with such a field left out (it could never be written or read).
 */
export const PROTO_KEY = '__proto__';
