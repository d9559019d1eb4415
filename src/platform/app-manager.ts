import { hasNul, unstorableWhat } from '../types/text.js';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import { isEmail, normalizeEmail } from '../auth/users.js';
import { RocketError, conflict, invalid, notFound } from '../errors.js';
import type { ChangeBus } from './change-bus.js';
import { AppRuntime, type AppExtensions, type AppRow } from './app-runtime.js';
import { DEFAULT_COUNT_ESTIMATE_THRESHOLD } from '../engine/list-settings.js';
import type { Placement } from './placement.js';
import { APP_INACTIVE } from './schema.js';

/** An app as the platform API shows it: its row without the signing secret. */
export type AppView = Omit<AppRow, 'jwt_secret'>;

export interface CreateAppInput {
  name?: unknown;
  display_name?: unknown;
  db_driver?: unknown;
  database?: unknown;
  admin_email?: unknown;
  admin_password?: unknown;
}

const APP_NAME_RE = /^[a-z][a-z0-9_-]*$/;
/** Change notice of a deleted app, for every other instance (and a server, when the command line deletes). */
const APP_DELETED = 'app:deleted';
const APP_COLUMNS = 'name, display_name, db_name, db_driver, database, status, created_at, updated_at';
/** `_apps.status` of an app while its deletion runs: no instance serves or loads it, its name stays taken. */
const DELETING = 'deleting';
/**
 * A deletion's claim on its row older than this is taken to be of a process that died mid-way, and another
 * deletion may take it over (well above what closing the pool and dropping the database can take).
 */
const DELETE_CLAIM_SECONDS = 60;

export function dbNameFor(app: string): string {
  return `rocket_${app.replace(/-/g, '_')}`;
}

/** The apps of this server: their rows in the management database and their live runtimes. */
export class AppManager {
  private readonly live = new Map<string, AppRuntime>();
  private readonly opening = new Map<string, Promise<AppRuntime | undefined>>();
  /**
   * Apps being created here, from the moment their row may be visible: asked for meanwhile (the idle-app sweep, an
   * early request), they get the runtime the creation opens — a second one would bootstrap alongside (seeding the
   * default admin next to the chosen one) and could replace the live runtime with an older snapshot.
   */
  private readonly creating = new Map<string, Promise<AppRuntime | undefined>>();
  private readonly deleteHooks: Array<(name: string) => Promise<void>> = [];
  /** Apps whose database this process brought up to date: loading one again after idling skips the migrations. */
  private readonly bootstrapped = new Set<string>();
  /** Tells this manager's own change notices from other instances'. */
  private readonly origin = randomUUID();

  constructor(
    /** The PostgreSQL servers apps are placed on. */
    private readonly placement: Placement,
    private readonly mgmt: Database,
    /** Change notices of every app, over one listening connection of this instance. */
    private readonly bus: ChangeBus,
    private readonly poolSize: number,
    private readonly throttle: LoginThrottle,
    private readonly log: Logger,
    /** Features' observers, sinks and sections, handed to every runtime this manager builds. */
    private readonly extensions: AppExtensions,
    private readonly countEstimateThreshold: number = DEFAULT_COUNT_ESTIMATE_THRESHOLD,
  ) {
    // An app deleted by another instance or the command line: its runtime here holds the old secret and a
    // pool on a dropped database; without this it would accept the old tokens (also for a new app of the
    // same name) and answer 500s until restart.
    bus.onTopic(APP_DELETED, (app, origin, what) => {
      if (origin !== this.origin) void this.forget(app, what.slice(APP_DELETED.length + 1));
    });
    // An app whose row stopped being active, whoever changed it (the database sends these): not served here any more.
    bus.onTopic(APP_INACTIVE, (app, _origin, what) => {
      void this.retire(app, what.slice(APP_INACTIVE.length + 1));
    });
    // Notices lost while this instance was not listening: without this, an app's metadata, permissions and
    // user statuses (a disabled user's tokens) stayed as they were here until restart.
    bus.onMissed(() => {
      this.resync().catch((err: unknown) => this.log.error({ err }, 'reloading apps after missed change notices failed'));
    });
  }

  /**
   * After missed change notices: runtimes of apps deleted, retired or created anew meanwhile are dropped
   * (as their notices would have done), the others read their snapshots and user statuses afresh.
   */
  private async resync(): Promise<void> {
    // Apps not loaded here may have been deleted and created anew meanwhile: their next load migrates again.
    for (const name of this.bootstrapped) if (!this.live.has(name)) this.bootstrapped.delete(name);
    const runtimes = [...this.live.values()];
    if (runtimes.length === 0) return;
    const rows = await this.mgmt.query<{ name: string; status: string; created_at: Date }>(
      'SELECT name, status, created_at FROM _apps WHERE name = ANY($1::text[])',
      [runtimes.map((r) => r.name)],
    );
    const current = new Map(rows.map((r) => [r.name, r]));
    for (const runtime of runtimes) {
      const row = current.get(runtime.name);
      const created = runtime.row.created_at.toISOString();
      if (!row) void this.forget(runtime.name, created);
      else if (row.status !== 'active' || row.created_at.getTime() !== runtime.row.created_at.getTime()) {
        void this.closeRuntime(runtime.name, created);
      } else runtime.resync(this.log);
    }
  }

  /**
   * Closes the live runtime of an app whose row is no longer active (the runtime of the row created at
   * `created`: one of a newer app of that name stays). The next request looks the name up again.
   */
  private async retire(name: string, created: string): Promise<void> {
    await this.closeRuntime(name, created || undefined);
  }

  /**
   * Closes the live runtime of `name`, so the next request looks the name up again; false (and nothing closed)
   * when it is the runtime of a newer app of that name than the row created at `created`.
   */
  private async closeRuntime(name: string, created?: string): Promise<boolean> {
    // A load that read the row before the change lands in `live` afterwards: wait for it.
    await this.opening.get(name)?.catch(() => undefined);
    const runtime = this.live.get(name);
    if (runtime && created !== undefined && runtime.row.created_at.toISOString() !== created) return false;
    this.live.delete(name);
    this.bootstrapped.delete(name);
    await runtime?.close().catch(() => undefined);
    return true;
  }

  /**
   * Drops the live runtime of a deleted app; the next request looks the name up again. `created` (the
   * deleted row's creation time) spares a runtime of a newer app of that name, created here meanwhile.
   */
  private async forget(name: string, created: string): Promise<void> {
    if (!(await this.closeRuntime(name, created))) return;
    // What the deleting process did for itself (its streams end, its uploads go), done here for this one,
    // unless a new app already holds the name.
    // (When the management database cannot say, the hooks are left alone.)
    const again = await this.mgmt.query('SELECT 1 FROM _apps WHERE name = $1', [name]).catch(() => [{}]);
    if (again.length === 0) await this.runDeleteHooks(name);
  }

  private async runDeleteHooks(name: string): Promise<void> {
    for (const hook of this.deleteHooks) {
      await hook(name).catch((err: unknown) => this.log.error({ err, app: name }, 'app deletion clean-up failed'));
    }
  }

  async loadAll(): Promise<void> {
    const rows = await this.mgmt.query<AppRow>(`SELECT * FROM _apps WHERE status = 'active' ORDER BY name`);
    for (const row of rows) {
      try {
        await this.open(row);
      } catch (err) {
        this.log.error({ err, app: row.name }, 'failed to load app');
      }
    }
  }

  /** The runtime of an app when it is loaded (counted as use), else undefined: `get` loads it. */
  loaded(name: string): AppRuntime | undefined {
    const hit = this.live.get(name);
    if (hit) hit.lastUsedAt = Date.now();
    return hit;
  }

  /** The live runtime of an active app, loading it on first use; undefined when unknown. */
  async get(name: string): Promise<AppRuntime | undefined> {
    const hit = this.loaded(name);
    if (hit) return hit;
    // No stored name holds a NUL (PostgreSQL text cannot): binding one would fail as a bad value, not a miss.
    if (hasNul(name)) return undefined;
    const creating = this.creating.get(name);
    if (creating) return creating;
    let pending = this.opening.get(name);
    if (!pending) {
      pending = (async () => {
        const rows = await this.mgmt.query<AppRow>(`SELECT * FROM _apps WHERE name = $1 AND status = 'active'`, [name]);
        return rows[0] ? this.open(rows[0]) : undefined;
      })().finally(() => this.opening.delete(name));
      this.opening.set(name, pending);
    }
    return pending;
  }

  runtimes(): AppRuntime[] {
    return [...this.live.values()];
  }

  /** Active apps whose runtime is not loaded (never used since start, or unloaded after idling). */
  async dormant(): Promise<string[]> {
    const rows = await this.mgmt.query<{ name: string }>(`SELECT name FROM _apps WHERE status = 'active' ORDER BY name`);
    return rows.map((r) => r.name).filter((name) => !this.live.has(name));
  }

  /** The runtime for background work: loaded if need be, without counting as use (it stays idle). */
  async loadForJobs(name: string): Promise<AppRuntime | undefined> {
    const hit = this.live.get(name);
    if (hit) return hit;
    const before = this.opening.has(name) || this.creating.has(name);
    const runtime = await this.get(name);
    if (runtime && !before) runtime.lastUsedAt = 0;
    return runtime;
  }

  /**
   * Unloads the runtimes not used for `idleMs` (spec: operations.md §Capacity:
   * idle apps hold nothing), except those `keep` names (e.g. open streams,
   * due work). The next request loads the app again. A request still running
   * on an unloaded runtime finishes on it: its pool is not ended, only
   * emptied of idle connections.
   */
  unloadIdle(idleMs: number, keep: (name: string) => boolean): number {
    const now = Date.now();
    let unloaded = 0;
    for (const [name, runtime] of this.live) {
      if (now - runtime.lastUsedAt < idleMs || keep(name)) continue;
      this.live.delete(name);
      runtime.unload();
      unloaded++;
    }
    return unloaded;
  }

  async list(): Promise<AppView[]> {
    // Code point order: the server's locale (en_US on most installations) would otherwise sort "-" and "_" its own way.
    return this.mgmt.query<AppView>(`SELECT ${APP_COLUMNS} FROM _apps ORDER BY name COLLATE "C"`);
  }

  async find(name: string): Promise<AppView> {
    const rows = hasNul(name) ? [] : await this.mgmt.query<AppView>(`SELECT ${APP_COLUMNS} FROM _apps WHERE name = $1`, [name]);
    if (!rows[0]) throw notFound('App not found');
    return rows[0];
  }

  /** Answers the legacy creation shape (no `database`; GET shows it). */
  async create(input: CreateAppInput): Promise<Omit<AppView, 'created_at' | 'updated_at' | 'database'>> {
    const name = input.name;
    if (name === undefined || name === null || name === '') throw invalid('App name is required');
    if (typeof name !== 'string' || !APP_NAME_RE.test(name) || name.length > 56 || name === '_platform') {
      throw invalid('App name must be lowercase letters, numbers, hyphens, underscores (start with letter)');
    }
    const driver = input.db_driver ?? '';
    if (driver !== '' && driver !== 'postgres') {
      if (driver === 'sqlite') throw invalid("db_driver must be 'postgres' or 'sqlite'; this server supports postgres only");
      throw invalid("db_driver must be 'postgres' or 'sqlite'");
    }
    if (input.display_name !== undefined && input.display_name !== null && typeof input.display_name !== 'string') {
      throw invalid('display_name must be a string');
    }
    // Checked before the database is created: PostgreSQL text cannot hold it, and the insert would fail late.
    if (typeof input.display_name === 'string' && hasNul(input.display_name)) {
      throw invalid(`display_name must not contain ${unstorableWhat(input.display_name)}`);
    }
    const placedOn = this.placement.choose(input.database);
    const server = this.placement.server(placedOn);
    const admin = adminSeed(input);
    const displayName = typeof input.display_name === 'string' && input.display_name !== '' ? input.display_name : name;
    const dbName = dbNameFor(name);

    const taken = await this.mgmt.query('SELECT 1 FROM _apps WHERE name = $1 OR db_name = $2', [name, dbName]);
    if (taken.length > 0) throw conflict(`App already exists: ${name}`);
    // The first step of the creation: its failure (a role without CREATEDB) is the spec's 500 as the later steps' are.
    const fresh = await server.createDatabase(dbName).catch((err: unknown) => {
      throw this.creationFailure(name, err);
    });
    if (!fresh) throw conflict(`App already exists: ${name}`);

    let inserted = false;
    let runtime: AppRuntime | undefined;
    let created!: (runtime: AppRuntime | undefined) => void;
    const creation = new Promise<AppRuntime | undefined>((resolve) => (created = resolve));
    this.creating.set(name, creation);
    try {
      const rows = await this.mgmt.query<AppRow>(
        `INSERT INTO _apps (name, display_name, db_name, db_driver, database, jwt_secret, status)
         VALUES ($1, $2, $3, 'postgres', $4, $5, 'active') RETURNING *`,
        [name, displayName, dbName, placedOn, randomBytes(32).toString('hex')],
      );
      inserted = true;
      runtime = new AppRuntime(
        rows[0]!,
        server.connect(dbName, this.poolSize),
        this.bus,
        this.throttle,
        this.log,
        this.extensions,
        this.countEstimateThreshold,
      );
      await runtime.bootstrap(this.log, admin);
      await runtime.open(this.log);
      this.bootstrapped.add(name);
      this.live.set(name, runtime);
      created(runtime);
      return { name, display_name: displayName, db_name: dbName, db_driver: 'postgres', status: 'active' };
    } catch (err) {
      created(undefined);
      await runtime?.close().catch(() => undefined);
      if (inserted) await this.mgmt.query('DELETE FROM _apps WHERE name = $1', [name]).catch(() => undefined);
      await server.dropDatabase(dbName).catch((dropErr: unknown) => {
        this.log.warn({ err: dropErr, app: name, db: dbName }, 'database of a failed app creation not dropped yet; trying again shortly');
        this.dropOrphanLater(server, dbName);
      });
      // The name taken meanwhile (a creation racing on another placement server, whose CREATE DATABASE did not
      // collide with this one): the spec's message, not the row's unique violation. Checked before the rethrow below.
      if (!inserted && err instanceof RocketError && err.code === 'CONFLICT') throw conflict(`App already exists: ${name}`);
      throw this.creationFailure(name, err);
    } finally {
      if (this.creating.get(name) === creation) this.creating.delete(name);
    }
  }

  /** What a failed creation step answers: `500 "Failed to create app: …"`, or a 4xx/503 as it was. */
  private creationFailure(name: string, err: unknown): unknown {
    // 503 (PostgreSQL refused connections) stays a 503 with Retry-After, never a 500.
    if (err instanceof RocketError && (err.status < 500 || err.code === 'SERVICE_UNAVAILABLE')) return err;
    this.log.error({ err, app: name }, 'app creation failed');
    return new RocketError('INTERNAL_ERROR', `Failed to create app: ${(err as Error).message}`);
  }

  /**
   * Deletes an app so that a failure can be tried again: the row is claimed (status `deleting`: one
   * deletion at a time, and no instance serves or reloads the app meanwhile), the database dropped, and only
   * then the row removed. A drop that fails gives the row back as it was.
   */
  async delete(name: string): Promise<void> {
    const row = await this.claimForDeletion(name);
    try {
      await this.closeRuntime(name);
      await this.placement.server(row.database).dropDatabase(row.db_name);
    } catch (err) {
      await this.mgmt
        .query('UPDATE _apps SET status = $2, updated_at = $3 WHERE name = $1 AND status = $4 AND updated_at = $5', [
          name,
          row.previousStatus,
          row.previousUpdatedAt,
          DELETING,
          row.claimedAt,
        ])
        .catch((restoreErr: unknown) => this.log.error({ err: restoreErr, app: name }, 'app left marked as being deleted: delete it again'));
      // No connection to the app's server: 503 with Retry-After, like any request that could get none.
      if (err instanceof RocketError && err.code === 'SERVICE_UNAVAILABLE') throw err;
      this.log.error({ err, app: name }, 'app deletion failed');
      throw notFound(`App not found or failed to delete: ${(err as Error).message}`);
    }
    await this.mgmt.query('DELETE FROM _apps WHERE name = $1 AND status = $2 AND updated_at = $3', [name, DELETING, row.claimedAt]);
    // Other instances (and a server, when the command line deletes) drop their runtime of it.
    await this.bus.announceNow(name, this.origin, `${APP_DELETED}:${row.created_at.toISOString()}`);
    await this.runDeleteHooks(name);
  }

  /**
   * Marks the app's row as being deleted, in one transaction so concurrent deletions of it queue on the row
   * lock and all but one find it claimed (404). A claim left by a process that died mid-way can be taken over.
   */
  private async claimForDeletion(name: string): Promise<AppRow & { previousStatus: string; previousUpdatedAt: Date | null; claimedAt: Date }> {
    if (hasNul(name)) throw notFound('App not found or failed to delete: no such app');
    return this.mgmt.transaction(async (tx) => {
      const rows = await tx.query<AppRow & { abandoned: boolean }>(
        `SELECT *, updated_at IS NULL OR updated_at < NOW() - make_interval(secs => $2) AS abandoned
         FROM _apps WHERE name = $1 FOR UPDATE`,
        [name, DELETE_CLAIM_SECONDS],
      );
      const row = rows[0];
      if (!row) throw notFound('App not found or failed to delete: no such app');
      if (row.status === DELETING && !row.abandoned) throw notFound('App not found or failed to delete: it is being deleted');
      // Milliseconds, so the claim compares equal to the time read back (a Date) when the row is given back or removed.
      const claimed = await tx.query<{ updated_at: Date }>(
        `UPDATE _apps SET status = $2, updated_at = date_trunc('milliseconds', NOW()) WHERE name = $1 RETURNING updated_at`,
        [name, DELETING],
      );
      return { ...row, previousStatus: row.status, previousUpdatedAt: row.updated_at, claimedAt: claimed[0]!.updated_at };
    });
  }

  /**
   * A failed creation whose database could not be dropped at once (PostgreSQL refused the connection)
   * drops it a little later, so no database is left without its app. Until then creating the name
   * again answers 409; nothing else can use the database, and it is dropped only while no app row
   * names it.
   */
  private dropOrphanLater(server: { dropDatabase(name: string): Promise<void> }, dbName: string, attempt = 1): void {
    const timer = setTimeout(
      () => {
        void (async () => {
          const named = await this.mgmt.query('SELECT 1 FROM _apps WHERE db_name = $1', [dbName]);
          if (named.length === 0) await server.dropDatabase(dbName);
        })().catch((err: unknown) => {
          if (attempt < 6) this.dropOrphanLater(server, dbName, attempt + 1);
          else this.log.error({ err, db: dbName }, 'database of a failed app creation left behind: drop it by hand');
        });
      },
      1000 * 2 ** attempt,
    );
    timer.unref();
  }

  /** Runs after an app is deleted (its row and database are gone), e.g. to remove its upload directory. */
  onDelete(hook: (name: string) => Promise<void>): void {
    this.deleteHooks.push(hook);
  }

  async closeAll(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((r) => r.close().catch(() => undefined)));
  }

  private async open(row: AppRow): Promise<AppRuntime | undefined> {
    const existing = this.live.get(row.name);
    if (existing) return existing;
    // Its creation (here) is still opening it; a load that read the row before it was marked waits for that.
    const creating = this.creating.get(row.name);
    if (creating) return creating;
    const runtime = new AppRuntime(
      row,
      this.placement.server(row.database).connect(row.db_name, this.poolSize),
      this.bus,
      this.throttle,
      this.log,
      this.extensions,
      this.countEstimateThreshold,
    );
    try {
      if (!this.bootstrapped.has(row.name)) await runtime.bootstrap(this.log);
      await runtime.open(this.log);
      this.bootstrapped.add(row.name);
    } catch (err) {
      await runtime.close().catch(() => undefined);
      throw err;
    }
    this.live.set(row.name, runtime);
    return runtime;
  }
}

function adminSeed(input: CreateAppInput): { email: string; password: string } | undefined {
  const { admin_email: email, admin_password: password } = input;
  if (email === undefined && password === undefined) return undefined;
  if (typeof email !== 'string' || !isEmail(normalizeEmail(email)) || hasNul(email)) {
    throw invalid('admin_email must be an email address');
  }
  if (typeof password !== 'string' || password.length === 0) throw invalid('admin_password is required with admin_email');
  return { email, password };
}
