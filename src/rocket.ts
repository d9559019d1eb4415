import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { DatabaseServer } from './db/server.js';
import { LoginPolicy, LoginThrottle } from './auth/login-throttle.js';
import { AppManager } from './platform/app-manager.js';
import { Placement } from './platform/placement.js';
import { FileService } from './files/files.js';
import { LocalDiskStorage } from './files/local-disk.js';
import { Platform } from './platform/platform.js';
import { ChangeBus } from './platform/change-bus.js';
import { platformSecret } from './platform/secrets.js';
import { buildHttp } from './http/server.js';
import { AREAS } from './http/routes/index.js';
import type { Services } from './http/context.js';
import { JobRunner, type Job } from './jobs/runner.js';
import { type AppExtensions, type AppRuntime, loginScopeOf } from './platform/app-runtime.js';
import { uiConfigsTransfer } from './metadata/ui-configs-admin.js';
import { webhookRetryJob } from './webhooks/job.js';
import { webhookObserver } from './webhooks/observer.js';
import { webhookSettings } from './webhooks/settings.js';
import { callOutWith } from './outbound/delivery.js';
import { webhooksTransfer } from './webhooks/transfer.js';
import { historyObserver } from './history/observer.js';
import { historyRetentionJob } from './history/retention.js';
import { eventSweepJob, workflowDeadlineJob } from './workflows/jobs.js';
import { workflowEventSink, workflowObserver } from './workflows/observer.js';
import { workflowsTransfer } from './workflows/transfer.js';
import type { Database } from './db/database.js';
import { Lifecycle } from './ops/lifecycle.js';
import type { Metrics } from './ops/metrics.js';
import { Realtime } from './realtime/realtime.js';

export interface Rocket {
  http: FastifyInstance;
  services: Services;
  dbServer: DatabaseServer;
  /** The background jobs of every app (`jobs.runNow(name)` runs a pass at once). */
  jobs: JobRunner<AppRuntime>;
  url: string;
  /** Shutdown state and hooks (e.g. realtime ends its streams in one). */
  lifecycle: Lifecycle;
  /** Present when ROCKET_METRICS is on; features report through it (e.g. `realtimeSubscribers`). */
  metrics: Metrics | undefined;
  close(): Promise<void>;
}

/**
 * Where features plug in: every app runtime gets these write observers (run
 * in this order), event sink and export/import sections, and the job runner
 * runs these jobs over every live app. A new feature adds its pieces here;
 * the core (db, types, metadata, engine) never imports a feature.
 */
function plugIns(
  config: Config,
  metrics: Metrics | undefined,
  runner: JobRunner<AppRuntime>,
  realtime: Realtime,
): { extensions: AppExtensions; jobs: Array<Job<AppRuntime>> } {
  const webhooks = { ...webhookSettings(config), onDelivery: metrics && ((outcome: string) => metrics.delivery(outcome)) };
  return {
    extensions: {
      observers: [workflowObserver, webhookObserver(webhooks), historyObserver, realtime.observer],
      eventSink: workflowEventSink,
      callOut: callOutWith(webhooks.denyPrivateNetworks),
      wakeJob: (job, at, app) => runner.wakeAt(job, at, app),
      transferSections: [workflowsTransfer, webhooksTransfer, uiConfigsTransfer],
    },
    jobs: [
      workflowDeadlineJob,
      eventSweepJob,
      webhookRetryJob(webhooks),
      ...(config.historyRetentionDays !== undefined ? [historyRetentionJob(config.historyRetentionDays)] : []),
      ...realtime.jobs(),
    ],
  };
}

/** The server's parts without HTTP or jobs: what the `rocket` command works with straight on the database. */
export interface RocketCore {
  services: Services;
  dbServer: DatabaseServer;
  /** The background jobs of every live app; started by the server, never by the command line. */
  jobs: JobRunner<AppRuntime>;
  /** Change notices between server instances. */
  bus: ChangeBus;
  /** Present when ROCKET_METRICS is on. */
  metrics: Metrics | undefined;
  close(): Promise<void>;
}

/**
 * config → database (embedded or URL) → platform → apps. `attach` uses the embedded PostgreSQL a
 * running server already owns instead of starting one (command-line tools).
 */
export async function openCore(config: Config, log: Logger, opts: { attach?: boolean } = {}): Promise<RocketCore> {
  const dbServer = await DatabaseServer.start(config, log, opts);
  let opened: Database | undefined;
  try {
    await dbServer.createDatabase(dbServer.managementDb);
    const mgmt = dbServer.connect(dbServer.managementDb, config.poolSize);
    opened = mgmt;
    const throttle = new LoginThrottle(mgmt, new LoginPolicy(config.loginMaxFailures, config.loginLockSeconds * 1000));
    const platform = new Platform(mgmt, await platformSecret(config.dataDir, config.platformJwtSecret), throttle);
    await platform.bootstrap(config, log);
    const bus = new ChangeBus(mgmt, log);
    await bus.start();
    const pools = (): Database[] => [mgmt, ...apps.runtimes().map((r) => r.db)];
    // prom-client is loaded only when metrics are on: it holds megabytes every server would carry for nothing.
    const metrics: Metrics | undefined = config.metrics
      ? new (await import('./ops/metrics.js')).Metrics(() => pools().map((db) => ({ database: db.options.database, ...db.usage() })))
      : undefined;
    const realtime = new Realtime(
      {
        retention: { events: config.realtimeRetainEvents, seconds: config.realtimeRetainSeconds },
        maxQueue: config.realtimeMaxQueue,
        pingMs: config.realtimePingSeconds * 1000,
        onStreams: metrics && ((open) => metrics.realtimeSubscribers.set(open)),
      },
      mgmt,
      bus,
      log,
    );
    const runner = new JobRunner<AppRuntime>(() => apps.runtimes(), log, {
      onPass: metrics && ((job, ok) => metrics.job(job, ok)),
      idleMs: config.poolIdleSeconds * 1000,
      dormant: { names: () => apps.dormant(), load: (name) => apps.loadForJobs(name) },
    });
    const { extensions, jobs: jobList } = plugIns(config, metrics, runner, realtime);
    for (const job of jobList) runner.add(job);
    const apps: AppManager = new AppManager(
      placementOf(config, dbServer),
      mgmt,
      bus,
      config.appPoolSize,
      throttle,
      log,
      extensions,
      config.countEstimateThreshold,
    );
    const files = new FileService(new LocalDiskStorage(config.storagePath), config.maxFileSize);
    apps.onDelete((name) => files.removeApp(name));
    apps.onDelete(async (name) => realtime.closeApp(name));
    apps.onDelete((name) => throttle.clearScope(loginScopeOf(name)));
    return {
      services: { platform, apps, files, realtime },
      dbServer,
      jobs: runner,
      bus,
      metrics,
      async close() {
        await apps.closeAll();
        await mgmt.close();
        await dbServer.stop();
      },
    };
  } catch (err) {
    // The change bus's LISTEN connection would keep a failed command line (or worker) running forever.
    await opened?.close().catch(() => undefined);
    await dbServer.stop().catch(() => undefined);
    throw err;
  }
}

/** `main` is the management database's server unless ROCKET_DATABASES names another. */
function placementOf(config: Config, dbServer: DatabaseServer): Placement {
  const at = (url: string) => DatabaseServer.at(url, config);
  const { main, ...others } = config.databases;
  return new Placement(main ? at(main) : dbServer, new Map(Object.entries(others).map(([name, url]) => [name, at(url)])));
}

/** Change notice of an instance that stops, for each app it served: the others' jobs visit the app at once. */
const HAND_OVER = 'jobs:hand-over';

/** start: config → core → apps loaded → http → jobs. */
export async function startRocket(config: Config, logger?: Logger): Promise<Rocket> {
  const log = logger ?? pino({ level: config.logLevel });
  const core = await openCore(config, log);
  const { services, dbServer } = core;
  const { apps } = services;
  try {
    await apps.loadAll();
    const lifecycle = new Lifecycle();
    const { realtime } = services;
    if (realtime) {
      // Capture leases of other instances are known before the first request is served.
      await realtime.start();
      lifecycle.onShutdown(() => realtime.closeAll());
    }
    const { metrics } = core;
    const http = await buildHttp(config, log, services, AREAS, {
      lifecycle,
      metrics,
      metricsToken: config.metricsToken,
      ping: async () => {
        await services.platform.db.query('SELECT 1');
      },
    });
    const address = await http.listen({ port: config.port, host: config.host });
    const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
    log.info({ url }, 'Rocket is serving');
    const { jobs, bus } = core;
    jobs.start();
    // Work of an app may be armed only on the instance that stored it (an approval deadline's timer) or be given
    // back by it at shutdown (a cancelled delivery): an instance that stops tells the others, which visit at once.
    const origin = randomUUID();
    const stopHearing = bus.onTopic(HAND_OVER, (app, from) => {
      if (from === origin) return;
      apps
        .loadForJobs(app)
        .then((runtime) => runtime && jobs.handOver(app))
        .catch((err: unknown) => log.warn({ err, app }, 'work handed over by a stopping instance not taken yet'));
    });
    // Runtimes of apps idle for the pool idle timeout are unloaded, unless a stream or due work needs them.
    const idleMs = config.poolIdleSeconds * 1000;
    const unloader = setInterval(
      () => apps.unloadIdle(idleMs, (name) => jobs.holds(name) || realtime?.hasStreams(name) === true),
      Math.max(1000, idleMs / 2),
    );
    unloader.unref();
    let closing: Promise<void> | undefined;
    return {
      http,
      services,
      dbServer,
      jobs,
      url,
      lifecycle,
      metrics,
      close() {
        closing ??= (async () => {
          // /ready answers 503 and new requests are refused from here on; realtime streams end.
          clearInterval(unloader);
          await lifecycle.beginShutdown();
          await closeHttp(http, config.shutdownTimeoutMs);
          await jobs.stop();
          stopHearing();
          await Promise.all(apps.runtimes().map((runtime) => bus.announceNow(runtime.name, origin, HAND_OVER)));
          await core.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    // Realtime's lease timers would go on renewing over the closed pool (a failed start that is not the end of
    // the process, e.g. a test or an embedding, kept logging every 10 s).
    await services.realtime?.closeAll().catch(() => undefined);
    await core.close().catch(() => undefined);
    throw err;
  }
}

/** Stops accepting connections and waits for in-flight requests, at most `timeoutMs`; then cuts what is left. */
async function closeHttp(http: FastifyInstance, timeoutMs: number): Promise<void> {
  const closed = http.close();
  // close() ends the connections idle at that moment; keep-alive connections whose last request
  // finishes later go idle afterwards and are ended here, so the server does not wait for them.
  const reaper = setInterval(() => http.server.closeIdleConnections(), 100);
  closed.finally(() => clearInterval(reaper)).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    closed.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (late) {
    http.log.warn({ timeoutMs }, 'shutdown timeout: closing the connections of unfinished requests');
    http.server.closeAllConnections();
    await closed;
  }
}
