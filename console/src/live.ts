import { useEffect, useRef, useState } from 'preact/hooks';
import { appBase, parseJson, request } from './api';

export interface Change {
  entity: string;
  action: 'create' | 'update' | 'delete';
  id: string;
  record: Record<string, unknown>;
  changed?: string[];
}

/** What the page should do: apply one change, or refetch what it shows (events may have been missed). */
export type LiveEvent = { kind: 'change'; change: Change } | { kind: 'refetch' };

/**
 * Subscribes to the app's realtime feed (spec/realtime.md) for one entity: a single-use ticket
 * from `/_realtime/tickets`, then an EventSource (which cannot send headers). A server without
 * the feed answers the ticket request with an error and the page simply stays non-live.
 * Returns whether the feed is connected (after its `ready` event), so the page can say so.
 */
export function useLiveChanges(app: string, entity: string, onEvent: (e: LiveEvent) => void): boolean {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    let source: EventSource | null = null;
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let opened = 0;
    const open = async () => {
      let ticket: string;
      try {
        const r = await request<{ data: { ticket: string } }>('POST', `${appBase(app)}/_realtime/tickets`, { body: {} });
        ticket = r.data.ticket;
      } catch {
        return; // no feed on this server, or no permission: stay non-live
      }
      if (closed) return;
      source = new EventSource(`${appBase(app)}/_realtime?entities=${encodeURIComponent(entity)}&ticket=${encodeURIComponent(ticket)}`);
      source.addEventListener('ready', () => {
        setConnected(true);
        // a new subscription after a lost one cannot resume (tickets are single use): what
        // happened in between is unknown, so the page refetches
        if (opened++ > 0) handler.current({ kind: 'refetch' });
      });
      source.addEventListener('change', (ev) => {
        try {
          const c = parseJson((ev as MessageEvent<string>).data) as Change;
          if (c.entity === entity) handler.current({ kind: 'change', change: c });
        } catch {
          /* a malformed event is skipped */
        }
      });
      source.addEventListener('reset', () => handler.current({ kind: 'refetch' }));
      // EventSource would reconnect with the used ticket and get 401: open a new subscription instead
      source.onerror = () => {
        source?.close();
        source = null;
        setConnected(false);
        if (!closed) retry = setTimeout(() => void open(), 3000);
      };
    };
    void open();
    return () => {
      closed = true;
      if (retry) clearTimeout(retry);
      source?.close();
    };
  }, [app, entity]);
  return connected;
}
