import type { DatabaseServer } from '../db/server.js';
import { invalid } from '../errors.js';

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
    if (!server) throw new Error(`database server "${name}" is not configured (ROCKET_DATABASES)`);
    return server;
  }
}
