import { useEffect, useRef } from 'preact/hooks';
import { appBase, request } from './api';

export interface Change {
  entity: string;
  action: 'create' | 'update' | 'delete';
  id: string;
  record: Record<string, unknown>;
  changed?: string[];
}

/**
 * Subscribes to the app's realtime feed (spec/realtime.md) for one entity: a single-use ticket
 * from `/_realtime/tickets`, then an EventSource (which cannot send headers). A server without
 * the feed answers the ticket request with an error and the page simply stays non-live.
 */
export function useLiveChanges(app: string, entity: string, onChange: (c: Change) => void): void {
  const handler = useRef(onChange);
  handler.current = onChange;
  useEffect(() => {
    let source: EventSource | null = null;
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
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
      source.addEventListener('change', (ev) => {
        try {
          const c = JSON.parse((ev as MessageEvent<string>).data) as Change;
          if (c.entity === entity) handler.current(c);
        } catch {
          /* a malformed event is skipped */
        }
      });
      source.addEventListener('reset', () => handler.current({ entity, action: 'create', id: '', record: {} }));
      // tickets are single use: on an error open a new subscription with a new ticket
      source.onerror = () => {
        source?.close();
        source = null;
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
}
