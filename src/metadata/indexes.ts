import { createHash } from 'node:crypto';
import type { EntityDef } from './types.js';

/**
 * The secondary indexes an entity declares (spec: metadata.md §2 `indexes`, field option `index`),
 * as PostgreSQL will hold them. Names, column lists and kinds are derived here once, so validation
 * (duplicate names) and auto-migration (what to create and drop) agree.
 */
export interface DeclaredIndex {
  /** PostgreSQL index name: the declared one, or derived from the table and columns. */
  name: string;
  columns: string[];
  unique: boolean;
  /** `text_pattern_ops`: serves `LIKE 'prefix%'` under any database collation. */
  pattern: boolean;
  /** Definition path for error details. */
  path: string;
}

/** Prefixes of the indexes Rocket makes for unique fields, relations and soft delete; declared names may not take them. */
export const RESERVED_INDEX_PREFIXES = ['idx_', 'fk_', 'uq_'] as const;

/** PostgreSQL's own convention (`<table>_<columns>_idx`); past 63 bytes the tail becomes a hash so names stay distinct. */
export function derivedIndexName(table: string, columns: readonly string[], suffix: string): string {
  const name = `${table}_${columns.join('_')}_${suffix}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha1')
    .update(`${table}\u0000${columns.join('\u0000')}\u0000${suffix}`)
    .digest('hex')
    .slice(0, 10);
  return `${name.slice(0, 63 - 11)}_${hash}`;
}

/** PostgreSQL's makeObjectName: `<a>_<b>_<label>` (or `<a>_<label>`) with the longer part cut until it fits 63 bytes. */
function pgObjectName(a: string, b: string | undefined, label: string): string {
  let aLen = a.length;
  let bLen = b?.length ?? 0;
  const room = 63 - (label.length + 1) - (b === undefined ? 0 : 1);
  while (aLen + bLen > room) {
    if (aLen > bLen) aLen--;
    else bLen--;
  }
  return b === undefined ? `${a.slice(0, aLen)}_${label}` : `${a.slice(0, aLen)}_${b.slice(0, bLen)}_${label}`;
}

/**
 * Names the entity's table holds in the schema's one namespace of relations when Rocket creates it: the table,
 * its primary key index and, for a generated integer key, the identity sequence. No declared index may take them.
 */
export function tableOwnNames(def: EntityDef): string[] {
  const names = [def.table, pgObjectName(def.table, undefined, 'pkey')];
  if (def.primary_key.generated && def.primary_key.type !== 'uuid') names.push(pgObjectName(def.table, def.primary_key.field, 'seq'));
  return names;
}

const isString = (type: string) => type === 'string' || type === 'text';

export function declaredIndexes(def: EntityDef): DeclaredIndex[] {
  const out: DeclaredIndex[] = [];
  for (const [i, f] of def.fields.entries()) {
    if (!f.index) continue;
    const path = `fields[${i}].index`;
    // A primary key or unique field already has an index that serves equality, ranges and sort.
    if (!f.unique && f.name !== def.primary_key.field) {
      out.push({ name: derivedIndexName(def.table, [f.name], 'idx'), columns: [f.name], unique: false, pattern: false, path });
    }
    if (isString(f.type)) {
      out.push({ name: derivedIndexName(def.table, [f.name], 'pattern_idx'), columns: [f.name], unique: false, pattern: true, path });
    }
  }
  for (const [i, ix] of (def.indexes ?? []).entries()) {
    out.push({
      name: ix.name ?? derivedIndexName(def.table, ix.fields, 'idx'),
      columns: ix.fields,
      unique: Boolean(ix.unique),
      pattern: false,
      path: `indexes[${i}]`,
    });
  }
  return out;
}
