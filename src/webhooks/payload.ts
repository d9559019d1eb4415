import { randomUUID } from 'node:crypto';
import { SYSTEM_ACTOR, type Caller } from '../auth/caller.js';
import type { Record_, WriteEvent } from '../engine/context.js';
import { recordOf } from '../engine/read.js';
import type { Hook } from './definition.js';
import { isoSeconds } from '../types/time.js';
import { exactJson, parseExactJson } from '../db/exact-json.js';

/** The request body of a webhook call (spec: webhooks.md §Payload) and its condition variables. */

export interface Payload {
  event: Hook;
  entity: string;
  action: WriteEvent['action'];
  record: Record_;
  old?: Record_;
  changes?: Record<string, { old: unknown; new: unknown }>;
  user?: { id: string; roles: string[] };
  timestamp: string;
  idempotency_key: string;
}

export interface WebhookEvent {
  payload: Payload;
  /** Variables of the webhook condition (spec: expressions.md, webhook condition). */
  vars: Record<string, unknown>;
}

/**
 * A record as the API returns it, as plain JSON (timestamps as strings), so condition and receiver see the same;
 * a decimal or int8 a double cannot hold stays an ExactNumber, written as its digits (exactJson).
 */
const asJson = (entity: WriteEvent['entity'], row: Record_): Record_ => parseExactJson(exactJson(recordOf(entity, row))) as Record_;

/** Values "compared as strings": text as is, everything else as JSON; null and undefined alike. */
function comparable(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Every key of `record` whose value differs from `old` or is absent there. */
function diff(record: Record_, old: Record_ | null): Record<string, { old: unknown; new: unknown }> {
  const out: Record<string, { old: unknown; new: unknown }> = {};
  for (const [key, value] of Object.entries(record)) {
    const had = old !== null && Object.hasOwn(old, key);
    if (had && comparable(old[key]) === comparable(value)) continue;
    out[key] = { old: had ? (old[key] ?? null) : null, new: value ?? null };
  }
  return out;
}

/** "2025-01-15T10:30:00Z": the write's clock, to the second. */

/**
 * One payload per written row and hook, shared by every webhook of that
 * event and kept across retries (one idempotency key).
 */
export function buildEvent(w: WriteEvent, hook: Hook, caller: Caller | undefined, now: string): WebhookEvent {
  const record = asJson(w.entity, w.record);
  const old = w.action === 'update' && w.old ? asJson(w.entity, w.old) : null;
  const changes = w.action === 'delete' ? null : diff(record, old);
  const user = caller && caller.id !== SYSTEM_ACTOR.id ? caller : undefined;

  const payload = { event: hook, entity: w.entity.name, action: w.action, record } as Payload;
  if (old && Object.keys(old).length) payload.old = old;
  if (changes && Object.keys(changes).length) payload.changes = changes;
  if (user) payload.user = { id: user.id, roles: [...user.roles] };
  payload.timestamp = isoSeconds(now);
  payload.idempotency_key = `wh_${randomUUID()}`;

  // In conditions, `changes` of a create lists the fields the write sent (spec: expressions.md).
  const condChanges =
    changes === null
      ? null
      : w.action === 'create'
        ? Object.fromEntries(Object.entries(changes).filter(([k]) => Object.hasOwn(w.values, k)))
        : changes;
  const vars: Record<string, unknown> = {
    record,
    old,
    changes: condChanges,
    action: w.action,
    entity: w.entity.name,
    event: hook,
    user: user ? { id: user.id, email: user.email, roles: [...user.roles] } : null,
    now: new Date(now),
  };
  return { payload, vars };
}
