import type { Database } from '../db/database.js';

export interface UserStatus {
  exists: boolean;
  active: boolean;
  email: string | null;
  /** Access tokens issued at or before this second (`iat`) are revoked; -1 when none is. */
  revokedThrough: number;
}

/** Whether an access token of this user, issued at `iat` (seconds), is still accepted. */
export function acceptsToken(status: UserStatus, iat: number): boolean {
  return status.exists && status.active && iat > status.revokedThrough;
}

/**
 * In-memory status of the app's users, so revoking a user's tokens (disable, delete, password change)
 * refuses them on the next request without a query per request.
 * Filled on first sight of a user id, dropped when the user changes.
 */
export class UserStatusCache {
  private readonly entries = new Map<string, Promise<UserStatus>>();
  private readonly listeners = new Set<(userId: string | undefined) => void>();

  constructor(
    private readonly db: Database,
    /** Tells other server instances that a user changed. */
    private readonly announce: (userId: string) => void = () => undefined,
  ) {}

  get(userId: string): Promise<UserStatus> {
    let entry = this.entries.get(userId);
    if (!entry) {
      entry = this.load(userId);
      if (this.entries.size > 50_000) this.entries.clear();
      this.entries.set(userId, entry);
      entry.catch(() => this.entries.delete(userId));
    }
    return entry;
  }

  /** A user changed here: forget it, and make every other instance forget it too. */
  invalidate(userId?: string): void {
    this.forget(userId);
    if (userId !== undefined) this.announce(userId);
  }

  /** Drops the cached status (all when no id), without telling other instances; this one's listeners hear of it. */
  forget(userId?: string): void {
    if (userId === undefined) this.entries.clear();
    else this.entries.delete(userId);
    for (const listener of this.listeners) listener(userId);
  }

  /** `listener` hears of every user whose status changed (undefined: any may have); returns the unsubscribe. */
  onChange(listener: (userId: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async load(userId: string): Promise<UserStatus> {
    const rows = await this.db.query<{ active: boolean | null; email: string; revoked: number | null }>(
      'SELECT active, email, floor(extract(epoch FROM tokens_revoked_at))::float8 AS revoked FROM _users WHERE id = $1',
      [userId],
    );
    const row = rows[0];
    if (!row) return { exists: false, active: false, email: null, revokedThrough: -1 };
    return { exists: true, active: row.active !== false, email: row.email, revokedThrough: row.revoked ?? -1 };
  }
}
