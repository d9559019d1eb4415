import type { FastifyRequest } from 'fastify';
import { authenticateApp } from '../../auth/authenticate.js';
import type { Caller } from '../../auth/caller.js';
import { serviceUnavailable, unauthorized } from '../../errors.js';
import { parseSubscription } from '../../realtime/subscription.js';
import { issueTicket, redeemTicket } from '../../realtime/tickets.js';
import { type Area, appOf, callerOf, type Services, withAccess } from '../context.js';

const EVENT_STREAM = 'text/event-stream; charset=utf-8';

type StreamRequest = FastifyRequest<{ Params: { app: string }; Querystring: Record<string, unknown> }>;

/**
 * The caller of a stream: the usual bearer token, or a single-use `?ticket=` (EventSource sends no headers).
 * Every credential sent must hold — a bad ticket next to a good header (or the reverse) is 401, never
 * ignored — and when both are sent they must be the same user's.
 */
async function streamCaller(req: StreamRequest, services: Services): Promise<Caller> {
  const app = appOf(req);
  const ticket = req.query.ticket;
  const header = req.headers.authorization;
  const byHeader =
    header === undefined
      ? undefined
      : await authenticateApp(header, app.verifier, app.users, services.platform.verifier, services.platform.adminEmails);
  if (ticket === undefined) {
    if (byHeader) return byHeader;
    throw unauthorized('Missing auth token');
  }
  if (typeof ticket !== 'string') throw unauthorized('Invalid or expired ticket');
  const byTicket = await redeemTicket(app.db, app.users, ticket);
  if (byHeader && byHeader.id !== byTicket.id) throw unauthorized('Ticket and token belong to different users');
  return byHeader ?? byTicket;
}

/** POST /api/:app/_realtime/tickets and GET /api/:app/_realtime (spec: realtime.md); the stream authenticates itself. */
export const realtimeArea: Area = async (app, { services }) => {
  const realtime = services.realtime;

  await withAccess(app, services, 'user', (scope) => {
    scope.post('/tickets', async (req, reply) => {
      const rt = appOf(req);
      return reply.status(201).send({ data: await issueTicket(rt.db, callerOf(req)) });
    });
  });

  app.get<{ Params: { app: string }; Querystring: Record<string, unknown> }>('', async (req, reply) => {
    if (!realtime) throw serviceUnavailable('Realtime is not running on this instance', 2);
    const rt = appOf(req);
    const caller = await streamCaller(req, services);
    const request = parseSubscription(rt, caller, req.query);
    // HEAD (answered by this handler too) must get the headers only: the stream writes its frames to the
    // socket itself, which would put a body on the wire that the client reads as its next response.
    if (req.method === 'HEAD') return reply.type(EVENT_STREAM).header('cache-control', 'no-cache, no-transform').send();
    // Everything that can still fail with an ordinary answer happens before the stream opens.
    await realtime.admit(rt);
    // `last_event_id=` stands in for the header when a page reconnects with a new ticket (a new EventSource sends none).
    const header = req.headers['last-event-id'] ?? req.query.last_event_id;
    const lastEventId = Array.isArray(header) ? String(header[header.length - 1]) : header === undefined ? undefined : String(header);
    // The stream writes its own status line: headers hooks set on the reply (CORS) go to the raw response first.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
    reply.hijack();
    req.raw.socket.setKeepAlive(true);
    req.raw.socket.setNoDelay(true);
    await realtime.stream(rt, caller, request, reply.raw, lastEventId);
  });
};
