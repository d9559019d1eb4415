import { PERMISSION_ACTIONS, type PermissionAction } from '../auth/permissions.js';
import type { EntityMeta, Registry } from '../metadata/registry.js';
import { ERROR_RESPONSES, LIST_PARAMETERS, entityPart } from './entity-paths.js';
import { appAdminPaths, appUserPaths, platformPaths } from './fixed-paths.js';
import { baseNames } from './names.js';
import type { NullColumns } from './null-columns.js';
import { jsonResponse, responseRef, schemaRef, type OpenApiDocument, type PathItem, type Response, type Schema } from './types.js';

/**
 * Part of every document's version and ETag: raise it with any change to what the generator writes,
 * so a client's cached copy (If-None-Match) is not taken for current after an upgrade.
 */
export const GENERATOR_REVISION = 7;

/** Who the document is for: what they may do decides what it shows (spec: openapi.md §Per caller). */
export interface Audience {
  isAdmin: boolean;
  /** Whether one of the caller's roles is granted `action` on `entity` (conditions aside). */
  may(entity: string, action: PermissionAction): boolean;
}

export interface AppDocumentInput {
  app: string;
  title: string;
  /** Changes with every metadata change (info.version). */
  version: string;
  registry: Registry;
  audience: Audience;
  /** Entities with an active synchronous webhook (their writes can answer 502). */
  syncWebhooks: ReadonlySet<string>;
  /** Per entity, required fields whose column still admits NULL (null-columns.ts). */
  nullColumns?: NullColumns;
}

const STRING: Schema = { type: 'string' };
const TIMESTAMP: Schema = { type: 'string', format: 'date-time' };

const ERROR_SCHEMA: Schema = {
  type: 'object',
  description: 'Every error answer: the error envelope.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          examples: ['VALIDATION_FAILED'],
          description:
            'INVALID_PAYLOAD, UNKNOWN_FIELD, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, UNKNOWN_ENTITY, APP_NOT_FOUND, CONFLICT, FILE_TOO_LARGE, ' +
            'PAYLOAD_TOO_LARGE, VALIDATION_FAILED, TOO_MANY_REQUESTS, WEBHOOK_FAILED, UNSUPPORTED_MEDIA_TYPE, SERVICE_UNAVAILABLE, INTERNAL_ERROR, …',
        },
        message: STRING,
        details: {
          type: 'array',
          items: {
            type: 'object',
            required: ['message'],
            properties: { field: STRING, rule: STRING, message: STRING },
          },
        },
      },
    },
  },
};

const TOKEN_PAIR: Schema = {
  type: 'object',
  required: ['access_token', 'refresh_token'],
  properties: { access_token: { type: 'string', description: 'JWT, sent as Authorization: Bearer' }, refresh_token: STRING },
};

/** Component schemas every document has; entity names never take these names. */
function sharedSchemas(): Record<string, Schema> {
  return {
    Error: ERROR_SCHEMA,
    TokenPair: TOKEN_PAIR,
    LoginRequest: { type: 'object', required: ['email', 'password'], properties: { email: STRING, password: STRING } },
    RefreshRequest: { type: 'object', required: ['refresh_token'], properties: { refresh_token: STRING } },
    FileRef: {
      type: 'object',
      // An object written to a file field is stored as given (files.md): only a UUID string is expanded.
      description:
        'A file field value: {id, filename, size, mime_type} when written as an upload id; an object written as such is kept as given, so no key is guaranteed.',
      properties: { id: STRING, filename: STRING, size: { type: 'integer' }, mime_type: STRING },
    },
    ListMeta: {
      type: 'object',
      required: ['page', 'per_page', 'next_cursor'],
      properties: {
        page: { type: 'integer' },
        per_page: { type: 'integer', description: 'The page size used (after clamping).' },
        total: { type: 'integer', description: 'Matching rows; absent with count=none.' },
        total_estimated: { type: 'boolean', enum: [true], description: 'Present when total is an estimate (count=estimated).' },
        next_cursor: { type: ['string', 'null'], description: 'Pass as cursor= for the next page; null on the last page.' },
      },
    },
    PageMeta: {
      type: 'object',
      description: 'Paging of a history page.',
      required: ['page', 'per_page', 'total'],
      properties: { page: { type: 'integer' }, per_page: { type: 'integer' }, total: { type: 'integer' } },
    },
    WorkflowInstance: {
      type: 'object',
      required: ['id', 'workflow_id', 'workflow_name', 'status', 'current_step', 'context', 'history', 'created_at', 'updated_at'],
      properties: {
        id: { type: 'string', format: 'uuid' },
        workflow_id: { type: 'string', format: 'uuid' },
        workflow_name: STRING,
        status: { type: 'string', enum: ['running', 'completed', 'failed', 'cancelled'] },
        current_step: STRING,
        current_step_deadline: TIMESTAMP,
        context: { type: 'object', additionalProperties: true },
        history: {
          type: 'array',
          items: { type: 'object', required: ['step', 'status', 'at'], properties: { step: STRING, status: STRING, by: STRING, at: TIMESTAMP } },
        },
        created_at: TIMESTAMP,
        updated_at: TIMESTAMP,
      },
    },
    HistoryEntry: {
      type: 'object',
      required: ['id', 'entity', 'record_id', 'action', 'changes', 'actor', 'at'],
      properties: {
        id: STRING,
        entity: STRING,
        record_id: { type: ['string', 'null'] },
        action: { type: 'string', enum: ['create', 'update', 'delete'] },
        changes: {
          type: 'object',
          additionalProperties: { type: 'object', properties: { from: {}, to: {} } },
          description: 'field → {from, to}',
        },
        actor: {
          type: 'object',
          required: ['kind'],
          properties: {
            kind: { type: 'string', enum: ['user', 'platform', 'system'] },
            id: { type: ['string', 'null'] },
            email: { type: ['string', 'null'] },
          },
        },
        at: TIMESTAMP,
      },
    },
    HistoryPage: {
      type: 'object',
      required: ['data', 'meta'],
      properties: { data: { type: 'array', items: schemaRef('HistoryEntry') }, meta: schemaRef('PageMeta') },
    },
  };
}

const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Bad request: unparseable body, bad filter value, unknown field, sort or include (INVALID_PAYLOAD, UNKNOWN_FIELD)',
  401: 'Missing, invalid or expired token (UNAUTHORIZED)',
  403: 'Not permitted (FORBIDDEN)',
  404: 'Not found (NOT_FOUND, UNKNOWN_ENTITY, APP_NOT_FOUND)',
  409: 'Conflict: unique value taken, restricted delete (CONFLICT)',
  413: 'Body or file too large (PAYLOAD_TOO_LARGE, FILE_TOO_LARGE)',
  415: 'Body is not JSON (UNSUPPORTED_MEDIA_TYPE)',
  422: 'Validation failed; details name the fields (VALIDATION_FAILED)',
  429: 'Too many failed logins of this account: locked for a while (TOO_MANY_REQUESTS); Retry-After says how long',
  502: 'A synchronous webhook vetoed or failed (WEBHOOK_FAILED)',
};

function errorResponses(): Record<string, Response> {
  const out: Record<string, Response> = {};
  for (const [status, name] of Object.entries(ERROR_RESPONSES)) {
    out[name] = jsonResponse(ERROR_DESCRIPTIONS[Number(status)]!, schemaRef('Error'));
  }
  out[ERROR_RESPONSES[429]!]!.headers = { 'Retry-After': { description: 'Seconds until a login is taken again', schema: { type: 'integer' } } };
  return out;
}

const SECURITY_SCHEMES: OpenApiDocument['components']['securitySchemes'] = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    // Exactly the object openapi.md writes out; how to get a token is in the auth operations' own text.
    bearerFormat: 'JWT',
  },
};

/** Adds `extra`'s operations to `paths`, path by path (an admin may have more methods on a shared path). */
function mergePaths(paths: Record<string, PathItem>, extra: Record<string, PathItem>): void {
  for (const [path, item] of Object.entries(extra)) {
    const current = paths[path];
    paths[path] = current ? { ...current, ...item, parameters: current.parameters ?? item.parameters } : item;
    if (paths[path]!.parameters === undefined) delete paths[path]!.parameters;
  }
}

/**
 * The server reads a body sent with any POST, PUT or DELETE, also where the route takes none (workflow decisions,
 * deletes): unreadable JSON is a 400, another content type a 415, one above the body limit a 413 (README.md §Errors).
 * So every such operation documents those answers.
 */
function addBodyErrors(paths: Record<string, PathItem>): void {
  for (const item of Object.values(paths)) {
    for (const m of ['post', 'put', 'delete'] as const) {
      const operation = item[m];
      if (!operation) continue;
      for (const status of [400, 413, 415]) operation.responses[String(status)] ??= responseRef(ERROR_RESPONSES[status]!);
    }
  }
}

function usedTags(paths: Record<string, PathItem>, described: ReadonlyMap<string, string>): OpenApiDocument['tags'] {
  const names: string[] = [];
  for (const item of Object.values(paths)) {
    for (const m of ['get', 'put', 'post', 'delete'] as const) {
      for (const t of item[m]?.tags ?? []) if (!names.includes(t)) names.push(t);
    }
  }
  return names.map((name) => {
    const description = described.get(name);
    return description ? { name, description } : { name };
  });
}

/** The OpenAPI document of one app for one audience. Pure: everything it needs is in `input`. */
export function buildAppDocument(input: AppDocumentInput): OpenApiDocument {
  const { registry, audience } = input;
  const schemas = sharedSchemas();
  const names = baseNames([...registry.entities.keys()], new Set(Object.keys(schemas)));

  const allowed = new Map<string, ReadonlySet<PermissionAction>>();
  for (const name of registry.entities.keys()) {
    const actions = new Set(PERMISSION_ACTIONS.filter((a) => audience.isAdmin || audience.may(name, a)));
    if (actions.size > 0) allowed.set(name, actions);
  }

  const paths: Record<string, PathItem> = {};
  const described = new Map<string, string>();
  for (const name of [...allowed.keys()].sort()) {
    const entity = registry.entities.get(name)!;
    const part = entityPart({
      entity,
      names,
      allowed,
      syncWebhook: reachesSyncWebhook(entity, input.syncWebhooks),
      nullInRows: input.nullColumns?.get(name),
    });
    Object.assign(schemas, part.schemas);
    Object.assign(paths, part.paths);
    described.set(name, `Records of ${name} (table ${entity.def.table}).`);
  }
  mergePaths(paths, appUserPaths());
  if (audience.isAdmin) mergePaths(paths, appAdminPaths());
  addBodyErrors(paths);
  described.set('admin', 'Metadata and app administration (admins only).');

  return {
    openapi: '3.1.0',
    info: {
      title: input.title,
      version: input.version,
      description: `REST API of the app ${input.app}, generated from its metadata${audience.isAdmin ? '' : ' for the roles of the caller'}.`,
    },
    servers: [{ url: `/api/${input.app}` }],
    security: [{ bearerAuth: [] }],
    tags: usedTags(paths, described),
    paths,
    components: { schemas, responses: errorResponses(), parameters: { ...LIST_PARAMETERS }, securitySchemes: SECURITY_SCHEMES },
  };
}

/** The platform API's document (the same for every platform admin). */
export function buildPlatformDocument(version: string): OpenApiDocument {
  const schemas: Record<string, Schema> = {
    Error: ERROR_SCHEMA,
    TokenPair: TOKEN_PAIR,
    LoginRequest: sharedSchemas().LoginRequest!,
    RefreshRequest: sharedSchemas().RefreshRequest!,
    App: {
      type: 'object',
      required: ['name', 'display_name', 'db_name', 'db_driver', 'status'],
      properties: {
        name: STRING,
        display_name: STRING,
        db_name: STRING,
        db_driver: STRING,
        // The placement server of its database (GET answers it; creation's legacy shape does not).
        database: STRING,
        status: STRING,
        created_at: TIMESTAMP,
        updated_at: TIMESTAMP,
      },
    },
  };
  const paths = platformPaths();
  addBodyErrors(paths);
  return {
    openapi: '3.1.0',
    info: { title: 'Rocket platform', version, description: 'Platform authentication and app management.' },
    servers: [{ url: '/api/_platform' }],
    security: [{ bearerAuth: [] }],
    tags: usedTags(paths, new Map()),
    paths,
    components: {
      schemas,
      responses: errorResponses(),
      parameters: {},
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

/**
 * Whether a write of `entity` can meet a synchronous webhook (a 502): its own, or one of an entity its nested
 * writes and cascades reach through its relations as their source.
 */
function reachesSyncWebhook(entity: EntityMeta, syncWebhooks: ReadonlySet<string>): boolean {
  const seen = new Set<string>();
  const queue = [entity];
  for (let e = queue.pop(); e !== undefined; e = queue.pop()) {
    if (seen.has(e.name)) continue;
    seen.add(e.name);
    if (syncWebhooks.has(e.name)) return true;
    for (const use of e.uses.values()) if (use.forward) queue.push(use.relation.target);
  }
  return false;
}
