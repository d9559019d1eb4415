import type { DatabaseServer } from '../db/server.js';
import { RETRY_AFTER_SECONDS } from '../db/pg-errors.js';
import { invalid, serviceUnavailable } from '../errors.js';

/** The server name apps land on when creation names none: the management database's server unless configured. */
export const MAIN_SERVER = 'main';

/**
 * The PostgreSQL servers apps can be placed on (spec: operations.md §Placing
 * apps): `main` plus the servers of `ROCKET_DATABASES`. An app's database, pool
 * and jobs live on the server its `_apps.database` names.
 */
export class Placement {
  private readonly servers: ReadonlyMap<string, DatabaseServer>;

  constructor(main: DatabaseServer, others: ReadonlyMap<string, DatabaseServer> = new Map()) {
    this.servers = new Map([[MAIN_SERVER, main], ...others]);
  }

  names(): string[] {
    return [...this.servers.keys()];
  }

  /** The server named at app creation (absent → main); 422 for anything else. */
  choose(name: unknown): string {
    if (name === undefined || name === null || name === '') return MAIN_SERVER;
    if (typeof name !== 'string' || !this.servers.has(name)) {
      throw invalid(`database must be one of: ${this.names().join(', ')}`);
    }
    return name;
  }

  /** The server of a stored app; an app placed on a server the configuration no longer names cannot be served. */
  server(name: string): DatabaseServer {
    const server = this.servers.get(name);
    // A configuration gap of this instance (its ROCKET_DATABASES lacks a server another instance placed apps on):
    // the app is unavailable here, not broken.
    if (!server)
      throw serviceUnavailable(`The app's database server "${name}" is not configured on this instance (ROCKET_DATABASES)`, RETRY_AFTER_SECONDS);
    return server;
  }
}
