import { ExactNumber } from '../db/exact-number.js';
import { coerceInput, enumKeys, isEnumMember } from '../types/coerce.js';
import { FIELD_TYPES, type FieldType } from '../types/field-types.js';
import { RESERVED_INDEX_PREFIXES, declaredIndexes, tableOwnNames } from './indexes.js';
import { Problems, isObject } from './problems.js';
import {
  IDENTIFIER_RE,
  PK_TYPES,
  PROTO_KEY,
  RESERVED_ENTITY_NAMES,
  SYSTEM_COLUMNS,
  SYSTEM_TABLES,
  type EntityDef,
  type FieldDef,
  type IndexDef,
  type JsonScalar,
  type PkType,
} from './types.js';

const PK_TYPE_OF_FIELD: Partial<Record<FieldType, PkType>> = {
  uuid: 'uuid',
  int: 'int',
  integer: 'int',
  bigint: 'bigint',
  string: 'string',
  text: 'string',
};

function identifier(p: Problems, path: string, value: unknown, what: string): value is string {
  if (typeof value !== 'string' || !IDENTIFIER_RE.test(value)) {
    p.add(path, `${what} must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$`);
    return false;
  }
  return true;
}

function bool(p: Problems, path: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    p.add(path, `${path} must be a boolean`);
    return false;
  }
  return value;
}

function field(p: Problems, raw: unknown, i: number, stored: boolean): FieldDef | undefined {
  const at = `fields[${i}]`;
  if (!isObject(raw)) {
    p.add(at, `${at} must be an object`);
    return undefined;
  }
  if (!identifier(p, `${at}.name`, raw.name, `${at}.name`)) return undefined;
  const name = raw.name;
  if (name === PROTO_KEY) {
    if (!stored) p.add(`${at}.name`, `field name "${PROTO_KEY}" is reserved: a JSON body cannot carry it as a key`);
    return undefined;
  }
  if (SYSTEM_COLUMNS.has(name.toLowerCase())) p.add(`${at}.name`, `field name "${name}" is a PostgreSQL system column`);
  if (typeof raw.type !== 'string' || !(FIELD_TYPES as readonly string[]).includes(raw.type)) {
    p.add(`${at}.type`, `${at}.type: unknown field type ${JSON.stringify(raw.type)} (one of ${FIELD_TYPES.join(', ')})`);
    return undefined;
  }
  const def: FieldDef = { name, type: raw.type as FieldType };
  if (bool(p, `${at}.required`, raw.required)) def.required = true;
  if (bool(p, `${at}.unique`, raw.unique)) def.unique = true;
  if (bool(p, `${at}.nullable`, raw.nullable)) def.nullable = true;
  if (bool(p, `${at}.index`, raw.index)) {
    if (UNINDEXABLE.has(def.type)) p.add(`${at}.index`, `${at}.index: ${def.type} fields cannot be indexed`);
    else def.index = true;
  }

  if (raw.precision !== undefined && raw.precision !== null) {
    if (typeof raw.precision !== 'number' || !Number.isInteger(raw.precision) || raw.precision < 0 || raw.precision > 18) {
      p.add(`${at}.precision`, `${at}.precision must be an integer from 0 to 18`);
    } else if (raw.precision > 0) {
      def.precision = raw.precision;
    }
  }
  if (raw.auto !== undefined && raw.auto !== null && raw.auto !== '') {
    if (raw.auto !== 'create' && raw.auto !== 'update') p.add(`${at}.auto`, `${at}.auto must be "create" or "update"`);
    else if (def.type !== 'timestamp' && def.type !== 'date') p.add(`${at}.auto`, `${at}.auto needs a timestamp or date field`);
    else def.auto = raw.auto;
  }
  if (raw.enum !== undefined && raw.enum !== null) {
    // A number (9007199254740993 parsed exactly is an ExactNumber) is listed as its text, digit for digit.
    if (!Array.isArray(raw.enum) || raw.enum.some((v) => typeof v !== 'string' && typeof v !== 'number' && !(v instanceof ExactNumber))) {
      p.add(`${at}.enum`, `${at}.enum must be an array of strings`);
    } else if (raw.enum.length > 0) {
      def.enum = raw.enum.map(String);
    }
  }
  if (raw.default !== undefined && raw.default !== null) {
    // An ExactNumber is a number a double would round (a bigint default beyond 2^53): kept with its digits.
    const d = raw.default;
    if (typeof d === 'object' && !(d instanceof ExactNumber)) {
      p.add(`${at}.default`, `${at}.default must be a JSON scalar`);
    } else if (def.type === 'file') {
      p.add(`${at}.default`, `${at}.default is not supported for file fields`);
    } else if (!coerceInput(def, d).ok) {
      p.add(`${at}.default`, `${at}.default ${shown(d)} is not a valid ${def.type} value`);
    } else if (def.enum && !isEnumMember(def, def.enum, (coerceInput(def, d) as { value: unknown }).value, enumKeys(def, def.enum))) {
      // Compared as writes compare it: a default of 1.5 is the member "1.50" of a decimal.
      p.add(`${at}.default`, `${at}.default ${shown(d)} is not one of the enum values`);
    } else {
      // A float column keeps a double: its default is the double it stores.
      def.default = d instanceof ExactNumber && def.type === 'float' ? Number(d) : (d as JsonScalar | ExactNumber);
    }
  }
  return def;
}

/** A default as its JSON text in a message (an ExactNumber's digits, not a quoted string). */
const shown = (d: unknown) => (d instanceof ExactNumber ? d.digits : JSON.stringify(d));

/** JSON values are not filtered or sorted on, and a large one would not fit a btree entry. */
const UNINDEXABLE = new Set<FieldType>(['json', 'file']);

/** PostgreSQL's MaxHeapAttributeNumber: columns of one table. */
const MAX_COLUMNS = 1600;

/** PostgreSQL's INDEX_MAX_KEYS. */
const MAX_INDEX_COLUMNS = 32;

/** The `indexes` key: known, indexable fields, none twice in one index, no field list or name twice. */
function indexes(p: Problems, raw: unknown, fields: ReadonlyMap<string, FieldDef>): IndexDef[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    p.add('indexes', 'indexes must be an array');
    return [];
  }
  const out: IndexDef[] = [];
  const lists = new Map<string, string>();
  for (const f of fields.values()) if (f.index) lists.set(JSON.stringify([f.name]), `field ${f.name} (index: true)`);
  raw.forEach((item, i) => {
    const at = `indexes[${i}]`;
    if (!isObject(item)) {
      p.add(at, `${at} must be an object`);
      return;
    }
    const list = item.fields;
    if (!Array.isArray(list) || list.length === 0) {
      p.add(`${at}.fields`, `${at}.fields must be a non-empty array of field names`);
      return;
    }
    if (list.length > MAX_INDEX_COLUMNS) p.add(`${at}.fields`, `${at}.fields: at most ${MAX_INDEX_COLUMNS} fields`);
    let ok = true;
    const seen = new Set<string>();
    list.forEach((name, j) => {
      const path = `${at}.fields[${j}]`;
      const f = typeof name === 'string' ? fields.get(name) : undefined;
      if (!f) {
        p.add(path, `${path}: unknown field ${JSON.stringify(name)}`);
        ok = false;
      } else if (UNINDEXABLE.has(f.type)) {
        p.add(path, `${path}: ${f.type} field ${f.name} cannot be indexed`);
        ok = false;
      } else if (seen.has(f.name)) {
        p.add(path, `${path}: field ${f.name} appears twice in one index`);
        ok = false;
      }
      if (typeof name === 'string') seen.add(name);
    });
    const def: IndexDef = { fields: list as string[] };
    if (bool(p, `${at}.unique`, item.unique)) def.unique = true;
    if (item.name !== undefined && item.name !== null && item.name !== '') {
      if (identifier(p, `${at}.name`, item.name, `${at}.name`)) {
        const lower = item.name.toLowerCase();
        if (RESERVED_INDEX_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
          p.add(`${at}.name`, `${at}.name: index names starting with ${RESERVED_INDEX_PREFIXES.join(', ')} are reserved`);
        } else {
          def.name = item.name;
        }
      }
    }
    if (!ok) return;
    const key = JSON.stringify(list);
    const earlier = lists.get(key);
    if (earlier) p.add(`${at}.fields`, `${at}.fields: the same field list is already indexed by ${earlier}`);
    else lists.set(key, at);
    out.push(def);
  });
  return out;
}

/**
 * Validates and normalises an entity definition (spec: metadata.md §2). Throws
 * 422 naming every problem's path; unknown keys are dropped. `stored`: read back
 * from `_entities`, where names refused only since (PROTO_KEY) may remain.
 */
export function parseEntityDefinition(input: unknown, nameOverride?: string, stored = false): EntityDef {
  const p = new Problems();
  if (!isObject(input)) {
    p.add('', 'entity definition must be a JSON object');
    p.throwIfAny();
  }
  const raw = input as Record<string, unknown>;
  const name = nameOverride ?? raw.name;
  if (name === undefined || name === null || name === '') p.add('name', 'entity name is required');
  else if (identifier(p, 'name', name, 'entity name') && (RESERVED_ENTITY_NAMES.has(name) || (name === PROTO_KEY && !stored))) {
    p.add('name', `entity name "${name}" is reserved`);
  }
  const table = raw.table;
  if (table === undefined || table === null || table === '') p.add('table', 'table name is required');
  else if (identifier(p, 'table', table, 'table name') && (SYSTEM_TABLES.has(table.toLowerCase()) || table.toLowerCase().startsWith('pg_'))) {
    p.add('table', `table name "${table}" is reserved for system tables`);
  }

  const fields: FieldDef[] = [];
  if (!Array.isArray(raw.fields) || raw.fields.length === 0) {
    p.add('fields', 'entity must have at least one field');
  } else {
    const seen = new Set<string>();
    raw.fields.forEach((f, i) => {
      const def = field(p, f, i, stored);
      if (!def) return;
      if (seen.has(def.name.toLowerCase())) p.add(`fields[${i}].name`, `duplicate field name "${def.name}"`);
      seen.add(def.name.toLowerCase());
      fields.push(def);
    });
  }
  const byName = new Map(fields.map((f) => [f.name, f]));

  const softDelete = bool(p, 'soft_delete', raw.soft_delete);
  const deletedAt = byName.get('deleted_at');
  if (softDelete && deletedAt && deletedAt.type !== 'timestamp') {
    p.add('fields', 'deleted_at must be a timestamp field on a soft-delete entity');
  }
  if (fields.length + (softDelete && !deletedAt ? 1 : 0) > MAX_COLUMNS) {
    p.add('fields', `an entity has at most ${MAX_COLUMNS} fields (with deleted_at on a soft-delete entity): PostgreSQL's column limit`);
  }

  let primaryKey: EntityDef['primary_key'] | undefined;
  const pk = raw.primary_key;
  const pkField = isObject(pk) ? pk.field : undefined;
  if (pkField === undefined || pkField === null || pkField === '') {
    p.add('primary_key.field', 'primary key field is required');
  } else if (typeof pkField !== 'string' || !byName.has(pkField)) {
    if (Array.isArray(raw.fields)) p.add('primary_key.field', `primary key field ${String(pkField)} not found in fields`);
  } else {
    const f = byName.get(pkField)!;
    const derived = PK_TYPE_OF_FIELD[f.type];
    const pkObj = pk as Record<string, unknown>;
    if (!derived) {
      p.add('primary_key.field', `primary key field ${pkField} must be of type uuid, int, integer, bigint, string or text`);
    } else {
      let type: PkType = derived;
      if (pkObj.type !== undefined && pkObj.type !== null && pkObj.type !== '') {
        const given = pkObj.type === 'integer' ? 'int' : pkObj.type;
        if (typeof given !== 'string' || !(PK_TYPES as readonly string[]).includes(given)) {
          p.add('primary_key.type', 'primary_key.type must be uuid, int, bigint or string');
        } else if (given !== derived) {
          p.add('primary_key.type', `primary_key.type ${given} does not match field ${pkField} of type ${f.type}`);
        } else {
          type = given as PkType;
        }
      }
      const generated = bool(p, 'primary_key.generated', pkObj.generated);
      if (generated && type === 'string') p.add('primary_key.generated', 'a string primary key cannot be generated');
      primaryKey = { field: pkField, type, generated };
    }
  }

  let slug: EntityDef['slug'];
  if (raw.slug !== undefined && raw.slug !== null) {
    if (!isObject(raw.slug) || typeof raw.slug.field !== 'string') {
      p.add('slug', 'slug must be an object with a field');
    } else {
      const sf = byName.get(raw.slug.field);
      if (!sf) p.add('slug.field', `slug field "${raw.slug.field}" not found in fields`);
      else if (sf.type !== 'string' && sf.type !== 'text') p.add('slug.field', `slug field "${sf.name}" must be of type string or text`);
      else if (!sf.unique) p.add('slug.field', `slug field "${sf.name}" must have unique: true`);
      slug = { field: raw.slug.field };
      const source = raw.slug.source;
      if (source !== undefined && source !== null && source !== '') {
        if (typeof source !== 'string' || !byName.has(source)) p.add('slug.source', `slug source field "${String(source)}" not found in fields`);
        else slug.source = source;
      }
      if (bool(p, 'slug.regenerate_on_update', raw.slug.regenerate_on_update)) slug.regenerate_on_update = true;
    }
  }

  const indexList = indexes(p, raw.indexes, byName);
  const history = bool(p, 'history', raw.history);

  p.throwIfAny();
  const def: EntityDef = {
    name: name as string,
    table: table as string,
    primary_key: primaryKey!,
    soft_delete: softDelete,
    fields,
  };
  if (slug) def.slug = slug;
  if (indexList.length > 0) def.indexes = indexList;
  // Derived names can meet declared ones (or each other, past 63 bytes): PostgreSQL has one namespace.
  const names = new Map<string, string>(tableOwnNames(def).map((n) => [n, 'the table itself (its name, primary key or key sequence)']));
  for (const ix of declaredIndexes(def)) {
    const other = names.get(ix.name);
    if (other !== undefined && other !== ix.path) p.add(`${ix.path}.name`, `${ix.path}: index name ${ix.name} is already used by ${other}`);
    names.set(ix.name, ix.path);
  }
  p.throwIfAny();
  if (history) def.history = true;
  return def;
}
