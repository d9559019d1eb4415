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
  definition: { initial?: string; transitions: { from: string | string[]; to: string; roles?: string[]; guard?: string }[] };
}

export interface UiConfig {
  entity: string;
  config: { labels?: Record<string, string>; columns?: string[]; column_order?: string[]; hidden?: string[]; hidden_fields?: string[] } & Record<string, unknown>;
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

async function adminModel(app: string) {
  const base = appBase(app);
  const [entities, relations, machines, ui] = await Promise.all([
    api.get<{ name: string; definition: EntityDef }[]>(`${base}/_admin/entities`),
    api.get<{ name: string; definition: RelationDef }[]>(`${base}/_admin/relations`),
    api.get<StateMachine[]>(`${base}/_admin/state-machines`),
    api.get<UiConfig[]>(`${base}/_ui/configs`),
  ]);
  return {
    entities: entities.map((e) => e.definition),
    relations: relations.map((r) => r.definition),
    machines: machines.filter((s) => s.active),
    ui: Object.fromEntries(ui.map((u) => [u.entity, u.config])),
    perms: null,
  };
}

interface OpenApiDoc {
  paths?: Record<string, Record<string, unknown>>;
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
  oneOf?: JsonSchema[];
}

/** A non-admin caller cannot read the admin API: what they may use comes from their own OpenAPI document. */
async function callerModel(app: string) {
  const base = appBase(app);
  const res = await request<OpenApiDoc>('GET', `${base}/_openapi`);
  const perms: Record<string, Set<Action>> = {};
  const entities: EntityDef[] = [];
  const schemas = res.components?.schemas ?? {};
  for (const [path, ops] of Object.entries(res.paths ?? {})) {
    const m = /^\/([A-Za-z_][A-Za-z0-9_]*)(\/\{id\})?$/.exec(path);
    if (!m || m[1]!.startsWith('_') || m[1] === 'auth') continue;
    const name = m[1]!;
    const set = (perms[name] ??= new Set());
    if (!m[2] && ops.get) set.add('read');
    if (!m[2] && ops.post) set.add('create');
    if (m[2] && ops.put) set.add('update');
    if (m[2] && ops.delete) set.add('delete');
  }
  for (const name of Object.keys(perms)) {
    const schema = findSchema(schemas, name);
    entities.push(schemaToEntity(name, schema));
  }
  const ui = await api.get<UiConfig[]>(`${base}/_ui/configs`).catch(() => [] as UiConfig[]);
  return {
    entities: entities.sort((a, b) => a.name.localeCompare(b.name)),
    relations: [] as RelationDef[],
    machines: [] as StateMachine[],
    ui: Object.fromEntries(ui.map((u) => [u.entity, u.config])),
    perms,
  };
}

function findSchema(schemas: Record<string, JsonSchema>, entity: string): JsonSchema | undefined {
  const pascal = entity
    .split('_')
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
  return schemas[pascal] ?? schemas[entity] ?? Object.entries(schemas).find(([k]) => k.toLowerCase() === pascal.toLowerCase())?.[1];
}

function schemaToEntity(name: string, schema: JsonSchema | undefined): EntityDef {
  const fields: FieldDef[] = [];
  for (const [fname, p] of Object.entries(schema?.properties ?? {})) {
    const s = p.anyOf?.find((x) => x.type !== 'null') ?? p.oneOf?.find((x) => x.type !== 'null') ?? p;
    if (s.$ref || s.type === 'array') continue; // relation properties
    const types = Array.isArray(s.type) ? s.type : [s.type];
    let type: FieldType = 'json';
    if (types.includes('integer')) type = 'bigint';
    else if (types.includes('number')) type = 'float';
    else if (types.includes('boolean')) type = 'boolean';
    else if (types.includes('string')) type = s.format === 'uuid' ? 'uuid' : s.format === 'date-time' ? 'timestamp' : s.format === 'date' ? 'date' : 'string';
    const f: FieldDef = { name: fname, type };
    if (s.enum) f.enum = s.enum.filter((x): x is string => typeof x === 'string');
    if (p.readOnly && type === 'timestamp') f.auto = 'update';
    if (schema?.required?.includes(fname)) f.required = true;
    fields.push(f);
  }
  const pk = fields.find((f) => f.name === 'id') ?? fields[0];
  return { name, table: name, primary_key: { field: pk?.name ?? 'id', generated: true }, fields };
}

export async function loadModel(app: string, admin: boolean) {
  return admin ? adminModel(app) : callerModel(app);
}
