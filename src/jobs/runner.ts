import type { Logger } from 'pino';
import type { Database } from '../db/database.js';

/**
 * Background work of every live app (spec: multi-app.md §Background jobs):
 * each job runs a pass over all apps every `intervalMs`, or sooner when a
 * timer is armed for an earlier due item. Passes of one job never overlap;
 * rows are claimed in the database (see claim.ts), so several server
 * instances can run the same jobs side by side.
 */

/** What a job needs of an app. */
export interface JobApp {
  readonly name: string;
  readonly log: Logger;
  readonly db: Database;
}

export interface Job<A extends JobApp = JobApp> {
  /** Unique among the runner's jobs; names the job in logs, `runNow` and `wakeAt`. */
  readonly name: string;
  /** Time from the end of one pass to the next one. */
  readonly intervalMs: number;
  /** One pass over one app. A failure is logged by the runner and does not stop other apps or later passes. */
  run(app: A): Promise<unknown>;
  /** The earliest instant work becomes due in this app (null: none); the next pass is armed for it when it comes before the interval. */
  nextDue?(app: A): Promise<Date | null>;
  /** At shutdown, after the timers stopped and before the running pass is awaited (e.g. to cancel calls in flight). */
  stop?(apps: readonly A[]): Promise<void>;
}

interface JobState<A extends JobApp> {
  readonly job: Job<A>;
  timer?: NodeJS.Timeout;
  /** When the armed timer fires (ms since epoch). */
  dueAt?: number;
  /** The last queued pass; the next one starts after it. */
  tail: Promise<void>;
}

/** The job runner of one server: built and started by the composition root, stopped on shutdown. */
export class JobRunner<A extends JobApp = JobApp> {
  private readonly jobs = new Map<string, JobState<A>>();
  private started = false;
  private stopped = false;

  constructor(
    private readonly apps: () => readonly A[],
    private readonly log: Logger,
    /** Told of every pass: the job's name and whether it ran without a failure (the metrics' hook). */
    private readonly onPass?: (job: string, ok: boolean) => void,
  ) {}

  /** Adds a job (before `start`). */
  add(job: Job<A>): this {
    if (this.jobs.has(job.name)) throw new Error(`job already added: ${job.name}`);
    const state: JobState<A> = { job, tail: Promise.resolve() };
    this.jobs.set(job.name, state);
    if (this.started) this.arm(state, Date.now() + job.intervalMs);
    return this;
  }

  /** Arms every job's first pass one interval from now. */
  start(): void {
    this.started = true;
    for (const s of this.jobs.values()) this.arm(s, Date.now() + s.job.intervalMs);
  }

  /** Runs a pass of the named job (or of every job) now, after the one in progress; resolves when it ends. */
  async runNow(name?: string): Promise<void> {
    const states = name === undefined ? [...this.jobs.values()] : [this.state(name)];
    await Promise.all(states.map((s) => this.enqueue(s)));
  }

  /** Makes the named job's next pass start no later than `at` (e.g. when an item with a deadline was stored). */
  wakeAt(name: string, at: Date): void {
    this.arm(this.state(name), at.getTime());
  }

  /** Stops the timers, lets each job cancel what it has in flight, and waits for running passes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.jobs.values()) clearTimeout(s.timer);
    const apps = this.apps();
    await Promise.all(
      [...this.jobs.values()].map(async (s) => {
        await s.job.stop?.(apps).catch((err: unknown) => this.log.error({ err, job: s.job.name }, 'job stop failed'));
        await s.tail;
      }),
    );
  }

  private state(name: string): JobState<A> {
    const s = this.jobs.get(name);
    if (!s) throw new Error(`unknown job: ${name}`);
    return s;
  }

  /** The earliest request wins: a timer armed for a later instant is replaced, one armed sooner is kept. */
  private arm(s: JobState<A>, at: number): void {
    if (this.stopped || !this.started) return;
    if (s.timer && s.dueAt !== undefined && s.dueAt <= at) return;
    clearTimeout(s.timer);
    s.dueAt = at;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.dueAt = undefined;
      void this.enqueue(s);
    }, Math.max(0, at - Date.now()));
    s.timer.unref();
  }

  private enqueue(s: JobState<A>): Promise<void> {
    const run = s.tail.then(() => this.pass(s));
    s.tail = run.catch(() => undefined);
    return run;
  }

  private async pass(s: JobState<A>): Promise<void> {
    if (this.stopped) return;
    const { job } = s;
    let next = Date.now() + job.intervalMs;
    let ok = true;
    await Promise.all(
      this.apps().map(async (app) => {
        try {
          await job.run(app);
          const due = await job.nextDue?.(app);
          if (due) next = Math.min(next, due.getTime());
        } catch (err) {
          ok = false;
          app.log.error({ err, app: app.name, job: job.name }, 'job pass failed');
        }
      }),
    );
    this.onPass?.(job.name, ok);
    this.arm(s, Math.max(next, Date.now()));
  }
}
