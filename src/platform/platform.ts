import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import { hashPassword } from '../auth/passwords.js';
import { SessionService } from '../auth/sessions.js';
import { TokenVerifier, secretKey } from '../auth/tokens.js';
import { PLATFORM_MIGRATIONS } from './schema.js';

/** Platform-level auth over the management database. */
export class Platform {
  readonly verifier: TokenVerifier;
  readonly sessions: SessionService;

  constructor(
    readonly db: Database,
    secret: string,
    throttle: LoginThrottle,
  ) {
    const key = secretKey(secret);
    this.verifier = new TokenVerifier(key);
    this.sessions = new SessionService(db, '_platform_users', '_platform_refresh_tokens', key, throttle, 'platform');
  }

  /** Migrates the management schema and seeds the platform admin on first boot. */
  async bootstrap(config: Config, log: Logger): Promise<void> {
    await migrate(this.db, 'platform', PLATFORM_MIGRATIONS);
    const existing = await this.db.query('SELECT 1 FROM _platform_users LIMIT 1');
    if (existing.length > 0) return;
    if (config.platformPassword === 'changeme') {
      log.warn('!!! platform admin seeded with the DEFAULT password "changeme" — set ROCKET_PLATFORM_PASSWORD before exposing this server !!!');
    }
    await this.db.query(
      `INSERT INTO _platform_users (email, password_hash, roles) VALUES ($1, $2, '{platform_admin}')
       ON CONFLICT (email) DO NOTHING`,
      [config.platformEmail, await hashPassword(config.platformPassword)],
    );
    log.info({ email: config.platformEmail }, 'platform admin seeded');
  }
}
