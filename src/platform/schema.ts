import type { Migration } from '../db/migrations.js';
import { quoteLiteral } from '../db/quote.js';
import { CHANNEL } from './change-bus.js';

/**
 * Change-bus topic of an app row that stopped being active (status changed, row deleted), sent by the
 * management database itself: `app:inactive:<created_at as ISO text>`.
 */
export const APP_INACTIVE = 'app:inactive';

/** Management-database schema (spec: multi-app.md §Platform tables). */
export const PLATFORM_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'platform tables',
    async up(tx) {
      await tx.query('CREATE EXTENSION IF NOT EXISTS pgcrypto');
      await tx.query(`CREATE TABLE IF NOT EXISTS _apps (
        name TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        db_name TEXT NOT NULL UNIQUE,
        db_driver TEXT NOT NULL DEFAULT 'postgres',
        jwt_secret TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        created_at TIMESTAMPTZ DEFAULT NOW(),
        updated_at TIMESTAMPTZ DEFAULT NOW())`);
      await tx.query(`CREATE TABLE IF NOT EXISTS _platform_users (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        roles TEXT[] DEFAULT '{platform_admin}',
        active BOOLEAN DEFAULT true,
        created_at TIMESTAMPTZ DEFAULT NOW(),
        updated_at TIMESTAMPTZ DEFAULT NOW())`);
      await tx.query(`CREATE TABLE IF NOT EXISTS _platform_refresh_tokens (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES _platform_users(id) ON DELETE CASCADE,
        token UUID NOT NULL UNIQUE,
        expires_at TIMESTAMPTZ NOT NULL,
        created_at TIMESTAMPTZ DEFAULT NOW())`);
      await tx.query('CREATE INDEX IF NOT EXISTS idx_platform_refresh_tokens_token ON _platform_refresh_tokens(token)');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_platform_refresh_tokens_expires ON _platform_refresh_tokens(expires_at)');
    },
  },
  {
    version: 2,
    name: 'login throttle shared by instances',
    async up(tx) {
      // One row per account (scope + email) with failed or in-flight logins; ms since the epoch.
      await tx.query(`CREATE TABLE IF NOT EXISTS _login_throttle (
        key TEXT PRIMARY KEY,
        failures INT NOT NULL,
        first_ms DOUBLE PRECISION NOT NULL,
        locked_until_ms DOUBLE PRECISION NOT NULL,
        in_flight JSONB NOT NULL)`);
    },
  },
  {
    version: 3,
    name: 'app placement',
    async up(tx) {
      // The placement server (ROCKET_DATABASES name) an app's database is on.
      await tx.query(`ALTER TABLE _apps ADD COLUMN IF NOT EXISTS database TEXT NOT NULL DEFAULT 'main'`);
    },
  },
  {
    version: 4,
    name: 'realtime capture leases',
    async up(tx) {
      // Apps with realtime subscribers on some instance: writes of these apps capture change events.
      // An instance that starts reads the live leases before it serves (src/realtime/leases.ts).
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_leases (
        app TEXT PRIMARY KEY,
        until TIMESTAMPTZ NOT NULL)`);
      // Running instances (heartbeat): a first stream waits until each has acknowledged its lease.
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_instances (
        origin TEXT PRIMARY KEY,
        seen TIMESTAMPTZ NOT NULL)`);
    },
  },
  {
    version: 5,
    name: 'app status notices',
    async up(tx) {
      // Sent by the database, so a status changed (or a row deleted) by hand, by the command line or by another
      // instance reaches every instance, which then stops serving the app (spec: multi-app.md §Routing,
      // operations.md §Several instances). Only on writes of _apps: nothing on the request path.
      await tx.query(`CREATE OR REPLACE FUNCTION rocket_app_inactive() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          PERFORM pg_notify(${quoteLiteral(CHANNEL)}, json_build_object(
            'app', OLD.name,
            'origin', 'database',
            'what', ${quoteLiteral(`${APP_INACTIVE}:`)} ||
              coalesce(to_char(OLD.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), ''))::text);
          RETURN NULL;
        END $fn$`);
      await tx.query('DROP TRIGGER IF EXISTS rocket_app_deactivated ON _apps');
      await tx.query(`CREATE TRIGGER rocket_app_deactivated AFTER UPDATE OF status ON _apps FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IS DISTINCT FROM 'active')
        EXECUTE FUNCTION rocket_app_inactive()`);
      await tx.query('DROP TRIGGER IF EXISTS rocket_app_removed ON _apps');
      await tx.query('CREATE TRIGGER rocket_app_removed AFTER DELETE ON _apps FOR EACH ROW EXECUTE FUNCTION rocket_app_inactive()');
    },
  },
];
