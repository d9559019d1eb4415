import { RocketError } from '../errors.js';
import type { EntityMeta, FieldMeta, RelationUse } from '../metadata/registry.js';
import { coerceInput } from '../types/coerce.js';
import type { OpContext, Record_ } from './context.js';
import { Params } from '../db/params.js';
import { liveSql, scopeSql } from '../metadata/sql/conditions.js';
import { selectLinked, selectT } from '../metadata/sql/statements.js';
import { getOrInsert } from '../collections.js';

const OWNER = '"rocket.owner"';

/** An include name resolved against the registry before any SQL exists. */
export interface Include {
  name: string;
  use: RelationUse;
}

export function resolveIncludes(entity: EntityMeta, names: readonly string[], ctx: OpContext): Include[] {
  return names.map((name) => {
    const use = ctx.app.registry.resolve(entity, name);
    if (!use) throw new RocketError('UNKNOWN_FIELD', `Unknown include: ${name}`);
    return { name, use };
  });
}

/** A key value in the canonical text form of `field`'s type, or undefined when it is no value of that type. */
function keyAs(field: FieldMeta, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const c = coerceInput(field, value);
  return c.ok && c.value !== null ? String(c.value) : undefined;
}

/** An included row: its declared fields only (no owner column, no undeclared `deleted_at`). */
function includedOf(entity: EntityMeta, row: Record_): Record_ {
  const out: Record_ = {};
  for (const f of entity.fieldList) out[f.name] = row[f.name];
  return out;
}

function distinct(values: unknown[]): unknown[] {
  return [...new Set(values.filter((v) => v !== null && v !== undefined))];
}

/**
 * Attaches included relations to rows: one query per include, whatever the
 * number of rows. Rows the caller may not read are left out (no error).
 */
export async function attachIncludes(ctx: OpContext, entity: EntityMeta, rows: Record_[], includes: readonly Include[]): Promise<void> {
  for (const { name: key, use } of includes) {
    const rel = use.relation;
    const def = rel.def;
    if (rows.length === 0) continue;
    const other = use.forward ? rel.target : rel.source;
    const params = new Params();
    const scope = scopeSql(other, ctx.app.permissions.includeScope(ctx.caller, other.name), params, 't.');
    const live = liveSql(other, 't.');

    if (def.type === 'many_to_many') {
      const mine = use.forward ? def.source_join_key! : def.target_join_key!;
      const theirs = use.forward ? def.target_join_key! : def.source_join_key!;
      const ownKey = use.forward ? rel.source.pk : rel.target.pk;
      const keys = distinct(rows.map((r) => r[ownKey.name]));
      const ids = params.add(keys as string[], `${ownKey.cast}[]`);
      const found = await ctx.app.db.query<Record_>(
        selectLinked(rel, other, { mine, theirs, match: `= ANY(${ids})` }, other.includeList, [live, scope], OWNER),
        params.list,
      );
      const byOwner = new Map<string, Record_[]>();
      for (const r of found) {
        const owner = String(r['rocket.owner']);
        const list = getOrInsert(byOwner, owner, () => []);
        list.push(includedOf(other, r));
      }
      for (const row of rows) row[key] = byOwner.get(String(row[ownKey.name])) ?? [];
      continue;
    }

    const fk = rel.target.fields.get(def.target_key!)!;
    if (use.forward) {
      // Keys are matched in the FK's type; a parent key that is no value of it has no children.
      const ownerKey = (row: Record_) => keyAs(fk, row[entity.pk.name]);
      const keys = distinct(rows.map(ownerKey));
      const ids = params.add(keys as string[], `${fk.cast}[]`);
      const found = await ctx.app.db.query<Record_>(selectT(other, other.includeList, [`t.${fk.col} = ANY(${ids})`, live, scope]), params.list);
      const byOwner = new Map<string, Record_[]>();
      for (const r of found) {
        const owner = String(r[fk.name]);
        const list = getOrInsert(byOwner, owner, () => []);
        list.push(r);
      }
      for (const row of rows) {
        const owner = ownerKey(row);
        const children = (owner === undefined ? undefined : byOwner.get(owner)) ?? [];
        row[key] = def.type === 'one_to_one' ? (children[0] ?? null) : children;
      }
    } else {
      // A stored FK that is no value of the parent's PK type (e.g. a text FK holding 'abc') matches nothing.
      const refOf = (row: Record_) => keyAs(other.pk, row[fk.name]);
      const keys = distinct(rows.map(refOf));
      const ids = params.add(keys as string[], `${other.pk.cast}[]`);
      const found = await ctx.app.db.query<Record_>(selectT(other, other.includeList, [`t.${other.pk.col} = ANY(${ids})`, live, scope]), params.list);
      const byId = new Map(found.map((r) => [String(r[other.pk.name]), r]));
      for (const row of rows) {
        const ref = refOf(row);
        row[key] = ref === undefined ? null : (byId.get(ref) ?? null);
      }
    }
  }
}
