import type { Database } from '../db/database.js';

/** How long a looked-up email is used before it is read again. */
const FRESH_MS = 60_000;

interface Entry {
  email: Promise<string | null>;
  loadedAt: number;
}

/**
 * Platform admins' emails, for the actor of their writes on apps (platform tokens carry only the id).
 * Read once per admin and kept for FRESH_MS: there is no API to change a platform user, so an email edited
 * in the management database shows within a minute. A stale entry is still answered at once while it is read
 * again in the background, so no request after an admin's first waits on the management database.
 */
export class PlatformAdminEmails {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  get(adminId: string): Promise<string | null> {
    const entry = this.entries.get(adminId);
    if (!entry) {
      // Tokens are signed by the platform, so ids are few; the bound only guards against a leak.
      if (this.entries.size > 10_000) this.entries.clear();
      const fresh: Entry = {
        // Not kept when the management database cannot say: the requests waiting go on without the email (it is
        // informational; an app on another server keeps serving platform admins while the management one is down).
        email: this.read(adminId).catch(() => {
          if (this.entries.get(adminId) === fresh) this.entries.delete(adminId);
          return null;
        }),
        loadedAt: this.now(),
      };
      this.entries.set(adminId, fresh);
      return fresh.email;
    }
    if (this.now() - entry.loadedAt > FRESH_MS) this.refresh(adminId, entry);
    return entry.email;
  }

  /** Reads the email again; the old one stays in use until the read succeeds (a failed read keeps it). */
  private refresh(adminId: string, entry: Entry): void {
    const loadedAt = this.now();
    entry.loadedAt = loadedAt; // one refresh at a time
    this.read(adminId).then(
      (email) => this.entries.set(adminId, { email: Promise.resolve(email), loadedAt }),
      () => undefined,
    );
  }

  private async read(adminId: string): Promise<string | null> {
    const rows = await this.db.query<{ email: string }>('SELECT email FROM _platform_users WHERE id = $1::uuid', [adminId]);
    return rows[0]?.email ?? null;
  }
}
