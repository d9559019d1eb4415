import type { Caller } from '../auth/caller.js';
import type { ReadScope } from '../auth/permissions.js';
import type { UserStatusCache } from '../auth/user-status.js';
import type { EngineApp, Record_ } from '../engine/context.js';
import { Params } from '../engine/params.js';
import { filterSql, scopeSql, type ListQuery } from '../engine/query.js';
import { recordOf } from '../engine/read.js';
import type { EntityMeta } from '../metadata/registry.js';
import { exactJson } from '../types/exact-json.js';
import { visibleLast } from './sequencer.js';
import type { EventStream } from './stream.js';

/** What the feed needs of an app: the engine's view plus its users' status (revoked users lose their streams). */
export interface RealtimeApp extends EngineApp {
  readonly users: UserStatusCache;
}

/** One open stream and what it may see. */
export interface Subscriber {
  readonly stream: EventStream;
  readonly caller: Caller;
  readonly entities: ReadonlySet<string>;
  /** `filter[...]` of its single entity (none with several). */
  readonly filters: ListQuery['filters'];
  /** Highest event id this stream has been given or passed over: nothing at or below it is sent again. */
  last: number;
}

/** Log rows read per round. */
const PAGE = 500;

interface LogHead {
  id: string;
  entity: string;
}

/**
 * The change feed of one app on this instance, shared by all its local
 * streams: it reads the log past the last id it handled (one reader per app,
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

  constructor(
    private app: RealtimeApp,
    /** Called when a stream loses the right to its events (read permission, entity gone). */
    private readonly revoke: (sub: Subscriber, why: string) => void,
  ) {}

  /** The runtime may be rebuilt (app reloaded): the feed follows it. */
  follow(app: RealtimeApp): void {
    this.app = app;
  }

  /** Adds a stream after `ready`: resumes it from `lastEventId` when that is inside the window, else `reset`. */
  join(sub: Subscriber, lastEventId: string | undefined): Promise<void> {
    return this.serial(async () => {
      const visible = await visibleLast(this.app.db);
      // With no stream to serve, the feed starts over at the present; else it first brings its streams up to it.
      if (this.subscribers.size === 0) this.last = visible.last;
      else await this.pumpAll();
      const from = lastEventId === undefined ? undefined : resumePoint(lastEventId);
      if (lastEventId !== undefined) {
        if (from === undefined || from < visible.prunedThrough || from > Math.max(this.last, visible.last)) {
          sub.stream.reset(this.last);
          sub.last = this.last;
        } else if (from < this.last) {
          sub.last = from;
          let after = from;
          while (after < this.last && sub.stream.open) after = await this.round([sub], after, this.last);
          sub.last = Math.max(sub.last, this.last);
        } else {
          sub.last = from;
        }
      } else {
        sub.last = this.last;
      }
      if (sub.stream.open) this.subscribers.add(sub);
    });
  }

  /** New events may be in the log (a notice, a local sequencer run, the safety poll). */
  wake(): void {
    if (this.pumpQueued || this.subscribers.size === 0) return;
    this.pumpQueued = true;
    void this.serial(async () => {
      this.pumpQueued = false;
      await this.pumpAll();
    });
  }

  /** Runs `fn` after everything queued before it; a failure is logged and does not stop the chain. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn);
    this.chain = run.catch((err: unknown) => this.app.log.error({ err, app: this.app.name }, 'realtime feed round failed'));
    return run;
  }

  private async pumpAll(): Promise<void> {
    for (;;) {
      const subs = [...this.subscribers].filter((s) => s.stream.open);
      if (subs.length === 0) return;
      const next = await this.round(subs, this.last);
      if (next === this.last) return;
      this.last = next;
    }
  }

  /**
   * One page of the log after `after` (up to `upto`), offered to `subs`; the
   * highest id read (`after` when there was none).
   */
  private async round(subs: readonly Subscriber[], after: number, upto?: number): Promise<number> {
    const db = this.app.db;
    const heads = await db.query<LogHead>(
      `SELECT id::text AS id, entity FROM _realtime_log WHERE id > $1::bigint${upto === undefined ? '' : ' AND id <= $3::bigint'} ORDER BY id LIMIT $2`,
      upto === undefined ? [after, PAGE] : [after, PAGE, upto],
    );
    if (heads.length === 0) return after;
    const end = Number(heads[heads.length - 1]!.id);
    const events: Array<{ id: number; json: string; to: Subscriber[] }> = [];
    const registry = this.app.registry;
    for (const name of new Set(heads.map((h) => h.entity))) {
      const entity = registry.entities.get(name);
      const interested = subs.filter((s) => s.entities.has(name));
      if (!entity || interested.length === 0) continue;
      events.push(...(await this.entityEvents(entity, interested, after, end)));
    }
    events.sort((a, b) => a.id - b.id);
    const out = new Map<Subscriber, Array<{ id: number; json: string }>>();
    for (const e of events) {
      for (const s of e.to) {
        if (e.id <= s.last) continue;
        let list = out.get(s);
        if (!list) out.set(s, (list = []));
        list.push(e);
      }
    }
    for (const [s, list] of out) if (s.stream.open) s.stream.changes(list);
    for (const s of subs) s.last = Math.max(s.last, end);
    return end;
  }

  /** The events of one entity in (after, end], each with the streams that may see it. */
  private async entityEvents(entity: EntityMeta, subs: readonly Subscriber[], after: number, end: number) {
    const params = new Params();
    const lo = params.add(after, 'int8');
    const hi = params.add(end, 'int8');
    const name = params.add(entity.name, 'text');
    // Streams with the same visibility share one predicate column; `null` = sees every row.
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
    if (columnOf.size === 0) return [];
    const rows = await this.app.db.query<Record_>(
      `SELECT l.id::text AS "rt~id", l.action AS "rt~action", l.record_id AS "rt~record", l.changed AS "rt~changed",
              l.at AS "rt~at", l.by AS "rt~by", r.*${predicates.map((p) => `, ${p}`).join('')}
         FROM _realtime_log l CROSS JOIN LATERAL jsonb_populate_record(NULL::${entity.table}, l.row) r
        WHERE l.id > ${lo} AND l.id <= ${hi} AND l.entity = ${name}
        ORDER BY l.id`,
      params.list,
    );
    const encode = this.app.registry.hasBigint ? exactJson : JSON.stringify;
    return rows.map((row) => {
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
      const to = [...columnOf].filter(([, col]) => col === null || row[`rt~p${col}`] === true).map(([s]) => s);
      return { id: Number(row['rt~id']), json: encode(payload), to };
    });
  }
}

/** A Last-Event-ID as an event id: a positive decimal integer, else undefined (→ reset). */
function resumePoint(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 ? n : undefined;
}
