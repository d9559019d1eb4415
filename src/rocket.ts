import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { DatabaseServer } from './db/server.js';
import { LoginPolicy, LoginThrottle } from './auth/login-throttle.js';
import { AppManager } from './platform/app-manager.js';
import { FileService } from './files/files.js';
import { LocalDiskStorage } from './files/local-disk.js';
import { Platform } from './platform/platform.js';
import { platformSecret } from './platform/secrets.js';
import { buildHttp } from './http/server.js';
import { ROUTE_MODULES } from './http/routes/index.js';
import { startWebhookJob } from './webhooks/job.js';
import type { Services } from './http/context.js';
import { startWorkflowJobs } from './workflows/jobs.js';

export interface Rocket {
  http: FastifyInstance;
  services: Services;
  dbServer: DatabaseServer;
  url: string;
  close(): Promise<void>;
}

/** start: config → database (embedded or URL) → platform → apps → http. */
export async function startRocket(config: Config, logger?: Logger): Promise<Rocket> {
  const log = logger ?? pino({ level: config.logLevel });
  const dbServer = await DatabaseServer.start(config, log);
  try {
    await dbServer.createDatabase(dbServer.managementDb);
    const mgmt = dbServer.connect(dbServer.managementDb, config.poolSize);
    const throttle = new LoginThrottle(mgmt, new LoginPolicy(config.loginMaxFailures, config.loginLockSeconds * 1000));
    const platform = new Platform(mgmt, await platformSecret(config.dataDir, config.platformJwtSecret), throttle);
    await platform.bootstrap(config, log);
    const apps = new AppManager(dbServer, mgmt, config.appPoolSize, throttle, log, {
      envAllowlist: config.webhookEnvAllowlist,
      denyPrivateNetworks: config.webhookDenyPrivateNetworks,
    });
    const files = new FileService(new LocalDiskStorage(config.storagePath), config.maxFileSize);
    apps.onDelete((name) => files.removeApp(name));
    await apps.loadAll();
    const services: Services = { platform, apps, files };
    const http = await buildHttp(config, log, services, ROUTE_MODULES);
    const address = await http.listen({ port: config.port, host: config.host });
    const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
    log.info({ url }, 'Rocket is serving');
    const workflowJobs = startWorkflowJobs(() => apps.runtimes(), log);
    const webhookJob = startWebhookJob(apps, log);
    let closing: Promise<void> | undefined;
    return {
      http,
      services,
      dbServer,
      url,
      close() {
        closing ??= (async () => {
          await http.close(); // stops accepting, waits for in-flight requests
          await workflowJobs.stop();
          await webhookJob.stop();
          await apps.closeAll();
          await mgmt.close();
          await dbServer.stop();
        })();
        return closing;
      },
    };
  } catch (err) {
    await dbServer.stop().catch(() => undefined);
    throw err;
  }
}
