import type { FastifyInstance } from 'fastify';
import * as workflows from '../../workflows/admin.js';
import type { Services } from '../context.js';
import { adminResourceRoutes } from './admin-resource.js';

/** /api/:app/_admin/workflows (spec: workflows.md §Admin API) */
export async function adminWorkflowRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  adminResourceRoutes(
    app,
    'workflows',
    {
      list: workflows.listWorkflows,
      get: workflows.getWorkflow,
      create: workflows.createWorkflow,
      update: workflows.updateWorkflow,
      remove: workflows.deleteWorkflow,
    },
    { collection: '_workflows' },
    true, // action values and trigger states beyond a double's digits (a bigint's) are kept exact
  );
}
