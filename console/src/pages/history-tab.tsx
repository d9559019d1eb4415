import { useState } from 'preact/hooks';
import { appBase, qs, request, stringifyJson, type ListMeta } from '../api';
import { formatCell } from '../fields';
import { entityOf, labelOf, useModel } from '../model';
import { Empty, ErrorBox, Spinner, useAsync } from '../ui';

export interface HistoryEntry {
  id: string;
  entity: string;
  record_id: string | null;
  action: string;
  changes: Record<string, { from: unknown; to: unknown }>;
  actor: { kind: string; id: string | null; email: string | null };
  at: string;
}

/**
 * A page of history entries, lossless: a json value's large integer stays a number with all its digits
 * (shown as such), not the digit string a plain parse would make of it.
 */
export function listHistory(path: string): Promise<{ data: HistoryEntry[]; meta: ListMeta }> {
  return request<{ data: HistoryEntry[]; meta: ListMeta }>('GET', path, { lossless: true });
}

/** One record's history (spec/history.md), newest first. */
export function HistoryTab(props: { entity: string; id: string }) {
  const m = useModel();
  const [page, setPage] = useState(1);
  const h = useAsync(
    () => listHistory(`${appBase(m.app)}/${props.entity}/${encodeURIComponent(props.id)}/_history${qs({ page, per_page: 20 })}`),
    [props.id, page],
  );
  if (h.error) return <ErrorBox error={h.error} />;
  if (!h.data) return <Spinner />;
  if (h.data.data.length === 0) return <Empty>No history recorded yet.</Empty>;
  const total = h.data.meta.total ?? 0;
  return (
    <section class="card" aria-label="History">
      <HistoryList entries={h.data.data} />
      {total > 20 && (
        <nav class="pager" aria-label="History pages">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Newer
          </button>
          <button type="button" disabled={page * 20 >= total} onClick={() => setPage(page + 1)}>
            Older
          </button>
          {h.slow && <Spinner inline />}
        </nav>
      )}
    </section>
  );
}

export function HistoryList(props: { entries: HistoryEntry[]; showEntity?: boolean }) {
  const m = useModel();
  const show = (entity: string, field: string, v: unknown) => {
    if (v === null || v === undefined) return '∅';
    if (typeof v === 'object') return stringifyJson(v);
    // a timestamp reads as the list and the form show it: in the browser's time zone, not as UTC text
    const f = entityOf(m, entity)?.fields.find((x) => x.name === field);
    return f?.type === 'timestamp' ? formatCell(f, v) : String(v);
  };
  return (
    <ol class="timeline">
      {props.entries.map((e) => (
        <li key={e.id}>
          <div class="timeline-head">
            <span class={`badge ${e.action}`}>{e.action}</span> {props.showEntity && <code>{e.entity}</code>}{' '}
            {props.showEntity && e.record_id && <code class="muted">{e.record_id}</code>}{' '}
            <span class="muted">
              {new Date(e.at).toLocaleString()} · {e.actor.email ?? e.actor.kind}
            </span>
          </div>
          <div class="scroll-x">
            <table class="table compact">
              <tbody>
                {Object.entries(e.changes).map(([k, c]) => (
                  <tr key={k}>
                    <th scope="row">{labelOf(m, e.entity, k)}</th>
                    <td class="from">{show(e.entity, k, c.from)}</td>
                    <td aria-hidden="true">→</td>
                    <td class="to">{show(e.entity, k, c.to)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </li>
      ))}
    </ol>
  );
}
