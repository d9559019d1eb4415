import type { Queryable } from '../db/database.js';

/** Every table that holds an app's definitions (what export-import carries, sample data aside). */
const DEFINITION_TABLES = ['_entities', '_relations', '_rules', '_state_machines', '_workflows', '_webhooks', '_permissions', '_ui_configs'];

/**
 * A digest of every stored definition of an app, computed by PostgreSQL: it changes with any metadata
 * change — also those that leave the compiled registry alone (a UI config, an inactive rule) — and is
 * the same on every instance, so an identifier derived from it (OpenAPI `info.version`, the ETag)
 * does not depend on which instance answers.
 */
export async function definitionsStamp(db: Queryable): Promise<string> {
  const parts = DEFINITION_TABLES.map((t) => `(SELECT md5(COALESCE(string_agg(x::text, ',' ORDER BY x::text), '')) FROM ${t} x)`);
  const rows = await db.query<{ stamp: string }>(`SELECT md5(${parts.join(' || ')}) AS stamp`);
  return rows[0]!.stamp;
}
