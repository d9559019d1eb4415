import { useState } from 'preact/hooks';
import { ApiError, api, appBase, qs } from '../api';
import { entityOf, useModel, type SmAction, type SmTransition, type StateMachine } from '../model';
import {
  Check,
  ConfirmButton,
  ConfirmDialog,
  Empty,
  ErrorBox,
  Field,
  ListCard,
  Modal,
  PageHead,
  Spinner,
  TabPanel,
  Tabs,
  errorsByField,
  toast,
  useAction,
  useAsync,
} from '../ui';
import { FlowDiagram, type FlowEdge, type FlowNode } from './flow-diagram';

const split = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Business logic of the app (spec/console.md page 4). */
export function LogicPage() {
  const [tab, setTab] = useState<'rules' | 'machines' | 'workflows' | 'webhooks'>('rules');
  const labels = { rules: 'Rules', machines: 'State machines', workflows: 'Workflows', webhooks: 'Webhooks' } as const;
  return (
    <>
      <PageHead title="Logic" sub="Validation rules, state machines, workflows and webhooks." />
      <Tabs id="logic" label="Logic sections" tabs={Object.entries(labels) as [keyof typeof labels, string][]} value={tab} onChange={setTab} />
      <TabPanel id="logic" tab={tab}>
        {tab === 'rules' && <Rules />}
        {tab === 'machines' && <Machines />}
        {tab === 'workflows' && <Workflows />}
        {tab === 'webhooks' && <Webhooks />}
      </TabPanel>
    </>
  );
}

/* ---------- rules ---------- */

interface Rule {
  id: string;
  entity: string;
  hook: string;
  type: 'field' | 'expression' | 'computed';
  definition: {
    field?: string;
    operator?: string;
    value?: unknown;
    expression?: string;
    message?: string;
    stop_on_fail?: boolean;
    related_load?: unknown;
  };
  priority: number;
  active: boolean;
}

function Rules() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/rules`;
  const rules = useAsync(() => api.get<Rule[]>(base), []);
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  return (
    <ListCard
      title="Rules"
      newLabel="New rule"
      newDisabled={m.entities.length === 0}
      onNew={() => setEditing('new')}
      list={rules}
      empty="No rules yet."
      after={
        editing && (
          <RuleForm
            rule={editing === 'new' ? null : editing}
            onClose={() => setEditing(null)}
            onSaved={() => {
              setEditing(null);
              rules.reload();
            }}
          />
        )
      }
    >
      {(items) => (
        <div class="scroll-x">
          <table class="table" aria-label="Rules">
            <thead>
              <tr>
                <th scope="col">Entity</th>
                <th scope="col">Type</th>
                <th scope="col">Rule</th>
                <th scope="col">Active</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id} class="clickable" onClick={() => setEditing(r)}>
                  <td>{r.entity}</td>
                  <td>
                    {r.type} <small class="muted">{r.hook}</small>
                  </td>
                  <td>
                    <button type="button" class="sort" onClick={() => setEditing(r)}>
                      {r.type === 'field'
                        ? `${r.definition.field} ${r.definition.operator} ${JSON.stringify(r.definition.value)}`
                        : r.type === 'computed'
                          ? `${r.definition.field} = ${r.definition.expression}`
                          : r.definition.expression}
                    </button>
                  </td>
                  <td>{r.active ? 'Yes' : 'No'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </ListCard>
  );
}

function RuleForm(props: { rule: Rule | null; onClose: () => void; onSaved: () => void }) {
  const m = useModel();
  const r = props.rule;
  const [entity, setEntity] = useState(r?.entity ?? m.entities[0]?.name ?? '');
  const [hook, setHook] = useState(r?.hook ?? 'before_write');
  const [type, setType] = useState<Rule['type']>(r?.type ?? 'field');
  const [field, setField] = useState(r?.definition.field ?? '');
  const [operator, setOperator] = useState(r?.definition.operator ?? 'min');
  const [value, setValue] = useState(r?.definition.value === undefined ? '' : String(r.definition.value));
  const [expression, setExpression] = useState(r?.definition.expression ?? '');
  const [message, setMessage] = useState(r?.definition.message ?? '');
  const [priority, setPriority] = useState(String(r?.priority ?? 0));
  const [active, setActive] = useState(r?.active ?? true);
  const [stop, setStop] = useState(Boolean(r?.definition.stop_on_fail));
  const [related, setRelated] = useState(r?.definition.related_load ? JSON.stringify(r.definition.related_load) : '');
  // a Related load that does not parse is found before sending: shown at its input, not as a failed request
  const [relatedError, setRelatedError] = useState<string | null>(null);
  const base = `${appBase(m.app)}/_admin/rules`;
  const fields = entityOf(m, entity)?.fields ?? [];
  const save = useAction(async () => {
    const definition: Record<string, unknown> = {};
    if (type !== 'expression') definition.field = field;
    if (type === 'field') {
      definition.operator = operator;
      // text that is not a number goes as typed, so the API can say what is wrong with it (Number()
      // would send null and be refused as missing)
      if (operator === 'pattern') definition.value = value;
      else if (value.trim() !== '') definition.value = Number.isNaN(Number(value)) ? value : Number(value);
    } else definition.expression = expression;
    if (message) definition.message = message;
    if (stop) definition.stop_on_fail = true;
    setRelatedError(null);
    if (related.trim()) {
      try {
        definition.related_load = JSON.parse(related);
      } catch {
        setRelatedError('related_load must be JSON, e.g. [{"relation": "items"}]');
        return false;
      }
    }
    const body = { entity, hook, type, definition, priority: Number(priority) || 0, active };
    if (r) await api.put(`${base}/${r.id}`, body);
    else await api.post(base, body);
    toast('Rule saved');
    // the record forms show the fields computed rules write read-only: the model must know the new set
    m.reload();
    props.onSaved();
    return true;
  });
  const del = useAction(async () => {
    if (r) await api.del(`${base}/${r.id}`);
    m.reload();
    props.onSaved();
    return true;
  });
  const { byField } = errorsByField(save.error);
  // the API names the definition key in its message when it has no detail path
  const msg = save.error instanceof Error ? save.error.message : '';
  // "related_load[0].filter: …" concerns the Related load input, whatever words follow
  const relatedApiError = byField['definition.related_load'] ?? (/^related_load\b/.test(msg) ? msg : undefined);
  const exprError = byField['definition.expression'] ?? (/expression/i.test(msg) && !relatedApiError ? msg : undefined);
  const valueError = byField['definition.value'] ?? (/definition\.value\b/.test(msg) ? msg : undefined);
  // "definition.field: min needs a number field; …", "priority must be an integer": the message starts with the key
  const keyError = (key: string) => byField[key] ?? (msg.startsWith(`${key} `) || msg.startsWith(`${key}:`) ? msg : undefined);
  return (
    <Modal title={r ? 'Edit rule' : 'New rule'} onClose={props.onClose} wide>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <div class="dialog-body form-grid">
          <Field label="Entity" error={byField.entity}>
            {(a) => (
              <select {...a} value={entity} onChange={(e) => setEntity(e.currentTarget.value)}>
                {m.entities.map((e) => (
                  <option key={e.name}>{e.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Hook" error={byField.hook}>
            {(a) => (
              <select {...a} value={hook} onChange={(e) => setHook(e.currentTarget.value)}>
                <option value="before_write">before write</option>
                <option value="before_delete">before delete</option>
              </select>
            )}
          </Field>
          <Field label="Rule type" error={byField.type}>
            {(a) => (
              <select {...a} value={type} onChange={(e) => setType(e.currentTarget.value as Rule['type'])}>
                <option value="field">field (min, max, length, pattern)</option>
                <option value="expression">expression (true = violated)</option>
                <option value="computed">computed (sets a field)</option>
              </select>
            )}
          </Field>
          {type !== 'expression' && (
            <Field label={type === 'computed' ? 'Field to set' : 'Field'} error={keyError('definition.field')}>
              {(a) => (
                <select {...a} value={field} onChange={(e) => setField(e.currentTarget.value)}>
                  <option value="">—</option>
                  {fields.map((f) => (
                    <option key={f.name}>{f.name}</option>
                  ))}
                </select>
              )}
            </Field>
          )}
          {type === 'field' && (
            <>
              <Field label="Operator" error={keyError('definition.operator')}>
                {(a) => (
                  <select {...a} value={operator} onChange={(e) => setOperator(e.currentTarget.value)}>
                    {['min', 'max', 'min_length', 'max_length', 'pattern'].map((o) => (
                      <option key={o}>{o}</option>
                    ))}
                  </select>
                )}
              </Field>
              <Field label="Threshold" error={valueError}>
                {(a) => <input {...a} value={value} onInput={(e) => setValue(e.currentTarget.value)} />}
              </Field>
            </>
          )}
          {type !== 'field' && (
            <Field
              label="Expression"
              class="wide"
              error={exprError}
              hint={
                // spec/rules.md: an expression rule describes the error; a truthy result rejects the write
                type === 'expression'
                  ? "Describes the error: when it is true the write is rejected, e.g. record.total < 0 || record.status == 'void'"
                  : 'The value written into the field, e.g. record.qty * record.price'
              }
            >
              {(a) => <textarea {...a} class="code" rows={3} value={expression} onInput={(e) => setExpression(e.currentTarget.value)} />}
            </Field>
          )}
          <Field label="Error message" error={keyError('definition.message')}>
            {(a) => <input {...a} value={message} onInput={(e) => setMessage(e.currentTarget.value)} />}
          </Field>
          <Field label="Priority" error={keyError('priority')}>
            {(a) => <input {...a} type="number" value={priority} onInput={(e) => setPriority(e.currentTarget.value)} />}
          </Field>
          <Field label="Related load (JSON)" hint='[{"relation": "items"}]' error={relatedError ?? relatedApiError}>
            {(a) => <input {...a} class="code" value={related} onInput={(e) => setRelated(e.currentTarget.value)} />}
          </Field>
          <div class="checks">
            <Check label="Active" checked={active} onChange={setActive} />
            <Check label="Stop on fail" checked={stop} onChange={setStop} />
          </div>
        </div>
        <div class="dialog-body">
          <ErrorBox error={save.error ?? del.error} />
        </div>
        <footer class="dialog-foot">
          {r && <ConfirmButton label="Delete rule" question="Delete this rule?" busy={del.busy} slow={del.slow} onConfirm={() => void del.run()} />}
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={save.busy}>
            {save.slow ? 'Saving…' : 'Save rule'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/* ---------- state machines ---------- */

/*
 * The editor works on text drafts of the stored transitions and keeps each stored object next to its
 * draft: a key whose text was not touched goes back exactly as stored (also keys the editor does not
 * show), so saving without a change sends the stored definition back unchanged.
 */

const ACTION_TYPES = ['set_field', 'webhook', 'create_record', 'send_event'] as const;
/** The keys each action type uses; when the type changes the keys of the old type are dropped. */
const ACTION_KEYS: Record<string, string[]> = {
  set_field: ['field', 'value'],
  webhook: ['url', 'method'],
  create_record: ['entity', 'data'],
  send_event: ['event'],
};
const ALL_ACTION_KEYS = ['field', 'value', 'url', 'method', 'entity', 'data', 'event'];

interface ActionDraft {
  orig?: SmAction;
  type: string;
  field: string;
  value: string;
  url: string;
  method: string;
  entity: string;
  data: string;
  event: string;
}

interface TransitionDraft {
  orig?: SmTransition;
  from: string;
  to: string;
  roles: string;
  guard: string;
  actions: ActionDraft[];
}

const fromText = (v: unknown) => (Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : '');
const listText = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '');
const strText = (v: unknown) => (typeof v === 'string' ? v : '');
const valueText = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const dataText = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2));

function actionDraft(a?: SmAction): ActionDraft {
  return {
    orig: a,
    type: a ? String(a.type ?? '') : 'set_field',
    field: strText(a?.field),
    value: valueText(a?.value),
    url: strText(a?.url),
    method: strText(a?.method),
    entity: strText(a?.entity),
    data: dataText(a?.data),
    event: strText(a?.event),
  };
}

function transitionDraft(t?: SmTransition): TransitionDraft {
  return {
    orig: t,
    from: fromText(t?.from),
    to: strText(t?.to),
    roles: listText(t?.roles),
    guard: strText(t?.guard),
    actions: Array.isArray(t?.actions) ? t.actions.map(actionDraft) : [],
  };
}

/** The JSON of a create_record action's data, or an error message when it does not parse. */
function parseData(text: string): { value?: unknown; error?: string } {
  if (!text.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { error: 'Data must be a JSON object, e.g. {"title": "record.name"}' };
    return { value };
  } catch {
    return { error: 'Data is not valid JSON' };
  }
}

function buildAction(a: ActionDraft): SmAction {
  const o = a.orig;
  const out: Record<string, unknown> = { ...(o ?? {}) };
  const typeChanged = !o || a.type !== String(o.type ?? '');
  if (typeChanged) {
    out.type = a.type;
    for (const k of ALL_ACTION_KEYS) if (!(ACTION_KEYS[a.type] ?? []).includes(k)) delete out[k];
  }
  const text = (k: 'field' | 'url' | 'method' | 'entity' | 'event') => {
    if (!(ACTION_KEYS[a.type] ?? []).includes(k)) return;
    if (o && a[k] === strText(o[k]) && (o[k] === undefined || typeof o[k] === 'string')) return;
    const v = a[k].trim();
    if (v) out[k] = v;
    else delete out[k];
  };
  text('field');
  text('url');
  text('method');
  text('entity');
  text('event');
  if (a.type === 'set_field' && !(o && a.value === valueText(o.value))) {
    // a value stored as a number, boolean or object stays one when it is edited and still parses
    let v: unknown = a.value;
    if (o && o.value !== undefined && typeof o.value !== 'string') {
      try {
        v = JSON.parse(a.value);
      } catch {
        v = a.value;
      }
    }
    out.value = v;
  }
  if (a.type === 'create_record' && !(o && a.data === dataText(o.data))) {
    const d = parseData(a.data);
    if (d.value === undefined) delete out.data;
    else out.data = d.value;
  }
  return out as SmAction;
}

function buildTransition(r: TransitionDraft): SmTransition {
  const o = r.orig;
  const out: Record<string, unknown> = { ...(o ?? {}) };
  if (!o || r.from !== fromText(o.from)) {
    const from = split(r.from);
    out.from = from.length === 1 ? from[0]! : from;
  }
  if (!o || r.to !== strText(o.to)) out.to = r.to.trim();
  if (!o || r.roles !== listText(o.roles)) {
    const roles = split(r.roles);
    if (roles.length) out.roles = roles;
    else delete out.roles;
  }
  if (!o || r.guard !== strText(o.guard)) {
    if (r.guard.trim()) out.guard = r.guard.trim();
    else delete out.guard;
  }
  if (r.actions.length) out.actions = r.actions.map(buildAction);
  else if (!(Array.isArray(o?.actions) && o.actions.length === 0)) delete out.actions;
  return out as SmTransition;
}

/** One line per action for the diagram's edge labels. */
function actionSummary(a: SmAction): string {
  switch (a.type) {
    case 'set_field':
      return `set ${a.field ?? '?'} = ${valueText(a.value)}`;
    case 'webhook':
      return `${a.method || 'POST'} ${a.url ?? ''}`;
    case 'create_record':
      return `create ${a.entity ?? '?'}`;
    case 'send_event':
      return `event ${a.event ?? '?'}`;
    default:
      return String(a.type);
  }
}

export function machineDiagram(sm: { initial?: string; transitions: SmTransition[] }) {
  const states: string[] = [];
  const add = (s: string) => !states.includes(s) && states.push(s);
  if (sm.initial) add(sm.initial);
  for (const t of sm.transitions) {
    for (const f of Array.isArray(t.from) ? t.from : [t.from]) add(f);
    add(t.to);
  }
  // "" is the state of a record whose field is null (a transition from it lets such records in).
  const nodes: FlowNode[] = states.map((s) => ({ id: s, label: s === '' ? '(no state)' : s, kind: s === sm.initial ? 'start' : 'normal' }));
  const edges: FlowEdge[] = sm.transitions.flatMap((t) =>
    (Array.isArray(t.from) ? t.from : [t.from]).map((f) => ({
      from: f,
      to: t.to,
      label:
        [
          t.roles?.length ? `roles: ${t.roles.join(', ')}` : '',
          t.guard ? `if ${t.guard}` : '',
          ...(Array.isArray(t.actions) ? t.actions.map(actionSummary) : []),
        ]
          .filter(Boolean)
          .join(' · ') || undefined,
    })),
  );
  return { nodes, edges };
}

function Machines() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/state-machines`;
  const list = useAsync(() => api.get<StateMachine[]>(base), []);
  const [editing, setEditing] = useState<StateMachine | 'new' | null>(null);
  if (editing) {
    return (
      <MachineForm
        sm={editing === 'new' ? null : editing}
        onClose={() => setEditing(null)}
        onSaved={() => {
          setEditing(null);
          list.reload();
          m.reload();
        }}
      />
    );
  }
  return (
    <ListCard
      title="State machines"
      newLabel="New state machine"
      newDisabled={m.entities.length === 0}
      onNew={() => setEditing('new')}
      list={list}
      empty="No state machines yet."
    >
      {(items) =>
        items.map((sm) => {
          const d = machineDiagram(sm.definition);
          return (
            <div key={sm.id} class="machine">
              <div class="section-head">
                <h3>
                  {sm.entity}.{sm.field} {!sm.active && <span class="badge">inactive</span>}
                </h3>
                <button type="button" aria-label={`Edit state machine ${sm.entity}.${sm.field}`} onClick={() => setEditing(sm)}>
                  Edit
                </button>
              </div>
              <FlowDiagram nodes={d.nodes} edges={d.edges} title={`States of ${sm.entity}.${sm.field}`} />
            </div>
          );
        })
      }
    </ListCard>
  );
}

function MachineForm(props: { sm: StateMachine | null; onClose: () => void; onSaved: () => void }) {
  const m = useModel();
  const sm = props.sm;
  const [entity, setEntity] = useState(sm?.entity ?? m.entities[0]?.name ?? '');
  const [field, setField] = useState(sm?.field ?? '');
  const storedInitial = sm?.definition.initial;
  const [initial, setInitial] = useState(strText(storedInitial));
  const [active, setActive] = useState(sm?.active ?? true);
  const [rows, setRows] = useState<TransitionDraft[]>(
    sm?.definition.transitions ? sm.definition.transitions.map(transitionDraft) : [transitionDraft()],
  );
  const [deleting, setDeleting] = useState(false);
  const base = `${appBase(m.app)}/_admin/state-machines`;
  const definition: StateMachine['definition'] = {
    ...(sm?.definition ?? {}),
    transitions: rows.filter((r) => r.orig || r.from || r.to).map(buildTransition),
  };
  if (!sm || initial !== strText(storedInitial)) {
    if (initial.trim()) definition.initial = initial.trim();
    else delete definition.initial;
  }
  const dataErrors = rows.map((r) => r.actions.map((a) => (a.type === 'create_record' ? parseData(a.data).error : undefined)));
  const save = useAction(async () => {
    const bad = dataErrors.flatMap((as, i) => as.map((e, k) => (e ? `Transition ${i + 1} action ${k + 1} data` : ''))).find(Boolean);
    if (bad) {
      (document.querySelector(`[aria-label="${bad}"]`) as HTMLElement | null)?.focus();
      throw new Error(`${bad} is not a valid JSON object; fix it before saving`);
    }
    const body = { entity, field, active, definition };
    if (sm) await api.put(`${base}/${sm.id}`, body);
    else await api.post(base, body);
    toast('State machine saved');
    props.onSaved();
    return true;
  });
  const { byField } = errorsByField(save.error);
  const msg = save.error instanceof Error ? save.error.message : '';
  /** The API's message when it names this path (e.g. `transitions[0].actions[1].url must be …`). */
  const errAt = (path: string) => byField[`definition.${path}`] ?? (msg.startsWith(`${path} `) || msg.startsWith(`${path}:`) ? msg : undefined);
  const d = machineDiagram(definition);
  const set = (i: number, patch: Partial<TransitionDraft>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const setAction = (i: number, k: number, patch: Partial<ActionDraft>) =>
    set(i, { actions: rows[i]!.actions.map((a, j) => (j === k ? { ...a, ...patch } : a)) });
  return (
    <form
      class="card"
      aria-label="State machine editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <div class="section-head">
        <h2>{sm ? `State machine ${sm.entity}.${sm.field}` : 'New state machine'}</h2>
        <div class="row-actions">
          {sm && (
            <button type="button" class="danger ghost" onClick={() => setDeleting(true)}>
              Delete
            </button>
          )}
          <button type="button" class="ghost" onClick={props.onClose}>
            Back
          </button>
          <button type="submit" class="primary" disabled={save.busy}>
            {save.slow ? 'Saving…' : 'Save state machine'}
          </button>
        </div>
      </div>
      <ErrorBox error={save.error} />
      <div class="split">
        <div>
          <div class="form-grid">
            <Field label="Entity" error={byField.entity ?? (/entity/.test(msg) && !/^transitions/.test(msg) ? msg : undefined)}>
              {(a) => (
                <select {...a} value={entity} onChange={(e) => setEntity(e.currentTarget.value)}>
                  {m.entities.map((e) => (
                    <option key={e.name}>{e.name}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="State field" error={byField.field ?? (/^field/.test(msg) ? msg : undefined)}>
              {(a) => (
                <select {...a} value={field} onChange={(e) => setField(e.currentTarget.value)}>
                  <option value="">—</option>
                  {(entityOf(m, entity)?.fields ?? []).map((f) => (
                    <option key={f.name}>{f.name}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Initial state" hint="A create that sends the field must use it">
              {(a) => <input {...a} value={initial} onInput={(e) => setInitial(e.currentTarget.value)} />}
            </Field>
            <Check label="Active" checked={active} onChange={setActive} />
          </div>
          <h3>Transitions</h3>
          {/transition/.test(msg) && <p class="error-text">{msg}</p>}
          {rows.map((r, i) => (
            <fieldset key={i} class="transition" aria-label={`Transition ${i + 1}`}>
              <Field label="From" hint="one or more states, comma separated">
                {(a) => (
                  <input {...a} aria-label={`Transition ${i + 1} from`} value={r.from} onInput={(e) => set(i, { from: e.currentTarget.value })} />
                )}
              </Field>
              <Field label="To">
                {(a) => <input {...a} aria-label={`Transition ${i + 1} to`} value={r.to} onInput={(e) => set(i, { to: e.currentTarget.value })} />}
              </Field>
              <Field label="Roles" hint="empty: anyone">
                {(a) => (
                  <input {...a} aria-label={`Transition ${i + 1} roles`} value={r.roles} onInput={(e) => set(i, { roles: e.currentTarget.value })} />
                )}
              </Field>
              <Field
                label="Guard"
                error={byField[`definition.transitions[${i}].guard`] ?? (/expression|guard/.test(msg) && r.guard ? msg : undefined)}
              >
                {(a) => (
                  <input
                    {...a}
                    aria-label={`Transition ${i + 1} guard`}
                    class="code"
                    value={r.guard}
                    onInput={(e) => set(i, { guard: e.currentTarget.value })}
                  />
                )}
              </Field>
              <button
                type="button"
                class="ghost danger"
                aria-label={`Remove transition ${i + 1}`}
                onClick={() => setRows(rows.filter((_, j) => j !== i))}
              >
                ✕
              </button>
              <div class="sm-actions">
                <h4>Actions</h4>
                {r.actions.length === 0 && <p class="muted">No actions: the transition only changes the state.</p>}
                {r.actions.map((act, k) => {
                  const p = `Transition ${i + 1} action ${k + 1}`;
                  const path = `transitions[${i}].actions[${k}]`;
                  return (
                    <fieldset key={k} class="sm-action" aria-label={p}>
                      <Field label="Type" error={errAt(`${path}.type`)}>
                        {(a) => (
                          <select {...a} aria-label={`${p} type`} value={act.type} onChange={(e) => setAction(i, k, { type: e.currentTarget.value })}>
                            {[...ACTION_TYPES, ...(ACTION_TYPES.includes(act.type as never) ? [] : [act.type])].map((t) => (
                              <option key={t}>{t}</option>
                            ))}
                          </select>
                        )}
                      </Field>
                      {act.type === 'set_field' && (
                        <>
                          <Field label="Field" error={errAt(`${path}.field`)}>
                            {(a) => (
                              <select
                                {...a}
                                aria-label={`${p} field`}
                                value={act.field}
                                onChange={(e) => setAction(i, k, { field: e.currentTarget.value })}
                              >
                                <option value="">—</option>
                                {[
                                  ...(entityOf(m, entity)?.fields ?? []).map((f) => f.name),
                                  ...(act.field && !entityOf(m, entity)?.fields.some((f) => f.name === act.field) ? [act.field] : []),
                                ].map((f) => (
                                  <option key={f}>{f}</option>
                                ))}
                              </select>
                            )}
                          </Field>
                          <Field label="Value" hint='"now" = the time of the transition' error={errAt(`${path}.value`)}>
                            {(a) => (
                              <input
                                {...a}
                                aria-label={`${p} value`}
                                class="code"
                                value={act.value}
                                onInput={(e) => setAction(i, k, { value: e.currentTarget.value })}
                              />
                            )}
                          </Field>
                        </>
                      )}
                      {act.type === 'webhook' && (
                        <>
                          <Field label="URL" error={errAt(`${path}.url`)}>
                            {(a) => (
                              <input
                                {...a}
                                aria-label={`${p} URL`}
                                type="url"
                                value={act.url}
                                onInput={(e) => setAction(i, k, { url: e.currentTarget.value })}
                              />
                            )}
                          </Field>
                          <Field label="Method" error={errAt(`${path}.method`)}>
                            {(a) => (
                              <select
                                {...a}
                                aria-label={`${p} method`}
                                value={act.method}
                                onChange={(e) => setAction(i, k, { method: e.currentTarget.value })}
                              >
                                <option value="">POST (default)</option>
                                {[
                                  'POST',
                                  'PUT',
                                  'PATCH',
                                  'GET',
                                  'DELETE',
                                  ...(act.method && !/^(POST|PUT|PATCH|GET|DELETE)$/.test(act.method) ? [act.method] : []),
                                ].map((x) => (
                                  <option key={x}>{x}</option>
                                ))}
                              </select>
                            )}
                          </Field>
                        </>
                      )}
                      {act.type === 'create_record' && (
                        <>
                          <Field label="Entity" error={errAt(`${path}.entity`)}>
                            {(a) => (
                              <select
                                {...a}
                                aria-label={`${p} entity`}
                                value={act.entity}
                                onChange={(e) => setAction(i, k, { entity: e.currentTarget.value })}
                              >
                                <option value="">—</option>
                                {[...m.entities.map((e) => e.name), ...(act.entity && !entityOf(m, act.entity) ? [act.entity] : [])].map((e) => (
                                  <option key={e}>{e}</option>
                                ))}
                              </select>
                            )}
                          </Field>
                          <Field
                            label="Data (JSON)"
                            class="wide"
                            hint='{"field": "record.x" | "old.x" | "now" | literal}'
                            error={dataErrors[i]?.[k] ?? errAt(`${path}.data`)}
                          >
                            {(a) => (
                              <textarea
                                {...a}
                                aria-label={`${p} data`}
                                class="code"
                                rows={3}
                                value={act.data}
                                onInput={(e) => setAction(i, k, { data: e.currentTarget.value })}
                              />
                            )}
                          </Field>
                        </>
                      )}
                      {act.type === 'send_event' && (
                        <Field label="Event" error={errAt(`${path}.event`)}>
                          {(a) => (
                            <input
                              {...a}
                              aria-label={`${p} event`}
                              value={act.event}
                              onInput={(e) => setAction(i, k, { event: e.currentTarget.value })}
                            />
                          )}
                        </Field>
                      )}
                      <button
                        type="button"
                        class="ghost danger"
                        aria-label={`Remove action ${k + 1} of transition ${i + 1}`}
                        onClick={() => set(i, { actions: r.actions.filter((_, j) => j !== k) })}
                      >
                        ✕
                      </button>
                    </fieldset>
                  );
                })}
                <button
                  type="button"
                  class="add"
                  aria-label={`Add action to transition ${i + 1}`}
                  onClick={() => set(i, { actions: [...r.actions, actionDraft()] })}
                >
                  Add action
                </button>
              </div>
            </fieldset>
          ))}
          <button type="button" onClick={() => setRows([...rows, transitionDraft()])}>
            Add transition
          </button>
        </div>
        <div>
          <h3>Diagram</h3>
          {d.nodes.length ? (
            <FlowDiagram nodes={d.nodes} edges={d.edges} title="State diagram" />
          ) : (
            <p class="muted">Add transitions to see the states.</p>
          )}
        </div>
      </div>
      {deleting && sm && (
        <ConfirmDialog
          title="Delete this state machine?"
          message={`${sm.entity}.${sm.field} will accept any value again.`}
          confirmLabel="Delete"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.del(`${base}/${sm.id}`);
            props.onSaved();
            return true;
          }}
        />
      )}
    </form>
  );
}

/* ---------- workflows ---------- */

interface Workflow {
  id: string;
  name: string;
  trigger: Record<string, unknown>;
  context?: Record<string, string>;
  steps: Step[];
  active: boolean;
}
interface Step {
  id: string;
  type: string;
  timeout?: string;
  assignee?: { type?: string; role?: string; user_id?: string };
  [k: string]: unknown;
}

const GOTO_KEYS = ['then', 'on_true', 'on_false', 'on_approve', 'on_reject', 'on_timeout'];

export function workflowDiagram(steps: Step[]) {
  const nodes: FlowNode[] = steps.map((s) => ({
    id: s.id,
    label: s.id,
    sub: s.type === 'approval' ? `approval${s.timeout ? ` · ${s.timeout}` : ''}${s.assignee?.role ? ` · ${s.assignee.role}` : ''}` : s.type,
  }));
  nodes.push({ id: '__end', label: 'end', kind: 'end' });
  const edges: FlowEdge[] = [];
  steps.forEach((s) => {
    let any = false;
    for (const k of GOTO_KEYS) {
      const v = s[k];
      if (v === undefined) continue;
      any = true;
      const target = typeof v === 'string' ? v : ((v as { goto?: string }).goto ?? 'end');
      edges.push({ from: s.id, to: target === 'end' ? '__end' : target, label: k === 'then' ? undefined : k.replace('on_', '') });
    }
    if (!any) edges.push({ from: s.id, to: '__end' }); // an absent goto means end
  });
  return { nodes, edges };
}

function Workflows() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/workflows`;
  const list = useAsync(() => api.get<Workflow[]>(base), []);
  const [editing, setEditing] = useState<Workflow | 'new' | null>(null);
  if (editing) {
    return (
      <WorkflowForm
        wf={editing === 'new' ? null : editing}
        onClose={() => setEditing(null)}
        onSaved={() => {
          setEditing(null);
          list.reload();
        }}
      />
    );
  }
  return (
    <ListCard title="Workflows" newLabel="New workflow" onNew={() => setEditing('new')} list={list} empty="No workflows yet.">
      {(items) =>
        items.map((w) => {
          const d = workflowDiagram(w.steps);
          return (
            <div key={w.id}>
              <div class="section-head">
                <h3>
                  {w.name} {!w.active && <span class="badge">inactive</span>}
                </h3>
                <button type="button" aria-label={`Edit workflow ${w.name}`} onClick={() => setEditing(w)}>
                  Edit
                </button>
              </div>
              <FlowDiagram nodes={d.nodes} edges={d.edges} title={`Steps of workflow ${w.name}`} />
            </div>
          );
        })
      }
    </ListCard>
  );
}

function WorkflowForm(props: { wf: Workflow | null; onClose: () => void; onSaved: () => void }) {
  const m = useModel();
  const w = props.wf;
  const [name, setName] = useState(w?.name ?? '');
  const [active, setActive] = useState(w?.active ?? true);
  const [deleting, setDeleting] = useState(false);
  const [trigger, setTrigger] = useState(
    JSON.stringify(w?.trigger ?? { type: 'state_change', entity: m.entities[0]?.name ?? '', field: 'status', to: '' }, null, 2),
  );
  const [context, setContext] = useState(JSON.stringify(w?.context ?? { record_id: 'trigger.record_id' }, null, 2));
  const [steps, setSteps] = useState(
    JSON.stringify(
      w?.steps ?? [
        { id: 'approve', type: 'approval', assignee: { type: 'role', role: 'manager' }, timeout: '72h', on_approve: 'end', on_reject: 'end' },
      ],
      null,
      2,
    ),
  );
  const parsed = (() => {
    try {
      return JSON.parse(steps) as Step[];
    } catch {
      return null;
    }
  })();
  const base = `${appBase(m.app)}/_admin/workflows`;
  const save = useAction(async () => {
    const parse = (label: string, text: string) => {
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new Error(`${label} is not valid JSON: ${(e as Error).message}`);
      }
    };
    const body = { name, active, trigger: parse('Trigger', trigger), context: parse('Context', context), steps: parse('Steps', steps) };
    if (w) await api.put(`${base}/${w.id}`, body);
    else await api.post(base, body);
    toast('Workflow saved');
    props.onSaved();
    return true;
  });
  // a 409 names only the workflow ("Workflow already exists: <name>"), whose name may itself contain
  // "trigger" or "step": it belongs at the Name input and nowhere else
  const nameError =
    (save.error instanceof ApiError && save.error.status === 409) || /workflow name/i.test(save.error instanceof Error ? save.error.message : '')
      ? (save.error as Error).message
      : undefined;
  const msg = !nameError && save.error instanceof Error ? save.error.message : '';
  const d = parsed && Array.isArray(parsed) ? workflowDiagram(parsed.filter((s) => s && typeof s.id === 'string')) : null;
  return (
    <form
      class="card"
      aria-label="Workflow editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <div class="section-head">
        <h2>{w ? `Workflow ${w.name}` : 'New workflow'}</h2>
        <div class="row-actions">
          {w && (
            <button type="button" class="danger ghost" onClick={() => setDeleting(true)}>
              Delete
            </button>
          )}
          <button type="button" class="ghost" onClick={props.onClose}>
            Back
          </button>
          <button type="submit" class="primary" disabled={save.busy}>
            {save.slow ? 'Saving…' : 'Save workflow'}
          </button>
        </div>
      </div>
      <ErrorBox error={save.error} />
      <div class="split">
        <div class="form-grid one">
          <Field label="Workflow name" error={nameError}>
            {(a) => <input {...a} value={name} disabled={Boolean(w)} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Check label="Active" checked={active} onChange={setActive} />
          <Field
            label="Trigger (JSON)"
            error={/trigger/i.test(msg) ? msg : undefined}
            hint='{"type":"state_change","entity","field","to"} or {"type":"event","event"}'
          >
            {(a) => <textarea {...a} class="code" rows={5} value={trigger} onInput={(e) => setTrigger(e.currentTarget.value)} />}
          </Field>
          <Field label="Context (JSON)" error={/context/i.test(msg) ? msg : undefined}>
            {(a) => <textarea {...a} class="code" rows={3} value={context} onInput={(e) => setContext(e.currentTarget.value)} />}
          </Field>
          <Field label="Steps (JSON)" error={/step|goto|expression/i.test(msg) ? msg : parsed ? undefined : 'Not valid JSON yet'}>
            {(a) => <textarea {...a} class="code" rows={14} value={steps} onInput={(e) => setSteps(e.currentTarget.value)} />}
          </Field>
        </div>
        <div>
          <h3>Diagram</h3>
          {d ? <FlowDiagram nodes={d.nodes} edges={d.edges} title="Workflow diagram" /> : <p class="muted">The steps are not valid JSON.</p>}
        </div>
      </div>
      {deleting && w && (
        <ConfirmDialog
          title="Delete this workflow?"
          message={`${w.name} and all its instances are deleted, pending approvals included.`}
          confirmLabel="Delete"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.del(`${base}/${w.id}`);
            toast('Workflow deleted');
            props.onSaved();
            return true;
          }}
        />
      )}
    </form>
  );
}

/* ---------- webhooks ---------- */

interface Webhook {
  id: string;
  entity: string;
  hook: string;
  url: string;
  method: string;
  headers: Record<string, string>;
  condition: string;
  async: boolean;
  retry: { max_attempts: number; backoff: string };
  active: boolean;
}
interface WebhookLog {
  id: string;
  webhook_id: string;
  entity: string;
  hook: string;
  url: string;
  method: string;
  request_body: unknown;
  response_status: number | null;
  response_body: string;
  status: string;
  attempt: number;
  max_attempts: number;
  error: string;
  created_at: string;
}

function Webhooks() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/webhooks`;
  const hooks = useAsync(() => api.get<Webhook[]>(base), []);
  const [editing, setEditing] = useState<Webhook | 'new' | null>(null);
  return (
    <>
      <ListCard
        title="Webhooks"
        newLabel="New webhook"
        onNew={() => setEditing('new')}
        list={hooks}
        empty="No webhooks yet."
        after={
          editing && (
            <WebhookForm
              hook={editing === 'new' ? null : editing}
              onClose={() => setEditing(null)}
              onSaved={() => {
                setEditing(null);
                hooks.reload();
              }}
            />
          )
        }
      >
        {(items) => (
          <div class="scroll-x">
            <table class="table" aria-label="Webhooks">
              <thead>
                <tr>
                  <th scope="col">Entity</th>
                  <th scope="col">Hook</th>
                  <th scope="col">URL</th>
                  <th scope="col">Active</th>
                </tr>
              </thead>
              <tbody>
                {items.map((h) => (
                  <tr key={h.id}>
                    <td>{h.entity}</td>
                    <td>{h.hook}</td>
                    <td>
                      <button type="button" class="sort" aria-label={`Edit webhook ${h.url}`} onClick={() => setEditing(h)}>
                        {h.method} {h.url}
                      </button>
                    </td>
                    <td>{h.active ? 'Yes' : 'No'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </ListCard>
      <DeliveryLog webhooks={hooks.data ?? []} />
    </>
  );
}

/** The Headers input as the object the API takes, or what is wrong with it. */
function parseHeaders(text: string): Record<string, string> | string {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() || '{}');
  } catch (e) {
    return `Headers are not valid JSON: ${(e as Error).message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'Headers must be a JSON object of header names to values, e.g. {"X-Token": "…"}';
  }
  // the API refuses a value that is not a string (a number, true, null, an object): say so here, by name
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string') return `headers.${name} must be a string`;
  }
  return value as Record<string, string>;
}

function WebhookForm(props: { hook: Webhook | null; onClose: () => void; onSaved: () => void }) {
  const m = useModel();
  const h = props.hook;
  const [entity, setEntity] = useState(h?.entity ?? m.entities[0]?.name ?? '');
  const [hook, setHook] = useState(h?.hook ?? 'after_write');
  const [url, setUrl] = useState(h?.url ?? '');
  const [method, setMethod] = useState(h?.method ?? 'POST');
  const [headers, setHeaders] = useState(JSON.stringify(h?.headers ?? {}, null, 2));
  const [condition, setCondition] = useState(h?.condition ?? '');
  const [maxAttempts, setMaxAttempts] = useState(String(h?.retry.max_attempts ?? 3));
  const [backoff, setBackoff] = useState(h?.retry.backoff ?? 'exponential');
  const [active, setActive] = useState(h?.active ?? true);
  // a problem the form finds before sending: shown at the Headers input, not as a failed request
  const [headersError, setHeadersError] = useState<string | null>(null);
  const base = `${appBase(m.app)}/_admin/webhooks`;
  const save = useAction(async () => {
    const hdrs = parseHeaders(headers);
    setHeadersError(typeof hdrs === 'string' ? hdrs : null);
    if (typeof hdrs === 'string') return false;
    const body = {
      entity,
      hook,
      url,
      method,
      headers: hdrs,
      condition,
      async: hook.startsWith('after_'),
      retry: { max_attempts: Number(maxAttempts), backoff },
      active,
    };
    if (h) await api.put(`${base}/${h.id}`, body);
    else await api.post(base, body);
    toast('Webhook saved');
    props.onSaved();
    return true;
  });
  const del = useAction(async () => {
    if (h) await api.del(`${base}/${h.id}`);
    props.onSaved();
    return true;
  });
  const { byField } = errorsByField(save.error);
  const msg = save.error instanceof Error ? save.error.message : '';
  return (
    <Modal title={h ? 'Edit webhook' : 'New webhook'} onClose={props.onClose} wide>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <div class="dialog-body form-grid">
          <Field label="Entity" error={byField.entity}>
            {(a) => (
              <select {...a} value={entity} onChange={(e) => setEntity(e.currentTarget.value)}>
                {m.entities.map((e) => (
                  <option key={e.name}>{e.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Event" error={byField.hook} hint="before_* calls are synchronous and can veto the write">
            {(a) => (
              <select {...a} value={hook} onChange={(e) => setHook(e.currentTarget.value)}>
                {['after_write', 'after_delete', 'before_write', 'before_delete'].map((x) => (
                  <option key={x}>{x}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="URL" error={byField.url ?? (/url/i.test(msg) ? msg : undefined)}>
            {(a) => <input {...a} type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}
          </Field>
          <Field label="Method" error={byField.method}>
            {(a) => (
              <select {...a} value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
                {['POST', 'PUT', 'PATCH', 'GET', 'DELETE'].map((x) => (
                  <option key={x}>{x}</option>
                ))}
              </select>
            )}
          </Field>
          <Field
            label="Condition"
            hint="expression; empty = always"
            error={byField.condition ?? (/condition|expression/i.test(msg) ? msg : undefined)}
          >
            {(a) => <input {...a} class="code" value={condition} onInput={(e) => setCondition(e.currentTarget.value)} />}
          </Field>
          <Field
            label="Headers (JSON)"
            hint='{"X-Token": "{{env.HOOK_TOKEN}}"}'
            error={headersError ?? byField.headers ?? (/^headers\b/i.test(msg) ? msg : undefined)}
          >
            {(a) => <textarea {...a} class="code" rows={3} value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} />}
          </Field>
          <Field label="Max attempts" error={byField['retry.max_attempts'] ?? (/retry|attempt/i.test(msg) ? msg : undefined)}>
            {(a) => <input {...a} type="number" value={maxAttempts} onInput={(e) => setMaxAttempts(e.currentTarget.value)} />}
          </Field>
          <Field label="Backoff" error={byField['retry.backoff']}>
            {(a) => (
              <select {...a} value={backoff} onChange={(e) => setBackoff(e.currentTarget.value)}>
                <option>exponential</option>
                <option>linear</option>
              </select>
            )}
          </Field>
          <Check label="Active" checked={active} onChange={setActive} />
        </div>
        <div class="dialog-body">
          <ErrorBox error={save.error ?? del.error} />
        </div>
        <footer class="dialog-foot">
          {h && (
            <ConfirmButton
              label="Delete webhook"
              question="Delete this webhook and its delivery log?"
              busy={del.busy}
              slow={del.slow}
              onConfirm={() => void del.run()}
            />
          )}
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={save.busy}>
            {save.slow ? 'Saving…' : 'Save webhook'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/**
 * "delivery to <url> at <time>" per row, as the row shows them, so each row's buttons have a name of their
 * own; rows alike to the second are told apart by their order.
 */
function deliveryNames(logs: WebhookLog[]): string[] {
  const base = logs.map((l) => `delivery to ${l.url} at ${new Date(l.created_at).toLocaleString()}`);
  const seen = new Map<string, number>();
  return base.map((b) => {
    const n = (seen.get(b) ?? 0) + 1;
    seen.set(b, n);
    return n === 1 && base.indexOf(b, base.indexOf(b) + 1) === -1 ? b : `${b} (${n})`;
  });
}

/** Deliveries of the app's webhooks; the Activity page passes no list and the log loads it itself. */
export function DeliveryLog(props: { webhooks?: Webhook[] }) {
  const m = useModel();
  const own = useAsync(
    () => (props.webhooks ? Promise.resolve(props.webhooks) : api.get<Webhook[]>(`${appBase(m.app)}/_admin/webhooks`)),
    [props.webhooks === undefined],
  );
  const webhooks = props.webhooks ?? own.data ?? [];
  const [status, setStatus] = useState('');
  const [webhook, setWebhook] = useState('');
  const [entity, setEntity] = useState('');
  const logs = useAsync(
    () => api.get<WebhookLog[]>(`${appBase(m.app)}/_admin/webhook-logs${qs({ status, webhook_id: webhook, entity })}`),
    [status, webhook, entity],
  );
  const [open, setOpen] = useState<WebhookLog | null>(null);
  // the row whose Retry was pressed: its button shows the progress
  const [retrying, setRetrying] = useState('');
  const retry = useAction(async (id: string) => {
    setRetrying(id);
    await api.post(`${appBase(m.app)}/_admin/webhook-logs/${id}/retry`);
    toast('Retry scheduled: the delivery job sends it within about 30 s');
    logs.reload();
    return true;
  });
  const shown = (logs.data ?? []).filter(
    (l) => (!status || l.status === status) && (!webhook || l.webhook_id === webhook) && (!entity || l.entity === entity),
  );
  const names = deliveryNames(shown);
  return (
    <section class="card" aria-label="Delivery log">
      <div class="section-head">
        <h2>Delivery log</h2>
        <button type="button" onClick={logs.reload}>
          Refresh
        </button>
      </div>
      <div class="form-grid">
        <Field label="Status">
          {(a) => (
            <select {...a} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">any</option>
              {['pending', 'delivered', 'retrying', 'failed'].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Entity">
          {(a) => (
            <select {...a} value={entity} onChange={(e) => setEntity(e.currentTarget.value)}>
              <option value="">any</option>
              {m.entities.map((e) => (
                <option key={e.name}>{e.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Webhook">
          {(a) => (
            <select {...a} value={webhook} onChange={(e) => setWebhook(e.currentTarget.value)}>
              <option value="">any</option>
              {webhooks.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.entity} {h.hook} {h.url}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <ErrorBox error={logs.error ?? retry.error} />
      {logs.data && logs.slow && <Spinner />}
      {!logs.data ? (
        <Spinner />
      ) : shown.length === 0 ? (
        <Empty>No deliveries.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table" aria-label="Deliveries">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Webhook</th>
                <th scope="col">Status</th>
                <th scope="col">Attempt</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((l, k) => (
                <tr key={l.id}>
                  <td>{new Date(l.created_at).toLocaleString()}</td>
                  <td>
                    {l.entity} {l.hook} <small class="muted">{l.url}</small>
                  </td>
                  <td>
                    <span class={`badge ${l.status === 'delivered' ? 'ok' : l.status === 'failed' ? 'delete' : ''}`}>{l.status}</span>{' '}
                    {l.response_status ? `HTTP ${l.response_status}` : ''}
                  </td>
                  <td>
                    {l.attempt}/{l.max_attempts}
                  </td>
                  <td class="row-actions">
                    <button type="button" aria-label={`Payload of ${names[k]}`} onClick={() => setOpen(l)}>
                      Payload
                    </button>
                    {(l.status === 'failed' || l.status === 'retrying') && (
                      <button type="button" aria-label={`Retry ${names[k]}`} disabled={retry.busy} onClick={() => void retry.run(l.id)}>
                        {retry.slow && retrying === l.id ? 'Retrying…' : 'Retry'}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open && (
        <Modal title="Delivery" onClose={() => setOpen(null)} wide>
          <div class="dialog-body">
            <p>
              {open.method} {open.url} → {open.status} {open.response_status ? `(HTTP ${open.response_status})` : ''} {open.error}
            </p>
            <h3>Request body</h3>
            <pre class="code">{JSON.stringify(open.request_body, null, 2)}</pre>
            <h3>Response body</h3>
            <pre class="code">{open.response_body || '—'}</pre>
          </div>
        </Modal>
      )}
    </section>
  );
}
