import { hasNul } from '../types/text.js';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/database.js';
import { quoteIdent } from '../db/quote.js';
import { invalidPayload, unauthorized } from '../errors.js';
import { UUID_RE } from '../types/ids.js';
import type { LoginThrottle } from './login-throttle.js';
import { verifyPassword } from './passwords.js';
import { MAX_EMAIL_LENGTH } from './users.js';
import { REFRESH_TOKEN_SECONDS, signAccessToken } from './tokens.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
}

interface UserRow {
  id: string;
  password_hash: string;
  roles: string[] | null;
  active: boolean | null;
  /** When the user's tokens were revoked (apps only): access tokens through that second, refresh tokens issued until then. */
  revoked_at?: Date | null;
}

/** How long a refresh token outlives its expiry (for the "expired" answer) before a login clears it. */
const EXPIRED_KEPT_DAYS = 30;
/** Long-expired tokens one login clears at most. */
const PURGE_BATCH = 100;

/** The second (an `iat`) through which the user's access tokens are revoked; undefined when none are. */
const revokedSecond = (user: UserRow): number | undefined => (user.revoked_at ? Math.floor(user.revoked_at.getTime() / 1000) : undefined);

/** What issue() checks the user row still holds before storing a refresh token. */
interface IssueChecks {
  /** The second through which the user's access tokens were revoked when read (see revokedSecond). */
  revokedThrough?: number;
  /** The password hash the request verified against (or read with the refresh token's user). */
  passwordHash?: string;
  /** The 401 message when the user row no longer holds: deleted, password changed, disabled. */
  gone?: string;
}

/** A credential sent as anything but a string (or not at all) is a body of the wrong shape: 400, not 401. */
function mayBeString(value: unknown): void {
  if (value !== undefined && value !== null && typeof value !== 'string') throw invalidPayload('Invalid request body');
}

/**
 * Login, refresh (rotating) and logout over a users table and a refresh-token
 * table. Apps (`_users`) and the platform (`_platform_users`) share this code.
 */
export class SessionService {
  private readonly users: string;
  private readonly tokens: string;
  private readonly userColumns: string;

  constructor(
    private readonly db: Database,
    usersTable: string,
    tokensTable: string,
    private readonly key: Uint8Array,
    private readonly throttle: LoginThrottle,
    private readonly throttleScope: string,
    /** The users table records access-token revocation (`tokens_revoked_at`, app users). */
    revocable = false,
  ) {
    this.users = quoteIdent(usersTable);
    this.tokens = quoteIdent(tokensTable);
    this.userColumns = `id, password_hash, roles, active${revocable ? ', tokens_revoked_at AS revoked_at' : ''}`;
  }

  /** Lifts a login lock on the account (e.g. after an operator reset its password). */
  async unlock(email: string): Promise<void> {
    await this.throttle.clear(`${this.throttleScope}\n${email.trim().toLowerCase()}`);
  }

  async login(body: { email?: unknown; password?: unknown }): Promise<TokenPair> {
    mayBeString(body.email);
    mayBeString(body.password);
    const email = typeof body.email === 'string' ? body.email.trim().toLowerCase() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    if (!email || !password) throw unauthorized('Email and password are required');
    // No stored email holds a NUL (PostgreSQL text cannot) or is longer than an email may be: an unknown
    // email, refused before any query (an over-long one would not fit the throttle's key index either).
    if (hasNul(email) || email.length > MAX_EMAIL_LENGTH) throw unauthorized('Invalid email or password');
    const throttleKey = `${this.throttleScope}\n${email}`;
    await this.throttle.check(throttleKey);
    const rows = await this.db.query<UserRow>(`SELECT ${this.userColumns} FROM ${this.users} WHERE email = $1`, [email]);
    const user = rows[0];
    if (!(await verifyPassword(user?.password_hash, password)) || !user) {
      await this.throttle.fail(throttleKey);
      throw unauthorized('Invalid email or password');
    }
    await this.throttle.succeed(throttleKey);
    if (user.active === false) throw unauthorized('Account is disabled');
    return this.issueTo(user, 'Invalid email or password');
  }

  async refresh(body: { refresh_token?: unknown }): Promise<TokenPair> {
    mayBeString(body.refresh_token);
    const token = body.refresh_token;
    if (typeof token !== 'string' || token === '') throw unauthorized('Refresh token is required');
    if (!UUID_RE.test(token)) throw unauthorized('Invalid refresh token');
    // Deleting the row is the rotation: a second use of the same token finds nothing.
    const rows = await this.db.query<{ user_id: string; expired: boolean; created_at: Date | null }>(
      `DELETE FROM ${this.tokens} WHERE token = $1 RETURNING user_id, expires_at <= NOW() AS expired, created_at`,
      [token],
    );
    const row = rows[0];
    if (!row) throw unauthorized('Invalid refresh token');
    if (row.expired) throw unauthorized('Refresh token expired');
    const users = await this.db.query<UserRow>(`SELECT ${this.userColumns} FROM ${this.users} WHERE id = $1`, [row.user_id]);
    const user = users[0];
    if (!user) throw unauthorized('Invalid refresh token');
    // A disabled account keeps its refresh tokens so that refresh can say so; once revoked, they never work again.
    if (user.active === false) throw unauthorized('Account is disabled');
    if (user.revoked_at && (!row.created_at || row.created_at <= user.revoked_at)) throw unauthorized('Invalid refresh token');
    return this.issueTo(user, 'Invalid refresh token');
  }

  async logout(body: { refresh_token?: unknown }): Promise<void> {
    mayBeString(body.refresh_token);
    const token = body.refresh_token;
    if (typeof token !== 'string' || token === '') throw unauthorized('Refresh token is required');
    if (!UUID_RE.test(token)) return;
    await this.db.query(`DELETE FROM ${this.tokens} WHERE token = $1`, [token]);
  }

  /** Issues a pair to a user this request read and checked (password or refresh token, active). */
  private issueTo(user: UserRow, gone: string): Promise<TokenPair> {
    return this.issue(user.id, user.roles ?? [], { revokedThrough: revokedSecond(user), passwordHash: user.password_hash, gone });
  }

  /**
   * Issues an access + refresh pair for a user already authenticated. A token's `iat` has whole seconds:
   * one signed in the very second its user's tokens were revoked would be refused, so it waits for the next.
   * The refresh token is stored only while the user row is there and, given `passwordHash`, still active with
   * that password, the row share-locked until the insert commits: a login or refresh that raced the user's
   * deletion, password change or disabling answers 401 `gone` rather than leaving a session that outlives it.
   */
  async issue(userId: string, roles: readonly string[], checks: IssueChecks = {}): Promise<TokenPair> {
    const { revokedThrough, passwordHash = null, gone = 'Invalid refresh token' } = checks;
    if (revokedThrough !== undefined) {
      const wait = (revokedThrough + 1) * 1000 - Date.now();
      // Capped: a revocation stamped by an instance whose clock runs ahead must not hold a login up.
      if (wait > 0) await sleep(Math.min(wait, 1000));
    }
    const refresh = randomUUID();
    // created_at on this process's clock, the one revocations are stamped with (users.ts).
    // The same statement clears a few tokens long past their expiry: a session abandoned without logout would
    // otherwise stay forever, and a login per batch keeps the table to about the live sessions. They are kept
    // for a while after expiry first, so that their refresh still answers "Refresh token expired".
    const stored = await this.db.query(
      `WITH purged AS (DELETE FROM ${this.tokens} WHERE id IN (
         SELECT id FROM ${this.tokens} WHERE expires_at < NOW() - make_interval(days => ${EXPIRED_KEPT_DAYS})
          LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED))
       INSERT INTO ${this.tokens} (user_id, token, expires_at, created_at)
       SELECT id, $2::uuid, NOW() + make_interval(secs => $3), $4::timestamptz FROM ${this.users}
        WHERE id = $1 AND ($5::text IS NULL OR (password_hash = $5::text AND active IS DISTINCT FROM false)) FOR SHARE
       RETURNING user_id`,
      [userId, refresh, REFRESH_TOKEN_SECONDS, new Date(), passwordHash],
    );
    if (stored.length === 0) throw unauthorized(gone);
    return { access_token: await signAccessToken(this.key, userId, roles), refresh_token: refresh };
  }
}
