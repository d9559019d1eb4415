import { decide, deleteInstance, getInstance, pendingInstances } from '../../workflows/runtime.js';
import { type Area, appOf, callerOf, withAccess } from '../context.js';

type ById = { Params: { id: string } };

/** /api/:app/_workflows (spec: workflows.md §Runtime endpoints): callers decide, admins delete. */
export const workflowsArea: Area = async (area, { services }) => {
  await withAccess(area, services, 'user', (app) => {
    app.get('/pending', async (req) => ({ data: await pendingInstances(appOf(req), callerOf(req)) }));
    app.get<ById>('/:id', async (req) => ({ data: await getInstance(appOf(req), req.params.id) }));
    app.post<ById>('/:id/approve', async (req) => ({
      data: await decide(appOf(req), callerOf(req), req.params.id, 'approved'),
    }));
    app.post<ById>('/:id/reject', async (req) => ({
      data: await decide(appOf(req), callerOf(req), req.params.id, 'rejected'),
    }));
  });
  await withAccess(area, services, 'admin', (app) => {
    app.delete<ById>('/:id', async (req) => ({ data: await deleteInstance(appOf(req), req.params.id) }));
  });
};
