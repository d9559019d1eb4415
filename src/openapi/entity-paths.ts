import type { PermissionAction } from '../auth/permissions.js';
import { engineWritten, type EntityMeta, type RelationMeta, type RelationUse } from '../metadata/registry.js';
import { filterOperators, filterValueSchema, inputFieldSchema, recordFieldSchema, softDeleteMarker } from './field-schemas.js';
import {
  dataOf,
  jsonBody,
  jsonResponse,
  parameterRef,
  responseRef,
  schemaRef,
  type Operation,
  type Parameter,
  type PathItem,
  type Ref,
  type Response,
  type Schema,
} from './types.js';

/** What one entity contributes to the document: its component schemas and its paths. */
export interface EntityPart {
  schemas: Record<string, Schema>;
  paths: Record<string, PathItem>;
}

export interface EntityContext {
  entity: EntityMeta;
  /** Component base name of every entity of the document (related entities are referenced by it). */
  names: ReadonlyMap<string, string>;
  /** The actions the caller may take, per entity of the document (each has at least one). */
  allowed: ReadonlyMap<string, ReadonlySet<PermissionAction>>;
  /** A synchronous webhook can veto writes of this entity (502). */
  syncWebhook: boolean;
  /** Fields of this entity whose column admits NULL although the definition says never null (null-columns.ts). */
  nullInRows?: ReadonlySet<string>;
}

/**
 * The name a relation goes by in records and write bodies of `entity`, among the names `include`
 * resolves to it: the relation's own name from the source side, the other entity's name (its
 * inverse) from the target side. Names that are fields, and relations to entities outside the
 * caller's document, are left out.
 */
export function relationProperties(entity: EntityMeta, allowed: ReadonlyMap<string, unknown>): Array<{ name: string; use: RelationUse }> {
  const candidates = new Map<RelationMeta, { use: RelationUse; names: string[] }>();
  for (const [name, use] of entity.uses) {
    const other = use.forward ? use.relation.target : use.relation.source;
    if (entity.fields.has(name) || !allowed.has(other.name)) continue;
    const c = candidates.get(use.relation);
    if (c) c.names.push(name);
    else candidates.set(use.relation, { use, names: [name] });
  }
  const out: Array<{ name: string; use: RelationUse }> = [];
  for (const [relation, { use, names }] of candidates) {
    const own = names.includes(relation.name) ? relation.name : names[0]!;
    const name = use.forward ? own : (names.find((n) => n !== relation.name) ?? own);
    out.push({ name, use });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The related entity and whether an include yields an array (rest-api.md §Includes). */
function includeShape(use: RelationUse): { other: EntityMeta; many: boolean } {
  const { relation, forward } = use;
  const other = forward ? relation.target : relation.source;
  const many = relation.def.type === 'many_to_many' || (forward && relation.def.type === 'one_to_many');
  return { other, many };
}

function recordSchema(ctx: EntityContext): Schema {
  const { entity, names, allowed } = ctx;
  const properties: Record<string, Schema> = {};
  for (const f of entity.fieldList) properties[f.name] = recordFieldSchema(entity, f, ctx.nullInRows?.has(f.name));
  if (entity.softDelete && !entity.fields.has('deleted_at')) {
    properties.deleted_at = { type: 'null', readOnly: true, description: 'Soft-delete marker; always null in responses.' };
  }
  for (const { name, use } of relationProperties(entity, allowed)) {
    const { other, many } = includeShape(use);
    const ref = schemaRef(names.get(other.name)!);
    const description = `Present when include=${name} is asked for.`;
    // which relation this is, so a client (the console) can edit children and pick foreign keys
    // without the admin API
    const def = use.relation.def;
    const relation: Schema = {
      name: use.relation.name,
      type: def.type,
      source: use.relation.source.name,
      target: use.relation.target.name,
      ...(def.target_key ? { target_key: def.target_key } : {}),
    };
    properties[name] = many
      ? { type: 'array', items: ref, description, 'x-rocket-relation': relation }
      : { anyOf: [ref, { type: 'null' }], description, 'x-rocket-relation': relation };
  }
  return {
    type: 'object',
    description: `A ${entity.name} record.`,
    // The soft-delete marker is left out of `required` whether declared or not: one record type either way.
    required: entity.fieldList.filter((f) => !softDeleteMarker(entity, f)).map((f) => f.name),
    properties,
  };
}

/** Rows of a nested write into `target`: inserts (no key), updates (key), removals (`_delete`). */
function nestedRows(use: RelationUse, names: ReadonlyMap<string, string>): Schema {
  const target = use.relation.target;
  const base = names.get(target.name)!;
  const pk = target.pk;
  const keyed: Schema = {
    type: 'object',
    required: [pk.name],
    properties: {
      [pk.name]: recordFieldSchema(target, pk),
      _delete: { type: 'boolean', enum: [true], description: 'Removes this child (or link).' },
    },
  };
  const ref = { ...recordFieldSchema(target, pk) };
  delete ref.readOnly;
  (keyed.properties as Record<string, Schema>)[pk.name] = ref;
  if (use.relation.def.type === 'many_to_many') return keyed;
  // A new child is the target's Create without its foreign key: the engine sets that to the parent's key.
  const fk = use.relation.def.target_key;
  const required = createRequired(target).filter((name) => name !== fk);
  const insert: Schema = {
    allOf: [schemaRef(`${base}Update`)],
    // An Update never takes the key; a client-chosen one is part of a new row.
    ...(!target.def.primary_key.generated && { properties: { [pk.name]: ref } }),
    ...(required.length && { required }),
  };
  // The Create itself stays the first choice (the contract names it); the second admits the row without its FK.
  return { anyOf: [schemaRef(`${base}Create`), insert, { allOf: [schemaRef(`${base}Update`), keyed] }] };
}

/** The fields a create must send: a client-chosen key, and required non-nullable fields without a default. */
function createRequired(entity: EntityMeta): string[] {
  const required: string[] = [];
  for (const f of entity.fieldList) {
    if (engineWritten(entity, f)) continue;
    const clientKey = f === entity.pk && !entity.def.primary_key.generated;
    const mandatory = clientKey || (f.required === true && !f.nullable);
    const autoSlug = entity.def.slug?.source !== undefined && entity.def.slug.field === f.name;
    if (mandatory && f.default === undefined && !autoSlug) required.push(f.name);
  }
  return required;
}

function inputSchema(ctx: EntityContext, create: boolean): Schema {
  const { entity, names, allowed } = ctx;
  const properties: Record<string, Schema> = {};
  const required = create ? createRequired(entity) : [];
  for (const f of entity.fieldList) {
    if (engineWritten(entity, f)) continue;
    if (!create && f === entity.pk) continue; // the key of an update is the path's id
    properties[f.name] = inputFieldSchema(entity, f);
  }
  for (const { name, use } of relationProperties(entity, allowed)) {
    // Nested writes go from the source side only, into a target the caller may write.
    if (!use.forward || !writable(allowed.get(use.relation.target.name))) continue;
    properties[name] = {
      type: 'object',
      description: `Nested write of ${use.relation.target.name} rows (relation ${use.relation.name}).`,
      required: ['data'],
      properties: {
        _write_mode: { type: 'string', enum: ['diff', 'replace', 'append'], description: `Default: ${use.relation.def.write_mode}.` },
        data: { type: 'array', items: nestedRows(use, names) },
      },
    };
  }
  return {
    type: 'object',
    description: create ? `A new ${entity.name}.` : `Fields of ${entity.name} to change; absent fields stay as they are.`,
    ...(required.length && { required }),
    properties,
  };
}

function listSchema(base: string): Schema {
  return {
    type: 'object',
    required: ['data', 'meta'],
    properties: { data: { type: 'array', items: schemaRef(base) }, meta: schemaRef('ListMeta') },
  };
}

function errors(statuses: readonly number[]): Record<string, Ref> {
  const out: Record<string, Ref> = {};
  for (const s of statuses) out[String(s)] = responseRef(ERROR_RESPONSES[s]!);
  return out;
}

/** Error response components by status. */
export const ERROR_RESPONSES: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'ValidationFailed',
  429: 'TooManyRequests',
  502: 'WebhookFailed',
};

// The error set openapi.md gives every entity operation (reads never answer 409 or 422 in practice).
const READ_ERRORS = [400, 401, 403, 404, 409, 422] as const;

function writable(actions: ReadonlySet<PermissionAction> | undefined): boolean {
  return actions !== undefined && (actions.has('create') || actions.has('update'));
}

/** `include` on every read and write of a record; with no relation to name, any value is a 400. */
function includeParam(entity: EntityMeta, allowed: EntityContext['allowed']): Parameter {
  const names = relationProperties(entity, allowed).map((r) => r.name);
  return {
    name: 'include',
    in: 'query',
    description: names.length ? `Related records to add, comma-separated: ${names.join(', ')}.` : 'This entity has no relation to include.',
    schema: { type: 'string' },
  };
}

/** `filter[<field>]` and `filter[<field>.<op>]` for every operator the field's type takes (the names say it all). */
function filterParams(entity: EntityMeta): Parameter[] {
  const out: Parameter[] = [];
  for (const f of entity.fieldList) {
    for (const op of filterOperators(f.type)) {
      const schema = filterValueSchema(f, op);
      if (op === 'eq') out.push({ name: `filter[${f.name}]`, in: 'query', schema });
      out.push({ name: `filter[${f.name}.${op}]`, in: 'query', schema });
    }
  }
  return out;
}

/** Paths and schemas of one entity, limited to the caller's actions. */
export function entityPart(ctx: EntityContext): EntityPart {
  const { entity, names, allowed } = ctx;
  const base = names.get(entity.name)!;
  const tag = entity.name;
  const actions = allowed.get(entity.name)!;
  const may = (a: PermissionAction) => actions.has(a);
  const schemas: Record<string, Schema> = { [base]: recordSchema(ctx) };
  const withInclude = [includeParam(entity, allowed)];
  const one = (description: string): Response => jsonResponse(description, dataOf(schemaRef(base)));
  const writeErrors = [400, 401, 403, 404, 409, 422, ...(ctx.syncWebhook ? [502] : [])];

  const collection: PathItem = {};
  const item: PathItem = {};
  if (may('read')) {
    schemas[`${base}List`] = listSchema(base);
    const sortable = entity.fieldList.map((f) => f.name).join(', ');
    collection.get = {
      operationId: `list${base}`,
      summary: `List ${entity.name} records`,
      tags: [tag],
      parameters: [
        parameterRef('page'),
        parameterRef('per_page'),
        {
          name: 'sort',
          in: 'query',
          description: `Comma-separated fields, '-' for descending. Sortable: ${sortable}.`,
          schema: { type: 'string' },
        },
        ...withInclude,
        parameterRef('count'),
        parameterRef('cursor'),
        ...filterParams(entity),
      ],
      responses: { '200': jsonResponse(`A page of ${entity.name} records`, schemaRef(`${base}List`)), ...errors(READ_ERRORS) },
    };
    item.get = {
      operationId: `get${base}`,
      summary: `Get one ${entity.name}`,
      tags: [tag],
      parameters: withInclude,
      responses: { '200': one(`The ${entity.name}`), ...errors(READ_ERRORS) },
    };
  }
  if (writable(actions)) {
    schemas[`${base}Create`] = inputSchema(ctx, true);
    schemas[`${base}Update`] = inputSchema(ctx, false);
  }
  if (may('create')) {
    collection.post = {
      operationId: `create${base}`,
      summary: `Create a ${entity.name}`,
      tags: [tag],
      parameters: withInclude,
      requestBody: jsonBody(schemaRef(`${base}Create`)),
      responses: { '201': one(`The ${entity.name} as stored`), ...errors([...writeErrors, 413, 415]) },
    };
  }
  if (may('update')) {
    item.put = {
      operationId: `update${base}`,
      summary: `Update a ${entity.name} (partial)`,
      tags: [tag],
      parameters: withInclude,
      requestBody: jsonBody(schemaRef(`${base}Update`)),
      responses: { '200': one(`The ${entity.name} as stored`), ...errors([...writeErrors, 413, 415]) },
    };
  }
  if (may('delete')) {
    item.delete = {
      operationId: `delete${base}`,
      summary: `Delete a ${entity.name}`,
      ...(entity.softDelete && { description: 'Soft delete: the record gets deleted_at and disappears from reads.' }),
      tags: [tag],
      responses: {
        '200': jsonResponse(
          'Deleted',
          dataOf({ type: 'object', required: ['id'], properties: { id: { type: 'string', description: 'The id as sent' } } }),
        ),
        ...errors(writeErrors),
      },
    };
  }

  const paths: Record<string, PathItem> = {};
  const id = idParam(entity);
  if (Object.keys(collection).length) paths[`/${entity.name}`] = collection;
  if (Object.keys(item).length) paths[`/${entity.name}/{id}`] = { parameters: [id], ...item };
  if (entity.def.history && may('read')) {
    paths[`/${entity.name}/{id}/_history`] = {
      parameters: [id],
      get: {
        operationId: `history${base}`,
        summary: `History of one ${entity.name}`,
        description: 'Changes of the record, newest first.',
        tags: [tag],
        parameters: [parameterRef('page'), parameterRef('per_page')],
        responses: { '200': jsonResponse('History entries', schemaRef('HistoryPage')), ...errors(READ_ERRORS) },
      },
    };
  }
  return { schemas, paths };
}

function idParam(entity: EntityMeta): Parameter {
  const pk = entity.pk;
  if (entity.def.slug) {
    return {
      name: 'id',
      in: 'path',
      required: true,
      description: `Primary key (${pk.name}) or ${entity.def.slug.field}`,
      schema: { type: 'string' },
    };
  }
  const schema: Schema =
    pk.type === 'uuid'
      ? { type: 'string', format: 'uuid' }
      : pk.type === 'int' || pk.type === 'integer' || pk.type === 'bigint'
        ? { type: 'integer' }
        : { type: 'string' };
  return { name: 'id', in: 'path', required: true, description: `Primary key (${pk.name})`, schema };
}

/** The list parameters every entity shares (components.parameters). */
export const LIST_PARAMETERS: Record<string, Parameter> = {
  page: { name: 'page', in: 'query', description: 'Page number (default 1); ignored with cursor.', schema: { type: 'integer', minimum: 1 } },
  per_page: {
    name: 'per_page',
    in: 'query',
    description: 'Rows per page (default 25; above 100 counts as 100).',
    schema: { type: 'integer', minimum: 1, maximum: 100 },
  },
  count: {
    name: 'count',
    in: 'query',
    description:
      "exact (default): meta.total counts every match; estimated: the planner's estimate for large results (meta.total_estimated); none: no meta.total.",
    schema: { type: 'string', enum: ['exact', 'estimated', 'none'] },
  },
  cursor: {
    name: 'cursor',
    in: 'query',
    description: 'meta.next_cursor of the previous page: continues after its last row in the same sort and filters.',
    schema: { type: 'string' },
  },
};

export type { Operation };
