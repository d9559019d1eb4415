import type { Queryable } from '../db/database.js';

/** One change of an admin-managed item (entity, relation, rule, user, …), for the audit log. */
export interface AdminChange {
  /** The log's name of the collection: `_entities`, `_relations`, … */
  collection: string;
  /** The item's name or id (null for an import). */
  key: string | null;
  action: 'create' | 'update' | 'delete';
  /** The item as it was (null on create) and as it is (null on delete). */
  before: unknown;
  after: unknown;
}

/**
 * Records a change inside the transaction that makes it. Admin operations
 * with a transaction of their own call it there; the caller (the admin
 * routes) records the change after the operation when it was not called.
 */
export type Audit = (tx: Queryable, change: AdminChange) => Promise<void>;

export const NO_AUDIT: Audit = async () => undefined;
