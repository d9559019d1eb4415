import { findUnstorable, unstorableWhat } from '../../types/text.js';
import { RocketError } from '../../errors.js';
import type { FastifyInstance } from 'fastify';
import { type Area, requireAccess, resolveApp, type Services } from '../context.js';
import { adminAiRoutes } from './admin-ai.js';
import { adminInvitesRoutes } from './admin-invites.js';
import { adminMetadataRoutes } from './admin-metadata.js';
import { adminPermissionsRoutes } from './admin-permissions.js';
import { adminTransferRoutes } from './admin-transfer.js';
import { adminUsersRoutes } from './admin-users.js';
import { adminWebhookRoutes } from './admin-webhooks.js';
import { adminWorkflowRoutes } from './admin-workflows.js';
import { appAuthArea } from './app-auth.js';
import { consoleArea } from './console.js';
import { eventsArea } from './events.js';
import { filesArea } from './files.js';
import { auditLogRoutes } from './history.js';
import { openapiArea } from './openapi.js';
import { platformArea } from './platform.js';
import { realtimeArea } from './realtime.js';
import { recordsArea } from './records.js';
import { uiArea, uiConfigAdminRoutes } from './ui-configs.js';
import { workflowsArea } from './workflows-runtime.js';

type AdminRoutes = (scope: FastifyInstance, services: Services) => Promise<void>;

/** Collections and operations of /api/:app/_admin, one module per kind. */
const ADMIN_ROUTES: readonly AdminRoutes[] = [
  adminUsersRoutes,
  adminInvitesRoutes,
  adminPermissionsRoutes,
  adminMetadataRoutes,
  adminWebhookRoutes,
  adminTransferRoutes,
  adminAiRoutes,
  adminWorkflowRoutes,
  uiConfigAdminRoutes,
  auditLogRoutes,
];

/** /api/:app/_admin/*: app admins (and platform admins) only, checked once for the whole scope. */
const adminArea: Area = async (area, { services }) => {
  requireAccess(area, services, 'admin');
  // Definitions are stored as text and jsonb, which cannot hold NUL (or a lone surrogate): one 422 naming the key
  // for every admin write, rather than a check in each definition's validator.
  area.addHook('preValidation', (request, _reply, done) => {
    const found = findUnstorable(request.body);
    if (found === undefined) return done();
    const { path: field, text } = found;
    const what = unstorableWhat(text);
    const message = `${/^[^.[]*/.exec(field)![0] || 'The body'} must not contain ${what}`;
    done(new RocketError('VALIDATION_FAILED', message, field ? [{ field, rule: 'type', message: `${field} must not contain ${what}` }] : []));
  });
  for (const routes of ADMIN_ROUTES) await routes(area, services);
};

/**
 * The areas of one app's API under `/api/:app`, each a plugin with its own prefix and hooks. The records
 * area (`/:entity…`) comes last; the router prefers static segments anyway, so `_admin`, `_files`, … win.
 */
const APP_AREAS: ReadonlyArray<readonly [string, Area]> = [
  ['/auth', appAuthArea],
  ['/_admin', adminArea],
  ['/_workflows', workflowsArea],
  ['/_ui', uiArea],
  ['/_files', filesArea],
  ['/_events', eventsArea],
  ['', openapiArea],
  ['/_realtime', realtimeArea],
  ['', recordsArea],
];

/** `/api/:app`: the app resolved once for the whole scope (404 APP_NOT_FOUND), before any area's own hooks. */
const appApi: Area = async (api, opts) => {
  api.addHook('onRequest', resolveApp(opts.services));
  for (const [prefix, area] of APP_AREAS) await api.register(area, { ...opts, prefix });
};

/** Every area beyond health and operations, with its prefix, in registration order. */
export const AREAS: ReadonlyArray<readonly [string, Area]> = [
  ['/api/_platform', platformArea],
  ['/api/:app', appApi],
  ['/admin', consoleArea],
];
