import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { startRocket, type Rocket } from '../../src/rocket.js';
import { Client } from './client.js';

export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export interface TestServer {
  rocket: Rocket;
  config: Config;
  client: Client;
  /** Platform admin access token. */
  platformToken: string;
  /** Creates an app and returns its name and an admin access token for it. */
  createApp(name?: string): Promise<{ name: string; token: string }>;
  close(): Promise<void>;
}

/**
 * A Rocket server in this process, listening on a free port, with a fresh
 * management database on the test PostgreSQL. Apps created through it are
 * dropped on close.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  /** Start a second instance over the same management database and data directory. */
  share?: { managementDb: string; dataDir: string },
): Promise<TestServer & { managementDb: string; dataDir: string }> {
  const managementDb = share?.managementDb ?? `rocketmgmt_${uniqueName('')}`;
  const dataDir = share?.dataDir ?? (await mkdtemp(join(tmpdir(), 'rocket-test-data-')));
  const config = loadConfig({
    DATABASE_URL: `${inject('pgUrl')}${managementDb}`,
    ROCKET_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ROCKET_APP_POOL_SIZE: '4',
    ROCKET_POOL_SIZE: '4',
    ...env,
  });
  const rocket = await startRocket(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
  const client = new Client(rocket.url);
  const login = await client.post('/api/_platform/auth/login', {
    body: { email: config.platformEmail, password: config.platformPassword },
  });
  const platformToken = (login.body as { data: { access_token: string } }).data.access_token;
  const apps: string[] = [];

  return {
    managementDb,
    dataDir,
    rocket,
    config,
    client,
    platformToken,
    async createApp(name = uniqueName('app')) {
      const res = await client.post('/api/_platform/apps', { token: platformToken, body: { name } });
      if (res.status !== 201) throw new Error(`create app failed: ${res.status} ${JSON.stringify(res.body)}`);
      apps.push(name);
      const token = await client.login(`/api/${name}/auth/login`, 'admin@localhost', 'changeme');
      return { name, token };
    },
    async close() {
      for (const name of apps) {
        await client.delete(`/api/_platform/apps/${name}`, { token: platformToken }).catch(() => undefined);
      }
      await rocket.close();
      if (!share) await rocket.dbServer.dropDatabase(managementDb);
    },
  };
}
