import type { Caller } from '../auth/caller.js';
import type { PermissionSet } from '../auth/permissions.js';
import type { Database, Queryable } from '../db/database.js';
import type { Logger } from 'pino';
import { type ErrorDetail, RocketError } from '../errors.js';
import type { EntityMeta, FieldMeta, Registry } from '../metadata/registry.js';
import type { Params } from '../db/params.js';
import type { CallOut } from '../outbound/delivery.js';
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

// --- The contracts features plug in through (the composition root, rocket.ts, hands them in) ---
//
// They refer to the app and the operation and back (an app holds its observers, an observer is handed
// the operation): declared together here, so no module of the engine imports another in a circle, not
// even for types.

/**
 * What features plug into the engine of an app. The composition root
 * (rocket.ts) builds it once and hands it to every app runtime; the engine
 * itself imports no feature.
 */
export interface EngineExtensions {
  /** Write observers, in the order they run. */
  readonly observers: readonly WriteObserver[];
  /** Consumer of the `event` rows a write put in the outbox (workflows); without one they stay pending. */
  readonly eventSink?: EventSink;
  /** Outgoing HTTP calls of `webhook` actions (state machines, workflows), under the server's address policy. */
  readonly callOut?: CallOut;
  /**
   * Asks the server's job runner to run the named job over the app no later than `at` (e.g. a workflow
   * approval deadline stored by a write); absent where no jobs run (the command line).
   */
  readonly wakeJob?: (job: string, at: Date, app: string) => void;
}

/**
 * Something that reacts to the rows a request wrote: synchronous webhooks
 * (inside the transaction, may veto), outbox rows, and post-commit work such
 * as async webhook delivery and workflow starts. Observers see every write,
 * top-level or nested, create, update or delete. Features do not register
 * themselves: the composition root (rocket.ts) lists them in the app's
 * `EngineExtensions`, and they run in that order.
 */
export interface WriteObserver {
  readonly name: string;
  /** Whether writes of this entity concern the observer at all; absent means always. An involved entity takes no fast path (fast-path.ts). */
  involves?(app: EngineApp, entity: EntityMeta): Promise<boolean>;
  /**
   * For an entity the observer does not `involve`: its capture as part of a
   * one-statement fast-path write (undefined: nothing to capture). Asked once
   * per metadata snapshot; observers that capture this way also see the
   * general path's writes in `beforeCommit`.
   */
  inline?(app: EngineApp, entity: EntityMeta): Promise<InlineCapture | undefined>;
  /** After all SQL of the write, before COMMIT; throwing aborts the write. */
  beforeCommit?(sc: StageContext, writes: readonly WriteEvent[]): Promise<void>;
  /** After COMMIT, with the connection released; awaited before the response, never fails the request. */
  afterCommit?(ctx: OpContext, writes: readonly WriteEvent[]): Promise<void>;
  /** After the transaction failed and rolled back, with the connection released; awaited before the error is thrown on. */
  afterRollback?(ctx: OpContext, writes: readonly WriteEvent[], error: unknown): Promise<void>;
}

export interface StoredEffect {
  id: string;
  kind: OutboxEntry['kind'];
  payload: OutboxEntry['payload'];
}

/** Receives a write's `event` effects after COMMIT; awaited, so its work lands before the response. */
export type EventSink = (app: EngineApp, events: readonly StoredEffect[]) => Promise<void>;

/** What a pipeline stage sees: the operation, its transaction, the clock of the write, what was written. */
export interface StageContext extends OpContext, Exec {
  /** Problems found so far in this tree; a stage adds to them and the pipeline throws one 422. */
  details: ErrorDetail[];
  /** Post-commit effects recorded by this write; stored in the same transaction. */
  outbox: OutboxEntry[];
  /** Creates a record of another entity in this transaction, through the whole pipeline, as the system actor. */
  createRecord(entity: string, body: Record_, pathPrefix: string): Promise<Record_>;
}

export type OutboxEntry =
  | { kind: 'webhook'; payload: { url: string; method: string; body: Record_ } }
  | { kind: 'event'; payload: { event: string; entity: string; record_id: unknown; record: Record_; old: Record_ | null } };

/** One row written by a request, as observers (webhooks, workflows) need it. */
export interface WriteEvent {
  entity: EntityMeta;
  action: 'create' | 'update' | 'delete';
  /** The row as stored (for deletes: as it was). */
  record: Record_;
  /** The row before the write (update/delete), else null. */
  old: Record_ | null;
  /** Values the request wrote (after rules, computed fields and state-machine actions). */
  values: Record_;
  /** Rows written on the request's behalf rather than by it: by a cascade, or by an action (state-machine `create_record`). */
  cause?: WriteCause;
}

export type WriteCause = 'cascade' | 'action';

/** Where execution runs and what it reports. */
export interface Exec {
  tx: Queryable;
  now: string;
  writes: WriteEvent[];
  /** Set while writing rows on the request's behalf (their events carry it). */
  cause?: WriteCause;
}

/** One relation of written rows inside a fast-path statement, as a capture sees it. */
export interface InlineWrite {
  readonly ctx: OpContext;
  readonly entity: EntityMeta;
  readonly action: 'create' | 'update';
  /** The write's clock (RFC 3339), the value auto fields got. */
  readonly now: string;
  /** Name of the CTE holding the written rows (the entity's `selectList` columns; for updates also the old values asked for). */
  readonly rows: string;
  /**
   * Updates: a field's value as it was before the write, as an expression over `rows` (asking for it makes
   * the statement return it beside the written columns, read in the same statement).
   */
  readonly old?: (f: FieldMeta) => string;
  /**
   * Updates: the fields the statement sets. No other stored value can change (Rocket puts no triggers on
   * entity tables), so a capture that compares before and after need compare only these.
   */
  readonly written?: readonly FieldMeta[];
  /** Bind parameters of the statement (add values here, never into the SQL text). */
  readonly params: Params;
}

/** What an observer adds to fast-path statements of one entity (decided once per metadata snapshot). */
export interface InlineCapture {
  /** A data-modifying statement (`INSERT … SELECT … FROM <rows>`) run as a CTE of the write's statement. */
  sql(w: InlineWrite): string;
  /**
   * Whether to capture this write at all (absent: always). Asked per write, so a capture that is
   * only sometimes wanted (realtime events while someone subscribes) leaves the statement untouched
   * the rest of the time.
   */
  active?(ctx: OpContext): boolean;
  /** After the statement that carried the capture has committed (the fast paths run without an explicit transaction). */
  committed?(ctx: OpContext): void;
  /**
   * When `active` said no: told at once, and handed back what to call once the statement has finished,
   * committed or not. A capture being switched on waits for such writes (decided before it was on, committing
   * after) to be over, so that every write committing after that point is captured.
   */
  skipped?(ctx: OpContext): () => void;
}
