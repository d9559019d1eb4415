import type { Caller } from '../auth/caller.js';
import type { ReadScope } from '../auth/permissions.js';
import type { UserStatusCache } from '../auth/user-status.js';
import type { EngineApp, Record_ } from '../engine/context.js';
import { Params } from '../engine/params.js';
import { filterSql, scopeSql, type ListQuery } from '../engine/query.js';
import { recordOf } from '../engine/read.js';
import type { EntityMeta } from '../metadata/registry.js';
import { exactJson } from '../db/exact-json.js';
import { numberedEventsSql, visibleLast, type Sequenced } from './sequencer.js';
import { getOrInsert } from '../collections.js';
import { chunk, type EventStream } from './stream.js';

/** What the feed needs of an app: the engine's view plus its users' status (revoked users lose their streams). */
export interface RealtimeApp extends EngineApp {
  readonly users: UserStatusCache;
}

/** One open stream and what it may see. */
export interface Subscriber {
  readonly stream: EventStream;
  /** Its `email` follows the user's (the watch updates it): `$user.email` conditions hold for the user as they are now. */
  caller: Caller;
  readonly entities: ReadonlySet<string>;
  /** `filter[...]` of its single entity (none with several). */
  readonly filters: ListQuery['filters'];
  /** Highest event id this stream has been given or passed over: nothing at or below it is sent again. */
  last: number;
}

/** Log rows read per round. */
const PAGE = 500;
/**
 * Shortest time between two rounds of live events (a wake after a quiet spell is served at once):
 * 15 ms, stretched by a quarter millisecond per open stream up to 30 ms. Every round writes once to
 * each stream, so the fan-out costs streams × rounds socket writes a second; the stretch keeps that
 * near 4,000 a second from 60 streams on. With 100 streams under load, 50 ms rounds put the median
 * delay from commit to event at 55–58 ms (the sequencer's tick and the round's own work come on top);
 * 25 ms rounds, 36 ms; the streams' socket writes then took about 3 % of the server's CPU (V8 profile of a bench run).
 */
const feedTickMs = (streams: number) => Math.min(30, Math.max(15, streams * 0.25));

interface LogHead {
  id: string;
  entity: string;
}

/** A stream waiting to join the feed, with where it starts from. */
interface Joiner {
  sub: Subscriber;
  lastEventId: string | undefined;
  visible: { last: number; prunedThrough: number };
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * One change as sent: its SSE frame, and which of its entity's predicate columns hold for its row (a stream
 * sees it when its own column for the entity does, or when it has none). Kept per column, not per stream:
 * a round of n events to s streams then costs n predicate results, not n × s set entries.
 */
interface FeedEvent {
  id: number;
  entity: string;
  frame: string;
  holds: readonly boolean[];
}

/**
 * The change feed of one app on this instance, shared by all its local
 * streams: it reads the log (the numbered events, sequencer.ts) past the last id it handled (one reader per app,
 * not per stream), decides per stream which events it may see — read
 * conditions (with `$user` values) and filters evaluated by PostgreSQL on the
 * captured row with the very SQL of list and get — encodes each event once,
 * and hands it to the streams. All reading runs on one serial chain, so a
 * stream joining (and replaying from its Last-Event-ID) never interleaves
 * with a round: it misses nothing between its replay and the live events and
 * gets nothing twice.
 */
export class AppFeed {
  readonly subscribers = new Set<Subscriber>();
  /** Highest event id handled (every id up to it has been offered to the streams). */
  private last = 0;
  private chain: Promise<void> = Promise.resolve();
  private pumpQueued = false;
  /** Sequencer runs heard of since the last pump. */
  private hints: Sequenced[] = [];
  /** A wake without a hint came since the last pump: read the log as far as it goes. */
  private unhinted = false;
  /** When the last pump started (performance.now()). */
  private pumpedAt = -Infinity;
  /** Streams waiting to join, and whether a join batch is queued on the chain. */
  private readonly joiners: Joiner[] = [];
  private joinQueued = false;

  constructor(
    private app: RealtimeApp,
    /** Called when a stream loses the right to its events (read permission, entity gone). */
    private readonly revoke: (sub: Subscriber, why: string) => void,
  ) {}

  /** The runtime may be rebuilt (app reloaded): the feed follows it. */
  follow(app: RealtimeApp): void {
    this.app = app;
  }

  /**
   * Where a new stream starts: read before it says `ready`, so that a change the client makes as soon as it
   * has `ready` is after it (read later, the position could already be past that change).
   */
  position(): Promise<{ last: number; prunedThrough: number }> {
    return visibleLast(this.app.db);
  }

  /**
   * Adds a stream after `ready`: resumes it from `lastEventId` when that is inside the window, else `reset`;
   * without one, from `visible` (its `position` before `ready`). Streams that arrive together (a reconnect
   * storm after a restart) join in one batch: the events they missed are read and encoded once for all of them.
   */
  join(sub: Subscriber, lastEventId: string | undefined, visible: { last: number; prunedThrough: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.joiners.push({ sub, lastEventId, visible, resolve, reject });
      if (this.joinQueued) return;
      this.joinQueued = true;
      void this.serial(async () => {
        this.joinQueued = false;
        const batch = this.joiners.splice(0);
        try {
          await this.admit(batch);
          for (const j of batch) j.resolve();
        } catch (err) {
          for (const j of batch) j.reject(err);
          throw err;
        }
      });
    });
  }

  /** Brings a batch of joining streams up to the feed's position, then adds them to the live rounds. */
  private async admit(batch: readonly Joiner[]): Promise<void> {
    // With no stream to serve, the feed starts over at the present; else it first brings its streams up to it.
    if (this.subscribers.size === 0) {
      this.last = Math.max(...batch.map((j) => j.visible.last));
      this.hints = [];
    } else {
      this.unhinted = true;
      await this.pumpAll();
    }
    const catching: Subscriber[] = [];
    for (const { sub, lastEventId, visible } of batch) {
      if (lastEventId === undefined) {
        // Changes after the position read before `ready` are this stream's, also those a round already took
        // the other streams past.
        sub.last = Math.min(visible.last, this.last);
      } else {
        const from = resumePoint(lastEventId);
        if (from === undefined || from < visible.prunedThrough || from > Math.max(this.last, visible.last)) {
          sub.stream.reset(this.last);
          sub.last = this.last;
        } else sub.last = from;
      }
      if (sub.last < this.last) catching.push(sub);
    }
    // One replay for the whole batch: each stream is given only the events after its own position.
    let after = Math.min(this.last, ...catching.map((s) => s.last));
    while (after < this.last && catching.some((s) => s.stream.open)) after = (await this.round(catching, after, this.last)).end;
    for (const { sub } of batch) {
      sub.last = Math.max(sub.last, this.last);
      if (sub.stream.open) this.subscribers.add(sub);
    }
    // Wake-ups that came while no stream was here were dropped: read what was numbered since.
    this.unhinted = true;
    await this.pumpAll();
  }

  /**
   * New events may be in the log: `hint` says which ids a sequencer run (of this instance, or of
   * another one by its notice) numbered and of which entities; without it (the safety poll) the
   * log itself says.
   */
  wake(hint?: Sequenced): void {
    if (this.subscribers.size === 0) return;
    if (hint) this.hints.push(hint);
    else this.unhinted = true;
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // Rounds start at most every feedTickMs: each writes once to every stream, so under load one
    // round carries the events of many writes and the cost of the fan-out does not grow with the write rate.
    const wait = this.pumpedAt + feedTickMs(this.subscribers.size) - performance.now();
    const pump = () =>
      void this.serial(async () => {
        this.pumpQueued = false;
        this.pumpedAt = performance.now();
        await this.pumpAll();
      });
    if (wait > 0) setTimeout(pump, wait);
    else pump();
  }

  /** Runs `fn` after everything queued before it; a failure is logged and does not stop the chain. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn);
    this.chain = run.catch((err: unknown) => this.app.log.error({ err, app: this.app.name }, 'realtime feed round failed'));
    return run;
  }

  /**
   * Brings the streams up to the log's end. Where the sequencer runs' hints cover the ids right
   * after the last one handled without a hole, only the entities they name are read, by id range
   * (no look at the log first); past a hole (a run whose notice did not come, ids a failed run
   * burnt) or after an unhinted wake, the log is read page by page as far as it goes.
   */
  private async pumpAll(): Promise<void> {
    const hints = this.hints.sort((x, y) => x.first - y.first);
    this.hints = [];
    let scan = this.unhinted;
    this.unhinted = false;
    let covered = this.last;
    const entities = new Set<string>();
    for (const h of hints) {
      if (h.last <= covered) continue;
      if (h.first > covered + 1) {
        scan = true;
        break;
      }
      covered = h.last;
      for (const e of h.entities) entities.add(e);
    }
    while (this.last < covered) {
      const subs = this.open();
      if (subs.length === 0) return;
      const end = Math.min(covered, this.last + PAGE);
      await this.deliver(subs, this.last, end, entities);
      this.last = end;
    }
    while (scan) {
      const subs = this.open();
      if (subs.length === 0) return;
      const page = await this.round(subs, this.last);
      this.last = page.end;
      scan = page.full;
    }
  }

  private open(): Subscriber[] {
    return [...this.subscribers].filter((s) => s.stream.open);
  }

  /**
   * One page of the log after `after` (up to `upto`, whose ids are all visible), offered to `subs`:
   * the highest id handled, and whether the page was full (more may follow).
   */
  private async round(subs: readonly Subscriber[], after: number, upto?: number): Promise<{ end: number; full: boolean }> {
    // A batch holds at least one event, so PAGE batches hold the page.
    const heads = await this.app.db.query<LogHead>(
      `SELECT l.id::text AS id, l.entity FROM ${numberedEventsSql('$1::bigint', upto === undefined ? undefined : '$3::bigint', '$2')} l ORDER BY l.id LIMIT $2`,
      upto === undefined ? [after, PAGE] : [after, PAGE, upto],
    );
    const full = heads.length === PAGE;
    if (heads.length === 0) return { end: upto ?? after, full };
    const end = full || upto === undefined ? Number(heads[heads.length - 1]!.id) : upto;
    await this.deliver(subs, after, end, new Set(heads.map((h) => h.entity)));
    return { end, full };
  }

  /**
   * The events of `entities` in (after, end], to the streams that may see them. An event is encoded
   * once, and streams that see the same events of the round are written the very same bytes.
   */
  private async deliver(subs: readonly Subscriber[], after: number, end: number, entities: ReadonlySet<string>): Promise<void> {
    const events: FeedEvent[] = [];
    /** Per stream, the predicate column (or null: every row) of each entity of the round it subscribes to. */
    const seen = new Map<Subscriber, Map<string, number | null>>();
    const registry = this.app.registry;
    for (const name of entities) {
      const entity = registry.entities.get(name);
      const interested = subs.filter((s) => s.entities.has(name));
      if (!entity || interested.length === 0) continue;
      const found = await this.entityEvents(entity, interested, after, end);
      events.push(...found.events);
      for (const [s, col] of found.columnOf) getOrInsert(seen, s, () => new Map<string, number | null>()).set(name, col);
    }
    if (events.length > 0) {
      events.sort((a, b) => a.id - b.id);
      const frames = new Map<string, { bytes: Buffer; count: number; last: number } | null>();
      for (const [s, columns] of seen) {
        if (!s.stream.open) continue;
        const sig = [...columns].map(([name, col]) => `${name}:${col ?? '*'}`);
        // A stream that already got part of the range (it joined during the round) is its own group.
        const key = `${s.stream.wantsChunks ? 'c' : 'r'} ${sig.join(' ')}${s.last > after ? ` >${s.last}` : ''}`;
        let frame = frames.get(key);
        if (frame === undefined) {
          let text = '';
          let count = 0;
          let last = 0;
          for (const e of events) {
            const col = columns.get(e.entity);
            if (e.id <= s.last || col === undefined || (col !== null && !e.holds[col])) continue;
            text += e.frame;
            count++;
            last = e.id;
          }
          frame = count === 0 ? null : { bytes: chunk(text, s.stream.wantsChunks), count, last };
          frames.set(key, frame);
        }
        if (frame) s.stream.changes(frame.bytes, frame.count, frame.last);
      }
    }
    for (const s of subs) s.last = Math.max(s.last, end);
  }

  /** The events of one entity in (after, end], each with its predicate columns' results, and the column of each stream. */
  private async entityEvents(
    entity: EntityMeta,
    subs: readonly Subscriber[],
    after: number,
    end: number,
  ): Promise<{ events: FeedEvent[]; columnOf: Map<Subscriber, number | null> }> {
    const params = new Params();
    const lo = params.add(after, 'int8');
    const hi = params.add(end, 'int8');
    const name = params.add(entity.name, 'text');
    // Streams with the same visibility (read scope after `$user` substitution, and filters) share
    // one predicate column, evaluated once per event whatever the number of streams; `null` = sees every row.
    const columns = new Map<string, number>();
    const predicates: string[] = [];
    const columnOf = new Map<Subscriber, number | null>();
    for (const sub of subs) {
      let scope: ReadScope;
      let conditions: string[];
      try {
        scope = this.app.permissions.readScope(sub.caller, entity.name);
        conditions = [...filterSql(entity, sub.filters, new Params(), 'r.')];
      } catch {
        this.revoke(sub, 'read permission or filter no longer valid');
        continue;
      }
      if (scope.kind === 'all' && conditions.length === 0) {
        columnOf.set(sub, null);
        continue;
      }
      const key = JSON.stringify([scope, sub.filters]);
      let col = columns.get(key);
      if (col === undefined) {
        col = predicates.length;
        columns.set(key, col);
        const parts = [scopeSql(entity, scope, params, 'r.'), ...filterSql(entity, sub.filters, params, 'r.')].filter((p) => p !== undefined);
        predicates.push(`COALESCE((${parts.join(' AND ')}), false) AS "rt~p${col}"`);
      }
      columnOf.set(sub, col);
    }
    if (columnOf.size === 0) return { events: [], columnOf };
    // The row type comes from the table itself: a cast like NULL::"line" would name pg_catalog's type of that name;
    // the alias is no possible field name, or `SELECT t` would read a column t.
    const rows = await this.app.db.query<Record_>(
      `SELECT l.id::text AS "rt~id", l.action AS "rt~action", l.record_id AS "rt~record", l.changed AS "rt~changed",
              l.at AS "rt~at", l.by AS "rt~by", r.*${predicates.map((p) => `, ${p}`).join('')}
         FROM ${numberedEventsSql(lo, hi, String(PAGE))} l
              CROSS JOIN LATERAL jsonb_populate_record((SELECT "rt~row" FROM ${entity.table} "rt~row" LIMIT 0), l.row) r
        WHERE l.entity = ${name}
        ORDER BY l.id`,
      params.list,
    );
    const encode = this.app.registry.hasExactNumbers ? exactJson : JSON.stringify;
    const events = rows.map((row) => {
      const action = row['rt~action'] as string;
      const at = row['rt~at'];
      const payload = {
        entity: entity.name,
        action,
        id: row['rt~record'] as string | null,
        record: recordOf(entity, row),
        ...(action === 'update' && { changed: (row['rt~changed'] as string[] | null) ?? [] }),
        at: at instanceof Date ? at.toISOString() : String(at),
        by: (row['rt~by'] as string | null) ?? null,
      };
      const id = Number(row['rt~id']);
      const holds = predicates.map((_, col) => row[`rt~p${col}`] === true);
      return { id, entity: entity.name, frame: `id: ${id}\nevent: change\ndata: ${encode(payload)}\n\n`, holds };
    });
    return { events, columnOf };
  }
}

/**
 * A Last-Event-ID as a resume point: a decimal integer, else undefined (→ reset). 0 precedes the first event, so
 * it replays everything while nothing has been pruned (ids themselves start at 1).
 */
function resumePoint(text: string): number | undefined {
  const t = text.trim();
  return /^\d{1,15}$/.test(t) ? Number(t) : undefined;
}
