import type { Queryable } from '../db/database.js';
import { ExprCompileError, WEBHOOK_VARIABLES, compileExpr, formatCompileError, type CompiledExpr } from '../expr/index.js';
import { readWebhookRow, WEBHOOK_COLUMNS, type WebhookRow } from './admin.js';
import type { Hook } from './definition.js';
import { getOrInsert } from '../collections.js';

/**
 * The active webhooks of an app, compiled once per metadata snapshot. Every
 * webhook change reloads the app's registry (here and, through NOTIFY, on the
 * other instances), so the registry object is the version key: a new snapshot
 * means the webhooks are read again, on the first write that needs them.
 */

export interface ActiveWebhook {
  readonly row: WebhookRow;
  /** Null for an empty condition (always fires). */
  readonly condition: CompiledExpr | null;
  /** Set when a stored condition no longer compiles; the webhook then fails its condition. */
  readonly conditionError?: string;
}

/** entity → hook → webhooks, in creation order. */
export type Catalog = ReadonlyMap<string, ReadonlyMap<Hook, readonly ActiveWebhook[]>>;

const EMPTY: Catalog = new Map();
const snapshots = new WeakMap<object, Catalog>();

function compile(row: WebhookRow): ActiveWebhook {
  if (row.condition.trim() === '') return { row, condition: null };
  try {
    return { row, condition: compileExpr(row.condition, WEBHOOK_VARIABLES) };
  } catch (err) {
    const message = err instanceof ExprCompileError ? formatCompileError(err) : (err as Error).message;
    return { row, condition: null, conditionError: message };
  }
}

/** The catalog for `version` (the app's current registry), read through `db` on first use. */
export async function catalogFor(version: object, db: Queryable): Promise<Catalog> {
  const hit = snapshots.get(version);
  if (hit) return hit;
  const rows = await db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM _webhooks WHERE active ORDER BY created_at, id`);
  let catalog = EMPTY;
  if (rows.length) {
    const byEntity = new Map<string, Map<Hook, ActiveWebhook[]>>();
    for (const row of rows) {
      const hooks = getOrInsert(byEntity, row.entity, () => new Map());
      const list = getOrInsert(hooks, row.hook, () => []);
      list.push(compile(readWebhookRow(row)));
    }
    catalog = byEntity;
  }
  snapshots.set(version, catalog);
  return catalog;
}
