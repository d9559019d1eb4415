import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { prepareChromium } from './browser.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

/**
 * Tests run against real PostgreSQL: DATABASE_URL's server when set, otherwise
 * one embedded server for the whole run. Each test file then gets a fresh
 * management database on it (see server.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await prepareChromium(); // unpack once here, not in several test workers at the same time
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = '/';
    project.provide('pgUrl', url.toString());
    return async () => undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'rocket-test-pg-'));
  await chmod(dir, 0o755); // PostgreSQL runs as the postgres user when we are root
  const port = 55000 + Math.floor(Math.random() * 5000);
  const embedded: EmbeddedServer = await startEmbedded(dir, port, pino({ level: 'warn' }));
  project.provide('pgUrl', `postgres://${embedded.user}:${encodeURIComponent(embedded.password)}@${embedded.host}:${embedded.port}/`);
  return async () => {
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
