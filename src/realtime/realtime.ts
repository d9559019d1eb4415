import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Caller } from '../auth/caller.js';
import { SYSTEM_ACTOR } from '../auth/caller.js';
import { acceptsToken, type UserStatus } from '../auth/user-status.js';
import type { Database } from '../db/database.js';
import type { OpContext, InlineCapture, WriteEvent, WriteObserver } from '../engine/context.js';
import type { Job, JobApp } from '../jobs/runner.js';
import type { SampleRowHook } from '../metadata/transfer.js';
import { nowIso } from '../types/time.js';
import { byOf, captureSql, changeOf, insertChanges, type Change } from './capture.js';
import { AppFeed, type RealtimeApp, type Subscriber } from './feed.js';
import { CaptureLeases, RENEW_MS, type Notices } from './leases.js';
import { pruneRealtime, type Retention } from './prune.js';
import { hasPending, markCaptureGap, sequence, type Sequenced } from './sequencer.js';
import { EventStream } from './stream.js';
import type { SubscriptionRequest } from './subscription.js';

export interface RealtimeSettings {
  retention: Retention;
  maxQueue: number;
  pingMs: number;
  /** Told the number of open streams whenever it changes (the metrics gauge). */
  onStreams?: (open: number) => void;
}

/** Revoked users and lost permissions are noticed this often (the spec allows 1 s). */
const WATCH_MS = 400;
/** Committed captures that no sequencer run took (their writer died right after COMMIT) are looked for this often. */
const SWEEP_MS = 1000;
/** A failed sequencer run is tried again after this long. */
const RETRY_MS = 200;
const PRUNE_INTERVAL_MS = 30_000;
/** A stream opening this soon after a completed lease take rides on it (a lease runs 30 s; renewals every 10 s). */
const FRESH_LEASE_MS = 5000;
/** Notice of a sequencer run: `realtime:seq:<first id>-<last id>[:<entity>,…]` (the entities left out when long). */
const SEQUENCED_NOTICE = 'realtime:seq';
/**
 * Sequencer runs of an app start at most this often on an instance: under load one run (one
 * statement, one notice, one feed round) numbers the changes of many writes, so the cost per write
 * does not grow with the write rate; when idle a run starts at once.
 */
const SEQUENCE_TICK_MS = 20;
/** A notice stays well under NOTIFY's 8,000 bytes. */
const NOTICE_ENTITIES_MAX = 4000;

interface SequencerState {
  db: Database;
  running: boolean;
  again: boolean;
  /** A run is waiting for its tick. */
  timer: NodeJS.Timeout | undefined;
  /** When the last run started (performance.now()). */
  started: number;
}

/**
 * The realtime change feed (spec: realtime.md), as plugged in at the
 * composition root: a write observer with an inline capture (capture.ts),
 * the sequencer that numbers committed captures (sequencer.ts), one feed per
 * app with local streams (feed.ts), capture leases (leases.ts), and the
 * pruning job (prune.ts).
 */
export class Realtime {
  private readonly origin = randomUUID();
  private readonly leases: CaptureLeases;
  private readonly feeds = new Map<string, AppFeed>();
  private readonly apps = new Map<string, RealtimeApp>();
  /** Per app: stops hearing of its users' changes (the runtime followed now). */
  private readonly userWatch = new Map<string, () => void>();
  private watching = false;
  private watchAgain = false;
  private readonly sequencers = new Map<string, SequencerState>();
  /** Per app: the capture-lease take in flight, and when the last completed one started (performance.now()). */
  private readonly taking = new Map<string, Promise<void>>();
  private readonly takenAt = new Map<string, number>();
  /** The `writes` arrays whose changes beforeCommit captured (afterCommit then wakes the sequencer). */
  private readonly captured = new WeakSet<readonly WriteEvent[]>();
  /** The `writes` arrays beforeCommit left uncaptured (capture off), with what says they are over. */
  private readonly uncapturedTx = new WeakMap<readonly WriteEvent[], () => void>();
  /** Per app: writes in flight that decided not to capture, and who waits for them to be over. */
  private readonly uncaptured = new Map<string, { inFlight: number; waiting: Array<() => void> }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unlisten: (() => void) | undefined;
  /** Every open stream of this instance, with its app (also those still replaying). */
  private readonly streams = new Map<EventStream, string>();
  private stopped = false;

  constructor(
    private readonly settings: RealtimeSettings,
    mgmt: Database,
    private readonly notices: Notices,
    private readonly log: Logger,
  ) {
    this.leases = new CaptureLeases(mgmt, notices, this.origin, log, (app) => this.uncapturedOver(app));
  }

  /**
   * A write of `app` decided not to capture (no lease here): counted until it is over (the answer), so that a
   * lease being acknowledged can wait for writes that would commit uncaptured after the joiner's `ready`.
   */
  private uncapturedWrite(app: string): () => void {
    let u = this.uncaptured.get(app);
    if (!u) {
      u = { inFlight: 0, waiting: [] };
      this.uncaptured.set(app, u);
    }
    const writes = u;
    writes.inFlight++;
    let over = false;
    return () => {
      if (over) return;
      over = true;
      if (--writes.inFlight > 0 || writes.waiting.length === 0) return;
      for (const resolve of writes.waiting.splice(0)) resolve();
    };
  }

  /** Resolves once no write of `app` that decided not to capture is in flight. */
  private uncapturedOver(app: string): Promise<void> {
    const u = this.uncaptured.get(app);
    if (!u || u.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => u.waiting.push(resolve));
  }

  /** Open streams on this instance. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Whether this instance has a stream of `app` open (its runtime must stay loaded). */
  hasStreams(app: string): boolean {
    return (this.feeds.get(app)?.subscribers.size ?? 0) > 0;
  }

  /** Whether writes of `app` capture change events now (some instance has a stream of it). */
  capturing(app: string): boolean {
    return this.leases.active(app);
  }

  // --- plugged into the engine -------------------------------------------------------------------

  readonly capture: InlineCapture = {
    sql: captureSql,
    active: (ctx) => this.capturing(ctx.app.name),
    committed: (ctx) => this.kick(ctx.app),
    skipped: (ctx) => this.uncapturedWrite(ctx.app.name),
  };

  /** A transaction's writes that beforeCommit left uncaptured are over (committed or rolled back). */
  private settled(writes: readonly WriteEvent[]): void {
    const over = this.uncapturedTx.get(writes);
    if (!over) return;
    this.uncapturedTx.delete(writes);
    over();
  }

  readonly observer: WriteObserver = {
    name: 'realtime',
    // Never a reason to leave the fast path: the capture rides along in the statement, and only while subscribed.
    involves: async () => false,
    inline: async () => this.capture,
    beforeCommit: async (sc, writes) => {
      if (!this.capturing(sc.app.name)) {
        this.uncapturedTx.set(writes, this.uncapturedWrite(sc.app.name));
        return;
      }
      const changes: Change[] = [];
      for (const w of writes) {
        const c = changeOf(sc, w);
        if (c) changes.push(c);
      }
      if (changes.length === 0) return;
      await insertChanges(sc.tx, changes, sc.now);
      this.captured.add(writes);
    },
    afterCommit: async (ctx: OpContext, writes) => {
      this.settled(writes);
      if (this.captured.has(writes)) this.kick(ctx.app);
    },
    afterRollback: async (_ctx: OpContext, writes) => this.settled(writes),
  };

  /**
   * For a process that serves no streams (the command line): learns which apps are subscribed somewhere, so its
   * writes capture events like a server's. Call before writing, and `announce` after.
   */
  async joinAsWriter(): Promise<void> {
    await this.leases.readLive();
  }

  /** Numbers what this process captured in `app` now and tells the instances holding streams; resolves when done. */
  async announce(app: { name: string; db: Database }): Promise<void> {
    const done = await sequence(app.db);
    if (done) this.tellHolders(app.name, done);
  }

  /** Tells the other instances with streams of `app` which ids a sequencer run numbered. */
  private tellHolders(app: string, done: Sequenced): void {
    if (!this.leases.remoteHolders(app)) return;
    const list = done.entities.join(',');
    this.notices.announce(app, this.origin, `${SEQUENCED_NOTICE}:${done.first}-${done.last}${list.length <= NOTICE_ENTITIES_MAX ? `:${list}` : ''}`);
  }

  /** Sample-data rows of an import become `create` events (call `kick` once the import is done). */
  sampleRows(app: string, caller: Caller): SampleRowHook {
    const by = byOf({ caller });
    return {
      wants: () => this.capturing(app),
      inserted: async (tx, entity, row) => {
        const pk = row[entity.pk.name];
        const id = pk === null || pk === undefined ? null : String(pk);
        await insertChanges(tx, [{ entity: entity.name, action: 'create', record_id: id, row, changed: null, by }], nowIso());
      },
    };
  }

  /** The pruning job (also a safety net for captures no sequencer run took). */
  jobs(): Array<Job<JobApp>> {
    return [
      {
        name: 'realtime-prune',
        intervalMs: PRUNE_INTERVAL_MS,
        run: async (app) => {
          const pruned = await pruneRealtime(app.db, this.settings.retention);
          if (await hasPending(app.db)) this.kick(app);
          return pruned;
        },
      },
    ];
  }

  /**
   * Numbers the committed captures of `app` (sequencer.ts), then tells this instance's feed and the
   * instances that hold a lease of the app. Runs of one instance are coalesced: a kick during a run
   * makes one more run after it, and runs start at most every SEQUENCE_TICK_MS.
   */
  kick(app: { name: string; db: Database }): void {
    let s = this.sequencers.get(app.name);
    if (!s) {
      s = { db: app.db, running: false, again: false, timer: undefined, started: -Infinity };
      this.sequencers.set(app.name, s);
    }
    s.db = app.db;
    if (s.running) {
      s.again = true;
      return;
    }
    if (s.timer) return;
    const state = s;
    const wait = state.started + SEQUENCE_TICK_MS - performance.now();
    if (wait > 0) {
      state.timer = setTimeout(() => {
        state.timer = undefined;
        if (!this.stopped) this.run(app.name, state);
      }, wait);
      state.timer.unref();
      return;
    }
    this.run(app.name, state);
  }

  private run(name: string, state: SequencerState): void {
    state.running = true;
    state.again = false;
    state.started = performance.now();
    void (async () => {
      try {
        const done = await sequence(state.db);
        if (done) {
          this.feeds.get(name)?.wake(done);
          this.tellHolders(name, done);
        }
        state.running = false;
        if (state.again && !this.stopped) this.kick({ name, db: state.db });
      } catch (err) {
        state.running = false;
        this.log.error({ err, app: name }, 'realtime sequencer run failed; retrying');
        if (!this.stopped) setTimeout(() => this.kick({ name, db: state.db }), RETRY_MS).unref();
      }
    })();
  }

  // --- streams ------------------------------------------------------------------------------------

  /** Before a stream of `app` opens: capture is on on every instance once this resolves. */
  async admit(app: { name: string; db: Database }): Promise<void> {
    await this.takeLease(app);
  }

  /**
   * Takes or renews `app`'s capture lease; after a lapse, resuming from before it must reset (sequencer.ts).
   * Streams opening together (a reconnect storm) share one take: a stream arriving while one is in flight
   * waits for it (it ends after every instance acknowledged, so also after this stream's request), and one
   * arriving within FRESH_LEASE_MS of a completed take needs none (the lease runs LEASE_MS from that take).
   */
  private takeLease(app: { name: string; db: Database }): Promise<void> {
    const inFlight = this.taking.get(app.name);
    if (inFlight) return inFlight;
    const taken = this.takenAt.get(app.name);
    if (taken !== undefined && performance.now() - taken < FRESH_LEASE_MS && this.leases.active(app.name)) return Promise.resolve();
    const take = (async () => {
      const started = performance.now();
      if (await this.leases.take(app.name)) await markCaptureGap(app.db);
      this.takenAt.set(app.name, started);
    })().finally(() => this.taking.delete(app.name));
    this.taking.set(app.name, take);
    return take;
  }

  /** Runs a stream on a hijacked response: `ready`, then resume or `reset`, then live events. */
  async stream(app: RealtimeApp, caller: Caller, request: SubscriptionRequest, res: ServerResponse, lastEventId: string | undefined): Promise<void> {
    let feed = this.feeds.get(app.name);
    if (!feed) {
      feed = new AppFeed(app, (sub, why) => this.revoke(app.name, sub, why));
      this.feeds.set(app.name, feed);
    }
    feed.follow(app);
    if (this.apps.get(app.name) !== app) {
      // A user's status changing (disabled, deleted, tokens revoked: here or, through the change bus, on
      // another instance) closes their streams at once rather than at the next watch round.
      this.userWatch.get(app.name)?.();
      this.userWatch.set(
        app.name,
        app.users.onChange(() => this.watchNow()),
      );
    }
    this.apps.set(app.name, app);
    const current = feed;
    const sub: Subscriber = {
      caller,
      entities: new Set(request.entities),
      filters: request.filters,
      last: 0,
      stream: new EventStream(res, {
        maxQueue: this.settings.maxQueue,
        pingMs: this.settings.pingMs,
        onClose: () => {
          current.subscribers.delete(sub);
          this.streams.delete(sub.stream);
          this.settings.onStreams?.(this.streams.size);
        },
      }),
    };
    this.streams.set(sub.stream, app.name);
    this.settings.onStreams?.(this.streams.size);
    let visible: { last: number; prunedThrough: number };
    try {
      visible = await feed.position();
    } catch (err) {
      this.log.error({ err, app: app.name }, 'realtime stream could not start');
      sub.stream.close();
      return;
    }
    sub.stream.start(request.entities);
    try {
      await feed.join(sub, lastEventId, visible);
    } catch (err) {
      this.log.error({ err, app: app.name }, 'realtime stream could not start');
      sub.stream.close();
    }
  }

  private revoke(app: string, sub: Subscriber, why: string): void {
    this.log.info({ app, user: sub.caller.id, why }, 'realtime stream closed');
    sub.stream.close();
  }

  /** Runs `watch`, or once more after the run in progress. */
  private watchNow(): void {
    if (this.watching) {
      this.watchAgain = true;
      return;
    }
    this.watching = true;
    this.watch()
      .catch((err: unknown) => this.log.warn({ err }, 'realtime watch failed'))
      .finally(() => {
        this.watching = false;
        if (this.watchAgain) {
          this.watchAgain = false;
          this.watchNow();
        }
      });
  }

  /** Closes streams whose user was disabled or deleted (or their tokens revoked), or that lost read on a subscribed entity. */
  private async watch(): Promise<void> {
    for (const [name, feed] of this.feeds) {
      const app = this.apps.get(name);
      if (!app || feed.subscribers.size === 0) continue;
      const status = new Map<string, Promise<UserStatus>>();
      for (const sub of [...feed.subscribers]) {
        for (const entity of sub.entities) {
          try {
            if (!app.registry.entities.has(entity)) throw new Error(`entity ${entity} is gone`);
            app.permissions.readScope(sub.caller, entity);
          } catch {
            this.revoke(name, sub, `no read on ${entity}`);
            break;
          }
        }
        if (!sub.stream.open || sub.caller.platform || sub.caller.id === SYSTEM_ACTOR.id) continue;
        let pending = status.get(sub.caller.id);
        if (!pending) {
          pending = app.users.get(sub.caller.id);
          status.set(sub.caller.id, pending);
        }
        const user = await pending;
        if (!acceptsToken(user, sub.caller.issuedAt ?? 0)) this.revoke(name, sub, 'user disabled or deleted, or their tokens revoked');
        // An email change keeps the user's tokens, and REST reads `$user.email` afresh on every request: so does the stream.
        else if (user.email !== sub.caller.email) sub.caller = { ...sub.caller, email: user.email };
      }
    }
  }

  /** Keeps this instance's heartbeat and the leases of apps with streams. */
  private async renew(): Promise<void> {
    await this.leases.beat();
    for (const [name, feed] of this.feeds) {
      const app = this.apps.get(name);
      if (app && feed.subscribers.size > 0) await this.takeLease(app);
    }
  }

  private async sweep(): Promise<void> {
    for (const [name, feed] of this.feeds) {
      const app = this.apps.get(name);
      if (!app || feed.subscribers.size === 0) continue;
      try {
        if (await hasPending(app.db)) this.kick(app);
      } catch (err) {
        this.log.debug({ err, app: name }, 'realtime sweep: app database not reachable');
      }
      // A notice may have been lost (e.g. the management database restarted): read anyway.
      feed.wake();
    }
  }

  // --- life -----------------------------------------------------------------------------------------

  /** Reads the live leases and follows the other instances' notices; call before serving. */
  async start(): Promise<void> {
    this.unlisten = this.notices.onTopic('realtime:', (app, origin, what) => {
      // This instance's own runs woke its feed already.
      if (what === SEQUENCED_NOTICE || what.startsWith(`${SEQUENCED_NOTICE}:`)) {
        if (origin !== this.origin) this.feeds.get(app)?.wake(sequencedOf(what));
      } else this.leases.heard(app, origin, what);
    });
    await this.leases.load();
    const every = (ms: number, fn: () => Promise<void>, what: string) => {
      let busy = false;
      const t = setInterval(() => {
        if (busy) return;
        busy = true;
        fn()
          .catch((err: unknown) => this.log.warn({ err }, `realtime ${what} failed`))
          .finally(() => (busy = false));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    const watchTimer = setInterval(() => this.watchNow(), WATCH_MS);
    watchTimer.unref();
    this.timers.push(watchTimer);
    every(RENEW_MS, () => this.renew(), 'lease renewal');
    every(SWEEP_MS, () => this.sweep(), 'sweep');
  }

  /** The app was deleted: its streams end. */
  closeApp(name: string): void {
    for (const [stream, app] of [...this.streams]) if (app === name) stream.close();
    this.feeds.delete(name);
    this.apps.delete(name);
    this.takenAt.delete(name);
    this.userWatch.get(name)?.();
    this.userWatch.delete(name);
  }

  /** Shutdown: every stream ends cleanly, timers stop, other instances stop waiting for this one. */
  async closeAll(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.unlisten?.();
    for (const stop of this.userWatch.values()) stop();
    this.userWatch.clear();
    for (const stream of [...this.streams.keys()]) stream.close();
    await this.leases.leave().catch((err: unknown) => this.log.warn({ err }, 'realtime: instance row not removed'));
  }
}

/** What a sequencer notice says was numbered (undefined when it does not say which entities). */
function sequencedOf(what: string): Sequenced | undefined {
  const [, , range, list] = what.split(':');
  const m = /^(\d{1,15})-(\d{1,15})$/.exec(range ?? '');
  if (!m || list === undefined) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first < 1 || last < first) return undefined;
  return { first, last, entities: list === '' ? [] : list.split(',') };
}
