import { useEffect, useState } from 'preact/hooks';
import { api, appBase, qs } from '../api';
import { displayField } from '../fields';
import { type AppModel, type EntityDef, useModel } from '../model';
import { getSession } from '../session';
import { ConfirmDialog, Empty, ErrorBox, Link, PageHead, Spinner, toast, useAction, useAsync } from '../ui';

interface Instance {
  id: string;
  workflow_id?: string;
  workflow_name: string;
  status: string;
  current_step: string;
  current_step_deadline?: string;
  context: Record<string, unknown>;
  history: { step: string; status: string; by?: string; at: string }[];
  created_at: string;
}

/** The record an approval is about, as far as the caller may read it. */
interface RecordRef {
  entity: string;
  id: string;
  title: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entities whose key could be `id`: a UUID is only looked for under uuid keys, digits under integer keys. */
function candidates(m: AppModel, id: string, known?: string): EntityDef[] {
  const readable = m.entities.filter((e) => m.can(e.name, 'read'));
  if (known) return readable.filter((e) => e.name === known);
  return readable.filter((e) => {
    const type = e.fields.find((f) => f.name === e.primary_key.field)?.type ?? e.primary_key.type;
    if (UUID_RE.test(id)) return type === 'uuid';
    if (/^-?\d+$/.test(id)) return type === 'int' || type === 'integer' || type === 'bigint';
    return type === 'string' || type === 'text';
  });
}

/**
 * Finds the record an instance's `context.record_id` names. The instance does not say which entity
 * it belongs to: an admin reads it from the workflow's trigger; anyone else asks each entity they may
 * read with a key filter (an empty list, not a 404, where it is not).
 */
async function findRecord(m: AppModel, id: string, entity?: string): Promise<RecordRef | null> {
  for (const e of candidates(m, id, entity)) {
    const pk = e.primary_key.field;
    try {
      const r = await api.list<Record<string, unknown>>(`${appBase(m.app)}/${e.name}${qs({ [`filter[${pk}]`]: id, per_page: 1 })}`);
      const row = r.data[0];
      if (row) return { entity: e.name, id, title: String(row[displayField(e)] ?? id) };
    } catch {
      /* not this entity (or not readable after all): try the next */
    }
  }
  return null;
}

/** The signed-in user's pending workflow approvals (spec/console.md page 6). */
export function InboxPage() {
  const m = useModel();
  const pending = useAsync(() => api.get<Instance[]>(`${appBase(m.app)}/_workflows/pending`), []);
  // workflow id → the entity its trigger watches (admins only: others cannot read workflow definitions)
  const triggers = useAsync(async () => {
    if (!m.admin) return new Map<string, string>();
    const rows = await api.get<{ id: string; name: string; trigger?: { entity?: string } }[]>(`${appBase(m.app)}/_admin/workflows`).catch(() => []);
    const out = new Map<string, string>();
    for (const w of rows) {
      if (!w.trigger?.entity) continue;
      out.set(w.id, w.trigger.entity);
      out.set(w.name, w.trigger.entity);
    }
    return out;
  }, []);
  // user id → email for the history's `by`, which holds ids only: the signed-in user knows their own, an
  // admin may list the app's users; anyone else sees the id
  const people = useAsync(async () => {
    const out = new Map<string, string>();
    if (m.admin) {
      const users = await api.get<{ id: string; email: string }[]>(`${appBase(m.app)}/_admin/users`).catch(() => []);
      for (const u of users) out.set(u.id, u.email);
    }
    const s = getSession();
    if (s?.userId && s.email) out.set(s.userId, s.email);
    return out;
  }, []);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <PageHead title="Inbox" sub="Workflow steps waiting for your decision." />
      <ErrorBox error={pending.error} />
      {!pending.data && !pending.error && <Spinner />}
      {pending.data?.length === 0 && <Empty>Nothing waits for you.</Empty>}
      <ul class="cards inbox" aria-label="Pending approvals">
        {triggers.data &&
          pending.data?.map((i) => (
            <li key={i.id} class="card">
              <InstanceCard
                instance={i}
                entity={triggers.data?.get(i.workflow_id ?? '') ?? triggers.data?.get(i.workflow_name)}
                who={(id) => people.data?.get(id) ?? id}
                expanded={open === i.id}
                onToggle={() => setOpen(open === i.id ? null : i.id)}
                onDone={pending.reload}
              />
            </li>
          ))}
      </ul>
    </>
  );
}

function InstanceCard(props: {
  instance: Instance;
  entity?: string;
  /** The email to show for a user id, else the id. */
  who: (id: string) => string;
  expanded: boolean;
  onToggle: () => void;
  onDone: () => void;
}) {
  const m = useModel();
  const i = props.instance;
  const recordId = typeof i.context.record_id === 'string' || typeof i.context.record_id === 'number' ? String(i.context.record_id) : '';
  const [record, setRecord] = useState<RecordRef | null | undefined>(recordId ? undefined : null);
  const [rejecting, setRejecting] = useState(false);
  useEffect(() => {
    if (!recordId) return;
    let live = true;
    void findRecord(m, recordId, props.entity).then((r) => live && setRecord(r));
    return () => {
      live = false;
    };
  }, [recordId, props.entity]);
  const decide = useAction(async (verdict: 'approve' | 'reject') => {
    await api.post(`${appBase(m.app)}/_workflows/${i.id}/${verdict}`);
    toast(verdict === 'approve' ? 'Approved' : 'Rejected');
    props.onDone();
    return true;
  });
  const what = record ? `${record.entity} “${record.title}”` : recordId ? `record ${recordId}` : 'this instance';
  // other context values (amounts, names…) the workflow's author chose to carry: they tell cards apart too
  const facts = Object.entries(i.context).filter(
    ([k, v]) => k !== 'record_id' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'),
  );
  return (
    <article aria-label={`${i.workflow_name} at ${i.current_step}${record ? ` for ${record.title}` : ''}`}>
      <h2>{i.workflow_name}</h2>
      <p class="inbox-record">
        {record ? (
          <Link to={`/a/${encodeURIComponent(m.app)}/data/${record.entity}/${encodeURIComponent(record.id)}`}>
            <span class="muted">{record.entity}</span> {record.title}
          </Link>
        ) : record === null && recordId ? (
          <>
            Record <code>{recordId}</code>
          </>
        ) : recordId ? (
          <span class="muted">Finding the record…</span>
        ) : null}
      </p>
      <p class="muted">
        Step <strong>{i.current_step}</strong>
        {i.current_step_deadline && <> · due {new Date(i.current_step_deadline).toLocaleString()}</>} · started{' '}
        {new Date(i.created_at).toLocaleString()}
      </p>
      {facts.length > 0 && (
        <dl class="props small">
          {facts.slice(0, 4).map(([k, v]) => (
            <div key={k} class="contents">
              <dt>{k}</dt>
              <dd>{String(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      <div class="row-actions">
        <button type="button" class="primary" disabled={decide.busy} onClick={() => void decide.run('approve')}>
          {decide.slow ? 'Approving…' : 'Approve'}
        </button>
        <button type="button" class="danger" disabled={decide.busy} onClick={() => setRejecting(true)}>
          Reject
        </button>
        <button type="button" class="ghost" aria-expanded={props.expanded} onClick={props.onToggle}>
          Step history
        </button>
      </div>
      <ErrorBox error={decide.error} />
      {props.expanded && (
        <ol class="timeline" aria-label="Step history">
          {i.history.length === 0 && <li class="muted">No steps completed yet.</li>}
          {i.history.map((h, k) => (
            <li key={k}>
              <strong>{h.step}</strong> {h.status}
              {h.by && <> by {props.who(h.by)}</>} <span class="muted">{new Date(h.at).toLocaleString()}</span>
            </li>
          ))}
        </ol>
      )}
      {rejecting && (
        <ConfirmDialog
          title="Reject this step?"
          message={
            <>
              Reject step <strong>{i.current_step}</strong> of <strong>{i.workflow_name}</strong> for {what}? The workflow goes on along its rejection
              path; this cannot be undone.
            </>
          }
          confirmLabel="Reject"
          onClose={() => setRejecting(false)}
          onConfirm={async () => {
            await api.post(`${appBase(m.app)}/_workflows/${i.id}/reject`);
            toast('Rejected');
            props.onDone();
            return true;
          }}
        />
      )}
    </article>
  );
}
