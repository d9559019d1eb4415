import type { AdminApp } from './admin-app.js';
import { exactJson, jsonColumns } from '../db/exact-json.js';
import { conflict, objectPayload, notFound, RocketError, validationFailed } from '../errors.js';
import { parseEntityDefinition } from './entity-definition.js';
import { storedDefinition } from './registry.js';
import { applyIndexesInTransaction, buildIndexesConcurrently, dropIndexesConcurrently, planIndexes } from './index-migration.js';
import { checkJoinTable, dropUniqueIndex, holdsSoftDeletedRows, lockEntityName, lockRelationDdl, migrateEntity, migrateRelation } from './migrate.js';
import type { Queryable } from '../db/database.js';
import { isPgError, UniqueViolation } from '../db/pg-errors.js';
import { nameClash, parseRelationDefinition, recordKeys } from './relation-definition.js';
import type { EntityDef, RelationDef } from './types.js';
import { NO_AUDIT, type Audit } from './audit.js';

/** Entity and relation admin operations (spec: metadata.md §6–7). No HTTP here. */

export interface EntityRow {
  name: string;
  table_name: string;
  definition: EntityDef;
  created_at: Date;
  updated_at: Date;
}

export interface RelationRow {
  name: string;
  source: string;
  target: string;
  definition: RelationDef;
  created_at: Date;
  updated_at: Date;
}

/** The definition column: the legacy server may have stored it as JSON text, answered as the object it holds. */
const DEFINITION = ['definition'] as const;

export async function listEntities(app: AdminApp): Promise<EntityRow[]> {
  const rows = await app.db.query<EntityRow>('SELECT name, table_name, definition, created_at, updated_at FROM _entities ORDER BY name');
  return rows.map((r) => jsonColumns(r, DEFINITION));
}

export async function getEntity(app: AdminApp, name: string): Promise<EntityRow> {
  const rows = await app.db.query<EntityRow>('SELECT name, table_name, definition, created_at, updated_at FROM _entities WHERE name = $1', [name]);
  if (!rows[0]) throw notFound(`Entity not found: ${name}`);
  return jsonColumns(rows[0], DEFINITION);
}

/** Relations that a new version of an entity would break. */
function checkRelationsStillValid(relations: Iterable<RelationDef>, def: EntityDef): void {
  for (const rel of relations) {
    if (rel.target === def.name && rel.target_key && !def.fields.some((f) => f.name === rel.target_key)) {
      throw validationFailed(`field ${rel.target_key} is used by relation ${rel.name} and cannot be removed`);
    }
    const fk = rel.target === def.name && rel.on_delete === 'set_null' ? def.fields.find((f) => f.name === rel.target_key) : undefined;
    if (fk && ((fk.required && !fk.nullable) || fk.name === def.primary_key.field)) {
      throw validationFailed(`field ${fk.name} must stay nullable: relation ${rel.name} sets it to null on delete`);
    }
    if (rel.source === def.name && rel.source_key !== def.primary_key.field) {
      throw validationFailed(`primary key of ${def.name} is used by relation ${rel.name} and cannot change`);
    }
  }
}

const pkFieldType = (e: EntityDef) => e.fields.find((f) => f.name === e.primary_key.field)?.type;

/**
 * Every relation of the entity must still hold against its new definition (a key type changed with a new table):
 * the registry would otherwise drop it at the reload, or keep a join table whose key column no longer fits.
 */
function checkRelationsStillParse(app: AdminApp, relations: Iterable<RelationDef>, before: EntityDef | undefined, def: EntityDef): void {
  const entities = app.registry.entityDefs();
  entities.set(def.name, def);
  for (const rel of relations) {
    if (rel.source !== def.name && rel.target !== def.name) continue;
    try {
      parseRelationDefinition(rel, entities, rel.name);
    } catch (err) {
      if (!(err instanceof RocketError) || err.status >= 500) throw err;
      throw validationFailed(`relation ${rel.name} would no longer be valid: ${err.message}`);
    }
    if (rel.type === 'many_to_many' && before && pkFieldType(before) !== pkFieldType(def)) {
      throw validationFailed(`primary key type of ${def.name} is used by the join table of relation ${rel.name} and cannot change`);
    }
  }
}

/**
 * The stored relations of an entity, read inside the transaction that has just updated its row: a relation
 * created concurrently (after the snapshot the definition was first checked against) holds that row FOR
 * SHARE until it commits, so the update waited for it and this read sees it. Only those valid against the
 * definition being replaced: one the registry already skips (its other entity gone) stays as inert as it was.
 */
async function storedRelationsOf(app: AdminApp, tx: Queryable, before: EntityDef): Promise<RelationDef[]> {
  const rows = await tx.query<{ name: string; definition: unknown }>(
    'SELECT name, definition FROM _relations WHERE source = $1 OR target = $1 ORDER BY name',
    [before.name],
  );
  const entities = app.registry.entityDefs();
  entities.set(before.name, before);
  const out: RelationDef[] = [];
  for (const row of rows) {
    try {
      out.push(parseRelationDefinition(storedDefinition(row.definition), entities, row.name, true));
    } catch {
      /* skipped, as the registry does */
    }
  }
  return out;
}

/** checkRulesStillValid against the stored active field rules (rules-admin.ts holds the entity row while saving one). */
async function checkStoredFieldRules(tx: Queryable, def: EntityDef): Promise<void> {
  const rows = await tx.query<{ id: string; field: string }>(
    `SELECT id, definition->>'field' AS field FROM _rules WHERE entity = $1 AND type = 'field' AND active AND NOT (definition->>'field' = ANY($2::text[])) LIMIT 1`,
    [def.name, def.fields.map((f) => f.name)],
  );
  if (rows[0]) throw validationFailed(`field ${rows[0].field} is used by a field rule (${rows[0].id}) and cannot be removed`);
}

/**
 * The current definitions of `names`, their `_entities` rows locked FOR SHARE until the transaction ends: a
 * concurrent PUT or DELETE of one of them either waits for this change, or committed first and is read here
 * (a key field removed, the entity gone) instead of the snapshot the change was first checked against.
 */
async function lockEntities(app: AdminApp, tx: Queryable, names: string[]): Promise<Map<string, EntityDef>> {
  const rows = await tx.query<{ name: string; definition: unknown }>(
    'SELECT name, definition FROM _entities WHERE name = ANY($1::text[]) ORDER BY name FOR SHARE',
    [names],
  );
  const entities = app.registry.entityDefs();
  for (const name of names) entities.delete(name);
  for (const row of rows) {
    try {
      entities.set(row.name, parseEntityDefinition(storedDefinition(row.definition), row.name, true));
    } catch {
      /* unparseable: skipped, as the registry does */
    }
  }
  return entities;
}

/**
 * No field may have the name of a relation of its entity (stored ones too, whose other entity may be gone
 * for now): the relation's include would replace the field's value.
 */
async function checkNoRelationNamed(app: AdminApp, def: EntityDef): Promise<void> {
  const keys = recordKeys(def);
  const rows = await app.db.query<{ name: string }>(
    'SELECT name FROM _relations WHERE (source = $1 OR target = $1) AND name = ANY($2::text[]) ORDER BY name',
    [def.name, keys],
  );
  if (rows.length === 0) return;
  const details = rows.map(({ name }) => {
    const i = def.fields.findIndex((f) => f.name === name);
    return { field: i >= 0 ? `fields[${i}].name` : 'soft_delete', message: nameClash(name, def.name) };
  });
  throw validationFailed(details[0]!.message, details);
}

/**
 * The key of a table that holds rows cannot move to another column or type (metadata.md §5: nothing is
 * retyped): the old key would stay the table's primary key while the API addressed rows by the new one.
 */
function checkKeepsTable(before: EntityDef, def: EntityDef): void {
  if (def.table !== before.table) return; // a new table gets the new key
  const was = before.primary_key;
  const now = def.primary_key;
  if (was.field !== now.field || was.type !== now.type) {
    throw validationFailed(
      `primary_key cannot change on table ${def.table} (from ${was.field} ${was.type} to ${now.field} ${now.type}); give the entity a new table for a new key`,
    );
  }
}

/** Field rules name a field of their entity (rules.md: checked when written); removing it would leave them dangling. */
function checkRulesStillValid(app: AdminApp, def: EntityDef): void {
  const rules = app.registry.entities.get(def.name)?.rules;
  for (const rule of [...(rules?.field ?? []), ...(rules?.deleteField ?? [])]) {
    const field = rule.def.field;
    if (field !== undefined && !def.fields.some((f) => f.name === field)) {
      throw validationFailed(`field ${field} is used by a field rule (${rule.id}) and cannot be removed`);
    }
  }
}

/**
 * Stores a definition and migrates its table in one transaction; declared indexes on existing
 * columns are built CONCURRENTLY before it and dropped again if it fails, indexes no longer
 * declared are dropped after it (see index-migration.ts for why).
 */
async function saveEntity(app: AdminApp, def: EntityDef, write: (tx: Queryable) => Promise<void>): Promise<void> {
  try {
    await migrateWithIndexes(app, def, write);
  } catch (err) {
    // Two changes of one table at once (an index one builds CONCURRENTLY, the other replaces or waits on it) can
    // deadlock; PostgreSQL aborts one of them, which changed nothing and may simply be sent again.
    if (isPgError(err, '40P01')) throw conflict(`Entity ${def.name} was changed by a concurrent request; try again`);
    throw err;
  }
}

async function migrateWithIndexes(app: AdminApp, def: EntityDef, write: (tx: Queryable) => Promise<void>): Promise<void> {
  const plan = await planIndexes(app.db, def);
  const built = await buildIndexesConcurrently(app.db, plan);
  try {
    await app.db.transaction(async (tx) => {
      await write(tx);
      await applyIndexesInTransaction(tx, plan);
    });
  } catch (err) {
    await dropIndexesConcurrently(app.db, built);
    throw err;
  }
  await dropIndexesConcurrently(app.db, plan.obsolete);
}

export async function createEntity(app: AdminApp, body: unknown, audit: Audit = NO_AUDIT): Promise<EntityDef> {
  const def = parseEntityDefinition(objectPayload(body));
  // Answered from the snapshot before any index is built on a table this call will not get (the transaction checks again).
  if (app.registry.entities.has(def.name)) throw conflict(`Entity already exists: ${def.name}`);
  const holder = [...app.registry.entities.values()].find((e) => e.def.table === def.table);
  if (holder) throw conflict(`Table ${def.table} is already used by entity ${holder.name}`);
  await checkNoRelationNamed(app, def);
  const clashWith = async (db: Queryable) => {
    const clash = await db.query<{ name: string; table_name: string }>('SELECT name, table_name FROM _entities WHERE name = $1 OR table_name = $2', [
      def.name,
      def.table,
    ]);
    if (clash.some((r) => r.name === def.name)) throw conflict(`Entity already exists: ${def.name}`);
    if (clash[0]) throw conflict(`Table ${def.table} is already used by entity ${clash[0].name}`);
  };
  try {
    await saveEntity(app, def, async (tx) => {
      await clashWith(tx);
      // exactJson: a default beyond a double's digits (an ExactNumber) is stored as that number, not as a string.
      await tx.query('INSERT INTO _entities (name, table_name, definition) VALUES ($1, $2, $3::jsonb)', [def.name, def.table, exactJson(def)]);
      await migrateEntity(tx, def);
      await audit(tx, { collection: '_entities', key: def.name, action: 'create', before: null, after: def });
    });
  } catch (err) {
    // A concurrent create of the same name or table committed after the check: answered as if it came first.
    if (err instanceof UniqueViolation) await clashWith(app.db);
    throw err;
  }
  await app.reload();
  return def;
}

/**
 * The stored definition of an entity row as the registry reads it, or undefined when it no longer parses (JSON
 * text the legacy server left unreadable, a definition since refused): the registry skips such a row, and a
 * PUT replaces it like a definition saved for the first time over the table the row names.
 */
function storedEntityDef(row: EntityRow): EntityDef | undefined {
  try {
    return parseEntityDefinition(storedDefinition(row.definition), row.name, true);
  } catch {
    return undefined;
  }
}

export async function updateEntity(app: AdminApp, name: string, body: unknown, audit: Audit = NO_AUDIT): Promise<EntityDef> {
  const before = await getEntity(app, name);
  const previous = storedEntityDef(before);
  const def = parseEntityDefinition(objectPayload(body), name);
  const known = [...app.registry.relations.values()].map((r) => r.def);
  checkRelationsStillValid(known, def);
  if (previous) checkKeepsTable(previous, def);
  checkRulesStillValid(app, def);
  const holder = [...app.registry.entities.values()].find((e) => e.def.table === def.table && e.name !== name);
  if (holder) throw conflict(`Table ${def.table} is already used by entity ${holder.name}`);
  await checkNoRelationNamed(app, def);
  checkRelationsStillParse(app, known, previous, def);
  await saveEntity(app, def, async (tx) => {
    const clash = await tx.query<{ name: string }>('SELECT name FROM _entities WHERE table_name = $1 AND name <> $2', [def.table, name]);
    if (clash[0]) throw conflict(`Table ${def.table} is already used by entity ${clash[0].name}`);
    const updated = await tx.query(
      'UPDATE _entities SET table_name = $2, definition = $3::jsonb, updated_at = NOW() WHERE name = $1 RETURNING name',
      [name, def.table, exactJson(def)],
    );
    // Deleted by a concurrent request since it was read: nothing to migrate (no stray table or index).
    if (updated.length === 0) throw notFound(`Entity not found: ${name}`);
    if (previous?.soft_delete && !def.soft_delete && def.table === previous.table) {
      // Without soft delete every row is live again: rows deleted earlier would come back.
      if (await holdsSoftDeletedRows(tx, def.table)) {
        throw validationFailed(`soft_delete cannot be turned off while ${def.table} holds soft-deleted rows: they would come back`);
      }
    }
    // Checked again against the relations and field rules stored now: one saved since the snapshot must hold too.
    await checkStoredFieldRules(tx, def);
    // Without a readable previous definition its relations are read against the new one, which makes them live.
    const relations = await storedRelationsOf(app, tx, previous ?? def);
    checkRelationsStillValid(relations, def);
    checkRelationsStillParse(app, relations, previous, def);
    await migrateEntity(tx, def, previous);
    // Relations keep their DDL (FK indexes, one_to_one uniqueness) on a new table too.
    const entities = app.registry.entityDefs();
    for (const rel of relations) {
      const source = rel.source === name ? def : entities.get(rel.source);
      const target = rel.target === name ? def : entities.get(rel.target);
      if (source && target) await migrateRelation(tx, rel, source, target);
    }
    await audit(tx, { collection: '_entities', key: name, action: 'update', before: before.definition, after: def });
  });
  await app.reload();
  return def;
}

/**
 * The relations, rules and state machines an entity takes with it (their foreign keys cascade), deleted
 * here first so that each is audited as a delete like its own admin API's (history.md: metadata changes).
 */
async function deleteDependents(app: AdminApp, tx: Queryable, name: string, audit: Audit): Promise<void> {
  const deleted = await tx.query<{ name: string; definition: RelationDef }>(
    'DELETE FROM _relations WHERE source = $1 OR target = $1 RETURNING name, definition',
    [name],
  );
  for (const r of deleted.map((row) => jsonColumns(row, DEFINITION))) {
    if (r.definition.target !== name) await releaseOneToOne(app, tx, r.definition, null);
    await audit(tx, { collection: '_relations', key: r.name, action: 'delete', before: r.definition, after: null });
  }
  const dependents = [
    ['_rules', 'DELETE FROM _rules WHERE entity = $1 RETURNING id, entity, hook, type, definition, priority, active'],
    ['_state_machines', 'DELETE FROM _state_machines WHERE entity = $1 RETURNING id, entity, field, definition, active'],
  ] as const;
  for (const [collection, sql] of dependents) {
    for (const row of await tx.query<{ id: string }>(sql, [name])) {
      await audit(tx, { collection, key: row.id, action: 'delete', before: row, after: null });
    }
  }
}

export async function deleteEntity(app: AdminApp, name: string, audit: Audit = NO_AUDIT): Promise<{ name: string; deleted: true }> {
  await app.db.transaction(async (tx) => {
    // A relation being saved on it commits before its dependents are read, so it goes with them like any
    // other (audited, its one_to_one index released) instead of by the foreign key's cascade.
    await lockEntityName(tx, name, 'exclusive');
    await deleteDependents(app, tx, name, audit);
    const rows = await tx.query<{ definition: EntityDef }>('DELETE FROM _entities WHERE name = $1 RETURNING definition', [name]);
    if (!rows[0]) throw notFound(`Entity not found: ${name}`);
    await audit(tx, { collection: '_entities', key: name, action: 'delete', before: jsonColumns(rows[0], DEFINITION).definition, after: null });
  });
  await app.reload();
  return { name, deleted: true };
}

export async function listRelations(app: AdminApp): Promise<RelationRow[]> {
  const rows = await app.db.query<RelationRow>('SELECT name, source, target, definition, created_at, updated_at FROM _relations ORDER BY name');
  return rows.map((r) => jsonColumns(r, DEFINITION));
}

export async function getRelation(app: AdminApp, name: string): Promise<RelationRow> {
  const rows = await app.db.query<RelationRow>('SELECT name, source, target, definition, created_at, updated_at FROM _relations WHERE name = $1', [
    name,
  ]);
  if (!rows[0]) throw notFound(`Relation not found: ${name}`);
  return jsonColumns(rows[0], DEFINITION);
}

/**
 * A one_to_one relation's unique index on its target key (metadata.md §3) goes when no one_to_one relation
 * needs it any more — the relation changed kind or key, or was deleted — else its target would still refuse
 * a second child.
 */
async function releaseOneToOne(app: AdminApp, tx: Queryable, old: RelationDef, now: RelationDef | null): Promise<void> {
  if (old.type !== 'one_to_one' || !old.target_key) return;
  if (now?.type === 'one_to_one' && now.target === old.target && now.target_key === old.target_key) return;
  const target = app.registry.entities.get(old.target)?.def;
  if (!target) return;
  for (const r of app.registry.relations.values()) {
    if (r.name !== old.name && r.def.type === 'one_to_one' && r.def.target === old.target && r.def.target_key === old.target_key) return;
  }
  await dropUniqueIndex(tx, 'uq', target.table, old.target_key);
}

async function saveRelation(
  app: AdminApp,
  checked: RelationDef,
  /** Parses the body again against the given entity definitions. */
  parse: (entities: ReadonlyMap<string, EntityDef>) => RelationDef,
  before: RelationDef | null,
  audit: Audit,
): Promise<RelationDef> {
  const mode = before ? 'update' : 'create';
  return app.db.transaction(async (tx) => {
    await lockRelationDdl(tx, checked, app.registry.entities.get(checked.target)?.def.table ?? checked.target);
    // The snapshot `checked` was parsed against may be older than a concurrent PUT or DELETE of its entities.
    const names = [...new Set([checked.source, checked.target])].sort();
    for (const n of names) await lockEntityName(tx, n, 'shared');
    const entities = await lockEntities(app, tx, names);
    const def = parse(entities);
    const source = entities.get(def.source)!;
    const target = entities.get(def.target)!;
    if (mode === 'create') {
      const exists = await tx.query('SELECT 1 FROM _relations WHERE name = $1', [def.name]);
      if (exists.length > 0) throw conflict(`Relation already exists: ${def.name}`);
      await tx.query('INSERT INTO _relations (name, source, target, definition) VALUES ($1, $2, $3, $4::jsonb)', [
        def.name,
        def.source,
        def.target,
        JSON.stringify(def),
      ]);
    } else {
      const updated = await tx.query(
        'UPDATE _relations SET source = $2, target = $3, definition = $4::jsonb, updated_at = NOW() WHERE name = $1 RETURNING name',
        [def.name, def.source, def.target, JSON.stringify(def)],
      );
      // Deleted by a concurrent request since it was read: its indexes must not come back.
      if (updated.length === 0) throw notFound(`Relation not found: ${def.name}`);
    }
    // Join tables are made on create only (spec); FK indexes and one_to_one uniqueness always hold.
    if (before) await releaseOneToOne(app, tx, before, def);
    if (mode === 'create' || def.type !== 'many_to_many') await migrateRelation(tx, def, source, target);
    else await checkJoinTable(tx, def);
    await audit(tx, { collection: '_relations', key: def.name, action: mode, before, after: def });
    return def;
  });
}

export async function createRelation(app: AdminApp, body: unknown, audit: Audit = NO_AUDIT): Promise<RelationDef> {
  const input = objectPayload(body);
  const def = parseRelationDefinition(input, app.registry.entityDefs());
  let saved: RelationDef;
  try {
    saved = await saveRelation(app, def, (entities) => parseRelationDefinition(input, entities), null, audit);
  } catch (err) {
    // A concurrent create of the same name committed after the check: answered as if it came first.
    if (err instanceof UniqueViolation && (await app.db.query('SELECT 1 FROM _relations WHERE name = $1', [def.name])).length > 0) {
      throw conflict(`Relation already exists: ${def.name}`);
    }
    throw err;
  }
  await app.reload();
  return saved;
}

export async function updateRelation(app: AdminApp, name: string, body: unknown, audit: Audit = NO_AUDIT): Promise<RelationDef> {
  const before = await getRelation(app, name);
  const input = objectPayload(body);
  const def = parseRelationDefinition(input, app.registry.entityDefs(), name);
  const saved = await saveRelation(app, def, (entities) => parseRelationDefinition(input, entities, name), before.definition, audit);
  await app.reload();
  return saved;
}

export async function deleteRelation(app: AdminApp, name: string, audit: Audit = NO_AUDIT): Promise<{ name: string; deleted: true }> {
  await app.db.transaction(async (tx) => {
    const rows = await tx.query<{ definition: RelationDef }>('DELETE FROM _relations WHERE name = $1 RETURNING definition', [name]);
    if (!rows[0]) throw notFound(`Relation not found: ${name}`);
    const { definition } = jsonColumns(rows[0], DEFINITION);
    await releaseOneToOne(app, tx, definition, null);
    await audit(tx, { collection: '_relations', key: name, action: 'delete', before: definition, after: null });
  });
  await app.reload();
  return { name, deleted: true };
}
