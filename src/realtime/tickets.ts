import { createHash, randomBytes } from 'node:crypto';
import type { Caller } from '../auth/caller.js';
import { makeCaller } from '../auth/caller.js';
import { acceptsToken, type UserStatusCache } from '../auth/user-status.js';
import type { Database } from '../db/database.js';
import { unauthorized } from '../errors.js';

/**
 * Subscription tickets (spec: realtime.md §Subscribing): EventSource cannot
 * send an Authorization header and access tokens must not end up in URLs, so
 * a caller trades its token for a random single-use ticket valid 30 s. Only
 * the ticket's SHA-256 is stored, in the app's database, so a ticket issued by
 * one instance is redeemed by any other; redeeming deletes it (single use is
 * the DELETE's atomicity).
 */

export const TICKET_SECONDS = 30;

const hashOf = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

export async function issueTicket(db: Database, caller: Caller): Promise<{ ticket: string; expires_in: number }> {
  const ticket = randomBytes(32).toString('base64url');
  await db.query(
    `INSERT INTO _realtime_tickets (hash, user_id, roles, email, platform, expires_at)
     VALUES ($1, $2, $3::text[], $4, $5, now() + make_interval(secs => $6::int))`,
    [hashOf(ticket), caller.id, caller.roles, caller.email, caller.platform === true, TICKET_SECONDS],
  );
  return { ticket, expires_in: TICKET_SECONDS };
}

const INVALID = 'Invalid or expired ticket';

/** The caller a ticket was issued to; 401 when it is unknown, used or expired, or its user's tokens were revoked since. */
export async function redeemTicket(db: Database, users: UserStatusCache, ticket: string): Promise<Caller> {
  if (ticket === '' || ticket.length > 200) throw unauthorized(INVALID);
  const rows = await db.query<{ user_id: string; roles: string[]; email: string | null; platform: boolean; live: boolean; issued: number }>(
    `DELETE FROM _realtime_tickets WHERE hash = $1
     RETURNING user_id, roles, email, platform, expires_at > now() AS live,
               floor(extract(epoch FROM expires_at) - $2::int)::float8 AS issued`,
    [hashOf(ticket), TICKET_SECONDS],
  );
  const row = rows[0];
  if (!row?.live) throw unauthorized(INVALID);
  if (row.platform) return { ...makeCaller(row.user_id, row.roles, row.email), platform: true };
  // A ticket is only as good as the token it was traded for: one issued before a revocation is refused.
  const status = await users.get(row.user_id);
  if (!acceptsToken(status, row.issued)) throw unauthorized(INVALID);
  return { ...makeCaller(row.user_id, row.roles, status.email), issuedAt: row.issued };
}
