import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Connections of one pool: serving a query or transaction, and queued for one. */
export interface PoolUsage {
  database: string;
  inUse: number;
  waiting: number;
}

/**
 * The instance's Prometheus metrics (operations.md §Health and metrics), in a
 * registry of its own so several servers in one process (tests) stay apart.
 * Features report through the methods here; the composition root hands this
 * object to them.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'family' | 'status'>;
  private readonly latency: Histogram<'family'>;
  private readonly jobRuns: Counter<'job'>;
  private readonly jobFailures: Counter<'job'>;
  private readonly deliveries: Counter<'outcome'>;
  /** Open realtime streams; the realtime feature sets it (inc/dec or set). */
  readonly realtimeSubscribers: Gauge;

  constructor(pools: () => Iterable<PoolUsage>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'rocket_http_requests_total',
      help: 'HTTP requests answered, by route family and status code',
      labelNames: ['family', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'rocket_http_request_duration_seconds',
      help: 'Time from request to response, by route family',
      labelNames: ['family'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const poolGauge = (name: string, help: string, pick: (u: PoolUsage) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['database'],
        registers,
        collect() {
          this.reset();
          for (const usage of pools()) this.set({ database: usage.database }, pick(usage));
        },
      });
    poolGauge('rocket_db_pool_in_use', 'Pool connections serving a query or transaction, per database', (u) => u.inUse);
    poolGauge('rocket_db_pool_waiting', 'Queries and transactions waiting for a pool connection, per database', (u) => u.waiting);
    this.jobRuns = new Counter({ name: 'rocket_job_runs_total', help: 'Background job runs, by job', labelNames: ['job'], registers });
    this.jobFailures = new Counter({
      name: 'rocket_job_failures_total',
      help: 'Background job runs that failed, by job',
      labelNames: ['job'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'rocket_webhook_deliveries_total',
      help: 'Webhook calls made, by stored outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.realtimeSubscribers = new Gauge({ name: 'rocket_realtime_subscribers', help: 'Open realtime streams', registers });
  }

  /** One answered request, counted under its route pattern's family. */
  request(routePattern: string | undefined, status: number, seconds: number): void {
    const family = routeFamily(routePattern);
    this.requests.inc({ family, status: String(status) });
    this.latency.observe({ family }, seconds);
  }

  job(job: string, ok: boolean): void {
    this.jobRuns.inc({ job });
    if (!ok) this.jobFailures.inc({ job });
  }

  /** One webhook call made, by the status stored for it (delivered, retrying, failed). */
  delivery(outcome: string): void {
    this.deliveries.inc({ outcome });
  }

  /** The metrics an app runtime (or any object) was handed, if any. */
  static of(holder: object): Metrics | undefined {
    return (holder as { metrics?: Metrics }).metrics;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * The family of a route pattern, a small fixed set of labels: probes,
 * platform, app auth, the reserved `/_name` areas of an app, records.
 */
export function routeFamily(pattern: string | undefined): string {
  if (!pattern) return 'unmatched';
  const parts = pattern.split('/').filter((p) => p !== '');
  if (parts[0] !== 'api') return parts[0] === 'health' || parts[0] === 'ready' || parts[0] === 'metrics' ? 'probe' : (parts[0] ?? 'root');
  if (parts[1] === '_platform') return 'platform';
  const area = parts[2];
  if (area === undefined) return 'app';
  if (area === 'auth') return 'auth';
  if (area.startsWith('_')) return area.slice(1);
  return 'records';
}
