import { useEffect, useState } from 'preact/hooks';
import { appBase, qs } from '../api';
import { useModel } from '../model';
import { Empty, ErrorBox, Field, PageHead, Spinner, useAsync } from '../ui';
import { HistoryList, listHistory } from './history-tab';
import { DeliveryLog } from './logic';

/** The app's audit log (spec/history.md) with its filters, and webhook deliveries (page 7). */
export function ActivityPage() {
  const m = useModel();
  // the typed filters: what is in the boxes, and what the request uses (taken over after a pause in
  // typing, on Enter or leaving the box, and whenever another filter changes, so all apply together)
  const [entity, setEntity] = useState('');
  const [recordId, setRecordId] = useState('');
  const [actor, setActor] = useState('');
  const [typed, setTyped] = useState({ entity: '', recordId: '', actor: '' });
  const [action, setAction] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [page, setPage] = useState(1);
  const commit = () => {
    const next = { entity: entity.trim(), recordId: recordId.trim(), actor: actor.trim() };
    if (next.entity !== typed.entity || next.recordId !== typed.recordId || next.actor !== typed.actor) {
      setTyped(next);
      setPage(1);
    }
  };
  useEffect(() => {
    const t = setTimeout(commit, 400);
    return () => clearTimeout(t);
  }, [entity, recordId, actor]);
  const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);
  const log = useAsync(
    () =>
      listHistory(
        `${appBase(m.app)}/_admin/history${qs({
          entity: typed.entity,
          action,
          record_id: typed.recordId,
          actor_id: typed.actor,
          since: iso(since),
          until: iso(until),
          page,
          per_page: 25,
        })}`,
      ),
    [typed.entity, action, typed.recordId, typed.actor, since, until, page],
  );
  /** Another filter changed: it applies together with what is typed in the boxes. */
  const other = (set: (v: string) => void) => (e: { currentTarget: { value: string } }) => {
    set(e.currentTarget.value);
    setPage(1);
    commit();
  };
  const total = log.data?.meta.total ?? 0;
  return (
    <>
      <PageHead title="Activity" sub="Every change to records and metadata, newest first." />
      <section class="card" aria-label="Audit log">
        <h2>Audit log</h2>
        <div class="form-grid">
          <Field label="Entity" hint="e.g. order, or _entities for metadata">
            {(a) => <input {...a} list="activity-entities" value={entity} onInput={(e) => setEntity(e.currentTarget.value)} onChange={commit} />}
          </Field>
          <datalist id="activity-entities">
            {[
              ...m.entities.map((e) => e.name),
              '_entities',
              '_relations',
              '_rules',
              '_state_machines',
              '_workflows',
              '_webhooks',
              '_permissions',
              '_users',
              '_invites',
              '_import',
            ].map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <Field label="User id" hint="who made the change">
            {(a) => <input {...a} value={actor} onInput={(e) => setActor(e.currentTarget.value)} onChange={commit} />}
          </Field>
          <Field label="Action">
            {(a) => (
              <select {...a} value={action} onChange={other(setAction)}>
                <option value="">any</option>
                <option>create</option>
                <option>update</option>
                <option>delete</option>
              </select>
            )}
          </Field>
          <Field label="Record id">
            {(a) => <input {...a} value={recordId} onInput={(e) => setRecordId(e.currentTarget.value)} onChange={commit} />}
          </Field>
          <Field label="Since">{(a) => <input {...a} type="datetime-local" value={since} onInput={other(setSince)} />}</Field>
          <Field label="Until">{(a) => <input {...a} type="datetime-local" value={until} onInput={other(setUntil)} />}</Field>
        </div>
        <ErrorBox error={log.error} />
        {/* first load, or other filters / another page on its way while the entries shown are the last ones */}
        {((!log.data && !log.error) || (log.data && log.slow)) && <Spinner />}
        {log.data && log.data.data.length === 0 && <Empty>No entries match.</Empty>}
        {log.data && log.data.data.length > 0 && <HistoryList entries={log.data.data} showEntity />}
        {total > 25 && (
          <nav class="pager" aria-label="Audit log pages">
            <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Newer
            </button>
            <span>
              Page {page} of {Math.ceil(total / 25)}
            </span>
            <button type="button" disabled={page * 25 >= total} onClick={() => setPage(page + 1)}>
              Older
            </button>
          </nav>
        )}
      </section>
      <DeliveryLog />
    </>
  );
}
