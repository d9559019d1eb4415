import type { EngineExtensions } from '../engine/context.js';
import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import { DEFAULT_COUNT_ESTIMATE_THRESHOLD, type ListSettings } from '../engine/list-settings.js';
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
import type { TransferSection } from '../metadata/transfer-sections.js';
import type { ChangeBus } from './change-bus.js';

/** What the composition root (rocket.ts) plugs into every app runtime: the engine's observers and sinks, and export sections. */
export interface AppExtensions extends EngineExtensions {
  /** Export/import sections owned by features, in the order they are imported (spec: export-import.md). */
  readonly transferSections: readonly TransferSection[];
}

export interface AppRow {
  name: string;
  display_name: string;
  db_name: string;
  db_driver: string;
  /** The placement server of its database (`main` unless created elsewhere). */
  database: string;
  status: string;
  jwt_secret: string;
  created_at: Date;
  updated_at: Date;
}

/** The login throttle's scope of an app's accounts (its failures and locks live in the management database). */
export function loginScopeOf(app: string): string {
  return `app:${app}`;
}

/** Everything one live app needs per request: its pool, keys and caches. */
export class AppRuntime {
  readonly name: string;
  /** When this instance last served a request of the app: jobs skip apps idle since their last pass. */
  lastUsedAt = Date.now();
  readonly key: Uint8Array;
  readonly verifier: TokenVerifier;
  readonly sessions: SessionService;
  readonly users: UserStatusCache;
  /** The current permission policies; replaced on every reload, never mutated. */
  permissions: PermissionSet = PermissionSet.empty();
  /** The current metadata snapshot; replaced, never mutated. */
  registry: Registry = Registry.empty();

  readonly log: Logger;
  readonly listSettings: ListSettings;

  constructor(
    readonly row: AppRow,
    readonly db: Database,
    private readonly bus: ChangeBus,
    throttle: LoginThrottle,
    log: Logger,
    readonly extensions: AppExtensions,
    countEstimateThreshold: number = DEFAULT_COUNT_ESTIMATE_THRESHOLD,
  ) {
    this.name = row.name;
    this.log = log.child({ app: row.name });
    this.key = secretKey(row.jwt_secret);
    this.verifier = new TokenVerifier(this.key);
    // A key of its own for list cursors: a cursor MAC can never pass for a token signature.
    this.listSettings = { countEstimateThreshold, cursorKey: createSecretKey(createHmac('sha256', this.key).update('rocket list cursor').digest()) };
    this.users = new UserStatusCache(db, (id) => this.announce(`user:${id}`));
    this.sessions = new SessionService(db, '_users', '_refresh_tokens', this.key, throttle, loginScopeOf(row.name), true);
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

  private generation = 0;
  /** Identifies this runtime's own notifications, which it ignores. */
  private readonly origin = randomUUID();

  /** The newest load: a superseded one waits for it. */
  private latest: Promise<void> = Promise.resolve();

  /** Builds fresh snapshots (registry, permissions) and swaps them in; a slower, older load never wins. */
  private refresh(): Promise<void> {
    this.latest = this.load(++this.generation);
    return this.latest;
  }

  private async load(ticket: number): Promise<void> {
    const registry = await loadRegistry(this.db);
    const permissions = await loadPermissionSet(this.db);
    // Superseded: resolving now would let the mutation that asked for this load answer before its change is
    // visible to the next request, so wait for the newer load (it read the database later) to be swapped in.
    if (ticket !== this.generation) return this.latest;
    this.registry = registry;
    this.permissions = permissions;
  }

  private unsubscribe: (() => void) | undefined;

  /** Loads the snapshots and follows changes made by other server instances (the change bus). */
  async open(log: Logger): Promise<void> {
    // Subscribed first: a change announced while the snapshots load makes them load again.
    this.unsubscribe = this.bus.subscribe(this.name, (origin, what) => {
      if (origin === this.origin) return;
      if (what.startsWith('user:')) this.users.forget(what.slice(5));
      else this.refresh().catch((err: unknown) => log.error({ err, app: this.name }, 'metadata reload failed'));
    });
    await this.refresh();
  }

  /** Notices of other instances may have been missed: every snapshot and cached user status is read afresh. */
  resync(log: Logger): void {
    this.users.forget();
    this.refresh().catch((err: unknown) => log.error({ err, app: this.name }, 'metadata reload failed'));
  }

  /** Call after every metadata mutation: rebuilds this instance's snapshots and tells the others. */
  async reload(): Promise<void> {
    await this.refresh();
    this.announce('metadata');
  }

  private announce(what: string): void {
    this.bus.announce(this.name, this.origin, what);
  }

  /** No longer follows change notices and gives back idle connections; what runs on it still finishes. */
  unload(): void {
    this.unsubscribe?.();
    this.db.releaseIdle();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.db.close();
  }
}
