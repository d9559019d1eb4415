import type { Queryable } from '../db/database.js';
import type { Registry } from '../metadata/registry.js';
import { neverNull } from './field-schemas.js';

/** Per entity, the never-null-by-definition fields whose column still admits NULL. */
export type NullColumns = ReadonlyMap<string, ReadonlySet<string>>;

const NONE: NullColumns = new Map();

/**
 * A required field added to a table that already has rows is added as a nullable column when it is not text and
 * has no default (metadata.md §Auto-migration): those rows answer `null` for it, which the definition alone does
 * not tell. Asked of PostgreSQL once per registry snapshot (columns change only with a metadata change).
 */
export class NullColumnsCache {
  private readonly byRegistry = new WeakMap<Registry, Promise<NullColumns>>();

  get(db: Queryable, registry: Registry): Promise<NullColumns> {
    let pending = this.byRegistry.get(registry);
    if (!pending) {
      pending = load(db, registry);
      this.byRegistry.set(registry, pending);
      // A failed query is asked again by the next request, not remembered.
      pending.catch(() => this.byRegistry.delete(registry));
    }
    return pending;
  }
}

async function load(db: Queryable, registry: Registry): Promise<NullColumns> {
  const candidates = new Map<string, { entity: string; fields: Set<string> }>();
  for (const entity of registry.entities.values()) {
    const fields = entity.fieldList.filter((f) => f !== entity.pk && neverNull(entity, f)).map((f) => f.name);
    if (fields.length > 0) candidates.set(entity.def.table, { entity: entity.name, fields: new Set(fields) });
  }
  if (candidates.size === 0) return NONE;
  const rows = await db.query<{ table_name: string; column_name: string }>(
    `SELECT c.relname::text AS table_name, a.attname::text AS column_name
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY($1::text[])
        AND a.attnum > 0 AND NOT a.attisdropped AND NOT a.attnotnull`,
    [[...candidates.keys()]],
  );
  const out = new Map<string, Set<string>>();
  for (const row of rows) {
    const c = candidates.get(row.table_name);
    if (!c?.fields.has(row.column_name)) continue;
    const set = out.get(c.entity) ?? new Set<string>();
    set.add(row.column_name);
    out.set(c.entity, set);
  }
  return out;
}

/** A stable text form for the document's version. */
export function nullColumnsKey(columns: NullColumns): string {
  return [...columns]
    .map(([entity, fields]) => `${entity}:${[...fields].sort().join(',')}`)
    .sort()
    .join(';');
}
