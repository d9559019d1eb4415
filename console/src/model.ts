import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { api, appBase, request } from './api';

/** Metadata shapes of spec/metadata.md, as the admin API echoes them. */
export const FIELD_TYPES = [
  'string',
  'text',
  'int',
  'integer',
  'bigint',
  'float',
  'decimal',
  'boolean',
  'uuid',
  'timestamp',
  'date',
  'json',
  'file',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface FieldDef {
  name: string;
  type: FieldType;
  required?: boolean;
  unique?: boolean;
  nullable?: boolean;
  default?: string | number | boolean | null;
  enum?: string[];
  precision?: number;
  auto?: 'create' | 'update';
  index?: boolean;
  /**
   * Console-only, never sent: an active computed rule writes this field on every write, overriding what
   * a client sends (rules.md), so the record form shows it read-only instead of an input whose value is lost.
   */
  computed?: boolean;
}

export interface IndexDef {
  fields: string[];
  unique?: boolean;
  name?: string;
}

export interface EntityDef {
  name: string;
  table: string;
  primary_key: { field: string; type?: string; generated?: boolean };
  soft_delete?: boolean;
  history?: boolean;
  slug?: { field: string; source?: string; regenerate_on_update?: boolean };
  fields: FieldDef[];
  indexes?: IndexDef[];
}

export interface RelationDef {
  name: string;
  type: 'one_to_one' | 'one_to_many' | 'many_to_many';
  source: string;
  target: string;
  source_key?: string;
  target_key?: string;
  join_table?: string;
  source_join_key?: string;
  target_join_key?: string;
  ownership?: string;
  on_delete?: string;
  fetch?: string;
  write_mode?: string;
}

export interface StateMachine {
  id: string;
  entity: string;
  field: string;
  active: boolean;
  definition: { initial?: string; transitions: SmTransition[] };
}

/** A transition's action (spec/state-machines.md §Actions); keys the console does not know are kept as they are. */
export interface SmAction {
  type: string;
  field?: string;
  value?: unknown;
  url?: string;
  method?: string;
  event?: string;
  entity?: string;
  data?: unknown;
  [k: string]: unknown;
}

export interface SmTransition {
  from: string | string[];
  to: string;
  roles?: string[];
  guard?: string;
  actions?: SmAction[];
  [k: string]: unknown;
}

export interface UiConfig {
  entity: string;
  config: { labels?: Record<string, string>; columns?: string[]; column_order?: string[]; hidden?: string[]; hidden_fields?: string[] } & Record<
    string,
    unknown
  >;
}

export type Action = 'read' | 'create' | 'update' | 'delete';

export interface AppModel {
  app: string;
  admin: boolean;
  entities: EntityDef[];
  relations: RelationDef[];
  machines: StateMachine[];
  ui: Record<string, UiConfig['config']>;
  /** What the caller may do per entity (everything for admins). */
  can: (entity: string, action: Action) => boolean;
  reload: () => void;
}

export const ModelContext = createContext<AppModel | null>(null);

export function useModel(): AppModel {
  const m = useContext(ModelContext);
  if (!m) throw new Error('no app model');
  return m;
}

export function entityOf(m: AppModel, name: string): EntityDef | undefined {
  return m.entities.find((e) => e.name === name);
}

/** Relations where `entity` is the source: the keys a nested write and include accept. */
export function childRelations(m: AppModel, entity: string): RelationDef[] {
  return m.relations.filter((r) => r.source === entity && (r.type === 'one_to_many' || r.type === 'many_to_many' || r.type === 'one_to_one'));
}

/** The relation whose foreign key is `field` on `entity`, if any (FK picker). */
export function foreignKeyOf(m: AppModel, entity: string, field: string): RelationDef | undefined {
  return m.relations.find((r) => r.target === entity && r.target_key === field && r.type !== 'many_to_many');
}

export function labelOf(m: AppModel, entity: string, field: string): string {
  return m.ui[entity]?.labels?.[field] ?? field;
}

/** Fields the entity's UI config hides from forms (`hidden`, or `hidden_fields`). */
export function hiddenOf(m: AppModel, entity: string): Set<string> {
  const ui = m.ui[entity];
  return new Set([...(ui?.hidden ?? []), ...(ui?.hidden_fields ?? [])]);
}

/** The keys of a rule row that say whether it computes a field. */
interface ComputedRuleRow {
  entity: string;
  hook: string;
  type: string;
  active: boolean;
  definition: { field?: string };
}

function markComputed(e: EntityDef, computed: Set<string>): EntityDef {
  // a required field without default must still be sent: the API checks required fields before any rule runs
  const marks = (f: FieldDef) => computed.has(`${e.name}.${f.name}`) && !(f.required && !f.nullable && f.default === undefined);
  if (!e.fields.some(marks)) return e;
  return { ...e, fields: e.fields.map((f) => (marks(f) ? { ...f, computed: true } : f)) };
}

async function adminModel(app: string) {
  const base = appBase(app);
  const [entities, relations, machines, ui, rules] = await Promise.all([
    api.get<{ name: string; definition: EntityDef }[]>(`${base}/_admin/entities`),
    api.get<{ name: string; definition: RelationDef }[]>(`${base}/_admin/relations`),
    api.get<StateMachine[]>(`${base}/_admin/state-machines`),
    api.get<UiConfig[]>(`${base}/_ui/configs`),
    api.get<ComputedRuleRow[]>(`${base}/_admin/rules`),
  ]);
  const computed = new Set(
    rules
      .filter((r) => r.type === 'computed' && r.hook === 'before_write' && r.active && r.definition.field)
      .map((r) => `${r.entity}.${r.definition.field}`),
  );
  return {
    entities: entities.map((e) => markComputed(e.definition, computed)),
    relations: relations.map((r) => r.definition),
    machines: machines.filter((s) => s.active),
    ui: Object.fromEntries(ui.map((u) => [u.entity, u.config])),
    perms: null,
  };
}

interface OpenApiDoc {
  paths?: Record<string, Record<string, { operationId?: string } | undefined>>;
  components?: { schemas?: Record<string, JsonSchema> };
}
interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  readOnly?: boolean;
  items?: JsonSchema;
  $ref?: string;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  default?: string | number | boolean | null;
  /** The field's default in Create schemas (openapi.ts keeps `default` out: generators would make it mandatory). */
  'x-rocket-default'?: string | number | boolean | null;
  /** On a record's relation property: the relation (name, type, source, target, target_key). */
  'x-rocket-relation'?: RelationDef;
  /** The state machine on a record field: its initial state and transitions (no guards). */
  'x-rocket-state-machine'?: StateMachine['definition'];
  /** On a record field of type text (a string schema otherwise). */
  'x-rocket-type'?: string;
}

/**
 * A non-admin caller cannot read the admin API: what they may use comes from their own OpenAPI
 * document (spec/openapi.md, "Per caller"): the entity routes it lists and the record schemas.
 */
async function callerModel(app: string) {
  const base = appBase(app);
  // Without the document (a server that does not publish one) the caller still has the inbox.
  const doc = await request<OpenApiDoc>('GET', `${base}/_openapi`).catch(() => ({}) as OpenApiDoc);
  const perms: Record<string, Set<Action>> = {};
  const schemaName: Record<string, string> = {};
  // the document lists a record's history route only for entities that keep one (history.md): the
  // record form then offers its History tab to this caller too
  const withHistory = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    const h = /^\/([A-Za-z_][A-Za-z0-9_]*)\/\{id\}\/_history$/.exec(path);
    if (h && ops.get) withHistory.add(h[1]!);
    const m = /^\/([A-Za-z_][A-Za-z0-9_]*)(\/\{id\})?$/.exec(path);
    if (!m || m[1]!.startsWith('_') || m[1] === 'auth') continue;
    const name = m[1]!;
    perms[name] ??= new Set();
    const set = perms[name];
    if (!m[2] && ops.get) set.add('read');
    if (!m[2] && ops.post) set.add('create');
    if (m[2] && ops.put) set.add('update');
    if (m[2] && ops.delete) set.add('delete');
    const opId = m[2] ? ops.get?.operationId : undefined;
    if (opId?.startsWith('get')) schemaName[name] = opId.slice(3); // getLeaveRequest → LeaveRequest
  }
  const schemas = doc.components?.schemas ?? {};
  const entities = Object.keys(perms).map((name) => {
    const n = schemaName[name] ?? pascal(name);
    const e = schemaToEntity(name, schemas[n], schemas[`${n}Create`]);
    if (withHistory.has(name)) e.history = true;
    return e;
  });
  // the caller cannot read /_admin/state-machines nor /_admin/relations: the document carries each
  // machine on its field and each relation (between entities the caller may read) on its include
  const machines: StateMachine[] = [];
  const relations = new Map<string, RelationDef>();
  for (const e of entities) {
    const record = schemas[schemaName[e.name] ?? pascal(e.name)];
    for (const [prop, p] of Object.entries(record?.properties ?? {})) {
      const def = p['x-rocket-state-machine'];
      if (def) machines.push({ id: `${e.name}.${prop}`, entity: e.name, field: prop, active: true, definition: def });
      const rel = p['x-rocket-relation'];
      // the source side's property name is the include and nested-write key
      if (rel && rel.source === e.name) relations.set(rel.name, { ...rel, name: prop });
      else if (rel && !relations.has(rel.name)) relations.set(rel.name, rel);
    }
  }
  const ui = await api.get<UiConfig[]>(`${base}/_ui/configs`).catch(() => [] as UiConfig[]);
  return {
    entities: entities.sort((a, b) => a.name.localeCompare(b.name)),
    relations: [...relations.values()],
    machines,
    ui: Object.fromEntries(ui.map((u) => [u.entity, u.config])),
    perms,
  };
}

function pascal(name: string): string {
  return name
    .split('_')
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** The field list of an entity read back from its record schema (relation properties left out). */
function schemaToEntity(name: string, record: JsonSchema | undefined, create: JsonSchema | undefined): EntityDef {
  const fields: FieldDef[] = [];
  let pk: { field: string; generated: boolean } | undefined;
  for (const [fname, p] of Object.entries(record?.properties ?? {})) {
    if (fname === 'deleted_at' && p.readOnly) continue;
    const inner = p.allOf?.[0] ?? p;
    const s = inner.anyOf?.find((x) => x.type !== 'null') ?? inner;
    const isFile = s.$ref?.endsWith('/FileRef') ?? false;
    if ((s.$ref && !isFile) || s.type === 'array' || s.anyOf || (s.type === 'object' && !isFile)) continue; // included relations
    const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    let type: FieldType = 'json';
    if (isFile) type = 'file';
    // int32 is an `int` field; other integers may be int8, whose digits a JavaScript number cannot all hold
    else if (types.includes('integer')) type = s.format === 'int32' ? 'integer' : 'bigint';
    // the document marks a float field "double"; a number without that format is a decimal, whose
    // digits travel as typed (a double keeps only ~16 of them)
    else if (types.includes('number')) type = s.format === 'double' || s.format === 'float' ? 'float' : 'decimal';
    else if (types.includes('boolean')) type = 'boolean';
    else if (types.includes('string'))
      type =
        s.format === 'uuid'
          ? 'uuid'
          : s.format === 'date-time'
            ? 'timestamp'
            : s.format === 'date'
              ? 'date'
              : p['x-rocket-type'] === 'text'
                ? 'text'
                : 'string';
    const f: FieldDef = { name: fname, type };
    const en = s.enum?.filter((x): x is string => typeof x === 'string');
    if (en?.length) f.enum = en;
    if (create?.required?.includes(fname)) f.required = true;
    const input = create?.properties?.[fname];
    const dflt = input?.['x-rocket-default'] ?? input?.default;
    if (dflt !== undefined) f.default = dflt;
    if (p.readOnly) {
      // read-only: the generated key (the first such uuid/integer field named like a key) or an auto field
      if (!pk && (fname === 'id' || type === 'uuid' || type === 'bigint')) pk = { field: fname, generated: true };
      else f.auto = 'update';
    }
    fields.push(f);
  }
  pk ??= { field: fields.find((f) => f.name === 'id')?.name ?? fields[0]?.name ?? 'id', generated: false };
  return { name, table: name, primary_key: pk, fields };
}

export async function loadModel(app: string, admin: boolean) {
  return admin ? adminModel(app) : callerModel(app);
}
