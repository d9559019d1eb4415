import type { Logger } from 'pino';
import type { Database } from '../db/database.js';

/** How long a lease keeps capture on without being renewed. */
export const LEASE_MS = 30_000;
/** Instances with streams of an app renew its lease this often; instances beat their heartbeat as often. */
export const RENEW_MS = 10_000;
/** An instance whose heartbeat is older than this is taken for gone (not waited for). */
const INSTANCE_TTL_SECONDS = 30;
/** How often a first stream still waiting for acknowledgements checks that the instances it waits for are alive. */
const ACK_CHECK_MS = 3000;

/** The change notices realtime sends between instances (the platform's ChangeBus). */
export interface Notices {
  onTopic(prefix: string, listener: (app: string, origin: string, what: string) => void): () => void;
  announce(app: string, origin: string, what: string): void;
}

/** Renewal of a lease. */
export const LEASE_NOTICE = 'realtime:on';
/** A lease that needs every instance's acknowledgement before the stream that took it says `ready`. */
export const JOIN_NOTICE = 'realtime:join';
/** "Writes of this app capture here now." */
export const ACK_NOTICE = 'realtime:ack';

/**
 * Capture leases: writes of an app capture change events only while some
 * instance has a stream of that app, so with no subscriber anywhere the write
 * paths run exactly the statements they ran before. An instance holding
 * streams of an app keeps a lease on it — a row in the management database
 * (read by every instance as it starts, before it serves) and a notice on the
 * change bus (heard by every running instance) — renewed every RENEW_MS and
 * valid LEASE_MS.
 *
 * The first stream of an app on an instance where capture was off does not
 * say `ready` until every running instance (heartbeats in the management
 * database) has acknowledged the lease: an instance acknowledges only after it
 * switched capture on and the writes that had decided not to capture are over,
 * so every write that commits after `ready` is captured, whichever instance
 * makes it. An instance that starts registers its heartbeat
 * before it reads the leases, so it either is waited for or has read the lease.
 */
export class CaptureLeases {
  /** App → until when (ms, this process's clock) writes capture. */
  private readonly until = new Map<string, number>();
  /**
   * App → other instances known to hold its lease, and until when: only they need to be told of new
   * events (a notice is a wake-up; their sweep reads the log anyway). Leases read at start-up have no
   * known holder and count under `?`.
   */
  private readonly holders = new Map<string, Map<string, number>>();
  /** App → acknowledgements awaited by first streams: the instances not yet heard from. */
  private readonly waiting = new Map<string, Array<{ missing: Set<string>; done: () => void }>>();

  constructor(
    private readonly mgmt: Database,
    private readonly notices: Notices,
    private readonly origin: string,
    private readonly log: Logger,
    /** Resolves once no write of the app that decided, capture being off, not to capture is still in flight. */
    private readonly uncapturedOver: (app: string) => Promise<void> = async () => {},
  ) {}

  /** Registers this instance, then reads the live leases: before the instance serves. */
  async load(): Promise<void> {
    await this.beat();
    await this.readLive();
  }

  /** Reads the live leases without registering (a process that serves no stream: the command line). */
  async readLive(): Promise<void> {
    const rows = await this.mgmt.query<{ app: string; ms: number }>(
      `SELECT app, (extract(epoch FROM until - now()) * 1000)::float8 AS ms FROM _realtime_leases WHERE until > now()`,
    );
    for (const r of rows) {
      this.extend(r.app, Number(r.ms));
      this.held(r.app, '?', Number(r.ms));
    }
  }

  async beat(): Promise<void> {
    await this.mgmt.query(`INSERT INTO _realtime_instances (origin, seen) VALUES ($1, now()) ON CONFLICT (origin) DO UPDATE SET seen = now()`, [
      this.origin,
    ]);
  }

  /** Shutdown: nobody waits for this instance any more. */
  async leave(): Promise<void> {
    await this.mgmt.query('DELETE FROM _realtime_instances WHERE origin = $1', [this.origin]);
  }

  active(app: string): boolean {
    return (this.until.get(app) ?? 0) > Date.now();
  }

  /** Whether an instance other than this one may have streams of `app` (and so wants to hear of its events). */
  remoteHolders(app: string): boolean {
    const now = Date.now();
    for (const [origin, until] of this.holders.get(app) ?? []) if (origin !== this.origin && until > now) return true;
    return false;
  }

  /** A realtime notice about `app` arrived (from any instance, this one included). */
  heard(app: string, origin: string, what: string): void {
    if (what === LEASE_NOTICE) {
      this.extend(app, LEASE_MS);
      this.held(app, origin, LEASE_MS);
    } else if (what === JOIN_NOTICE) {
      this.extend(app, LEASE_MS);
      // Recorded before the acknowledgement: every run of this instance after it tells the joiner.
      this.held(app, origin, LEASE_MS);
      // Writes that decided not to capture just before may still commit: acknowledge once they are over, so
      // that every write committing after the joiner's `ready` is captured.
      void this.uncapturedOver(app).then(() => this.notices.announce(app, this.origin, ACK_NOTICE));
    } else if (what === ACK_NOTICE) {
      const list = this.waiting.get(app);
      if (!list) return;
      for (const w of [...list]) {
        w.missing.delete(origin);
        if (w.missing.size === 0) w.done();
      }
    }
  }

  /**
   * Takes or renews the lease of `app`; when capture was off here, resolves once every running instance captures.
   * Resolves to whether the lease had lapsed (or never existed): writes may then have gone uncaptured.
   */
  async take(app: string): Promise<boolean> {
    const wasActive = this.active(app);
    this.extend(app, LEASE_MS);
    const rows = await this.mgmt.query<{ lapsed: boolean }>(
      `WITH prev AS (SELECT until > now() AS live FROM _realtime_leases WHERE app = $1)
       INSERT INTO _realtime_leases (app, until) VALUES ($1, now() + make_interval(secs => $2::int))
       ON CONFLICT (app) DO UPDATE SET until = GREATEST(_realtime_leases.until, EXCLUDED.until)
       RETURNING NOT COALESCE((SELECT live FROM prev), false) AS lapsed`,
      [app, LEASE_MS / 1000],
    );
    const lapsed = rows[0]?.lapsed ?? true;
    // Capture still on here is not enough when the shared lease had lapsed: the other instances' own clocks
    // may have switched capture off already, so they must acknowledge again before a stream says `ready`.
    if (wasActive && !lapsed) {
      this.notices.announce(app, this.origin, LEASE_NOTICE);
      return false;
    }
    const missing = new Set([this.origin, ...(await this.liveInstances())]);
    let timer: NodeJS.Timeout | undefined;
    const giveUpAt = Date.now() + INSTANCE_TTL_SECONDS * 1000;
    const acknowledged = new Promise<void>((resolve) => {
      let finished = false;
      const entry = {
        missing,
        done: () => {
          if (finished) return;
          finished = true;
          const list = this.waiting.get(app) ?? [];
          list.splice(list.indexOf(entry), 1);
          if (list.length === 0) this.waiting.delete(app);
          resolve();
        },
      };
      const list = this.waiting.get(app) ?? [];
      list.push(entry);
      this.waiting.set(app, list);
      // A slow instance (a loaded machine) is waited for as long as its heartbeat is fresh: saying `ready`
      // before it captures would lose its writes. Only instances gone without a goodbye are given up on.
      const recheck = () => {
        timer = setTimeout(() => {
          if (finished) return;
          this.liveInstances().then(
            (live) => {
              if (live.some((origin) => missing.has(origin)) && Date.now() < giveUpAt) return recheck();
              this.log.warn({ app, missing: [...missing] }, 'realtime: instances did not acknowledge a capture lease in time');
              entry.done();
            },
            (err: unknown) => {
              this.log.warn({ err, app }, 'realtime: instance heartbeats not readable; not waiting for acknowledgements');
              entry.done();
            },
          );
        }, ACK_CHECK_MS);
      };
      recheck();
    });
    this.notices.announce(app, this.origin, JOIN_NOTICE);
    await acknowledged;
    clearTimeout(timer);
    return lapsed;
  }

  /** The instances whose heartbeat is fresh. */
  private async liveInstances(): Promise<string[]> {
    const rows = await this.mgmt.query<{ origin: string }>(
      `SELECT origin FROM _realtime_instances WHERE seen > now() - make_interval(secs => $1::int)`,
      [INSTANCE_TTL_SECONDS],
    );
    return rows.map((r) => r.origin);
  }

  private held(app: string, origin: string, ms: number): void {
    let m = this.holders.get(app);
    if (!m) {
      m = new Map();
      this.holders.set(app, m);
    }
    m.set(origin, Math.max(m.get(origin) ?? 0, Date.now() + ms));
  }

  private extend(app: string, ms: number): void {
    this.until.set(app, Math.max(this.until.get(app) ?? 0, Date.now() + ms));
  }
}
