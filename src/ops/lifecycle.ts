/**
 * Whether this instance is shutting down, and what must happen first when it
 * starts to: features that hold long-lived responses (realtime streams) hand
 * in a hook that ends them, since the HTTP server waits for every open
 * response before it closes.
 */
export class Lifecycle {
  private state: 'serving' | 'closing' = 'serving';
  private readonly hooks: Array<() => void | Promise<void>> = [];

  get closing(): boolean {
    return this.state === 'closing';
  }

  /** Runs once, when shutdown begins (before in-flight requests are awaited). */
  onShutdown(hook: () => void | Promise<void>): void {
    this.hooks.push(hook);
  }

  /** From now on /ready answers 503 and new requests are refused; runs the hooks. */
  async beginShutdown(): Promise<void> {
    if (this.state === 'closing') return;
    this.state = 'closing';
    await Promise.allSettled(this.hooks.map(async (hook) => hook()));
  }
}
