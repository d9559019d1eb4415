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
  /** When this instance last served a request of the app (ms since epoch): activity that may have made work due. */
  readonly lastUsedAt?: number;
}

/**
 * An app this instance has not served since a job's last pass over it, whose
 * known next due item (`nextDue`) is still ahead, is skipped by that job, so
 * idle apps' pools can idle out and hold no connection (spec: operations.md
 * §Capacity). Every app still gets a pass at least this often: work another
 * instance stored and then could not do (it crashed) is picked up by then.
 */
export const IDLE_APP_SWEEP_MS = 10 * 60_000;

/** What the runner knows of one app for one job. */
interface AppMark {
  /** When the last pass over the app started. */
  visited: number;
  /** The app's next due item as `nextDue` last said (undefined: the job has no `nextDue`; Infinity: none). */
  due: number | undefined;
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
  readonly marks: Map<string, AppMark>;
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
    const state: JobState<A> = { job, tail: Promise.resolve(), marks: new Map() };
    this.jobs.set(job.name, state);
    if (this.started) this.arm(state, Date.now() + job.intervalMs);
    return this;
  }

  /** Arms every job's first pass one interval from now. */
  start(): void {
    this.started = true;
    for (const s of this.jobs.values()) this.arm(s, Date.now() + s.job.intervalMs);
  }

  /** Runs a pass of the named job (or of every job) over every app now, after the one in progress; resolves when it ends. */
  async runNow(name?: string): Promise<void> {
    const states = name === undefined ? [...this.jobs.values()] : [this.state(name)];
    await Promise.all(states.map((s) => this.enqueue(s, true)));
  }

  /**
   * Makes the named job's next pass start no later than `at` (e.g. when an item with a deadline was
   * stored); with `app`, that app is due then too, idle or not.
   */
  wakeAt(name: string, at: Date, app?: string): void {
    const s = this.state(name);
    const mark = app === undefined ? undefined : s.marks.get(app);
    if (mark) mark.due = Math.min(mark.due ?? Infinity, at.getTime());
    this.arm(s, at.getTime());
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
    s.timer = setTimeout(
      () => {
        s.timer = undefined;
        s.dueAt = undefined;
        void this.enqueue(s);
      },
      Math.max(0, at - Date.now()),
    );
    s.timer.unref();
  }

  private enqueue(s: JobState<A>, everyApp = false): Promise<void> {
    const run = s.tail.then(() => this.pass(s, everyApp));
    s.tail = run.catch(() => undefined);
    return run;
  }

  /** Whether a pass must visit the app: used since the last visit, known work due, or the sweep interval over. */
  private wanted(s: JobState<A>, app: A, now: number): boolean {
    const mark = s.marks.get(app.name);
    if (!mark) return true;
    if ((app.lastUsedAt ?? now) >= mark.visited) return true;
    if (mark.due !== undefined && mark.due <= now) return true;
    return now - mark.visited >= IDLE_APP_SWEEP_MS;
  }

  private async pass(s: JobState<A>, everyApp: boolean): Promise<void> {
    if (this.stopped) return;
    const { job } = s;
    const now = Date.now();
    let next = now + job.intervalMs;
    let ok = true;
    const apps = this.apps();
    const live = new Set(apps.map((a) => a.name));
    for (const name of s.marks.keys()) if (!live.has(name)) s.marks.delete(name);
    await Promise.all(
      apps.map(async (app) => {
        const mark = s.marks.get(app.name);
        if (!everyApp && !this.wanted(s, app, now)) {
          if (mark?.due !== undefined && mark.due < next) next = mark.due;
          return;
        }
        const visit: AppMark = { visited: now, due: undefined };
        s.marks.set(app.name, visit);
        try {
          await job.run(app);
          if (job.nextDue) {
            const due = await job.nextDue(app);
            visit.due = due ? due.getTime() : Infinity;
            if (due) next = Math.min(next, due.getTime());
          }
        } catch (err) {
          ok = false;
          visit.due = now; // try again next pass
          app.log.error({ err, app: app.name, job: job.name }, 'job pass failed');
        }
      }),
    );
    this.onPass?.(job.name, ok);
    this.arm(s, Math.max(next, Date.now()));
  }
}
