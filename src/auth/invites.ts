import { hasNul } from '../types/text.js';
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { RocketError, conflict, invalid, invalidPayload, notFound } from '../errors.js';
import { hashPassword } from './passwords.js';
import { UUID_RE } from '../types/ids.js';
import type { TokenPair } from './sessions.js';
import { DUPLICATE_USER, isEmail, normalizeEmail, optionalRoles, optionalString, requireEmail, type UsersContext } from './users.js';

/** Invites (spec: auth.md §Invites): admins invite an email with roles; the invitee sets a password. */

export interface InviteView {
  id: string;
  email: string;
  roles: string[];
  token: string;
  expires_at: Date;
  accepted_at: Date | null;
  invited_by: string | null;
  created_at: Date;
}

export type CreatedInvite = Omit<InviteView, 'accepted_at'>;

export interface BulkInviteResult {
  created: Array<Pick<InviteView, 'id' | 'email' | 'token' | 'expires_at'>>;
  skipped: Array<{ email: string; reason: string }>;
  summary: { total: number; created: number; skipped: number };
}

export interface AcceptedInvite extends TokenPair {
  user: { id: string; email: string; roles: string[] };
}

/**
 * Hooks into the transaction of an invite's change, so its audit entry (history.md) commits or rolls back
 * with it: `created` for each invite stored (single or bulk alike), `accepted` for the user an accept creates
 * and the invite it marks accepted.
 */
export interface InviteRecorder {
  created?(tx: Queryable, invite: CreatedInvite): Promise<void>;
  accepted?(tx: Queryable, user: AcceptedInvite['user'] & { active: boolean }, invite: { before: InviteView; after: InviteView }): Promise<void>;
}

/** Accepting needs the users context plus the app's session issuer. */
export interface InviteContext extends UsersContext {
  readonly sessions: UsersContext['sessions'] & { issue(userId: string, roles: readonly string[]): Promise<TokenPair> };
}

export const INVITE_LIFETIME_HOURS = 72;
export const MAX_BULK_INVITES = 1000;
const PENDING_INVITE = 'A pending invite already exists for this email';
const INVALID_EMAIL = 'Invalid email address';
const INVITE_COLUMNS = `id, email, COALESCE(roles, '{}') AS roles, token, expires_at, accepted_at, invited_by, created_at`;

export async function listInvites(db: Database): Promise<InviteView[]> {
  return db.query<InviteView>(`SELECT ${INVITE_COLUMNS} FROM _invites ORDER BY created_at DESC, id DESC`);
}

export async function createInvite(
  db: Database,
  invitedBy: string | null,
  input: { email?: unknown; roles?: unknown },
  recorder: InviteRecorder = {},
): Promise<CreatedInvite> {
  const raw = optionalString(input.email);
  const roles = optionalRoles(input.roles) ?? [];
  const email = requireEmail(raw);
  const outcome = await inviteOne(db, email, roles, invitedBy, recorder);
  if ('reason' in outcome) throw conflict(outcome.reason);
  return outcome;
}

/** Each email is processed on its own: one refusal does not stop the others. */
export async function bulkInvite(
  db: Database,
  invitedBy: string | null,
  input: { emails?: unknown; roles?: unknown },
  recorder: InviteRecorder = {},
): Promise<BulkInviteResult> {
  const { emails } = input;
  if (!Array.isArray(emails) || emails.length === 0) {
    throw invalid('emails is required and must be a non-empty array');
  }
  if (!emails.every((e): e is string => typeof e === 'string')) throw invalidPayload();
  const roles = optionalRoles(input.roles) ?? [];
  const unique = [...new Set(emails.map(normalizeEmail))];
  if (unique.includes('')) throw invalid('emails must not contain blank entries');
  if (unique.length > MAX_BULK_INVITES) throw invalid(`emails must not contain more than ${MAX_BULK_INVITES} entries`);

  const result: BulkInviteResult = { created: [], skipped: [], summary: { total: unique.length, created: 0, skipped: 0 } };
  for (const email of unique) {
    const outcome = isEmail(email) ? await inviteOne(db, email, roles, invitedBy, recorder) : { reason: INVALID_EMAIL };
    if ('reason' in outcome) result.skipped.push({ email, reason: outcome.reason });
    else result.created.push({ id: outcome.id, email: outcome.email, token: outcome.token, expires_at: outcome.expires_at });
  }
  result.summary.created = result.created.length;
  result.summary.skipped = result.skipped.length;
  return result;
}

export async function deleteInvite(db: Database, id: string): Promise<{ id: string; deleted: true }> {
  const rows = UUID_RE.test(id) ? await db.query<{ id: string }>('DELETE FROM _invites WHERE id = $1 RETURNING id', [id]) : [];
  if (!rows[0]) throw notFound(`Invite not found: ${id}`);
  return { id: rows[0].id, deleted: true };
}

interface InviteState {
  id: string;
  email: string;
  roles: string[];
  accepted: boolean;
  expired: boolean;
}

/**
 * Public: the invitee sets a password. Creates an active user with the invite's email and roles, marks
 * the invite accepted (single use, even under concurrent accepts) and logs the user in.
 */
export async function acceptInvite(
  app: InviteContext,
  input: { token?: unknown; password?: unknown },
  recorder: InviteRecorder = {},
): Promise<AcceptedInvite> {
  const badShape = () => invalidPayload('Invalid JSON body');
  const token = optionalString(input.token, badShape);
  const password = optionalString(input.password, badShape);
  if (!token) throw invalid('token is required');
  if (!password) throw invalid('password is required');

  // Checked once without locks so bad tokens cost no password hashing, then again under the row lock.
  const { email } = await inviteState(app.db, token);
  // The invitee's first password: failures counted against the email before do not lock it out (users.ts).
  await app.sessions.unlock(email);
  const hash = await hashPassword(password);
  const user = await app.db.transaction(async (tx) => {
    const invite = await inviteState(tx, token, true);
    // The user as an admin's create records it (users.ts), `active` included.
    let rows: Array<{ id: string; email: string; roles: string[]; active: boolean }>;
    try {
      rows = await tx.query(
        `INSERT INTO _users (email, password_hash, roles, active) VALUES ($1, $2, $3::text[], true)
         RETURNING id, email, COALESCE(roles, '{}') AS roles, active`,
        [invite.email, hash, invite.roles],
      );
    } catch (err) {
      if (err instanceof RocketError && err.code === 'CONFLICT') throw conflict(DUPLICATE_USER);
      throw err;
    }
    const after = await tx.query<InviteView>(`UPDATE _invites SET accepted_at = NOW() WHERE id = $1 RETURNING ${INVITE_COLUMNS}`, [invite.id]);
    const user = rows[0]!;
    await recorder.accepted?.(tx, user, { before: { ...after[0]!, accepted_at: null }, after: after[0]! });
    return user;
  });
  app.users.invalidate(user.id);
  const pair = await app.sessions.issue(user.id, user.roles);
  return { ...pair, user: { id: user.id, email: user.email, roles: user.roles } };
}

// ---------------------------------------------------------------------------

/** The invite behind a token, or the spec's error for why it cannot be used. */
async function inviteState(q: Queryable, sent: string, lock = false): Promise<InviteState> {
  // Tokens are stored as randomUUID() writes them (lower case); a UUID names the same token in any case.
  const token = UUID_RE.test(sent) ? sent.toLowerCase() : sent;
  // No stored token holds a NUL: such a token is an unknown one.
  const rows = hasNul(token)
    ? []
    : await q.query<InviteState>(
        `SELECT id, email, COALESCE(roles, '{}') AS roles, accepted_at IS NOT NULL AS accepted,
            expires_at <= NOW() AS expired
       FROM _invites WHERE token = $1${lock ? ' FOR UPDATE' : ''}`,
        [token],
      );
  const invite = rows[0];
  if (!invite) throw notFound('Invalid invite token');
  if (invite.accepted) throw new RocketError('VALIDATION_FAILED', 'Invite has already been accepted', [], 400);
  if (invite.expired) throw new RocketError('VALIDATION_FAILED', 'Invite has expired', [], 400);
  const email = normalizeEmail(invite.email);
  const users = await q.query('SELECT 1 FROM _users WHERE email = $1', [email]);
  if (users.length > 0) throw conflict(DUPLICATE_USER);
  return { ...invite, email };
}

/**
 * Creates one invite unless the email already has a user or a pending invite. The check and the insert
 * run under a per-email advisory lock, so two concurrent invites for one email cannot both pass.
 */
async function inviteOne(
  db: Database,
  email: string,
  roles: readonly string[],
  invitedBy: string | null,
  recorder: InviteRecorder,
): Promise<CreatedInvite | { reason: string }> {
  const by = invitedBy !== null && UUID_RE.test(invitedBy) ? invitedBy : null;
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rocket_invite:' || $1))`, [email]);
    const users = await tx.query('SELECT 1 FROM _users WHERE email = $1', [email]);
    if (users.length > 0) return { reason: DUPLICATE_USER };
    const pending = await tx.query('SELECT 1 FROM _invites WHERE email = $1 AND accepted_at IS NULL AND expires_at > NOW() LIMIT 1', [email]);
    if (pending.length > 0) return { reason: PENDING_INVITE };
    const rows = await tx.query<CreatedInvite>(
      `INSERT INTO _invites (email, roles, token, expires_at, invited_by)
       VALUES ($1, $2::text[], $3, NOW() + make_interval(hours => $4), $5)
       RETURNING id, email, COALESCE(roles, '{}') AS roles, token, expires_at, invited_by, created_at`,
      [email, [...roles], randomUUID(), INVITE_LIFETIME_HOURS, by],
    );
    await recorder.created?.(tx, rows[0]!);
    return rows[0]!;
  });
}
