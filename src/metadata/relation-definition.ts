import { Problems, isObject } from './problems.js';
import {
  IDENTIFIER_RE,
  ON_DELETE,
  PROTO_KEY,
  RELATION_TYPES,
  SYSTEM_COLUMNS,
  SYSTEM_TABLES,
  WRITE_MODES,
  type EntityDef,
  type OnDelete,
  type RelationDef,
  type RelationType,
  type WriteMode,
} from './types.js';

const oneOf = <T extends string>(values: readonly T[], v: unknown): v is T => typeof v === 'string' && (values as readonly string[]).includes(v);

const present = (v: unknown) => v !== undefined && v !== null && v !== '';

const NUMERIC_TYPES: readonly string[] = ['int', 'integer', 'bigint', 'float', 'decimal'];

const pkType = (e: EntityDef): string => e.fields.find((f) => f.name === e.primary_key.field)?.type ?? e.primary_key.type;

/**
 * Whether a foreign key of type `fk` can hold any primary key of type `pk`. One that can hold some (a string
 * key of uuids, an int key of a string primary key) is allowed: the keys that fit match, the others match
 * nothing. One that can hold none (a uuid into an int column) would fail every nested write.
 */
function keyHolds(fk: string, pk: string): boolean {
  if (fk === 'string' || fk === 'text') return true;
  if (pk === 'string' || pk === 'text') return fk !== 'json' && fk !== 'file';
  if (pk === 'uuid') return fk === 'uuid';
  return NUMERIC_TYPES.includes(fk);
}

/** The keys of `entity`'s records: its fields, and `deleted_at` when it soft-deletes. */
export function recordKeys(entity: EntityDef): string[] {
  const names = entity.fields.map((f) => f.name);
  return entity.soft_delete && !names.includes('deleted_at') ? [...names, 'deleted_at'] : names;
}

/**
 * The message when a relation's name is a record key of one of its entities: the name is the relation's
 * include (metadata.md §3), which would replace that key's value, and the OpenAPI schema can show only one.
 */
export function nameClash(relation: string, entity: string): string {
  return `relation ${relation} has the name of a field of ${entity}: include=${relation} would replace the field's value`;
}

/**
 * Validates and normalises a relation against the app's entities
 * (spec: metadata.md §3, §7). Throws 422 naming every problem.
 */
export function parseRelationDefinition(
  input: unknown,
  entities: ReadonlyMap<string, EntityDef>,
  nameOverride?: string,
  /** Read back from `_relations`, where names refused only since (PROTO_KEY) may remain. */
  stored = false,
): RelationDef {
  const p = new Problems();
  if (!isObject(input)) {
    p.add('', 'relation definition must be a JSON object');
    p.throwIfAny();
  }
  const raw = input as Record<string, unknown>;
  const name = nameOverride ?? raw.name;
  if (!present(name)) p.add('name', 'relation name is required');
  else if (typeof name !== 'string' || !IDENTIFIER_RE.test(name)) p.add('name', 'relation name must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$');
  else if (name === PROTO_KEY && !stored) p.add('name', `relation name "${PROTO_KEY}" is reserved`);

  let source: EntityDef | undefined;
  let target: EntityDef | undefined;
  if (!present(raw.source) || !present(raw.target)) {
    p.add('source', 'source and target are required');
  } else {
    source = typeof raw.source === 'string' ? entities.get(raw.source) : undefined;
    target = typeof raw.target === 'string' ? entities.get(raw.target) : undefined;
    if (!source) p.add('source', `source entity not found: ${String(raw.source)}`);
    if (!target) p.add('target', `target entity not found: ${String(raw.target)}`);
  }
  if (typeof name === 'string' && !stored) {
    for (const e of new Set([source, target])) if (e && recordKeys(e).includes(name)) p.add('name', nameClash(name, e.name));
  }
  const type = raw.type;
  if (!oneOf(RELATION_TYPES, type)) p.add('type', `invalid relation type: ${String(type ?? '')}`);

  const sourceKey = present(raw.source_key) ? raw.source_key : source?.primary_key.field;
  if (source && sourceKey !== source.primary_key.field) {
    p.add('source_key', `source_key must be the primary key of ${source.name} (${source.primary_key.field})`);
  }

  const def: Partial<RelationDef> = {};
  if (type === 'one_to_one' || type === 'one_to_many') {
    if (!present(raw.target_key)) p.add('target_key', `target_key is required for ${type} relations`);
    else if (typeof raw.target_key !== 'string' || !IDENTIFIER_RE.test(raw.target_key)) p.add('target_key', 'target_key must be an identifier');
    else if (target && !target.fields.some((f) => f.name === raw.target_key)) {
      p.add('target_key', `target_key ${raw.target_key} not found in fields of ${target.name}`);
    } else if (source && target && !keyHolds(target.fields.find((f) => f.name === raw.target_key)!.type, pkType(source))) {
      const fkType = target.fields.find((f) => f.name === raw.target_key)!.type;
      p.add('target_key', `target_key ${raw.target_key} (${fkType}) cannot hold the primary key of ${source.name} (${pkType(source)})`);
    } else {
      def.target_key = raw.target_key;
    }
  }
  if (type === 'many_to_many') {
    if (!present(raw.join_table)) p.add('join_table', 'join_table is required for many_to_many relations');
    for (const key of ['join_table', 'source_join_key', 'target_join_key'] as const) {
      if (!present(raw[key])) {
        if (key !== 'join_table') p.add(key, `${key} is required for many_to_many relations`);
      } else if (typeof raw[key] !== 'string' || !IDENTIFIER_RE.test(raw[key] as string)) {
        p.add(key, `${key} must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$`);
      } else if (key !== 'join_table' && SYSTEM_COLUMNS.has((raw[key] as string).toLowerCase())) {
        // CREATE TABLE would fail on it: a system column's name cannot be a column of the join table
        p.add(key, `${key} "${raw[key]}" is a PostgreSQL system column`);
      } else {
        def[key] = raw[key] as string;
      }
    }
    if (def.source_join_key && def.source_join_key === def.target_join_key) {
      p.add('target_join_key', 'source_join_key and target_join_key must differ');
    }
    if (
      typeof raw.join_table === 'string' &&
      (SYSTEM_TABLES.has(raw.join_table.toLowerCase()) ||
        // PostgreSQL looks a pg_ name up in pg_catalog first: the join rows would be read from and written to a catalog.
        raw.join_table.toLowerCase().startsWith('pg_') ||
        [...entities.values()].some((e) => e.table === raw.join_table))
    ) {
      p.add('join_table', `join_table ${raw.join_table} collides with an entity or system table`);
    }
  }

  const onDelete = raw.on_delete ?? '';
  if (!oneOf(ON_DELETE, onDelete)) p.add('on_delete', 'on_delete must be one of cascade, set_null, restrict, detach');
  const writeMode = present(raw.write_mode) ? raw.write_mode : 'diff';
  if (!oneOf(WRITE_MODES, writeMode)) p.add('write_mode', 'write_mode must be one of diff, replace, append');
  const ownership = present(raw.ownership) ? raw.ownership : 'none';
  if (!oneOf(['source', 'target', 'none'] as const, ownership)) p.add('ownership', 'ownership must be source, target or none');
  const fetch = present(raw.fetch) ? raw.fetch : 'lazy';
  if (!oneOf(['lazy', 'eager'] as const, fetch)) p.add('fetch', 'fetch must be lazy or eager');
  if (onDelete === 'set_null' && (type === 'one_to_one' || type === 'one_to_many') && target && def.target_key) {
    const fk = target.fields.find((f) => f.name === def.target_key);
    if ((fk?.required && !fk.nullable) || fk?.name === target.primary_key.field) {
      p.add('on_delete', `on_delete set_null needs ${target.name}.${def.target_key} to be nullable`);
    }
  }
  p.throwIfAny();

  const out: RelationDef = {
    name: name as string,
    type: type as RelationType,
    source: source!.name,
    target: target!.name,
    source_key: sourceKey as string,
    ownership: ownership as RelationDef['ownership'],
    on_delete: onDelete as OnDelete,
    fetch: fetch as RelationDef['fetch'],
    write_mode: writeMode as WriteMode,
  };
  if (def.target_key) out.target_key = def.target_key;
  if (type === 'many_to_many') {
    out.join_table = def.join_table!;
    out.source_join_key = def.source_join_key!;
    out.target_join_key = def.target_join_key!;
  }
  return out;
}
