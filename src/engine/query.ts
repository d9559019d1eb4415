import { RocketError } from '../errors.js';
import type { EntityMeta, FieldMeta } from '../metadata/registry.js';
import type { SortKey } from '../metadata/sql/conditions.js';
import type { SortItem } from './list-query.js';

// The URL syntax is in list-query.ts and the SQL fragments in metadata/sql; these names stay importable from
// here for the realtime feed and subscription.
export { listQueryFromParams, type ListQuery } from './list-query.js';
export { filterSql, scopeSql } from '../metadata/sql/conditions.js';

/**
 * The keys of a sort (unknown or empty names → 400), ending in the primary key so the order
 * is total: pages never overlap or skip rows and a cursor can continue after any row. The key runs
 * in the direction of the last sort key, so a single-direction sort is one index order
 * (`(a, pk) > (…)` can use an index on `a`); without a sort, the primary key alone.
 */
export function sortKeys(entity: EntityMeta, sort: readonly SortItem[]): SortKey[] {
  const keys: SortKey[] = [];
  const seen = new Set<FieldMeta>();
  for (const { name, desc } of sort) {
    const field = entity.fields.get(name);
    if (!field) throw new RocketError('UNKNOWN_FIELD', `Unknown sort field: ${name}`);
    // A field already sorted on, or any key after the primary key, orders nothing more: dropped (every name is
    // still checked). The keyset condition of a cursor grows with the keys: `sort=n,-n,n,…` 300 times took
    // 20 s to plan and 600 times lost the connection; now the keys are bounded by the entity's fields.
    if (seen.has(field) || seen.has(entity.pk)) continue;
    seen.add(field);
    keys.push({ field, desc });
  }
  if (!seen.has(entity.pk)) keys.push({ field: entity.pk, desc: keys.at(-1)?.desc ?? false });
  return keys;
}
