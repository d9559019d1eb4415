import type { Database } from '../db/database.js';
import { RocketError, conflict, invalid, invalidPayload, notFound } from '../errors.js';
import { hashPassword } from './passwords.js';
import { UUID_RE } from '../types/ids.js';

/**
 * The app's users (spec: auth.md §User admin API). Plain data in, plain data
 * out; `password_hash` never leaves this module.
 */

export interface UserView {
  id: string;
  email: string;
  roles: string[];
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

/** What user operations need of an app: its pool, the access-token status cache and the login lock. */
export interface UsersContext {
  readonly db: Database;
  readonly users: { invalidate(userId?: string): void };
  /**
   * A password set for an account by an admin (or by the invitee accepting) starts its login attempts afresh,
   * as `rocket users reset-password` does: failures counted against the email before do not lock the new password out.
   */
  readonly sessions: { unlock(email: string): Promise<void> };
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
/** RFC 5321's limit; it also keeps every stored email (and login-throttle key) within what a btree index holds. */
export const MAX_EMAIL_LENGTH = 254;
export const DUPLICATE_USER = 'A user with this email already exists';

/** Columns of a UserView; roles/active are never NULL in responses. */
const USER_COLUMNS = `id, email, COALESCE(roles, '{}') AS roles, COALESCE(active, true) AS active, created_at, updated_at`;

/** Trimmed, lower-cased email: the one form stored and looked up. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function isEmail(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && EMAIL_RE.test(email);
}

/** An optional string field: absent/null → undefined; any other non-string → 400. */
export function optionalString(value: unknown, badShape: () => RocketError = () => invalidPayload()): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badShape();
  return value;
}

/** The normalised email of an already type-checked value: 422 when blank or malformed. */
export function requireEmail(value: string | undefined): string {
  const email = normalizeEmail(value ?? '');
  if (email === '') throw invalid('email is required');
  if (!isEmail(email)) throw invalid('email must be a valid email address');
  return email;
}

/** Optional roles: absent/null → undefined; else an array of strings (400 otherwise). */
export function optionalRoles(value: unknown, badShape: () => RocketError = () => invalidPayload()): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((r): r is string => typeof r === 'string')) throw badShape();
  return [...value];
}

function optionalBoolean(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidPayload();
  return value;
}

interface UserFields {
  email: string;
  password: string | undefined;
  roles: string[] | undefined;
  active: boolean | undefined;
}

/** Shape first (400 for wrong JSON types), then meaning (422). */
function userFields(input: CreateUserInput): UserFields {
  const email = optionalString(input.email);
  const password = optionalString(input.password);
  const roles = optionalRoles(input.roles);
  const active = optionalBoolean(input.active);
  return { email: requireEmail(email), password: password === '' ? undefined : password, roles, active };
}

/** Maps the unique violation on `_users.email` to the spec's message. */
async function uniqueEmail<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof RocketError && err.code === 'CONFLICT') throw conflict(DUPLICATE_USER);
    throw err;
  }
}

export async function listUsers(db: Database): Promise<UserView[]> {
  return db.query<UserView>(`SELECT ${USER_COLUMNS} FROM _users ORDER BY email, id`);
}

/** The user, or undefined (also for ids that are not UUIDs). */
export async function findUser(db: Database, id: string): Promise<UserView | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const rows = await db.query<UserView>(`SELECT ${USER_COLUMNS} FROM _users WHERE id = $1`, [id]);
  return rows[0];
}

export async function getUser(db: Database, id: string): Promise<UserView> {
  const user = await findUser(db, id);
  if (!user) throw notFound(`User not found: ${id}`);
  return user;
}

export interface CreateUserInput {
  email?: unknown;
  password?: unknown;
  roles?: unknown;
  active?: unknown;
}

export async function createUser(app: UsersContext, input: CreateUserInput): Promise<UserView> {
  const { email, password, roles = [], active = true } = userFields(input);
  if (password === undefined) throw invalid('password is required');
  // Before the write: should the lock's database fail, nothing is written and the request can be retried.
  await app.sessions.unlock(email);
  const hash = await hashPassword(password);
  const rows = await uniqueEmail(
    app.db.query<UserView>(`INSERT INTO _users (email, password_hash, roles, active) VALUES ($1, $2, $3::text[], $4) RETURNING ${USER_COLUMNS}`, [
      email,
      hash,
      roles,
      active,
    ]),
  );
  app.users.invalidate(rows[0]!.id);
  return rows[0]!;
}

/**
 * Full update with the spec's PUT semantics: email required; empty/absent password keeps the old one;
 * absent roles → []; absent active keeps the current value. 404 is checked before the body.
 * Disabling the user, or changing their password, revokes the tokens issued so far: access tokens are refused
 * from the next request on, refresh tokens for good (a new password deletes them; a disabled account's are
 * refused as disabled, and as revoked once it is enabled again). A new password also lifts a login lock on the
 * account: the admin's reset is how a locked-out user gets back in.
 */
export async function updateUser(app: UsersContext, id: string, input: CreateUserInput): Promise<UserView> {
  await getUser(app.db, id);
  const { email, password, roles = [], active } = userFields(input);
  if (password !== undefined) await app.sessions.unlock(email); // before the write, as in createUser
  const hash = password === undefined ? null : await hashPassword(password);
  const rows = await uniqueEmail(
    app.db.transaction(async (tx) => {
      const updated = await tx.query<{ id: string; active: boolean }>(
        `UPDATE _users SET email = $2, roles = $3::text[],
           password_hash = COALESCE($4, password_hash),
           active = COALESCE($5, active, true), updated_at = NOW(),
           tokens_revoked_at = CASE WHEN $4::text IS NOT NULL OR COALESCE($5, active, true) = false THEN $6 ELSE tokens_revoked_at END
         WHERE id = $1 RETURNING id, COALESCE(active, true) AS active`,
        [id, email, roles, hash, active ?? null, new Date()],
      );
      // A new password ends the sessions; a disabled account keeps its refresh tokens, refused as disabled
      // (auth.md) and, being older than the revocation, never valid again.
      if (updated[0] && hash !== null) await tx.query('DELETE FROM _refresh_tokens WHERE user_id = $1', [id]);
      return updated;
    }),
  );
  app.users.invalidate(id);
  if (!rows[0]) throw notFound(`User not found: ${id}`); // deleted meanwhile
  return getUser(app.db, id);
}

/** Hard delete; refresh tokens go with it and access tokens stop working. */
export async function deleteUser(app: UsersContext, id: string): Promise<{ id: string; deleted: true }> {
  if (!UUID_RE.test(id)) throw notFound(`User not found: ${id}`);
  const rows = await app.db.transaction(async (tx) => {
    await tx.query('DELETE FROM _refresh_tokens WHERE user_id = $1', [id]);
    return tx.query<{ id: string }>('DELETE FROM _users WHERE id = $1 RETURNING id', [id]);
  });
  app.users.invalidate(id);
  if (!rows[0]) throw notFound(`User not found: ${id}`);
  return { id: rows[0].id, deleted: true };
}

/**
 * Sets a user's password by email (operator recovery, e.g. `rocket users reset-password`): their
 * sessions end and their access tokens are refused from the next request on.
 */
export async function resetPassword(app: UsersContext, emailInput: string, password: string): Promise<UserView> {
  const email = requireEmail(emailInput);
  if (password === '') throw invalid('password is required');
  const hash = await hashPassword(password);
  const rows = await app.db.transaction(async (tx) => {
    const updated = await tx.query<{ id: string }>(
      'UPDATE _users SET password_hash = $2, updated_at = NOW(), tokens_revoked_at = $3 WHERE email = $1 RETURNING id',
      [email, hash, new Date()],
    );
    if (updated[0]) await tx.query('DELETE FROM _refresh_tokens WHERE user_id = $1', [updated[0].id]);
    return updated;
  });
  if (!rows[0]) throw notFound(`User not found: ${email}`);
  app.users.invalidate(rows[0].id);
  return getUser(app.db, rows[0].id);
}
