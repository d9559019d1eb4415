import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a stream cut off for being slow may take to flush its final `reset` before its socket is dropped. */
// A reader paused for a while (a backgrounded tab) still finds its events and the reset when it reads again.
const FLUSH_GRACE_MS = 60_000;

export interface StreamOptions {
  /** More events than this waiting for the reader → `reset` and close. */
  maxQueue: number;
  pingMs: number;
  /** Called once, however the stream ended. */
  onClose: () => void;
}

/**
 * One Server-Sent Events response. Once the headers are out, frames go to the
 * socket directly (in HTTP/1.1 chunks when the response is chunked): a feed
 * round hands the very same bytes to every stream that sees the same events,
 * in one socket write each. Frames go straight out while the socket takes
 * them; once its buffer is full they wait in a queue of at most `maxQueue`
 * events, and a reader that lets the queue overflow gets `reset` and is closed
 * — so a slow reader costs at most that many events of memory.
 */
export class EventStream {
  /** Frames waiting for the reader, and how many events they hold. */
  private readonly queue: Array<{ bytes: Buffer; events: number }> = [];
  private queuedEvents = 0;
  private ended = false;
  private readonly ping: NodeJS.Timeout;
  private chunked = false;
  private readonly socket: Socket | null;
  private readonly onDrain = () => this.flush();

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: StreamOptions,
  ) {
    res.on('close', () => this.finish());
    this.socket = res.socket;
    this.socket?.on('drain', this.onDrain);
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

  /** Whether `frames` for `changes` must be HTTP chunks (see `chunk`); known once `start` ran. */
  get wantsChunks(): boolean {
    return this.chunked;
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
    this.chunked = this.res.chunkedEncoding;
    this.write(`event: ready\ndata: ${JSON.stringify({ entities })}\n\n`);
  }

  /**
   * `count` change events in id order, the last one `lastId`, already framed (as `chunk` made them
   * when `wantsChunks`): one socket write for a whole round of the feed.
   */
  changes(frames: Buffer, count: number, lastId: number): void {
    if (count > 0) this.send(frames, count, lastId);
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

  private get needsDrain(): boolean {
    return this.res.socket?.writableNeedDrain ?? false;
  }

  private send(bytes: Buffer, events: number, lastId: number): void {
    if (this.ended) return;
    if (this.queue.length > 0 || this.needsDrain) {
      this.queue.push({ bytes, events });
      this.queuedEvents += events;
      if (this.queuedEvents > this.opts.maxQueue) this.overflow(lastId);
      return;
    }
    this.res.socket?.write(bytes);
  }

  private write(text: string): void {
    if (!this.ended) this.res.socket?.write(chunk(text, this.chunked));
  }

  private flush(): void {
    // Only while the socket takes it: its own buffer never holds more than about one round beyond its mark.
    while (!this.ended && this.queue.length > 0 && !this.needsDrain) {
      const next = this.queue.shift()!;
      this.queuedEvents -= next.events;
      this.res.socket?.write(next.bytes);
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
    // The client may send its next request on this socket once the response ended.
    this.socket?.off('drain', this.onDrain);
    this.opts.onClose();
  }
}

/** SSE text as written to the socket: an HTTP/1.1 chunk of a chunked response, else as it is. */
export function chunk(text: string, chunked: boolean): Buffer {
  const body = Buffer.from(text);
  if (!chunked) return body;
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, CRLF]);
}

const CRLF = Buffer.from('\r\n');
