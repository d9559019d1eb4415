import type { RouteModule } from '../server.js';
import { adminInvitesRoutes } from './admin-invites.js';
import { adminPermissionsRoutes } from './admin-permissions.js';
import { adminUsersRoutes } from './admin-users.js';
import { adminMetadataRoutes } from './admin-metadata.js';
import { recordRoutes } from './records.js';
import { adminTransferRoutes } from './admin-transfer.js';
import { adminAiRoutes } from './admin-ai.js';
import { adminWebhookRoutes } from './admin-webhooks.js';
import { filesRoutes } from './files.js';
import { uiConfigRoutes } from './ui-configs.js';
import { adminWorkflowRoutes } from './admin-workflows.js';
import { workflowRuntimeRoutes } from './workflows-runtime.js';
import { historyRoutes } from './history.js';
import { consoleRoutes } from './console.js';
import { openapiRoutes } from './openapi.js';
import { realtimeRoutes } from './realtime.js';

/**
 * Route modules beyond platform and app auth, in registration order. The
 * dynamic entity routes come last so every reserved prefix wins over `:entity`.
 */
export const ROUTE_MODULES: readonly RouteModule[] = [
  adminUsersRoutes,
  adminInvitesRoutes,
  adminPermissionsRoutes,
  adminMetadataRoutes,
  adminWebhookRoutes,
  adminTransferRoutes,
  adminAiRoutes,
  adminWorkflowRoutes,
  workflowRuntimeRoutes,
  uiConfigRoutes,
  filesRoutes,
  historyRoutes,
  openapiRoutes,
  realtimeRoutes,
  consoleRoutes,
  recordRoutes,
];
