import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import { hashPassword } from '../auth/passwords.js';
import { PermissionSet, loadPermissionSet } from '../auth/permissions.js';
import { SessionService } from '../auth/sessions.js';
import { TokenVerifier, secretKey } from '../auth/tokens.js';
import { UserStatusCache } from '../auth/user-status.js';
import { APP_MIGRATIONS } from '../metadata/system-tables.js';
import { Registry, loadRegistry } from '../metadata/registry.js';

export interface AppRow {
  name: string;
  display_name: string;
  db_name: string;
  db_driver: string;
  status: string;
  jwt_secret: string;
  created_at: Date;
  updated_at: Date;
}

/** Everything one live app needs per request: its pool, keys and caches. */
export class AppRuntime {
  readonly name: string;
  readonly key: Uint8Array;
  readonly verifier: TokenVerifier;
  readonly sessions: SessionService;
  readonly users: UserStatusCache;
  /** The current permission policies; replaced on every reload, never mutated. */
  permissions: PermissionSet = PermissionSet.empty();
  /** The current metadata snapshot; replaced, never mutated. */
  registry: Registry = Registry.empty();

  constructor(
    readonly row: AppRow,
    readonly db: Database,
    throttle: LoginThrottle,
  ) {
    this.name = row.name;
    this.key = secretKey(row.jwt_secret);
    this.verifier = new TokenVerifier(this.key);
    this.users = new UserStatusCache(db);
    this.sessions = new SessionService(db, '_users', '_refresh_tokens', this.key, throttle, `app:${row.name}`);
    this.onReload(async () => {
      this.permissions = await loadPermissionSet(this.db);
    });
    this.onReload(async () => {
      this.registry = await loadRegistry(this.db);
    });
  }

  /** Creates/extends the system tables and seeds the admin when there are no users. */
  async bootstrap(log: Logger, admin?: { email: string; password: string }): Promise<void> {
    await migrate(this.db, 'app', APP_MIGRATIONS);
    const existing = await this.db.query('SELECT 1 FROM _users LIMIT 1');
    if (existing.length > 0) return;
    const email = (admin?.email ?? 'admin@localhost').trim().toLowerCase();
    const password = admin?.password ?? 'changeme';
    if (!admin) log.warn({ app: this.name }, 'app admin seeded with the default password "changeme": change it');
    await this.db.query(
      `INSERT INTO _users (email, password_hash, roles, active) VALUES ($1, $2, '{admin}', true)
       ON CONFLICT (email) DO NOTHING`,
      [email, await hashPassword(password)],
    );
  }

  /** Listeners run after every metadata change (admin mutation, import) to rebuild in-memory state. */
  private readonly reloaders: Array<() => Promise<void>> = [];

  onReload(fn: () => Promise<void>): void {
    this.reloaders.push(fn);
  }

  /** Rebuilds every in-memory snapshot of this app's metadata; call after each metadata mutation. */
  async reload(): Promise<void> {
    for (const fn of this.reloaders) await fn();
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
