import type { ServerResponse } from 'node:http';

/** How long a stream cut off for being slow may take to flush its final `reset` before its socket is dropped. */
const FLUSH_GRACE_MS = 10_000;

export interface StreamOptions {
  /** More events than this waiting for the reader → `reset` and close. */
  maxQueue: number;
  pingMs: number;
  /** Called once, however the stream ended. */
  onClose: () => void;
}

/**
 * One Server-Sent Events response. Frames go straight to the socket while it
 * takes them; once Node's buffer is full they wait in a queue of at most
 * `maxQueue` events, and a reader that lets the queue overflow gets `reset`
 * and is closed — so a slow reader costs at most that many events of memory.
 */
export class EventStream {
  /** Frames waiting for the reader, and how many events they hold. */
  private readonly queue: Array<{ text: string; events: number }> = [];
  private queuedEvents = 0;
  private ended = false;
  private readonly ping: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: StreamOptions,
  ) {
    res.on('close', () => this.finish());
    res.on('drain', () => this.flush());
    this.ping = setInterval(() => {
      if (this.queue.length === 0) this.write(': ping\n\n');
    }, opts.pingMs);
    this.ping.unref();
  }

  get open(): boolean {
    return !this.ended;
  }

  /** Events waiting for the reader. */
  get queued(): number {
    return this.queuedEvents;
  }

  /** Status line and headers, then `ready`. */
  start(entities: readonly string[]): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
    this.write(`event: ready\ndata: ${JSON.stringify({ entities })}\n\n`);
  }

  /** Change events in id order, written as one chunk (one socket write for a whole round of the feed). */
  changes(events: ReadonlyArray<{ id: number; json: string }>): void {
    if (events.length === 0) return;
    let text = '';
    for (const e of events) text += `id: ${e.id}\nevent: change\ndata: ${e.json}\n\n`;
    this.send(text, events.length, events[events.length - 1]!.id);
  }

  /**
   * "Refetch what you show". It carries the id the stream has reached, so a
   * reconnect resumes from there rather than asking for the same reset again.
   */
  reset(lastId: number): void {
    this.write(`${lastId > 0 ? `id: ${lastId}\n` : ''}event: reset\ndata: {}\n\n`);
  }

  /** Ends the response (shutdown, revoked access). */
  close(): void {
    if (this.ended) return;
    this.res.end();
    this.finish();
  }

  private send(frame: string, events: number, lastId: number): void {
    if (this.ended) return;
    if (this.queue.length > 0 || this.res.writableNeedDrain) {
      this.queue.push({ text: frame, events });
      this.queuedEvents += events;
      if (this.queuedEvents > this.opts.maxQueue) this.overflow(lastId);
      return;
    }
    this.res.write(frame);
  }

  private write(frame: string): void {
    if (!this.ended) this.res.write(frame);
  }

  private flush(): void {
    // Only while the socket takes it: Node's own buffer never holds more than about one round beyond its mark.
    while (!this.ended && this.queue.length > 0 && !this.res.writableNeedDrain) {
      const next = this.queue.shift()!;
      this.queuedEvents -= next.events;
      this.res.write(next.text);
    }
  }

  /** The reader fell too far behind: drop its queue, tell it to refetch, close. */
  private overflow(lastId: number): void {
    this.queue.length = 0;
    this.queuedEvents = 0;
    this.reset(lastId);
    this.res.end();
    const socket = this.res.socket;
    const timer = setTimeout(() => socket?.destroy(), FLUSH_GRACE_MS);
    timer.unref();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.queuedEvents = 0;
    clearInterval(this.ping);
    this.opts.onClose();
  }
}
