import type { Params } from '../../db/params.js';
import { quoteIdent } from '../../db/quote.js';
import { toParam } from '../../types/coerce.js';
import { DELETED_AT, type EntityMeta, type FieldMeta, type RelationMeta } from '../registry.js';
import { liveSql, whereSql } from './conditions.js';

/**
 * The text of every statement on an entity table (and on a relation's join table): reads, includes, inserts,
 * updates, deletes and cascades, slugs, sample data. Columns come from the registry's precomputed lists, names
 * from validated metadata (quoted once, in the registry), values only as bind parameters of `params`. Callers
 * run the text; nothing here touches a connection. Changing a statement here changes it everywhere it is used,
 * the fast paths included (the benchmark measures them).
 */

/** A column and the value written to it. */
export type Assignment = readonly [FieldMeta, unknown];

const bind = (params: Params, [f, v]: Assignment) => params.add(toParam(f, v), f.cast);

// ── reads ────────────────────────────────────────────────────────────────────────────────────────────────

/** `SELECT <record columns> FROM <table> WHERE …` (`forUpdate`: locked); `columns` replaces the record's. */
export function selectRows(
  entity: EntityMeta,
  where: ReadonlyArray<string | undefined>,
  opts: { columns?: string; forUpdate?: boolean } = {},
): string {
  return `SELECT ${opts.columns ?? entity.selectList} FROM ${entity.table}${whereSql(where)}${opts.forUpdate ? ' FOR UPDATE' : ''}`;
}

/**
 * One page of a list: record columns in `keys`' order, `limit` rows after `offset`, plus the text of the keys
 * a cursor needs exactly (`keyText`, select items on alias `r`, with `outerOrder` the same order on `r`).
 */
export function pageSql(
  entity: EntityMeta,
  where: string,
  order: string,
  limit: string,
  offset: string,
  keys: { keyText: string; outerOrder: string } = { keyText: '', outerOrder: '' },
): string {
  const page = `SELECT ${entity.selectList} FROM ${entity.table}${where}${order} LIMIT ${limit} OFFSET ${offset}`;
  // In the sorted statement's own select list the key text (timestamp → text) would be computed for every
  // matching row before the sort picks the page: on 3,333 rows that was 7 of the statement's 8 ms.
  return keys.keyText === '' ? page : `SELECT r.*${keys.keyText} FROM (${page}) r${keys.outerOrder}`;
}

/** The page and the count of every matching row in one round trip (the page may be empty while the count is not). */
export function countedPageSql(entity: EntityMeta, where: string, page: string, total: string): string {
  return `SELECT c."${total}", p.* FROM (SELECT count(*) AS "${total}" FROM ${entity.table}${where}) c LEFT JOIN LATERAL (${page}) p ON true`;
}

/** `n`: the rows matching `where`. */
export function countSql(entity: EntityMeta, where: string): string {
  return `SELECT count(*) AS n FROM ${entity.table}${where}`;
}

/** The planner's estimate of the rows matching `where` (one EXPLAIN, no rows read). */
export function estimateSql(entity: EntityMeta, where: string): string {
  return `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${entity.table}${where}`;
}

/** `n` (int4): live rows matching `where`, for a `restrict` check. */
export function countLiveSql(entity: EntityMeta, match: string): string {
  return `SELECT count(*)::int AS n FROM ${entity.table}${whereSql([match, liveSql(entity)])}`;
}

/** Rows of `entity` as table alias `t` (`columns`: of `t`) matching `where`. */
export function selectT(entity: EntityMeta, columns: string, where: ReadonlyArray<string | undefined>): string {
  return `SELECT ${columns} FROM ${entity.table} t${whereSql(where)}`;
}

/**
 * Rows of `other` (alias `t`) linked through a many-to-many join table (alias `j`) to the keys `mine` matches
 * (`= $1…` or `= ANY($1…)`), seen from the side whose join key is `mine`; `owner` (an alias) adds that key to
 * each row. `where`: further conditions on `t`.
 */
export function selectLinked(
  rel: RelationMeta,
  other: EntityMeta,
  keys: { mine: string; theirs: string; match: string },
  columns: string,
  where: ReadonlyArray<string | undefined>,
  owner?: string,
): string {
  const join = quoteIdent(rel.def.join_table!);
  const m = quoteIdent(keys.mine);
  return (
    `SELECT ${owner ? `j.${m} AS ${owner}, ` : ''}${columns} FROM ${join} j JOIN ${other.table} t ON t.${other.pk.col} = j.${quoteIdent(keys.theirs)}` +
    whereSql([`j.${m} ${keys.match}`, ...where])
  );
}

/** Slugs already taken (soft-deleted rows still hold theirs in the unique index). */
export function slugCandidatesSql(entity: EntityMeta, field: FieldMeta, base: string, params: Params, selfPk?: unknown): string {
  return `SELECT ${field.col} FROM ${entity.table}${whereSql([
    `(${field.col} = ${params.add(base, 'text')} OR ${field.col} LIKE ${params.add(`${base}-%`, 'text')})`,
    selfPk === undefined ? undefined : `${entity.pk.col} <> ${params.add(selfPk as string, entity.pk.cast)}`,
  ])}`;
}

// ── inserts ──────────────────────────────────────────────────────────────────────────────────────────────

/** The one INSERT of a row (no RETURNING): the parent of every create, fast path or not, and sample data. */
export function insertSql(entity: EntityMeta, cols: readonly Assignment[], params: Params): string {
  return cols.length
    ? `INSERT INTO ${entity.table} (${cols.map(([f]) => f.col).join(', ')}) VALUES (${cols.map((a) => bind(params, a)).join(', ')})`
    : `INSERT INTO ${entity.table} DEFAULT VALUES`;
}

/** `insertSql` returning the record's columns. */
export function insertReturningSql(entity: EntityMeta, cols: readonly Assignment[], params: Params): string {
  return `${insertSql(entity, cols, params)} RETURNING ${entity.selectList}`;
}

/** Rows that write the same columns, one statement, returning the records in VALUES order. */
export function insertManySql(entity: EntityMeta, fields: readonly FieldMeta[], rows: ReadonlyArray<readonly Assignment[]>, params: Params): string {
  const values = rows.map((cols) => `(${cols.map((a) => bind(params, a)).join(', ')})`);
  return `INSERT INTO ${entity.table} (${fields.map((f) => f.col).join(', ')}) VALUES ${values.join(', ')} RETURNING ${entity.selectList}`;
}

/**
 * Children of a parent inserted in the same statement (CTE `parent.cte`): each child takes the parent's key as
 * its foreign key `fk`; the rows write the same `fields`. The values are bound now, so they precede any
 * parameter added later; the text is finished by whether the rows are read (RETURNING the record's columns,
 * else `1`), which may depend on what was added since.
 */
export function insertChildrenSql(
  target: EntityMeta,
  fk: FieldMeta,
  parent: { cte: string; pk: FieldMeta },
  fields: readonly FieldMeta[],
  rows: ReadonlyArray<readonly Assignment[]>,
  params: Params,
): (returnRows: boolean) => string {
  const fkValue = `${parent.cte}.${parent.pk.col}::${fk.cast}`;
  const source = fields.length
    ? `SELECT ${[fkValue, ...fields.map((_, i) => `v.c${i}`)].join(', ')} FROM ${parent.cte}, (VALUES ${rows
        .map((cols) => `(${cols.map((a) => bind(params, a)).join(', ')})`)
        .join(', ')}) AS v(${fields.map((_, i) => `c${i}`).join(', ')})`
    : rows.map(() => `SELECT ${fkValue} FROM ${parent.cte}`).join(' UNION ALL ');
  const head = `INSERT INTO ${target.table} (${[fk.col, ...fields.map((f) => f.col)].join(', ')}) ${source} RETURNING `;
  return (returnRows) => head + (returnRows ? target.selectList : '1');
}

/** Sample data of an import: declared fields as given, conflicts skipped. */
export function insertSampleSql(entity: EntityMeta, cols: readonly Assignment[], params: Params): string {
  return `${insertSql(entity, cols, params)} ON CONFLICT DO NOTHING RETURNING ${entity.selectList}`;
}

// ── updates ──────────────────────────────────────────────────────────────────────────────────────────────

/** `<col> = <value>, …` of an UPDATE (the caller orders the binds: the text numbers them as they come). */
export function setsSql(cols: readonly Assignment[], params: Params): string {
  return cols.map((a) => `${a[0].col} = ${bind(params, a)}`).join(', ');
}

/** `UPDATE … SET <sets><where> RETURNING <record columns>` (`where`: a whereSql text). */
export function updateSql(entity: EntityMeta, sets: string, where: string): string {
  return `UPDATE ${entity.table} SET ${sets}${where} RETURNING ${entity.selectList}`;
}

/** Columns of a before-image: the version (ctid) it was read at, and the old values; no field name can be these. */
const VERSION_COL = '"~version"';
const BEFORE = '"~before"';

/** The name under which a guarded update returns a field's value as it was (field names are identifiers). */
export function oldColumnName(f: FieldMeta): string {
  return `~old.${f.name}`;
}

/** `oldColumnName`, quoted. */
export function oldColumn(f: FieldMeta): string {
  return `"${oldColumnName(f)}"`;
}

/**
 * An update that also returns the old values of `olds` (for captures that compare before and after), beside
 * the row as written, in one statement: a subquery reads the row's version and those values, and the UPDATE
 * writes the row only if it is still that version. A row lock would make the same guarantee at the cost of
 * one more heap write and WAL record per update; instead, a concurrent update that commits first gives the
 * row a new ctid, PostgreSQL's recheck of the waiting UPDATE then finds the guard false, and no row is
 * written (the caller then takes its general path, which locks). The old values ride in the UPDATE's own
 * RETURNING (it may name its FROM items), so the captures read one relation and join nothing.
 */
export function guardedUpdateSql(entity: EntityMeta, sets: string, where: string, olds: readonly FieldMeta[]): string {
  const t = entity.table;
  const read = [`ctid AS ${VERSION_COL}`, ...olds.map((f) => `${f.col} AS ${oldColumn(f)}`)].join(', ');
  const returning = [entity.tableSelectList, ...olds.map((f) => `${BEFORE}.${oldColumn(f)}`)].join(', ');
  return `UPDATE ${t} SET ${sets} FROM (SELECT ${read} FROM ${t}${where}) ${BEFORE} WHERE ${t}.ctid = ${BEFORE}.${VERSION_COL} RETURNING ${returning}`;
}

/** `set_null` of a cascade: the foreign key cleared on the matching rows, which come back as they were. */
export function clearForeignKeySql(target: EntityMeta, fk: FieldMeta, match: string): string {
  return (
    `UPDATE ${target.table} SET ${fk.col} = NULL FROM (SELECT ${target.selectList} FROM ${target.table} WHERE ${match} FOR UPDATE) b ` +
    `WHERE ${target.table}.${target.pk.col} = b.${target.pk.col} RETURNING b.*`
  );
}

// ── deletes ──────────────────────────────────────────────────────────────────────────────────────────────

/** Deletes rows by key: stamps `deleted_at` on live rows of a soft-delete entity, else removes them. */
export function deleteByKeysSql(entity: EntityMeta, ids: readonly unknown[], now: string, params: Params): string {
  const idList = params.add(ids as string[], `${entity.pk.cast}[]`);
  if (entity.softDelete) {
    const at = params.add(now, 'timestamptz');
    return `UPDATE ${entity.table} SET ${DELETED_AT} = ${at} WHERE ${entity.pk.col} = ANY(${idList}) AND ${DELETED_AT} IS NULL`;
  }
  return `DELETE FROM ${entity.table} WHERE ${entity.pk.col} = ANY(${idList})`;
}

// ── join tables of many-to-many relations ────────────────────────────────────────────────────────────────

/** Statements on a many-to-many relation's join table, from its source side (`$1`: source key or keys). */
export function joinTableSql(rel: RelationMeta) {
  const join = quoteIdent(rel.def.join_table!);
  const a = quoteIdent(rel.def.source_join_key!);
  const b = quoteIdent(rel.def.target_join_key!);
  const src = rel.source.pk.cast;
  const tgt = rel.target.pk.cast;
  return {
    /** `n`: links of any of the source keys `$1` (array). */
    countOf: `SELECT count(*)::int AS n FROM ${join} WHERE ${a} = ANY($1::${src}[])`,
    /** Links of any of the source keys `$1` (array). */
    deleteOf: `DELETE FROM ${join} WHERE ${a} = ANY($1::${src}[])`,
    /** Every link of source `$1`. */
    deleteAll: `DELETE FROM ${join} WHERE ${a} = $1::${src}`,
    /** Links of source `$1` to the targets `$2` (array). */
    deleteSome: `DELETE FROM ${join} WHERE ${a} = $1::${src} AND ${b} = ANY($2::${tgt}[])`,
    /** Links of source `$1` to the targets `$2` (array), existing ones kept. */
    insert: `INSERT INTO ${join} (${a}, ${b}) SELECT $1::${src}, x FROM unnest($2::${tgt}[]) AS x ON CONFLICT DO NOTHING`,
  };
}
