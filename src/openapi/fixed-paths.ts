import { ERROR_RESPONSES } from './entity-paths.js';
import {
  dataOf,
  jsonBody,
  jsonResponse,
  parameterRef,
  responseRef,
  schemaRef,
  type Operation,
  type PathItem,
  type Ref,
  type Response,
  type Schema,
} from './types.js';

/** The routes of an app and of the platform that do not depend on its entities (spec: README.md §Route table). */

const PUBLIC: Operation['security'] = [];

function errors(...statuses: number[]): Record<string, Ref> {
  return Object.fromEntries(statuses.map((s) => [String(s), responseRef(ERROR_RESPONSES[s]!)]));
}

// Free-form JSON objects (admin definitions, summaries): `additionalProperties` says so, so generated clients
// type them as open maps (`{ [key: string]: unknown }`) rather than as objects that admit no key at all.
const OBJECT: Schema = { type: 'object', additionalProperties: true };
const MESSAGE: Schema = { type: 'object', required: ['message'], properties: { message: { type: 'string' } } };
const TOKEN_PAIR_RESPONSE = jsonResponse('A new access and refresh token', dataOf(schemaRef('TokenPair')));

/** GET …/ai/status of an app or the platform: the AI generator is never configured. */
const aiStatus = jsonResponse(
  'Not configured',
  dataOf({
    type: 'object',
    required: ['configured', 'model'],
    properties: { configured: { type: 'boolean', enum: [false] }, model: { type: 'string' } },
  }),
);

/** The GET of an OpenAPI document: it carries an ETag, and a copy still current gets a 304. */
function documentGet(operationId: string, tag: string, summary: string, failures: number[]): Operation {
  return op(operationId, tag, summary, {
    parameters: [{ name: 'If-None-Match', in: 'header', description: 'ETag of a copy held', schema: { type: 'string' } }],
    responses: {
      '200': {
        description: 'OpenAPI 3.1 document',
        headers: { ETag: { schema: { type: 'string' } } },
        content: { 'application/json': { schema: OBJECT } },
      },
      '304': { description: 'The copy held is current' },
      ...errors(...failures),
    },
  });
}

/** An operation; one with a JSON body also answers 413 (too large) and 415 (not JSON), like every JSON route. */
function op(operationId: string, tag: string, summary: string, rest: Partial<Operation> & { responses: Operation['responses'] }): Operation {
  const json = rest.requestBody !== undefined && 'content' in rest.requestBody && rest.requestBody.content['application/json'] !== undefined;
  return { operationId, summary, tags: [tag], ...rest, ...(json && { responses: { ...rest.responses, ...errors(413, 415) } }) };
}

/** login / refresh / logout, under an app's or the platform's `/auth`. */
function authPaths(tag: string, prefix: string): Record<string, PathItem> {
  const refreshBody = jsonBody(schemaRef('RefreshRequest'));
  return {
    '/auth/login': {
      post: op(`${prefix}Login`, tag, 'Log in with email and password', {
        security: PUBLIC,
        requestBody: jsonBody(schemaRef('LoginRequest')),
        // 429: the login throttle (ROCKET_LOGIN_MAX_FAILURES) locks an account after repeated failures.
        responses: { '200': TOKEN_PAIR_RESPONSE, ...errors(400, 401, 429) },
      }),
    },
    '/auth/refresh': {
      post: op(`${prefix}Refresh`, tag, 'Exchange a refresh token for a new pair (the old one is used up)', {
        security: PUBLIC,
        requestBody: refreshBody,
        responses: { '200': TOKEN_PAIR_RESPONSE, ...errors(400, 401) },
      }),
    },
    '/auth/logout': {
      post: op(`${prefix}Logout`, tag, 'End a session (revokes the refresh token)', {
        security: PUBLIC,
        requestBody: refreshBody,
        responses: { '200': jsonResponse('Logged out', MESSAGE), ...errors(400, 401) },
      }),
    },
  };
}

const idPath = { name: 'id', in: 'path' as const, required: true, schema: { type: 'string' } };

/** Routes every app caller has: auth, files, workflows, realtime. */
export function appUserPaths(): Record<string, PathItem> {
  const instance = jsonResponse('The workflow instance', dataOf(schemaRef('WorkflowInstance')));
  const decide = (verb: 'approve' | 'reject'): Operation =>
    op(
      `workflows${verb === 'approve' ? 'Approve' : 'Reject'}`,
      'workflows',
      `${verb === 'approve' ? 'Approve' : 'Reject'} the pending approval step (assignees only)`,
      {
        responses: { '200': instance, ...errors(401, 403, 404, 422) },
      },
    );
  return {
    ...authPaths('auth', 'auth'),
    '/auth/accept-invite': {
      post: op('authAcceptInvite', 'auth', 'Accept an invitation: creates the user and logs them in', {
        security: PUBLIC,
        requestBody: jsonBody({
          type: 'object',
          required: ['token', 'password'],
          properties: { token: { type: 'string' }, password: { type: 'string' } },
        }),
        responses: {
          '201': jsonResponse(
            'The new user, logged in',
            dataOf({
              type: 'object',
              required: ['access_token', 'refresh_token', 'user'],
              properties: {
                access_token: { type: 'string' },
                refresh_token: { type: 'string' },
                user: {
                  type: 'object',
                  required: ['id', 'email', 'roles'],
                  properties: {
                    id: { type: 'string', format: 'uuid' },
                    email: { type: 'string' },
                    roles: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
            }),
          ),
          ...errors(400, 404, 409, 422),
        },
      }),
    },
    '/_files/upload': {
      post: op('filesUpload', 'files', 'Upload a file (multipart form, part "file")', {
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } } },
            },
          },
        },
        responses: {
          '201': jsonResponse(
            'The stored file',
            dataOf({
              type: 'object',
              required: ['id', 'filename', 'size', 'mime_type', 'url'],
              properties: {
                id: { type: 'string', format: 'uuid' },
                filename: { type: 'string' },
                size: { type: 'integer' },
                mime_type: { type: 'string' },
                url: { type: 'string' },
              },
            }),
          ),
          ...errors(400, 401, 413, 415),
        },
      }),
    },
    '/_files/{id}': {
      parameters: [idPath],
      get: op('filesDownload', 'files', 'Download a file', {
        responses: {
          '200': {
            description: 'The file bytes, with the content type stored at upload',
            content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          ...errors(401, 404),
        },
      }),
    },
    '/_workflows/pending': {
      get: op('workflowsPending', 'workflows', 'Instances waiting at an approval step the caller may decide', {
        responses: {
          '200': jsonResponse('Pending instances, newest first', dataOf({ type: 'array', items: schemaRef('WorkflowInstance') })),
          ...errors(401),
        },
      }),
    },
    '/_workflows/{id}': {
      parameters: [idPath],
      get: op('workflowsGet', 'workflows', 'One workflow instance', { responses: { '200': instance, ...errors(401, 404) } }),
    },
    '/_workflows/{id}/approve': { parameters: [idPath], post: decide('approve') },
    '/_workflows/{id}/reject': { parameters: [idPath], post: decide('reject') },
    '/_ui/configs': {
      get: op('uiConfigsList', 'ui', 'UI configs of scope default', {
        responses: { '200': jsonResponse('UI configs', dataOf({ type: 'array', items: OBJECT })), ...errors(401) },
      }),
    },
    '/_ui/config/{entity}': {
      parameters: [{ name: 'entity', in: 'path', required: true, schema: { type: 'string' } }],
      get: op('uiConfigGet', 'ui', "An entity's UI config", {
        responses: { '200': jsonResponse('The UI config or null', dataOf({ anyOf: [OBJECT, { type: 'null' }] })), ...errors(401, 404) },
      }),
    },
    '/_openapi': { get: documentGet('openapiDocument', 'reference', 'This document, as the caller may see it', [401, 404]) },
    '/_docs': {
      get: op('openapiReference', 'reference', 'The interactive API reference page', {
        security: PUBLIC,
        responses: { '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } }, ...errors(404) },
      }),
    },
    '/_realtime/tickets': {
      post: op('realtimeTicket', 'realtime', 'A single-use ticket (30 s) for opening the change feed without a header', {
        responses: {
          '201': jsonResponse(
            'The ticket',
            dataOf({
              type: 'object',
              required: ['ticket', 'expires_in'],
              properties: { ticket: { type: 'string' }, expires_in: { type: 'integer' } },
            }),
          ),
          ...errors(401),
        },
      }),
    },
    '/_realtime': {
      get: op('realtimeSubscribe', 'realtime', 'Change feed (Server-Sent Events)', {
        description:
          'Events `ready`, `reset` and `change` (data: {entity, action, id, record, changed, at, by}); resume with Last-Event-ID. ' +
          'Authenticate with the bearer header or `ticket`. filter[...] as in list requests, with exactly one entity.',
        parameters: [
          { name: 'entities', in: 'query', required: true, description: 'Comma-separated entity names', schema: { type: 'string' } },
          { name: 'ticket', in: 'query', description: 'From POST /_realtime/tickets', schema: { type: 'string' } },
          { name: 'Last-Event-ID', in: 'header', description: 'Resume after this event id', schema: { type: 'string' } },
        ],
        // The bearer header, or no header at all when a ticket authenticates (EventSource cannot send headers).
        security: [{ bearerAuth: [] }, {}],
        responses: {
          '200': { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors(400, 401, 403, 404),
        },
      }),
    },
  };
}

/** The five routes of an admin collection (`/_admin/<name>` and `/_admin/<name>/{key}`). */
function adminCollection(name: string, label: string, keyName: 'id' | 'name', shape: Schema = OBJECT): Record<string, PathItem> {
  const stem = name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
  const key = { name: keyName, in: 'path' as const, required: true, schema: { type: 'string' } };
  const one = jsonResponse(label, dataOf(shape));
  const body = jsonBody(OBJECT);
  const deleted = jsonResponse(
    'Deleted',
    dataOf({ type: 'object', required: ['deleted'], properties: { [keyName]: { type: 'string' }, deleted: { type: 'boolean' } } }),
  );
  return {
    [`/_admin/${name}`]: {
      get: op(`admin${stem}List`, 'admin', `List ${label}s`, {
        responses: { '200': jsonResponse(`${label}s`, dataOf({ type: 'array', items: shape })), ...errors(401, 403) },
      }),
      post: op(`admin${stem}Create`, 'admin', `Create a ${label}`, {
        requestBody: body,
        responses: { '201': one, ...errors(400, 401, 403, 409, 422) },
      }),
    },
    [`/_admin/${name}/{${keyName}}`]: {
      parameters: [key],
      get: op(`admin${stem}Get`, 'admin', `Get a ${label}`, { responses: { '200': one, ...errors(401, 403, 404) } }),
      put: op(`admin${stem}Update`, 'admin', `Replace a ${label}`, {
        requestBody: body,
        responses: { '200': one, ...errors(400, 401, 403, 404, 409, 422) },
      }),
      delete: op(`admin${stem}Delete`, 'admin', `Delete a ${label}`, { responses: { '200': deleted, ...errors(401, 403, 404, 409) } }),
    },
  };
}

/** Admin routes (role admin or a platform token): metadata, users, access, webhooks, transfer, audit log. */
export function appAdminPaths(): Record<string, PathItem> {
  const simple = (operationId: string, summary: string, response: Response, extra: Partial<Operation> = {}): Operation =>
    op(operationId, 'admin', summary, { ...extra, responses: { '200': response, ...errors(400, 401, 403, 404), ...extra.responses } });
  return {
    ...adminCollection('entities', 'entity', 'name'),
    ...adminCollection('relations', 'relation', 'name'),
    ...adminCollection('rules', 'rule', 'id'),
    ...adminCollection('state-machines', 'state machine', 'id'),
    ...adminCollection('workflows', 'workflow', 'id'),
    ...adminCollection('users', 'user', 'id'),
    ...adminCollection('permissions', 'permission', 'id'),
    ...adminCollection('webhooks', 'webhook', 'id'),
    ...adminCollection('ui-configs', 'UI config', 'id'),
    '/_admin/invites': {
      get: simple('adminInvitesList', 'List invites', jsonResponse('Invites', dataOf({ type: 'array', items: OBJECT }))),
      post: op('adminInvitesCreate', 'admin', 'Invite a user', {
        requestBody: jsonBody(OBJECT),
        responses: { '201': jsonResponse('The invite', dataOf(OBJECT)), ...errors(400, 401, 403, 409, 422) },
      }),
    },
    '/_admin/invites/bulk': {
      post: simple('adminInvitesBulk', 'Invite many users', jsonResponse('What was created and skipped', dataOf(OBJECT)), {
        requestBody: jsonBody(OBJECT),
        responses: errors(422),
      }),
    },
    '/_admin/invites/{id}': {
      parameters: [idPath],
      delete: simple('adminInvitesDelete', 'Revoke an invite', jsonResponse('Deleted', dataOf(OBJECT))),
    },
    '/_admin/webhook-logs': {
      get: simple('adminWebhookLogsList', 'Recent webhook deliveries (at most 200)', jsonResponse('Logs', dataOf({ type: 'array', items: OBJECT }))),
    },
    '/_admin/webhook-logs/{id}': {
      parameters: [idPath],
      get: simple('adminWebhookLogsGet', 'One webhook delivery', jsonResponse('The log', dataOf(OBJECT))),
    },
    '/_admin/webhook-logs/{id}/retry': {
      parameters: [idPath],
      post: simple('adminWebhookLogsRetry', 'Deliver again', jsonResponse('The new attempt', dataOf(OBJECT))),
    },
    '/_admin/export': { get: simple('adminExport', 'Export the schema (and sample data)', jsonResponse('The export document', OBJECT)) },
    '/_admin/import': {
      post: simple('adminImport', 'Import an export document', jsonResponse('Summary', OBJECT), {
        requestBody: jsonBody(OBJECT),
        responses: errors(422),
      }),
    },
    '/_admin/history': {
      get: simple('adminHistory', 'The audit log, newest first', jsonResponse('Entries', schemaRef('HistoryPage')), {
        parameters: [
          ...['entity', 'record_id', 'actor_id'].map((name) => ({ name, in: 'query' as const, schema: { type: 'string' } })),
          { name: 'action', in: 'query', schema: { type: 'string', enum: ['create', 'update', 'delete'] } },
          { name: 'since', in: 'query', description: 'Inclusive, RFC 3339', schema: { type: 'string', format: 'date-time' } },
          { name: 'until', in: 'query', description: 'Exclusive, RFC 3339', schema: { type: 'string', format: 'date-time' } },
          parameterRef('page'),
          parameterRef('per_page'),
        ],
      }),
    },
    // The AI generator is out of scope, but the route answers (README.md §Route table), so clients may ask it.
    '/_admin/ai/status': {
      get: op('adminAiStatus', 'admin', 'Whether an AI schema generator is configured (never, on this server)', {
        responses: { '200': aiStatus, ...errors(401, 403) },
      }),
    },
    '/_files': {
      get: simple('adminFilesList', 'Uploaded files, newest first', jsonResponse('Files', dataOf({ type: 'array', items: OBJECT }))),
    },
    '/_workflows/{id}': {
      parameters: [idPath],
      delete: simple('adminWorkflowInstancesDelete', 'Delete a workflow instance', jsonResponse('Deleted', dataOf(OBJECT))),
    },
    '/_files/{id}': {
      parameters: [idPath],
      delete: simple('adminFilesDelete', 'Delete a file', jsonResponse('Deleted', dataOf(OBJECT))),
    },
  };
}

/** The platform API: its auth and app management. */
export function platformPaths(): Record<string, PathItem> {
  const nameParam = { name: 'name', in: 'path' as const, required: true, schema: { type: 'string' } };
  return {
    ...authPaths('auth', 'platform'),
    '/apps': {
      get: op('appsList', 'apps', 'List apps', {
        responses: { '200': jsonResponse('Apps', dataOf({ type: 'array', items: schemaRef('App') })), ...errors(401, 403) },
      }),
      post: op('appsCreate', 'apps', 'Create an app (its database, secret and admin user)', {
        requestBody: jsonBody({
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$', maxLength: 56 },
            display_name: { type: 'string' },
            db_driver: { type: 'string', enum: ['postgres'] },
            admin_email: { type: 'string' },
            admin_password: { type: 'string' },
            // operations.md §Placing apps: a server named in ROCKET_DATABASES (default main).
            database: { type: 'string' },
          },
        }),
        responses: { '201': jsonResponse('The app', dataOf(schemaRef('App'))), ...errors(400, 401, 403, 409, 422) },
      }),
    },
    '/apps/{name}': {
      parameters: [nameParam],
      get: op('appsGet', 'apps', 'One app', { responses: { '200': jsonResponse('The app', dataOf(schemaRef('App'))), ...errors(401, 403, 404) } }),
      delete: op('appsDelete', 'apps', 'Delete an app and its database', {
        responses: { '200': jsonResponse('Deleted', MESSAGE), ...errors(401, 403, 404) },
      }),
    },
    // The AI generator is out of scope, but the route answers (README.md §Route table), as the app's does.
    '/ai/status': {
      get: op('platformAiStatus', 'apps', 'Whether an AI schema generator is configured (never, on this server)', {
        responses: { '200': aiStatus, ...errors(401, 403) },
      }),
    },
    '/openapi': { get: documentGet('platformOpenapi', 'apps', 'This document', [401, 403]) },
  };
}
