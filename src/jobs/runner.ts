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

/**
 * Apps one job visits at once. Each visit takes a connection of the app's pool, so a pass over
 * hundreds of apps must not open them all at once (spec: operations.md §Capacity).
 */
export const APP_VISITS_AT_ONCE = 4;

/** Apps whose runtimes are not loaded (unloaded after idling): the idle sweep loads them for a visit. */
export interface DormantApps<A extends JobApp> {
  /** Active apps without a loaded runtime. */
  names(): Promise<string[]>;
  /** Loads one for a visit (not counted as use); undefined when it is gone meanwhile. */
  load(name: string): Promise<A | undefined>;
}

export interface JobRunnerOptions<A extends JobApp> {
  /** Told of every pass: the job's name and whether it ran without a failure (the metrics' hook). */
  onPass?: (job: string, ok: boolean) => void;
  /**
   * An app not served for this long is idle: after a visit its pool closes its connections at once
   * instead of keeping them for the idle timeout.
   */
  idleMs?: number;
  dormant?: DormantApps<A>;
}

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
  /** Visits in progress per app name (any job). */
  private readonly visiting = new Map<string, number>();
  private sweepTimer?: NodeJS.Timeout;
  private sweeping: Promise<void> = Promise.resolve();

  constructor(
    private readonly apps: () => readonly A[],
    private readonly log: Logger,
    private readonly options: JobRunnerOptions<A> = {},
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
    if (this.options.dormant) {
      this.sweepTimer = setInterval(() => {
        this.sweeping = this.sweeping.then(() => this.sweepDormant()).then(() => undefined);
      }, IDLE_APP_SWEEP_MS);
      this.sweepTimer.unref();
    }
  }

  /**
   * Whether the app must stay loaded for the jobs: a visit is in progress, or some job knows of work
   * due before the next idle sweep would load it again.
   */
  holds(name: string, now = Date.now()): boolean {
    if (this.visiting.has(name)) return true;
    for (const s of this.jobs.values()) {
      const due = s.marks.get(name)?.due;
      if (due !== undefined && due < now + IDLE_APP_SWEEP_MS) return true;
    }
    return false;
  }

  /** Runs a pass of the named job (or of every job) over every app now, after the one in progress; resolves when it ends. */
  async runNow(name?: string): Promise<void> {
    const states = name === undefined ? [...this.jobs.values()] : [this.state(name)];
    await Promise.all(states.map((s) => this.enqueue(s, true)));
    // Dormant apps are loaded once for all the jobs asked for, not once per job.
    await this.sweepDormant(states);
  }

  /**
   * Loads every dormant app and gives it one visit of each of the jobs (every job when called by the
   * periodic idle sweep).
   */
  private async sweepDormant(states: ReadonlyArray<JobState<A>> = [...this.jobs.values()]): Promise<void> {
    const { dormant } = this.options;
    if (!dormant || this.stopped) return;
    let names: string[];
    try {
      names = await dormant.names();
    } catch (err) {
      this.log.error({ err }, 'idle app sweep failed');
      for (const s of states) this.options.onPass?.(s.job.name, false);
      return;
    }
    if (names.length === 0) return;
    const failed = new Set<string>();
    await eachLimited(names, APP_VISITS_AT_ONCE, async (name) => {
      if (this.stopped) return;
      let app: A | undefined;
      try {
        app = await dormant.load(name);
      } catch (err) {
        this.log.error({ err, app: name }, 'idle app sweep: app not loaded');
        for (const s of states) failed.add(s.job.name);
        return;
      }
      if (!app) return;
      for (const s of states) if (!(await this.visit(s, app, Date.now(), false))) failed.add(s.job.name);
      this.release(app);
    });
    for (const s of states) this.options.onPass?.(s.job.name, !failed.has(s.job.name));
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

  /**
   * Another instance that served the app stopped and may have left work due now or armed for later (an
   * approval deadline, a delivery it gave back): every job visits the app at once and learns its next due item.
   */
  handOver(name: string): void {
    const now = Date.now();
    for (const s of this.jobs.values()) {
      const mark = s.marks.get(name);
      if (mark) mark.due = now;
      this.arm(s, now);
    }
  }

  /** Stops the timers, lets each job cancel what it has in flight, and waits for running passes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.jobs.values()) clearTimeout(s.timer);
    clearInterval(this.sweepTimer);
    await this.sweeping;
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
    const visits: A[] = [];
    for (const app of apps) {
      if (everyApp || this.wanted(s, app, now)) visits.push(app);
      else {
        const due = s.marks.get(app.name)?.due;
        if (due !== undefined && due < next) next = due;
      }
    }
    // Apps with work due go first: a deadline is not kept waiting behind a queue of merely active apps.
    const dueOf = (app: A) => s.marks.get(app.name)?.due ?? Infinity;
    visits.sort((a, b) => {
      const [x, y] = [dueOf(a), dueOf(b)];
      return x === y ? 0 : x < y ? -1 : 1; // (Infinity − Infinity would be NaN)
    });
    await eachLimited(visits, APP_VISITS_AT_ONCE, async (app) => {
      if (this.stopped) return;
      // A failed visit is tried again at the next pass, not at once.
      if (!(await this.visit(s, app, now))) ok = false;
      else {
        const due = s.marks.get(app.name)?.due;
        if (due !== undefined && due < next) next = due;
      }
    });
    this.options.onPass?.(job.name, ok);
    this.arm(s, Math.max(next, Date.now()));
  }

  /** One job's visit of one app; records what it learnt of the app's next due work. Never throws. */
  private async visit(s: JobState<A>, app: A, now: number, release = true): Promise<boolean> {
    const { job } = s;
    const mark: AppMark = { visited: now, due: undefined };
    s.marks.set(app.name, mark);
    this.visiting.set(app.name, (this.visiting.get(app.name) ?? 0) + 1);
    let ok = true;
    try {
      await job.run(app);
      if (job.nextDue) {
        const due = await job.nextDue(app);
        mark.due = due ? due.getTime() : Infinity;
      }
    } catch (err) {
      ok = false;
      mark.due = now; // try again next pass
      app.log.error({ err, app: app.name, job: job.name }, 'job pass failed');
    } finally {
      const left = (this.visiting.get(app.name) ?? 1) - 1;
      if (left > 0) this.visiting.set(app.name, left);
      else this.visiting.delete(app.name);
    }
    if (release) this.release(app);
    return ok;
  }

  /**
   * An app nobody uses gives its connections back when its visits end, not an idle timeout later: a
   * sweep over every app would otherwise leave each holding one (spec: operations.md §Capacity).
   */
  private release(app: A): void {
    const { idleMs } = this.options;
    if (idleMs !== undefined && !this.visiting.has(app.name) && Date.now() - (app.lastUsedAt ?? 0) >= idleMs) app.db.releaseIdle();
  }
}

/** Runs fn over items, at most `limit` at a time; fn must not throw. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
