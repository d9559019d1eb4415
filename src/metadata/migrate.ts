import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { exactJson } from '../db/exact-json.js';
import { isPgError } from '../db/pg-errors.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { RocketError, validationFailed } from '../errors.js';
import { columnType, sqlType } from '../types/sql-types.js';
import { DELETED_AT } from './registry.js';
import type { EntityDef, FieldDef, RelationDef } from './types.js';

/**
 * Auto-migration (spec: metadata.md §5): creates and extends tables, never
 * drops, renames or narrows a column. Runs inside the metadata transaction so
 * the definition and its DDL commit together.
 */

interface ColumnInfo {
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  numeric_scale: number | null;
  numeric_precision: number | null;
  column_default: string | null;
  is_identity: 'YES' | 'NO';
}

/** PostgreSQL truncates names past 63 bytes; long names get a hash so they stay distinct. */
export function indexName(prefix: string, table: string, column: string): string {
  const name = `${prefix}_${table}_${column}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, 63 - 11)}_${hash}`;
}

/**
 * Index names live in one namespace per schema, shared with tables: `idx_<table>_<field>` of table
 * "order_item"/field "code" is also that of table "order"/field "item_code". The plain name is used
 * unless something else already holds it; then a name salted with the table is used instead.
 */
function indexCandidates(prefix: string, table: string, column: string): string[] {
  const plain = indexName(prefix, table, column);
  const hash = createHash('sha1').update(`${table}\u0000${column}`).digest('hex').slice(0, 8);
  return [plain, `${plain.slice(0, 63 - 9)}_${hash}`];
}

/** The names the unique index of a field may have: the plain one, or the table-salted one when that was taken. */
export function uniqueIndexNames(table: string, column: string): string[] {
  return indexCandidates('idx', table, column);
}

/** The index name this table uses (or should use) for (prefix, column), and whether that index exists. */
async function indexSlot(tx: Queryable, prefix: string, table: string, column: string): Promise<{ name: string; exists: boolean; unique: boolean }> {
  const names = indexCandidates(prefix, table, column);
  const rows = await tx.query<{ name: string; owner: string | null; unique: boolean | null }>(
    `SELECT c.relname AS name, t.relname AS owner, i.indisunique AS unique
       FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
      WHERE c.relname = ANY($1::text[]) AND c.relnamespace = current_schema()::regnamespace`,
    [names],
  );
  for (const name of names) {
    const row = rows.find((r) => r.name === name);
    if (!row) return { name, exists: false, unique: false };
    if (row.owner === table) return { name, exists: true, unique: Boolean(row.unique) };
  }
  throw new Error(`no free index name for ${table}.${column}`);
}

/** CREATE [UNIQUE] INDEX for (prefix, column) on a table unless this table already has it. */
async function ensureIndex(
  tx: Queryable,
  prefix: string,
  table: string,
  column: string,
  sql: (name: string) => string,
  onFail?: { path: string; what: string },
): Promise<void> {
  const slot = await indexSlot(tx, prefix, table, column);
  if (slot.exists) return;
  const text = sql(quoteIdent(slot.name));
  if (onFail) await step(tx, text, onFail.path, onFail.what);
  else await tx.query(text);
}

const DATA_TYPE: Record<string, string> = {
  TEXT: 'text',
  INTEGER: 'integer',
  BIGINT: 'bigint',
  'DOUBLE PRECISION': 'double precision',
  BOOLEAN: 'boolean',
  UUID: 'uuid',
  TIMESTAMPTZ: 'timestamp with time zone',
  DATE: 'date',
  JSONB: 'jsonb',
};

function expectedDataType(field: FieldDef): string {
  const col = columnType(field);
  return col.startsWith('NUMERIC') ? 'numeric' : DATA_TYPE[col]!;
}

/** Widening changes that cannot lose or reject data. */
const SAFE_WIDENING: Record<string, readonly string[]> = {
  integer: ['bigint', 'numeric', 'double precision'],
  bigint: ['numeric'],
  date: ['timestamp with time zone'],
};

function defaultSql(field: FieldDef): string | undefined {
  if (field.default === undefined || field.default === null) return undefined;
  // exactJson / String: an ExactNumber default keeps its digits (JSON.stringify would quote them).
  const text = field.type === 'json' ? exactJson(field.default) : String(field.default);
  return `${quoteLiteral(text)}::${sqlType(field)}`;
}

const isNotNull = (f: FieldDef) => Boolean(f.required && !f.nullable);

/** Runs one DDL step; a data-dependent failure becomes a 422 naming the field. */
async function step(tx: Queryable, sql: string, path: string, what: string): Promise<void> {
  try {
    await tx.query(sql);
  } catch (err) {
    // 54011: the table's 1600 columns are used up, counting columns of fields removed from the metadata (kept).
    const full = isPgError(err, '54011');
    if ((err instanceof RocketError && err.status < 500) || full) {
      const why = full ? `${what}: the table has PostgreSQL's 1600 columns, counting those of removed fields` : what;
      throw validationFailed(`${path}: ${why}`, [{ field: path, rule: 'migration', message: why }]);
    }
    throw err;
  }
}

async function columnsOf(tx: Queryable, table: string): Promise<Map<string, ColumnInfo>> {
  const rows = await tx.query<ColumnInfo>(
    `SELECT column_name, data_type, is_nullable, numeric_scale, numeric_precision, column_default, is_identity
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  );
  return new Map(rows.map((r) => [r.column_name, r]));
}

/**
 * A json column declared a file field keeps its JSONB type, but a file field only ever holds an object (files.md):
 * rows holding another JSON value (an array, a string) would be read back as no file could be. Refused while any does.
 */
async function checkFileValues(tx: Queryable, table: string, col: string, name: string, path: string): Promise<void> {
  const rows = await tx.query(`SELECT 1 FROM ${table} WHERE jsonb_typeof(${col}) NOT IN ('object', 'null') LIMIT 1`);
  if (rows.length > 0) {
    throw validationFailed(`${path}.type: rows hold values of ${name} that are not file objects`, [
      { field: `${path}.type`, rule: 'migration', message: `rows hold values of ${name} that a file field cannot hold` },
    ]);
  }
}

export async function migrateEntity(
  tx: Queryable,
  def: EntityDef,
  /** The definition being replaced: a field required in it already may keep the NULLs it was added with. */
  previous?: EntityDef,
): Promise<void> {
  const table = quoteIdent(def.table);
  const existing = await columnsOf(tx, def.table);
  const pkName = def.primary_key.field;
  const hasDeletedAt = def.fields.some((f) => f.name === 'deleted_at');

  if (existing.size === 0) {
    await checkNameFree(tx, def.table);
    const cols = def.fields.map((f) => {
      let sql = `${quoteIdent(f.name)} ${columnType(f)}`;
      if (f.name === pkName) {
        sql += ' PRIMARY KEY';
        if (def.primary_key.generated) {
          sql += def.primary_key.type === 'uuid' ? ' DEFAULT gen_random_uuid()' : ' GENERATED BY DEFAULT AS IDENTITY';
        }
        return sql;
      }
      if (isNotNull(f)) sql += ' NOT NULL';
      const dflt = defaultSql(f);
      if (dflt) sql += ` DEFAULT ${dflt}`;
      return sql;
    });
    if (def.soft_delete && !hasDeletedAt) cols.push(`${DELETED_AT} TIMESTAMPTZ`);
    await tx.query(`CREATE TABLE ${table} (${cols.join(', ')})`);
  } else {
    await checkTablePrimaryKey(tx, def);
    for (const [i, f] of def.fields.entries()) {
      const path = `fields[${i}]`;
      const col = quoteIdent(f.name);
      const current = existing.get(f.name);
      if (!current) {
        let sql = `ALTER TABLE ${table} ADD COLUMN ${col} ${columnType(f)}`;
        const dflt = defaultSql(f);
        if (f.name === pkName) {
          // A new PK column on a populated table cannot be filled; refuse rather than fail in DDL.
          throw validationFailed(`${path}: primary key field ${f.name} does not exist in table ${def.table}`);
        }
        if (isNotNull(f) && dflt) sql += ` NOT NULL DEFAULT ${dflt}`;
        else if (isNotNull(f) && (f.type === 'string' || f.type === 'text')) sql += ` NOT NULL DEFAULT ''`;
        else if (dflt) sql += ` DEFAULT ${dflt}`;
        await step(tx, sql, path, `cannot add column ${f.name}`);
        continue;
      }
      const want = expectedDataType(f);
      if (current.data_type !== want) {
        if (!SAFE_WIDENING[current.data_type]?.includes(want)) {
          throw validationFailed(`${path}.type: cannot change column ${f.name} from ${current.data_type} to ${want}`, [
            { field: `${path}.type`, rule: 'migration', message: `only widening type changes are allowed` },
          ]);
        }
        await step(tx, `ALTER TABLE ${table} ALTER COLUMN ${col} TYPE ${columnType(f)}`, `${path}.type`, `cannot change type of ${f.name}`);
      } else if (want === 'numeric' && (current.numeric_scale ?? -1) !== (f.precision && f.precision > 0 ? f.precision : -1)) {
        // Fewer decimal places would round stored values (never changed silently): refused while any would change.
        const places = f.precision && f.precision > 0 ? f.precision : undefined;
        if (places !== undefined && (current.numeric_scale === null || current.numeric_scale > places)) {
          const rounded = await tx.query(`SELECT 1 FROM ${table} WHERE ${col} <> round(${col}, ${places}) LIMIT 1`);
          if (rounded.length > 0) {
            throw validationFailed(`${path}.precision: existing values of ${f.name} have more than ${places} decimal places`, [
              { field: `${path}.precision`, rule: 'migration', message: `rows hold values of ${f.name} that precision ${places} would round` },
            ]);
          }
        }
        await step(
          tx,
          `ALTER TABLE ${table} ALTER COLUMN ${col} TYPE ${columnType(f)}`,
          `${path}.precision`,
          `existing values of ${f.name} do not fit precision ${f.precision ?? 0}`,
        );
      }
      const wasFile = previous?.table === def.table && previous.fields.some((p) => p.name === f.name && p.type === 'file');
      if (f.type === 'file' && !wasFile && current.data_type === 'jsonb') await checkFileValues(tx, table, col, f.name, path);
      if (f.name === pkName) {
        if (def.primary_key.generated) await ensureGenerated(tx, def, current);
        continue;
      }
      if (isNotNull(f) && current.is_nullable === 'YES') {
        const nulls = await tx.query(`SELECT 1 FROM ${table} WHERE ${col} IS NULL LIMIT 1`);
        // A required non-text field added to a populated table was added nullable (metadata.md §Auto-migration):
        // saving the entity again must not fail on the NULLs that left; only making a field required does.
        const wasRequired = previous?.table === def.table && previous.fields.some((p) => p.name === f.name && isNotNull(p));
        if (nulls.length > 0 && !wasRequired) {
          throw validationFailed(`${path}.required: cannot make ${f.name} required while rows hold NULL`, [
            { field: `${path}.required`, rule: 'migration', message: `rows hold NULL in ${f.name}` },
          ]);
        }
        if (nulls.length === 0) await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${col} SET NOT NULL`);
      } else if (!isNotNull(f) && current.is_nullable === 'NO') {
        await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${col} DROP NOT NULL`);
      }
      const dflt = defaultSql(f);
      await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${col} ${dflt ? `SET DEFAULT ${dflt}` : 'DROP DEFAULT'}`);
    }
    if (def.soft_delete && !existing.has('deleted_at') && !hasDeletedAt) {
      await tx.query(`ALTER TABLE ${table} ADD COLUMN ${DELETED_AT} TIMESTAMPTZ`);
    } else if (def.soft_delete && !hasDeletedAt) {
      const wasSoft = previous?.table !== def.table || previous.soft_delete;
      await checkKeptDeletedAt(tx, def.table, existing.get('deleted_at')!, wasSoft);
    }
    // A field removed from the metadata keeps its column and data, but no write fills it any more.
    const declared = new Set(def.fields.map((f) => f.name));
    for (const [name, current] of existing) {
      if (declared.has(name) || name === 'deleted_at') continue;
      if (current.is_nullable === 'NO') await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(name)} DROP NOT NULL`);
      // Its default would still fill it, and a unique one would then refuse every record after the first.
      if (current.column_default !== null && current.is_identity === 'NO') {
        await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(name)} DROP DEFAULT`);
      }
    }
  }

  for (const [i, f] of def.fields.entries()) {
    if (f.name === pkName) continue;
    if (f.unique) {
      await ensureIndex(tx, 'idx', def.table, f.name, (idx) => `CREATE UNIQUE INDEX ${idx} ON ${table} (${quoteIdent(f.name)})`, {
        path: `fields[${i}].unique`,
        what: `cannot make ${f.name} unique: rows hold duplicate values`,
      });
    } else if (existing.has(f.name)) {
      await dropUniqueIndex(tx, 'idx', def.table, f.name);
    }
  }
  if (def.soft_delete) {
    await ensureIndex(tx, 'idx', def.table, 'deleted_at', (idx) => `CREATE INDEX ${idx} ON ${table} (${DELETED_AT}) WHERE ${DELETED_AT} IS NULL`);
  }
}

/**
 * A `deleted_at` column kept from a removed field becomes the soft-delete marker: it must be a nullable
 * timestamp, and when soft delete is switched on, no row may hold a value in it (that row would vanish).
 */
async function checkKeptDeletedAt(tx: Queryable, table: string, current: ColumnInfo, wasSoft: boolean): Promise<void> {
  const refuse = (message: string) => validationFailed(`soft_delete: ${message}`, [{ field: 'soft_delete', rule: 'migration', message }]);
  if (current.data_type !== 'timestamp with time zone') {
    throw refuse(`column deleted_at of ${table} is ${current.data_type} (kept from a removed field), not a timestamp`);
  }
  const t = quoteIdent(table);
  if (!wasSoft && (await tx.query(`SELECT 1 FROM ${t} WHERE ${DELETED_AT} IS NOT NULL LIMIT 1`)).length > 0) {
    throw refuse(`rows of ${table} hold values in deleted_at (kept from a removed field): turning soft delete on would hide them`);
  }
  if (current.is_nullable === 'NO') await tx.query(`ALTER TABLE ${t} ALTER COLUMN ${DELETED_AT} DROP NOT NULL`);
}

/**
 * A table shares its schema's namespace with indexes, sequences and views (and with types, through its row
 * type): CREATE TABLE under a name one of them holds would fail.
 */
async function checkNameFree(tx: Queryable, table: string): Promise<void> {
  const rows = await tx.query(
    `SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace
     UNION ALL
     SELECT 1 FROM pg_type WHERE typname = $1 AND typnamespace = current_schema()::regnamespace AND typcategory <> 'A'`,
    [table],
  );
  if (rows.length === 0) return;
  const message = `table name ${table} is already used by another object of the database (an index, sequence, view or type)`;
  throw validationFailed(`table: ${message}`, [{ field: 'table', rule: 'migration', message }]);
}

/**
 * An existing table (kept from a deleted entity, or a many_to_many join table) keeps its primary key:
 * declaring another one would address rows by a column that is not their key, and the undeclared key
 * column could not lose its NOT NULL (a DDL failure).
 */
async function checkTablePrimaryKey(tx: Queryable, def: EntityDef): Promise<void> {
  const rows = await tx.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
      WHERE i.indisprimary AND c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
      ORDER BY a.attnum`,
    [def.table],
  );
  const key = rows.map((r) => r.name);
  if (key.length === 0 || (key.length === 1 && key[0] === def.primary_key.field)) return;
  const message = `table ${def.table} already exists with primary key (${key.join(', ')}), not ${def.primary_key.field}`;
  throw validationFailed(`primary_key.field: ${message}`, [{ field: 'primary_key.field', rule: 'migration', message }]);
}

/** A generated PK on an existing table gets its generation (uuid default / identity continuing after the rows). */
async function ensureGenerated(tx: Queryable, def: EntityDef, current: ColumnInfo): Promise<void> {
  const table = quoteIdent(def.table);
  const col = quoteIdent(def.primary_key.field);
  if (def.primary_key.type === 'uuid') {
    if (!current.column_default) await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${col} SET DEFAULT gen_random_uuid()`);
    return;
  }
  if (current.is_identity === 'YES' || current.column_default) return; // identity, or a serial-style default
  await tx.query(`ALTER TABLE ${table} ALTER COLUMN ${col} ADD GENERATED BY DEFAULT AS IDENTITY`);
  await continueIdentity(tx, def.table, def.primary_key.field);
}

/**
 * Drops a unique index Rocket made on a column that no longer needs it (the data stays): a field's (`idx`)
 * that is no longer unique, or a one_to_one relation's one-live-child index (`uq`).
 */
export async function dropUniqueIndex(tx: Queryable, prefix: 'idx' | 'uq', table: string, column: string): Promise<void> {
  const slot = await indexSlot(tx, prefix, table, column);
  if (slot.exists && slot.unique) await tx.query(`DROP INDEX ${quoteIdent(slot.name)}`);
}

/**
 * A many_to_many relation needs its join table with both key columns. Updates never create or alter
 * join tables, and an existing table is reused as it is, so a missing piece is a 422 here rather
 * than a failing query on the first include.
 */
export async function checkJoinTable(tx: Queryable, rel: RelationDef): Promise<void> {
  const cols = await columnsOf(tx, rel.join_table!);
  if (cols.size === 0) {
    // CREATE TABLE IF NOT EXISTS skips a name an index or sequence holds: that is no missing table.
    const held =
      (await tx.query('SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace', [rel.join_table!])).length > 0;
    const message = held
      ? `join_table ${rel.join_table} is already used by another object of the database (an index, sequence or view)`
      : `join_table ${rel.join_table} does not exist`;
    throw validationFailed(message, [{ field: 'join_table', rule: 'definition', message }]);
  }
  for (const key of ['source_join_key', 'target_join_key'] as const) {
    if (!cols.has(rel[key]!)) {
      const message = `join_table ${rel.join_table} has no column ${rel[key]}`;
      throw validationFailed(message, [{ field: key, rule: 'definition', message }]);
    }
  }
}

/**
 * Serialises relation changes that make DDL on one table (the join table, or the target's for its key indexes)
 * until their transactions end. Two relations sharing a join table (or a target key) would otherwise both miss
 * it and both create it: the later CREATE fails on the name the earlier one has not yet committed, instead of
 * reusing it (metadata.md §3). Taken before any DDL of the transaction, so it never waits while holding a table lock.
 */
export async function lockRelationDdl(tx: Queryable, rel: RelationDef, targetTable: string): Promise<void> {
  const table = rel.type === 'many_to_many' ? rel.join_table! : targetTable;
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rocket_relation_ddl:' || $1))`, [table]);
}

/**
 * Orders an entity's DELETE after the relation saves on it (`shared` by each save, exclusive by the delete), so a
 * relation being saved commits first and goes with the entity's other dependents, audited.
 */
export async function lockEntityName(tx: Queryable, name: string, mode: 'shared' | 'exclusive'): Promise<void> {
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await tx.query(`SELECT ${fn}(hashtext('rocket_entity:' || $1))`, [name]);
}

export async function migrateRelation(tx: Queryable, rel: RelationDef, source: EntityDef, target: EntityDef): Promise<void> {
  if (rel.type === 'many_to_many') {
    const srcKey = source.fields.find((f) => f.name === rel.source_key)!;
    const tgtKey = target.fields.find((f) => f.name === target.primary_key.field)!;
    const a = quoteIdent(rel.source_join_key!);
    const b = quoteIdent(rel.target_join_key!);
    const join = quoteIdent(rel.join_table!);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${join} (${a} ${columnType(srcKey)} NOT NULL, ${b} ${columnType(tgtKey)} NOT NULL, PRIMARY KEY (${a}, ${b}))`,
    );
    await checkJoinTable(tx, rel);
    await ensureIndex(tx, 'idx', rel.join_table!, rel.target_join_key!, (idx) => `CREATE INDEX ${idx} ON ${join} (${b})`);
    return;
  }
  const table = quoteIdent(target.table);
  const fk = quoteIdent(rel.target_key!);
  await ensureIndex(tx, 'fk', target.table, rel.target_key!, (idx) => `CREATE INDEX ${idx} ON ${table} (${fk})`);
  if (rel.type === 'one_to_one') {
    await dropStaleOneToOne(tx, target.table, rel.target_key!, target.soft_delete);
    const where = target.soft_delete ? ` WHERE ${DELETED_AT} IS NULL` : '';
    await ensureIndex(tx, 'uq', target.table, rel.target_key!, (idx) => `CREATE UNIQUE INDEX ${idx} ON ${table} (${fk})${where}`, {
      path: 'target_key',
      what: `cannot make ${rel.name} one_to_one: several ${target.name} rows share a ${rel.target_key}`,
    });
  }
}

/**
 * A one_to_one index is partial exactly when its target soft-deletes (metadata.md §3). Made before soft delete
 * was switched on, a full one would still count soft-deleted children; it is dropped here to be made again.
 */
async function dropStaleOneToOne(tx: Queryable, table: string, column: string, partial: boolean): Promise<void> {
  const slot = await indexSlot(tx, 'uq', table, column);
  if (!slot.exists) return;
  const [row] = await tx.query<{ partial: boolean }>('SELECT indpred IS NOT NULL AS partial FROM pg_index WHERE indexrelid = $1::regclass', [
    quoteIdent(slot.name),
  ]);
  if (row && row.partial !== partial) await tx.query(`DROP INDEX ${quoteIdent(slot.name)}`);
}

/** Moves an identity key's sequence past the keys the table already holds (rows written with their own keys). */
export async function continueIdentity(tx: Queryable, table: string, column: string): Promise<void> {
  const col = quoteIdent(column);
  const t = quoteIdent(table);
  await tx.query(`SELECT setval(pg_get_serial_sequence($1, $2), GREATEST((SELECT max(${col}) FROM ${t}), 0) + 1, false)`, [t, column]);
}

/** Whether a soft-delete table holds soft-deleted rows (which turning soft delete off would bring back). */
export async function holdsSoftDeletedRows(tx: Queryable, table: string): Promise<boolean> {
  return (await tx.query(`SELECT 1 FROM ${quoteIdent(table)} WHERE ${DELETED_AT} IS NOT NULL LIMIT 1`)).length > 0;
}
