import { type Caller, makeCaller } from '../auth/caller.js';
import type { InviteRecorder } from '../auth/invites.js';
import type { Queryable } from '../db/database.js';
import type { AdminChange, Audit } from '../metadata/audit.js';
import { allSampleRowHooks, importSchema, type ImportResult, type SampleRowHook } from '../metadata/transfer.js';
import type { AppRuntime } from '../platform/app-runtime.js';
import { actorOf, changesOf, insertEntries } from './entries.js';

/**
 * The audit log of metadata (spec: history.md): every admin change of an
 * entity, relation, rule, state machine, workflow, webhook, permission, user,
 * invite or UI config, and every import, as an entry of the history log with
 * `changes = {"definition": {from, to}}` (`{"summary": …}` for an import).
 */

/**
 * Keys never written to the log, per collection: the secrets of users (password, its hash) and invites (the
 * token). Only there: in the definitions of other collections such keys are what an admin wrote (a workflow's
 * context key `token`, a create_record's field `password`) and are logged as written.
 */
const SECRET_KEYS: Readonly<Record<string, ReadonlySet<string>>> = {
  _users: new Set(['password', 'password_hash']),
  _invites: new Set(['token']),
};
const NO_SECRETS: ReadonlySet<string> = new Set();

/** `value` as logged: without the keys of `secrets` (at any depth), dates as RFC 3339 text. */
function redact(value: unknown, secrets: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets));
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Number) return value; // an ExactNumber (a threshold or default beyond 2^53): logged with its digits
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!secrets.has(k)) out[k] = redact(v, secrets);
    return out;
  }
  return value ?? null;
}

/** An item without its timestamps: the log keeps what the admin wrote. */
export function withoutTimestamps(item: unknown): unknown {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
  const { created_at: _c, updated_at: _u, ...rest } = item as Record<string, unknown>;
  return rest;
}

/** Stores one admin change in `tx`, by the caller. */
export async function recordChange(tx: Queryable, caller: Caller, change: AdminChange): Promise<void> {
  const isImport = change.collection === '_import';
  const secrets = SECRET_KEYS[change.collection] ?? NO_SECRETS;
  const from = redact(change.before, secrets);
  const to = redact(change.after, secrets);
  await insertEntries(
    tx,
    [
      {
        entity: change.collection,
        record_id: change.key,
        action: change.action,
        changes: isImport ? { summary: { from: null, to } } : { definition: { from, to } },
        actor: actorOf({ caller }),
      },
    ],
    new Date().toISOString(),
  );
}

/** The audit function of one admin request. */
export function auditFor(caller: Caller): Audit {
  return (tx, change) => recordChange(tx, caller, change);
}

/**
 * The audit entries of invites, written in the invite's own transaction: each invite created, single or
 * bulk, as the same `_invites` create entry (the invite as its single create answers it, token redacted).
 */
export function inviteCreations(audit: Audit): InviteRecorder {
  return {
    created: (tx, invite) => audit(tx, { collection: '_invites', key: invite.id, action: 'create', before: null, after: withoutTimestamps(invite) }),
  };
}

/** An accepted invite: the invitee creates their own user (`_users` create) and changes the invite (`_invites` update). */
export const inviteAcceptance: InviteRecorder = {
  async accepted(tx, user, invite) {
    const record = auditFor(makeCaller(user.id, user.roles, user.email));
    await record(tx, { collection: '_users', key: user.id, action: 'create', before: null, after: user });
    const [before, after] = [withoutTimestamps(invite.before), withoutTimestamps(invite.after)];
    await record(tx, { collection: '_invites', key: invite.after.id, action: 'update', before, after });
  },
};

/** Sample-data rows of an import, recorded as creates (by the importing admin) for entities with history. */
export function sampleRowHistory(caller: Caller): SampleRowHook {
  const actor = actorOf({ caller });
  return {
    wants: (entity) => entity.def.history === true,
    async inserted(tx, entity, row) {
      const pk = row[entity.pk.name];
      const entry = {
        entity: entity.name,
        record_id: pk === null || pk === undefined ? null : String(pk),
        action: 'create' as const,
        changes: changesOf(entity, 'create', null, row),
        actor,
      };
      await insertEntries(tx, [entry], new Date().toISOString());
    },
  };
}

/**
 * An import by `caller`, audited: each definition it creates, the sample rows of entities with history, and
 * its summary (logged once it is done: an import is many operations, not one transaction). `sampleRows`: other
 * features' hooks on the sample rows (realtime events).
 */
export async function auditedImport(app: AppRuntime, caller: Caller, doc: unknown, sampleRows: readonly SampleRowHook[] = []): Promise<ImportResult> {
  const hooks = allSampleRowHooks([sampleRowHistory(caller), ...sampleRows]);
  const result = await importSchema(app, app.extensions.transferSections, doc, hooks, (change) =>
    recordChange(app.db, caller, { ...change, before: withoutTimestamps(change.before), after: withoutTimestamps(change.after) }),
  );
  await recordChange(app.db, caller, { collection: '_import', key: null, action: 'create', before: null, after: result.summary });
  return result;
}
