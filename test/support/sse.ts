import http from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * A Server-Sent Events reader for tests: a real HTTP request kept open, its
 * body parsed into events as the spec of text/event-stream frames them
 * (`id:`, `event:`, `data:` lines, a blank line ends an event, `:` starts a
 * comment).
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = '';
  private waiters: Array<() => void> = [];

  private constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly res: http.IncomingMessage,
    private readonly req: http.ClientRequest,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    const end = () => {
      this.ended = true;
      this.notify();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  }

  /** Opens a stream; a non-200 answer comes back as `{status, body}` (the JSON error envelope). */
  static open(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseReader | { status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = http.get(baseUrl + path, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              /* keep text */
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
          return;
        }
        resolve(new SseReader(200, res.headers, res, req));
      });
      req.on('error', reject);
    });
  }

  /** Stops reading (TCP backpressure reaches the server once the buffers fill). */
  pause(): void {
    this.res.pause();
  }

  close(): void {
    this.req.destroy();
  }

  /** Waits until `count` events (of `type`, when given) have arrived, or the stream ended; returns them. */
  async waitFor(count: number, type?: string, timeoutMs = 10_000): Promise<SseEvent[]> {
    const pick = () => this.events.filter((e) => type === undefined || e.event === type);
    await this.until(() => pick().length >= count || this.ended, timeoutMs);
    return pick();
  }

  /** Waits until the server ended the stream. */
  async waitEnd(timeoutMs = 10_000): Promise<void> {
    await this.until(() => this.ended, timeoutMs);
  }

  async until(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SSE wait timed out; events so far: ${JSON.stringify(this.events.map((e) => e.event))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    for (let cut = this.buffer.indexOf('\n\n'); cut >= 0; cut = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut + 2);
      const ev: { id?: string; event?: string; data: string[] } = { data: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trim());
          continue;
        }
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'id') ev.id = value;
        else if (field === 'event') ev.event = value;
        else if (field === 'data') ev.data.push(value);
      }
      if (ev.data.length === 0 && ev.event === undefined) continue;
      const text = ev.data.join('\n');
      let data: unknown = text;
      try {
        data = JSON.parse(text);
      } catch {
        /* keep text */
      }
      this.events.push({ ...(ev.id !== undefined && { id: ev.id }), event: ev.event ?? 'message', data });
    }
    this.notify();
  }
}
