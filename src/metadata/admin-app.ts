import type { Database } from '../db/database.js';
import type { Registry } from './registry.js';

/** What metadata administration needs of an app: its pool, its current snapshot, and a way to rebuild it. */
export interface AdminApp {
  readonly name: string;
  readonly db: Database;
  readonly registry: Registry;
  /** Rebuilds the app's snapshots after a metadata change and tells the other server instances. */
  reload(): Promise<void>;
}
