import { useState } from 'preact/hooks';
import { api, appBase } from '../api';
import { useModel } from '../model';
import { Empty, ErrorBox, PageHead, Spinner, toast, useAction, useAsync } from '../ui';

interface Instance {
  id: string;
  workflow_name: string;
  status: string;
  current_step: string;
  current_step_deadline?: string;
  context: Record<string, unknown>;
  history: { step: string; status: string; by?: string; at: string }[];
  created_at: string;
}

/** The signed-in user's pending workflow approvals (spec/console.md page 6). */
export function InboxPage() {
  const m = useModel();
  const pending = useAsync(() => api.get<Instance[]>(`${appBase(m.app)}/_workflows/pending`), []);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <PageHead title="Inbox" sub="Workflow steps waiting for your decision." />
      <ErrorBox error={pending.error} />
      {!pending.data && !pending.error && <Spinner />}
      {pending.data?.length === 0 && <Empty>Nothing waits for you.</Empty>}
      <ul class="cards inbox" aria-label="Pending approvals">
        {pending.data?.map((i) => (
          <li key={i.id} class="card">
            <InstanceCard instance={i} expanded={open === i.id} onToggle={() => setOpen(open === i.id ? null : i.id)} onDone={pending.reload} />
          </li>
        ))}
      </ul>
    </>
  );
}

function InstanceCard(props: { instance: Instance; expanded: boolean; onToggle: () => void; onDone: () => void }) {
  const m = useModel();
  const i = props.instance;
  const decide = useAction(async (verdict: 'approve' | 'reject') => {
    await api.post(`${appBase(m.app)}/_workflows/${i.id}/${verdict}`);
    toast(verdict === 'approve' ? 'Approved' : 'Rejected');
    props.onDone();
    return true;
  });
  return (
    <article aria-label={`${i.workflow_name} at ${i.current_step}`}>
      <h2>{i.workflow_name}</h2>
      <p class="muted">
        Step <strong>{i.current_step}</strong>
        {i.current_step_deadline && <> · due {new Date(i.current_step_deadline).toLocaleString()}</>}
        {typeof i.context.record_id === 'string' && (
          <>
            {' '}
            · record <code>{String(i.context.record_id).slice(0, 8)}</code>
          </>
        )}
      </p>
      <div class="row-actions">
        <button type="button" class="primary" disabled={decide.busy} onClick={() => void decide.run('approve')}>
          Approve
        </button>
        <button type="button" class="danger" disabled={decide.busy} onClick={() => void decide.run('reject')}>
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
              <strong>{h.step}</strong> {h.status} <span class="muted">{new Date(h.at).toLocaleString()}</span>
            </li>
          ))}
        </ol>
      )}
    </article>
  );
}
