import type { Queryable } from '../db/database.js';
import { quoteIdent } from '../db/quote.js';
import type { RelatedLoad } from '../metadata/rule-definition.js';
import type { EntityMeta } from '../metadata/registry.js';
import type { Record_ } from './context.js';
import { Params } from './params.js';
import { filterSql, liveSql, whereSql } from './query.js';

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
    const filters = Object.entries(load.filter ?? {}).map(([key, value]) => ({
      key,
      value: Array.isArray(value) ? value.map(String) : String(value),
    }));
    const conditions = filterSql(target, filters, params, 't.');
    let sql: string;
    if (rel.def.type === 'many_to_many') {
      const join = quoteIdent(rel.def.join_table!);
      sql =
        `SELECT ${target.fieldList.map((f) => `t.${f.col}`).join(', ')} FROM ${join} j JOIN ${target.table} t ` +
        `ON t.${target.pk.col} = j.${quoteIdent(rel.def.target_join_key!)}` +
        whereSql([`j.${quoteIdent(rel.def.source_join_key!)} = ${params.add(pk as string, entity.pk.cast)}`, liveSql(target, 't.'), ...conditions]);
    } else {
      const fk = target.fields.get(rel.def.target_key!)!;
      sql =
        `SELECT ${target.fieldList.map((f) => `t.${f.col}`).join(', ')} FROM ${target.table} t` +
        whereSql([`t.${fk.col} = ${params.add(pk as string, fk.cast)}`, liveSql(target, 't.'), ...conditions]);
    }
    const rows = await db.query<Record_>(sql, params.list);
    into[load.relation] = single ? (rows[0] ?? null) : rows;
  }
}
