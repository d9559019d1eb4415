import type { FastifyInstance } from 'fastify';
import { bulkInvite, createInvite, deleteInvite, listInvites } from '../../auth/invites.js';
import { bodyObject } from '../body.js';
import { appOf, callerOf, type Services } from '../context.js';
import { auditFor, inviteCreations } from '../../history/audit.js';
import { audited, type AuditedAs } from './admin-resource.js';

const INVITES: AuditedAs = { collection: '_invites', key: (i) => (i !== null && typeof i === 'object' && 'id' in i ? String(i.id) : null) };

/** /api/:app/_admin/invites: invite users by email (admin only). Accepting is in app-auth.ts. */
export async function adminInvitesRoutes(app: FastifyInstance, _services: Services): Promise<void> {
  const base = '/invites';

  app.get(base, async (req) => ({ data: await listInvites(appOf(req).db) }));
  app.post(base, async (req, reply) => {
    const created = await audited(req, INVITES, 'create', null, null, (audit) =>
      createInvite(appOf(req).db, callerOf(req).id, bodyObject(req), inviteCreations(audit)),
    );
    return reply.status(201).send({ data: created });
  });
  app.post(`${base}/bulk`, async (req) => {
    const result = await bulkInvite(appOf(req).db, callerOf(req).id, bodyObject(req), inviteCreations(auditFor(callerOf(req))));
    return { data: result };
  });
  app.delete<{ Params: { app: string; id: string } }>(`${base}/:id`, async (req) => {
    const db = appOf(req).db;
    // Invite ids are UUIDs, which the URL may spell in upper case; the log names the invite by its stored id.
    const before = (await listInvites(db)).find((i) => i.id === req.params.id.toLowerCase()) ?? null;
    return { data: await audited(req, INVITES, 'delete', before, before?.id ?? req.params.id, () => deleteInvite(db, req.params.id)) };
  });
}
