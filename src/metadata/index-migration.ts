import type { Queryable } from '../db/database.js';
import { isPgError, UniqueViolation } from '../db/pg-errors.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { conflict, RocketError, validationFailed } from '../errors.js';
import { declaredIndexes, type DeclaredIndex } from './indexes.js';
import type { EntityDef } from './types.js';

/**
 * Auto-migration of declared indexes (spec: metadata.md §2 `indexes`, `index`).
 *
 * `CREATE INDEX CONCURRENTLY` cannot run inside a transaction, and the entity's metadata row and
 * its other DDL commit together in one. So an index whose columns already exist is built
 * CONCURRENTLY *before* that transaction (writers keep going on a large table; a failed build is
 * cleaned up and answers 422 before anything is stored), and dropped again if the transaction then
 * fails. An index on a table or column the transaction itself creates is built inside it: the table
 * is new or is locked by ADD COLUMN anyway. Indexes no longer declared are dropped CONCURRENTLY
 * after the commit. Rocket marks the indexes it made with a comment, so it only ever drops its own.
 */

const OWNED = 'rocket: declared index';

interface ExistingIndex {
  columns: string[];
  opclasses: string[];
  unique: boolean;
  valid: boolean;
  /** No predicate and no expressions: the shape declared indexes have. */
  simple: boolean;
  owned: boolean;
}

export interface IndexPlan {
  table: string;
  /** Built CONCURRENTLY before the metadata transaction. */
  early: DeclaredIndex[];
  /** Built inside the metadata transaction; `replace` drops a stale index of that name first. */
  inTransaction: Array<{ index: DeclaredIndex; replace: boolean }>;
  /** Found matching but not yet marked as Rocket's (a build whose comment was lost): marked in the transaction. */
  adopt: string[];
  /** Rocket's indexes on the table that are no longer declared: dropped CONCURRENTLY after the commit. */
  obsolete: string[];
}

async function existingIndexes(q: Queryable, table: string): Promise<Map<string, ExistingIndex>> {
  const rows = await q.query<{ name: string } & ExistingIndex>(
    `SELECT c.relname::text AS name, i.indisunique AS unique, i.indisvalid AS valid,
            (i.indpred IS NULL AND i.indexprs IS NULL) AS simple,
            coalesce(obj_description(c.oid, 'pg_class') = $2, false) AS owned,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            ARRAY(SELECT oc.opcname::text FROM unnest(i.indclass::oid[]) WITH ORDINALITY k(n, o)
                    JOIN pg_opclass oc ON oc.oid = k.n ORDER BY k.o) AS opclasses
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace`,
    [table, OWNED],
  );
  return new Map(rows.map((r) => [r.name, r]));
}

function matches(e: ExistingIndex, d: DeclaredIndex): boolean {
  return (
    e.valid &&
    e.simple &&
    e.unique === d.unique &&
    e.columns.length === d.columns.length &&
    e.columns.every((c, i) => c === d.columns[i]) &&
    e.opclasses.every((o) => (o === 'text_pattern_ops') === d.pattern)
  );
}

function nameTaken(d: DeclaredIndex): RocketError {
  const message = `${d.path}: index name ${d.name} is already used by another table or index`;
  return validationFailed(message, [{ field: `${d.path}.name`, rule: 'migration', message }]);
}

/** What to create, replace and drop so the table holds exactly the declared indexes. 422 when a name is taken. */
export async function planIndexes(q: Queryable, def: EntityDef): Promise<IndexPlan> {
  const declared = declaredIndexes(def);
  const existing = await existingIndexes(q, def.table);
  const columnRows = await q.query<{ name: string }>(
    `SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
    [def.table],
  );
  const columns = new Set(columnRows.map((r) => r.name));
  const elsewhere = new Set(
    (
      await q.query<{ name: string }>(
        `SELECT relname::text AS name FROM pg_class WHERE relname = ANY($1::text[]) AND relnamespace = current_schema()::regnamespace`,
        [declared.map((d) => d.name)],
      )
    )
      .map((r) => r.name)
      .filter((n) => !existing.has(n)),
  );
  const plan: IndexPlan = { table: def.table, early: [], inTransaction: [], adopt: [], obsolete: [] };
  for (const d of declared) {
    if (elsewhere.has(d.name)) throw nameTaken(d);
    const e = existing.get(d.name);
    if (e && matches(e, d)) {
      if (!e.owned) plan.adopt.push(d.name);
    } else if (e) {
      if (!e.owned && e.valid) throw nameTaken(d);
      plan.inTransaction.push({ index: d, replace: true });
    } else if (d.columns.every((c) => columns.has(c))) {
      plan.early.push(d);
    } else {
      plan.inTransaction.push({ index: d, replace: false });
    }
  }
  const names = new Set(declared.map((d) => d.name));
  for (const [name, e] of existing) if (e.owned && !names.has(name)) plan.obsolete.push(name);
  return plan;
}

function createSql(table: string, d: DeclaredIndex, concurrently: boolean): string {
  const cols = d.columns.map((c) => `${quoteIdent(c)}${d.pattern ? ' text_pattern_ops' : ''}`).join(', ');
  return `CREATE ${d.unique ? 'UNIQUE ' : ''}INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${quoteIdent(d.name)} ON ${quoteIdent(table)} (${cols})`;
}

const markSql = (name: string) => `COMMENT ON INDEX ${quoteIdent(name)} IS ${quoteLiteral(OWNED)}`;

/**
 * Another admin request created a relation of this name after the plan was made (the plan found it free):
 * 42P07 once it committed, or a violation of the catalog's own name index while both were creating it.
 */
function nameRace(err: unknown): boolean {
  if (isPgError(err, '42P07')) return true;
  return err instanceof UniqueViolation && (err.index === 'pg_class_relname_nsp_index' || err.index === 'pg_type_typname_nsp_index');
}

/** A build that failed on the data (duplicates for a unique index, values too large for a btree entry) → 422 naming the index. */
function buildFailure(err: unknown, d: DeclaredIndex): unknown {
  if (nameRace(err)) return conflict(`${d.path}: index ${d.name} was created by a concurrent change; try again`);
  const tooLarge = isPgError(err, '54000');
  if (!tooLarge && !(err instanceof RocketError && err.status < 500)) return err;
  const message = tooLarge
    ? `cannot build index ${d.name}: a value is too large to index`
    : `cannot build index ${d.name}: rows hold duplicate values`;
  const field = tooLarge ? d.path : `${d.path}${d.path.startsWith('indexes') ? '.unique' : ''}`;
  return validationFailed(`${d.path}: ${message}`, [{ field, rule: 'migration', message }]);
}

/**
 * Builds the plan's early indexes CONCURRENTLY (autocommit statements on the pool, never inside a
 * transaction). On a failure the half-built (invalid) index and those built so far are dropped.
 */
export async function buildIndexesConcurrently(db: Queryable, plan: IndexPlan): Promise<string[]> {
  const built: string[] = [];
  for (const d of plan.early) {
    try {
      await db.query(createSql(plan.table, d, true));
      built.push(d.name);
      await db.query(markSql(d.name));
    } catch (err) {
      // An index of that name made by a concurrent request is not this one's to drop.
      await dropIndexesConcurrently(db, nameRace(err) ? built : [...built, d.name]);
      throw buildFailure(err, d);
    }
  }
  return built;
}

/** The plan's remaining indexes, inside the metadata transaction (after the table and columns exist). */
export async function applyIndexesInTransaction(tx: Queryable, plan: IndexPlan): Promise<void> {
  for (const { index, replace } of plan.inTransaction) {
    if (replace) await tx.query(`DROP INDEX IF EXISTS ${quoteIdent(index.name)}`);
    try {
      await tx.query(createSql(plan.table, index, false));
    } catch (err) {
      throw buildFailure(err, index);
    }
    await tx.query(markSql(index.name));
  }
  for (const name of plan.adopt) await tx.query(markSql(name));
}

/** Drops indexes without blocking writers; a failure leaves the index for the next migration to drop. */
export async function dropIndexesConcurrently(db: Queryable, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(name)}`).catch(() => undefined);
  }
}
