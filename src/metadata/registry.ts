import type { Queryable } from '../db/database.js';
import { jsonOfText } from '../db/exact-json.js';
import { quoteIdent } from '../db/quote.js';
import { enumKeys } from '../types/coerce.js';
import { sqlType } from '../types/sql-types.js';
import { parseEntityDefinition } from './entity-definition.js';
import { parseRelationDefinition } from './relation-definition.js';
import { PROTO_KEY, type EntityDef, type FieldDef, type RelationDef } from './types.js';
import { NO_RULES, compileRule, groupRules, type CompiledRule, type EntityRules } from './compiled-rules.js';
import type { RelatedLoad, RuleDefinition, RuleHook, RuleType, StateMachineInput } from './logic-definitions.js';
import { compileMachine, type CompiledMachine } from './compiled-machine.js';

/** The soft-delete column (quoted): set instead of deleting; rows with it set are gone from every read. */
export const DELETED_AT = '"deleted_at"';

export interface FieldMeta extends FieldDef {
  /** Quoted column name. */
  readonly col: string;
  /** Cast for bound parameters. */
  readonly cast: string;
  /**
   * The column is NOT NULL in the database. Not the same as `required && !nullable`: a required field added to
   * a populated table without a default is added nullable and keeps the NULLs of older rows (metadata.md
   * §Auto-migration), and a keyset order must still place them.
   */
  readonly notNull: boolean;
  /** The value keys of the `enum` members (types/coerce.ts enumKeys), for the membership check of every write. */
  readonly enumKeys?: ReadonlySet<string>;
}

export interface RelationMeta {
  readonly def: RelationDef;
  readonly name: string;
  readonly source: EntityMeta;
  readonly target: EntityMeta;
}

/** A relation seen from one entity: forward when the entity is the source. */
export interface RelationUse {
  readonly relation: RelationMeta;
  readonly forward: boolean;
}

export interface EntityMeta {
  readonly def: EntityDef;
  readonly name: string;
  /** Quoted table name. */
  readonly table: string;
  readonly pk: FieldMeta;
  readonly fields: ReadonlyMap<string, FieldMeta>;
  readonly fieldList: readonly FieldMeta[];
  readonly softDelete: boolean;
  /** Quoted columns of a record as the API returns it (declared fields, plus deleted_at when soft-deleting). */
  readonly columns: readonly string[];
  /** `columns`, comma-separated. */
  readonly selectList: string;
  /** `columns`, each qualified by the table (a RETURNING list where another relation shares column names). */
  readonly tableSelectList: string;
  /** Declared columns of table alias `t`: included rows carry no `deleted_at` unless declared (rest-api.md §Includes). */
  readonly includeList: string;
  /** Declared columns of table alias `t` (rows loaded for rules: `related_load`). */
  readonly fieldsOfT: string;
  /** Relations where this entity is the source (nested writes, cascades). */
  readonly outgoing: RelationMeta[];
  /** Include / nested-write name → relation, resolved once per snapshot. */
  readonly uses: Map<string, RelationUse>;
  /** Active rules, compiled. */
  rules: EntityRules;
  /** Active state machines, compiled. */
  machines: CompiledMachine[];
}

/** Written by the engine, never by a client: a generated key, auto timestamps, the soft-delete marker. */
export function engineWritten(entity: EntityMeta, f: FieldMeta): boolean {
  return f.auto !== undefined || (f === entity.pk && entity.def.primary_key.generated) || (entity.softDelete && f.name === 'deleted_at');
}

/** An immutable snapshot of one app's metadata; rebuilt and swapped on every change. */
export class Registry {
  /**
   * Some field is a bigint, a decimal, json or file, so records may hold numbers a double would change (an int8
   * beyond 2^53, a decimal with 16 or more digits, such a number inside a json value or a file object stored as
   * given): responses then keep their exact digits.
   */
  readonly hasExactNumbers: boolean;
  constructor(
    readonly entities: ReadonlyMap<string, EntityMeta>,
    readonly relations: ReadonlyMap<string, RelationMeta>,
  ) {
    this.hasExactNumbers = [...entities.values()].some((e) =>
      e.fieldList.some((f) => f.type === 'bigint' || f.type === 'decimal' || f.type === 'json' || f.type === 'file'),
    );
  }

  static empty(): Registry {
    return new Registry(new Map(), new Map());
  }

  entityDefs(): Map<string, EntityDef> {
    return new Map([...this.entities].map(([k, v]) => [k, v.def]));
  }

  /**
   * Include / nested-write name resolution (spec: rest-api.md §Includes):
   * relation name; else the other entity's name; else `<entity>_<name>`.
   */
  resolve(entity: EntityMeta, name: string): RelationUse | undefined {
    return entity.uses.get(name);
  }
}

function compileEntity(def: EntityDef, notNullColumns: ReadonlySet<string>): EntityMeta {
  const fieldList: FieldMeta[] = def.fields.map((f) => ({
    ...f,
    col: quoteIdent(f.name),
    cast: sqlType(f),
    notNull: notNullColumns.has(f.name),
    ...(f.enum && { enumKeys: enumKeys(f, f.enum) }),
  }));
  const fields = new Map(fieldList.map((f) => [f.name, f]));
  const declared = fieldList.map((f) => f.col);
  const columns = def.soft_delete && !fields.has('deleted_at') ? [...declared, DELETED_AT] : declared;
  const table = quoteIdent(def.table);
  return {
    def,
    name: def.name,
    table,
    pk: fields.get(def.primary_key.field)!,
    fields,
    fieldList,
    softDelete: def.soft_delete,
    columns,
    selectList: columns.join(', '),
    tableSelectList: columns.map((c) => `${table}.${c}`).join(', '),
    includeList: declared.map((c) => `t.${c}`).join(', '),
    fieldsOfT: declared.map((c) => `t.${c}`).join(', '),
    outgoing: [],
    uses: new Map(),
    rules: NO_RULES,
    machines: [],
  };
}

function resolveUses(entity: EntityMeta, relations: readonly RelationMeta[]): void {
  const touching = relations.filter((r) => r.def.source === entity.name || r.def.target === entity.name).sort((a, b) => a.name.localeCompare(b.name));
  const use = (r: RelationMeta): RelationUse => ({ relation: r, forward: r.def.source === entity.name });
  // A name becomes a key of records (includes) and of `related`: PROTO_KEY, which only old metadata or the
  // `<entity>_` prefix rule can give, is no include name.
  const set = (name: string, u: RelationUse) => {
    if (name !== PROTO_KEY && !entity.uses.has(name)) entity.uses.set(name, u);
  };
  for (const r of touching) set(r.name, use(r));
  for (const r of touching) {
    const other = r.def.source === entity.name ? r.def.target : r.def.source;
    set(other, use(r));
  }
  for (const r of relations) {
    const prefix = `${entity.name}_`;
    if (r.name.startsWith(prefix) && (r.def.source === entity.name || r.def.target === entity.name)) {
      set(r.name.slice(prefix.length), use(r));
    }
  }
}

/** A definition column's value; the legacy server may have stored it as JSON text (read exactly, like the rest). */
export const storedDefinition = (value: unknown): unknown => (typeof value === 'string' ? jsonOfText(value) : value);

/** Reads the app's metadata tables and compiles a snapshot. Rows that no longer parse are skipped. */
export async function loadRegistry(db: Queryable): Promise<Registry> {
  // With each definition, the NOT NULL columns of its table (FieldMeta.notNull), the table name resolved as the
  // statements' unqualified names are; a table not found has none.
  const entityRows = await db.query<{ name: string; definition: unknown; not_null: string[] | null }>(
    `SELECT e.name, e.definition,
            (SELECT array_agg(a.attname::text) FROM pg_attribute a
              WHERE a.attrelid = to_regclass(quote_ident(e.table_name)) AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull) AS not_null
       FROM _entities e ORDER BY e.name`,
  );
  const entities = new Map<string, EntityMeta>();
  for (const row of entityRows) {
    try {
      const def = parseEntityDefinition(storedDefinition(row.definition), row.name, true);
      entities.set(def.name, compileEntity(def, new Set(row.not_null ?? [])));
    } catch {
      /* unparseable rows are skipped (spec: metadata.md §9) */
    }
  }
  const defs = new Map([...entities].map(([k, v]) => [k, v.def]));
  const relationRows = await db.query<{ name: string; definition: unknown }>('SELECT name, definition FROM _relations ORDER BY name');
  const relations = new Map<string, RelationMeta>();
  for (const row of relationRows) {
    try {
      const def = parseRelationDefinition(storedDefinition(row.definition), defs, row.name, true);
      const source = entities.get(def.source)!;
      const target = entities.get(def.target)!;
      const meta: RelationMeta = { def, name: def.name, source, target };
      relations.set(def.name, meta);
      source.outgoing.push(meta);
    } catch {
      /* skipped, as above */
    }
  }
  const all = [...relations.values()];
  for (const e of entities.values()) resolveUses(e, all);

  const ruleRows = await db.query<{ id: string; entity: string; hook: RuleHook; type: RuleType; priority: number; definition: unknown }>(
    'SELECT id, entity, hook, type, priority, definition FROM _rules WHERE active ORDER BY priority, created_at',
  );
  const rulesByEntity = new Map<string, CompiledRule[]>();
  for (const row of ruleRows) {
    const definition = storedDefinition(row.definition);
    if (!entities.has(row.entity) || definition === null || typeof definition !== 'object') continue;
    const list = rulesByEntity.get(row.entity) ?? [];
    const rule = compileRule({ ...row, definition: definition as RuleDefinition });
    const stale = row.type === 'field' ? undefined : staleRelatedLoad(entities.get(row.entity)!, rule.def);
    if (stale) {
      // Its relation (or a filtered field) was deleted since: the rule reports that on every write rather than
      // pass with nothing loaded (a before_delete guard would silently stop guarding).
      rule.expr = undefined;
      rule.compileError = stale;
      rule.def = { ...rule.def, related_load: [] };
    }
    list.push(rule);
    rulesByEntity.set(row.entity, list);
  }
  for (const [name, list] of rulesByEntity) entities.get(name)!.rules = groupRules(list);

  const machineRows = await db.query<{ id: string; entity: string; field: string; definition: unknown }>(
    'SELECT id, entity, field, definition FROM _state_machines WHERE active ORDER BY created_at',
  );
  for (const row of machineRows) {
    const entity = entities.get(row.entity);
    const definition = storedDefinition(row.definition);
    if (!entity || definition === null || typeof definition !== 'object') continue;
    try {
      entity.machines.push(compileMachine(row.id, { field: row.field, definition: definition as StateMachineInput['definition'] }));
    } catch {
      /* a machine whose guard no longer compiles is skipped */
    }
  }
  return new Registry(entities, relations);
}

/** The first field a related_load filter names that the relation's target does not have. */
export function missingFilterField(use: RelationUse, filter: Record<string, unknown> | undefined): string | undefined {
  for (const key of Object.keys(filter ?? {})) {
    const field = key.split('.')[0]!;
    if (!use.relation.target.fields.has(field)) return field;
  }
  return undefined;
}

/**
 * Why a stored rule's related_load can no longer load (its relation, or a field it filters on, was deleted
 * since the rule was stored); undefined while every entry still resolves.
 */
export function staleRelatedLoad(entity: EntityMeta, def: { related_load?: readonly RelatedLoad[] }): string | undefined {
  for (const load of def.related_load ?? []) {
    const use = entity.uses.get(load.relation);
    if (!use?.forward) return `related_load: no relation ${load.relation} from ${entity.name}`;
    const missing = missingFilterField(use, load.filter);
    if (missing !== undefined) return `related_load: ${use.relation.target.name} has no field ${missing}`;
  }
  return undefined;
}
