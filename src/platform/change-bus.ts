import type { Logger } from 'pino';
import type { Database } from '../db/database.js';

/** NOTIFY channel of the management database: `{"app","origin","what"}` for every app's changes. */
export const CHANNEL = 'rocket_changes';

/** A notice that could not be sent is tried again after 0.2 s, 0.4 s, … (about 50 s in all). */
const RESEND_FIRST_MS = 200;
const RESEND_ATTEMPTS = 8;

type Listener = (origin: string, what: string) => void;
/** A feature's notices, for every app: those whose `what` starts with the topic's prefix. */
type TopicListener = (app: string, origin: string, what: string) => void;

/**
 * Change notices between server instances ("metadata changed", "user X
 * changed") for every app over one listening connection per instance: NOTIFY
 * reaches only the listeners of its own database, so all apps announce on the
 * management database with their name in the payload, wherever their own
 * database lives.
 */
export class ChangeBus {
  private readonly listeners = new Map<string, Listener>();
  private readonly topics: Array<{ prefix: string; listener: TopicListener }> = [];
  private readonly relisteners = new Set<() => void>();

  constructor(
    private readonly mgmt: Database,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.mgmt.listen(
      CHANNEL,
      (payload) => {
        let notice: { app?: unknown; origin?: unknown; what?: unknown };
        try {
          notice = JSON.parse(payload) as typeof notice;
        } catch {
          return;
        }
        if (typeof notice.app !== 'string' || typeof notice.origin !== 'string' || typeof notice.what !== 'string') return;
        const what = notice.what;
        const topic = this.topics.find((t) => what.startsWith(t.prefix));
        if (topic) topic.listener(notice.app, notice.origin, what);
        else this.listeners.get(notice.app)?.(notice.origin, what);
      },
      () => {
        // The listening connection was lost (e.g. PostgreSQL restarted, the backend was terminated): the notices
        // sent until it was back are gone, so whoever follows them reads their state afresh.
        this.log.warn('change notices: listening again after a lost connection; reloading what they keep current');
        for (const fn of this.relisteners) fn();
      },
    );
  }

  /** `fn` runs whenever notices may have been missed (listening resumed after a lost connection); returns the unsubscribe. */
  onMissed(fn: () => void): () => void {
    this.relisteners.add(fn);
    return () => this.relisteners.delete(fn);
  }

  /**
   * A feature's own notices (e.g. realtime's `realtime:` ones), of every app; they are not handed to
   * the app runtimes. Returns the unsubscribe.
   */
  onTopic(prefix: string, listener: TopicListener): () => void {
    const entry = { prefix, listener };
    this.topics.push(entry);
    return () => {
      const i = this.topics.indexOf(entry);
      if (i >= 0) this.topics.splice(i, 1);
    };
  }

  /** The live runtime of `app` follows its notices; returns the unsubscribe. */
  subscribe(app: string, listener: Listener): () => void {
    this.listeners.set(app, listener);
    return () => {
      if (this.listeners.get(app) === listener) this.listeners.delete(app);
    };
  }

  announce(app: string, origin: string, what: string): void {
    void this.announceNow(app, origin, what);
  }

  /**
   * `announce`, done when the notice is sent (a command-line process must not exit before). A notice that
   * cannot be sent (no connection to the management database) is sent again a little later: the other
   * instances would otherwise go on serving what changed as it was, for good. Sending one twice or late is
   * harmless: every notice makes its hearers read the current state.
   */
  async announceNow(app: string, origin: string, what: string, attempt = 0): Promise<void> {
    await this.mgmt.notify(CHANNEL, JSON.stringify({ app, origin, what })).catch((err: unknown) => {
      const retry = attempt < RESEND_ATTEMPTS && !this.mgmt.closed;
      this.log.warn({ err, app, what, retry }, 'change notice not sent');
      if (!retry) return;
      const timer = setTimeout(() => void this.announceNow(app, origin, what, attempt + 1), RESEND_FIRST_MS * 2 ** attempt);
      timer.unref();
    });
  }
}
