import type { Migration } from '../db/migrations.js';

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
];
