import type { Logger } from 'pino';
import { DEFAULT_PLATFORM_PASSWORD, type Config } from '../config.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import { PlatformAdminEmails } from '../auth/platform-admin-emails.js';
import { SessionService } from '../auth/sessions.js';
import { TokenVerifier, secretKey } from '../auth/tokens.js';
import { PLATFORM_MIGRATIONS } from './schema.js';

/** Platform-level auth over the management database. */
export class Platform {
  readonly verifier: TokenVerifier;
  readonly sessions: SessionService;
  /** Platform admins' emails, for the actor of their writes on apps. */
  readonly adminEmails: PlatformAdminEmails;

  constructor(
    readonly db: Database,
    secret: string,
    throttle: LoginThrottle,
  ) {
    const key = secretKey(secret);
    this.verifier = new TokenVerifier(key);
    this.sessions = new SessionService(db, '_platform_users', '_platform_refresh_tokens', key, throttle, 'platform');
    this.adminEmails = new PlatformAdminEmails(db);
  }

  /** Migrates the management schema and seeds the platform admin on first boot. */
  async bootstrap(config: Config, log: Logger): Promise<void> {
    await migrate(this.db, 'platform', PLATFORM_MIGRATIONS);
    const existing = await this.db.query('SELECT 1 FROM _platform_users LIMIT 1');
    if (existing.length > 0) {
      await this.replaceDefaultPassword(config, log);
      return;
    }
    if (config.platformPassword === DEFAULT_PLATFORM_PASSWORD) {
      log.warn('!!! platform admin seeded with the DEFAULT password "changeme" — set ROCKET_PLATFORM_PASSWORD before exposing this server !!!');
    }
    await this.db.query(
      `INSERT INTO _platform_users (email, password_hash, roles) VALUES ($1, $2, '{platform_admin}')
       ON CONFLICT (email) DO NOTHING`,
      [config.platformEmail, await hashPassword(config.platformPassword)],
    );
    log.info({ email: config.platformEmail }, 'platform admin seeded');
  }

  /**
   * An admin still on the default password, started with a password of its own configured: the configured
   * one replaces it. Otherwise a server seeded with the default would keep it however ROCKET_PLATFORM_PASSWORD
   * is set later, and the non-loopback listening check (which reads the setting) would let it be exposed.
   */
  private async replaceDefaultPassword(config: Config, log: Logger): Promise<void> {
    if (config.platformPassword === DEFAULT_PLATFORM_PASSWORD) return;
    const rows = await this.db.query<{ id: string; password_hash: string }>('SELECT id, password_hash FROM _platform_users WHERE email = $1', [
      config.platformEmail,
    ]);
    const admin = rows[0];
    if (!admin || !(await verifyPassword(admin.password_hash, DEFAULT_PLATFORM_PASSWORD))) return;
    const hash = await hashPassword(config.platformPassword);
    await this.db.transaction(async (tx) => {
      await tx.query('UPDATE _platform_users SET password_hash = $2, updated_at = NOW() WHERE id = $1', [admin.id, hash]);
      // Sessions opened with the default password end with it.
      await tx.query('DELETE FROM _platform_refresh_tokens WHERE user_id = $1', [admin.id]);
    });
    log.warn({ email: config.platformEmail }, 'platform admin password was the default one: replaced by ROCKET_PLATFORM_PASSWORD');
  }
}
