import type { EntityMeta, RelationUse } from './registry.js';
import type { RelatedLoad } from './rule-definition.js';

/** The first field a related_load filter names that the relation's target does not have. */
export function missingFilterField(use: RelationUse, filter: Record<string, unknown> | undefined): string | undefined {
  for (const key of Object.keys(filter ?? {})) {
    const field = key.split('.')[0]!;
    if (!use.relation.target.fields.has(field)) return field;
  }
  return undefined;
}

/**
 * Why a stored rule's related_load can no longer load (its relation, or a field it filters on, was deleted
 * since the rule was stored); undefined while every entry still resolves.
 */
export function staleRelatedLoad(entity: EntityMeta, def: { related_load?: readonly RelatedLoad[] }): string | undefined {
  for (const load of def.related_load ?? []) {
    const use = entity.uses.get(load.relation);
    if (!use?.forward) return `related_load: no relation ${load.relation} from ${entity.name}`;
    const missing = missingFilterField(use, load.filter);
    if (missing !== undefined) return `related_load: ${use.relation.target.name} has no field ${missing}`;
  }
  return undefined;
}
