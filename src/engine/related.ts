import type { Queryable } from '../db/database.js';
import { relatedLoadFilters } from '../metadata/rule-definition.js';
import type { RelatedLoad } from '../metadata/logic-definitions.js';
import type { EntityMeta } from '../metadata/registry.js';
import type { Record_ } from './context.js';
import { Params } from '../db/params.js';
import { filterSql, liveSql } from '../metadata/sql/conditions.js';
import { selectLinked, selectT } from '../metadata/sql/statements.js';

/**
 * `related_load` of rules (spec: rules.md): the live rows related to one
 * record, with the rule's filters; one query per relation. A record that does
 * not exist yet (create) has none.
 */
export async function loadRelated(db: Queryable, entity: EntityMeta, pk: unknown, loads: readonly RelatedLoad[], into: Record_): Promise<void> {
  for (const load of loads) {
    const use = entity.uses.get(load.relation);
    if (!use?.forward) continue;
    const rel = use.relation;
    const target = rel.target;
    const single = rel.def.type === 'one_to_one';
    if (pk === undefined || pk === null) {
      into[load.relation] = single ? null : [];
      continue;
    }
    const params = new Params();
    const conditions = filterSql(target, relatedLoadFilters(load.filter), params, 't.');
    let sql: string;
    if (rel.def.type === 'many_to_many') {
      const keys = { mine: rel.def.source_join_key!, theirs: rel.def.target_join_key!, match: `= ${params.add(pk as string, entity.pk.cast)}` };
      sql = selectLinked(rel, target, keys, target.fieldsOfT, [liveSql(target, 't.'), ...conditions]);
    } else {
      const fk = target.fields.get(rel.def.target_key!)!;
      sql = selectT(target, target.fieldsOfT, [`t.${fk.col} = ${params.add(pk as string, fk.cast)}`, liveSql(target, 't.'), ...conditions]);
    }
    const rows = await db.query<Record_>(sql, params.list);
    into[load.relation] = single ? (rows[0] ?? null) : rows;
  }
}
