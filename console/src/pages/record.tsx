import { useRef, useState } from 'preact/hooks';
import { ApiError, appBase, api, plainNumbers, qs, request, stringifyJson } from '../api';
import { displayField, editableFields, formatCell, mustFill } from '../fields';
import { childRelations, entityOf, hiddenOf, labelOf, useModel, type AppModel, type EntityDef, type FieldDef, type RelationDef } from '../model';
import { navigate } from '../router';
import {
  ConfirmDialog,
  Empty,
  ErrorBox,
  Link,
  PageHead,
  Spinner,
  TabPanel,
  Tabs,
  errorsByField,
  toast,
  useAction,
  useAsync,
  type FieldErrors,
} from '../ui';
import { FieldInput, FkPicker } from './inputs';
import { HistoryTab } from './history-tab';

type Row = Record<string, unknown>;

export function RecordPage(props: { entity: string; id: string }) {
  const m = useModel();
  const e = entityOf(m, props.entity);
  const isNew = props.id === 'new';
  const rels = e ? childRelations(m, e.name) : [];
  // lossless: a json field's large integers must stay numbers; every other field takes digit strings
  const fetchRow = () =>
    request<{ data: Row }>(
      'GET',
      `${appBase(m.app)}/${e!.name}/${encodeURIComponent(props.id)}${qs({ include: rels.map((r) => r.name).join(',') })}`,
      {
        lossless: true,
      },
    ).then((r) => keepJsonNumbers(m, e!, r.data));
  const loaded = useAsync(async () => (!e || isNew ? ({} as Row) : fetchRow()), [props.entity, props.id]);
  // bumped after a save: the form starts again from the saved record (e.g. a state field then offers
  // the transitions allowed from its new state)
  const [saves, setSaves] = useState(0);
  if (!e || !m.can(e.name, isNew ? 'create' : 'read')) return <Empty>Not available.</Empty>;
  if (loaded.error) {
    return (
      <>
        <ErrorBox error={loaded.error} />
        <Link to={`/a/${encodeURIComponent(m.app)}/data/${e.name}`}>← {e.name} list</Link>
      </>
    );
  }
  if (!loaded.data) return <Spinner />;
  return (
    <RecordForm
      key={`${props.id}:${saves}`}
      e={e}
      id={props.id}
      initial={loaded.data}
      rels={rels}
      onSaved={() =>
        fetchRow().then(
          (row) => {
            loaded.setData(row);
            setSaves((n) => n + 1);
          },
          () => loaded.reload(),
        )
      }
    />
  );
}

/** The row with digit strings for large integers, except inside json fields (its own and its children's). */
function keepJsonNumbers(m: AppModel, e: EntityDef, row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    const field = e.fields.find((f) => f.name === k);
    const rel = field ? undefined : childRelations(m, e.name).find((r) => r.name === k);
    const target = rel && entityOf(m, rel.target);
    if (field?.type === 'json') out[k] = v;
    else if (target && Array.isArray(v)) out[k] = v.map((c) => (c && typeof c === 'object' ? keepJsonNumbers(m, target, c as Row) : plainNumbers(c)));
    else if (target && v && typeof v === 'object') out[k] = keepJsonNumbers(m, target, v as Row);
    else out[k] = plainNumbers(v);
  }
  return out;
}

interface ChildRow {
  key: number;
  values: Row;
  /** Present for rows that exist on the server. */
  pk?: unknown;
  /** A stored row's values as loaded: a state field offers the transitions from its stored state, not from the one just picked. */
  stored?: Row;
  removed?: boolean;
}

let rowKey = 0;

function RecordForm(props: { e: EntityDef; id: string; initial: Row; rels: RelationDef[]; onSaved: () => Promise<void> }) {
  const { e, initial, rels } = props;
  const m = useModel();
  const isNew = props.id === 'new';
  const hidden = hiddenOf(m, e.name);
  // a new record cannot be saved without its required fields: those the UI config hides stay in the form
  const needed = isNew ? editableFields(e).filter((f) => hidden.has(f.name) && mustFill(e, f)) : [];
  // a stored record's key is shown, not edited: the API ignores a changed key on update (rest-api.md)
  const fields = editableFields(e).filter((f) => (!hidden.has(f.name) || needed.includes(f)) && (isNew || f.name !== e.primary_key.field));
  const [values, setValues] = useState<Row>(() => {
    const v: Row = {};
    for (const f of fields) v[f.name] = isNew ? startValue(f) : initial[f.name];
    return v;
  });
  const [children, setChildren] = useState<Record<string, ChildRow[]>>(() => {
    const out: Record<string, ChildRow[]> = {};
    for (const r of rels) {
      const target = entityOf(m, r.target);
      const pk = target?.primary_key.field ?? 'id';
      const list = (Array.isArray(initial[r.name]) ? initial[r.name] : initial[r.name] ? [initial[r.name]] : []) as Row[];
      out[r.name] = list.map((row) => ({ key: ++rowKey, values: { ...row }, stored: row, pk: row[pk] }));
    }
    return out;
  });
  const [deleting, setDeleting] = useState(false);
  const [blocked, setBlocked] = useState('');
  const [tab, setTab] = useState<'form' | 'history'>('form');
  // error paths of the last failed save whose input the user has changed since: their message is stale
  const [edited, setEdited] = useState<ReadonlySet<string>>(new Set());
  const touch = (path: string) => setEdited((s) => (s.has(path) ? s : new Set([...s, path])));
  // each child row's position in the nested write last sent: the API's error paths (`items[2].qty`) count
  // those, and they must not move to another row when an edit changes which rows a next save would send
  const [sentIndex, setSentIndex] = useState<Record<string, Map<number, number>>>({});
  const canWrite = m.can(e.name, isNew ? 'create' : 'update');
  const base = `/a/${encodeURIComponent(m.app)}/data/${e.name}`;

  const save = useAction(async () => {
    const body: Row = {};
    for (const f of fields) {
      const v = values[f.name];
      if (isNew) {
        if (v !== null && v !== '' && v !== undefined) body[f.name] = v;
      } else if (stringifyJson(v) !== stringifyJson(initial[f.name])) body[f.name] = v;
    }
    const index: Record<string, Map<number, number>> = {};
    for (const r of rels) {
      const nested = nestedRows(m, r, children[r.name] ?? [], initial);
      index[r.name] = nested.index;
      // the rows are a diff of what the form loaded: a relation whose default mode is replace would delete
      // the children left unmentioned, append would ignore the edits and removals
      if (nested.out.length) body[r.name] = { _write_mode: 'diff', data: nested.out };
    }
    setSentIndex(index);
    const url = `${appBase(m.app)}/${e.name}`;
    const saved = isNew ? await api.post<Row>(url, body) : await api.put<Row>(`${url}/${encodeURIComponent(props.id)}`, body);
    toast(`${e.name} saved`);
    const id = String(saved[e.primary_key.field]);
    navigate(isNew ? base : `${base}/${encodeURIComponent(id)}`, true);
    if (!isNew && id === props.id) await props.onSaved();
    return true;
  });
  const byField: FieldErrors = Object.fromEntries(Object.entries(errorsByField(save.error).byField).filter(([path]) => !edited.has(path)));
  // the summary lists what is still to fix; once every problem it named has been edited it goes too
  const details = save.error instanceof ApiError ? save.error.details.filter((d) => !d.field || !edited.has(d.field)) : undefined;
  const summary = save.error instanceof ApiError && save.error.details.length > 0 && details?.length === 0 ? null : save.error;
  const title = isNew ? `New ${e.name}` : `${e.name}: ${String(initial[displayField(e)] ?? props.id)}`;

  return (
    <form
      aria-label={`${e.name} record`}
      // a control the browser finds invalid (a JSON field that does not parse) stops the submit: the
      // browser focuses it and its error is announced; nothing is sent, not even the other fields
      onInvalidCapture={(ev) => {
        const msg = (ev.target as HTMLInputElement).validationMessage;
        setBlocked((b) => b || `Not saved: ${msg || 'correct the highlighted field first.'}`);
      }}
      onSubmit={(ev) => {
        ev.preventDefault();
        setBlocked('');
        setEdited(new Set());
        void save.run();
      }}
    >
      <PageHead title={title} sub={<Link to={base}>← {e.name} list</Link>}>
        {!isNew && m.can(e.name, 'delete') && (
          <button type="button" class="danger ghost" onClick={() => setDeleting(true)}>
            Delete
          </button>
        )}
        {canWrite && (
          // a click (also Enter's implicit submit) starts a new attempt: the invalid events that follow name its first problem
          <button type="submit" class="primary" disabled={save.busy} onClick={() => setBlocked('')}>
            {save.slow ? 'Saving…' : 'Save'}
          </button>
        )}
      </PageHead>
      {!isNew && e.history && (
        <Tabs
          id="record"
          label="Record sections"
          tabs={[
            ['form', 'Record'],
            ['history', 'History'],
          ]}
          value={tab}
          onChange={setTab}
        />
      )}
      <TabPanel id="record" tab={tab} shown={!isNew && Boolean(e.history)}>
        {tab === 'history' ? (
          <HistoryTab entity={e.name} id={props.id} />
        ) : (
          // without the right to save, the inputs are shown disabled rather than editable for nothing
          <fieldset class="bare" disabled={!canWrite}>
            <legend class="sr-only">{canWrite ? `${e.name} fields` : `${e.name} fields (read only)`}</legend>
            <ErrorBox error={summary ?? (blocked ? new Error(blocked) : null)} details={summary ? details : undefined} />
            {needed.length > 0 && (
              <p class="notice small">
                Shown although this entity’s UI config hides {needed.length === 1 ? 'it' : 'them'}: a new {e.name} needs{' '}
                {needed.map((f) => labelOf(m, e.name, f.name)).join(', ')}.
              </p>
            )}
            <section class="card form-grid" aria-label="Fields">
              {fields.map((f) => (
                <FieldInput
                  key={f.name}
                  entity={e}
                  field={f}
                  label={labelOf(m, e.name, f.name)}
                  value={values[f.name]}
                  original={initial[f.name]}
                  isNew={isNew}
                  error={byField[f.name]}
                  onChange={(v) => {
                    setValues({ ...values, [f.name]: v });
                    touch(f.name);
                  }}
                />
              ))}
              {!isNew && (
                <dl class="readonly">
                  {e.fields
                    // read-only values too: a field the UI config hides is not shown at all
                    .filter((f) => !fields.includes(f) && !hidden.has(f.name))
                    .map((f) => (
                      <div key={f.name}>
                        <dt>
                          {labelOf(m, e.name, f.name)}
                          {f.computed && <small class="muted"> · computed by a rule</small>}
                        </dt>
                        <dd>{formatCell(f, initial[f.name]) || '—'}</dd>
                      </div>
                    ))}
                </dl>
              )}
            </section>
            {rels.map((r) => (
              <ChildrenEditor
                key={r.name}
                rel={r}
                rows={children[r.name] ?? []}
                index={sentIndex[r.name] ?? new Map()}
                errors={byField}
                onEdited={touch}
                onChange={(rows) => {
                  setChildren({ ...children, [r.name]: rows });
                  touch(r.name);
                }}
                readOnly={!canWrite}
              />
            ))}
          </fieldset>
        )}
      </TabPanel>
      {deleting && (
        <ConfirmDialog
          title={`Delete this ${e.name}?`}
          message={
            e.soft_delete
              ? 'The record is hidden (soft delete); related records follow their relation’s on-delete rule.'
              : 'The record is deleted; related records follow their relation’s on-delete rule.'
          }
          confirmLabel="Delete"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.del(`${appBase(m.app)}/${e.name}/${encodeURIComponent(props.id)}`);
            toast(`${e.name} deleted`);
            navigate(base, true);
            return true;
          }}
        />
      )}
    </form>
  );
}

/**
 * A new record's value for a field as its input first shows it: the default, else an unticked checkbox's
 * false (what the user sees is what is saved, not a null), else nothing.
 */
function startValue(f: FieldDef): unknown {
  return f.default ?? (f.type === 'boolean' ? false : null);
}

/** The nested-write rows of one relation: inserts, changed rows, and `_delete` for removed ones. */
function nestedRows(m: AppModel, r: RelationDef, rows: ChildRow[], initial: Row): { out: Row[]; index: Map<number, number> } {
  const index = new Map<number, number>(); // child row key → its position in `data` (error paths)
  const target = entityOf(m, r.target);
  const pk = target?.primary_key.field ?? 'id';
  const before = new Map(
    ((Array.isArray(initial[r.name]) ? initial[r.name] : initial[r.name] ? [initial[r.name]] : []) as Row[]).map((x) => [String(x[pk]), x]),
  );
  const out: Row[] = [];
  for (const row of rows) {
    if (r.type === 'many_to_many') {
      if (row.removed && row.pk !== undefined && before.has(String(row.pk))) out.push({ [pk]: row.pk, _delete: true });
      else if (!row.removed && row.pk !== undefined && !before.has(String(row.pk))) out.push({ [pk]: row.pk });
      continue;
    }
    if (row.removed) {
      if (row.pk !== undefined) out.push({ [pk]: row.pk, _delete: true });
      continue;
    }
    index.set(row.key, out.length);
    // an existing child's key identifies it and is never sent changed: another key would write another row
    const editable = target ? editableFields(target).filter((f) => f.name !== r.target_key && (row.pk === undefined || f.name !== pk)) : [];
    const vals: Row = {};
    const old = row.pk !== undefined ? before.get(String(row.pk)) : undefined;
    for (const f of editable) {
      const v = row.values[f.name];
      if (old) {
        if (stringifyJson(v) !== stringifyJson(old[f.name])) vals[f.name] = v;
      } else if (v !== null && v !== undefined && v !== '') vals[f.name] = v;
    }
    if (old) {
      if (Object.keys(vals).length) out.push({ [pk]: row.pk, ...vals });
      else index.delete(row.key);
    } else out.push(vals);
  }
  return { out, index };
}

/** one_to_many / one_to_one children as editable rows; many_to_many as links picked from the target. */
function ChildrenEditor(props: {
  rel: RelationDef;
  rows: ChildRow[];
  index: Map<number, number>;
  errors: FieldErrors;
  readOnly: boolean;
  onChange: (rows: ChildRow[]) => void;
  /** A child field named by an error path was changed. */
  onEdited: (path: string) => void;
}) {
  const { rel, rows } = props;
  const m = useModel();
  // a picked record read back to be shown (deleted meanwhile, say): why it was not linked, at the picker
  const [linkError, setLinkError] = useState('');
  // the rows as last rendered: a link check that answers later edits these, not the ones of its own render
  const latest = useRef(rows);
  latest.current = rows;
  const target = entityOf(m, rel.target);
  if (!target) return null;
  const pk = target.primary_key.field;
  const hidden = hiddenOf(m, target.name);
  const fields = editableFields(target).filter((f) => f.name !== rel.target_key);
  // as in the parent form: a hidden field stays for a new row that cannot be saved without it
  const shown = (f: FieldDef, row: ChildRow) => !hidden.has(f.name) || (row.pk === undefined && mustFill(target, f));
  const live = rows.filter((r) => !r.removed);
  // each child row is a write of the target entity, checked against its own permissions: offer only those
  // actions (a new row needs create, changing a stored one update, removing it delete)
  const canCreate = !props.readOnly && m.can(target.name, 'create');
  const canEdit = (row: ChildRow) => !props.readOnly && m.can(target.name, row.pk === undefined ? 'create' : 'update');
  const canRemove = (row: ChildRow) => !props.readOnly && (row.pk === undefined || m.can(target.name, 'delete'));
  const set = (key: number, patch: Partial<ChildRow>) => props.onChange(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const title = `${rel.name} (${target.name})`;

  if (rel.type === 'many_to_many') {
    return (
      <section class="card" aria-label={title}>
        <h2>{title}</h2>
        {live.length === 0 && <p class="muted">No linked {target.name} records.</p>}
        <ul class="chips">
          {live.map((r) => (
            <li key={r.key} class="chip">
              {String(r.values[displayField(target)] ?? r.pk)}
              {!props.readOnly && (
                <button
                  type="button"
                  class="ghost"
                  aria-label={`Unlink ${String(r.values[displayField(target)] ?? r.pk)}`}
                  onClick={() => set(r.key, { removed: true })}
                >
                  ✕
                </button>
              )}
            </li>
          ))}
        </ul>
        {!props.readOnly && (
          <FkPicker
            label={`Link a ${target.name}`}
            name={`${rel.name}-link`}
            target={target.name}
            value={null}
            error={linkError || undefined}
            excludeIds={live.map((r) => String(r.pk))}
            onChange={(id, picked) => {
              if (id === null || id === undefined || !picked) return;
              setLinkError('');
              const again = rows.find((r) => String(r.pk) === String(id));
              if (again) return set(again.key, { removed: false });
              // Linked at once with what the search listed, so a Save right after the pick keeps it; then read
              // back: a record deleted meanwhile is unlinked again, with the reason at the picker.
              const key = ++rowKey;
              props.onChange([...rows, { key, values: picked, pk: id }]);
              api.get<Row>(`${appBase(m.app)}/${target.name}/${encodeURIComponent(String(id))}`).catch((err: Error) => {
                props.onChange(latest.current.filter((r) => r.key !== key));
                setLinkError(`Not linked: ${err.message}`);
              });
            }}
          />
        )}
      </section>
    );
  }

  return (
    <section class="card" aria-label={title}>
      <div class="section-head">
        <h2>{title}</h2>
        {canCreate && (rel.type !== 'one_to_one' || live.length === 0) && (
          <button
            type="button"
            // a new child row starts as a new parent record does (its checkboxes false, its defaults shown)
            onClick={() =>
              props.onChange([
                ...rows,
                {
                  key: ++rowKey,
                  values: Object.fromEntries(fields.filter((f) => !hidden.has(f.name) || mustFill(target, f)).map((f) => [f.name, startValue(f)])),
                },
              ])
            }
          >
            Add {target.name}
          </button>
        )}
      </div>
      {live.length === 0 && <p class="muted">No {target.name} records yet.</p>}
      {rows.map((row) => {
        if (row.removed) return null;
        const idx = props.index.get(row.key);
        const at = idx === undefined ? null : `${rel.name}[${idx}]`;
        return (
          <fieldset key={row.key} class="child-row" aria-label={`${target.name} ${live.indexOf(row) + 1}`}>
            <legend>
              {target.name} {live.indexOf(row) + 1}
              {row.pk !== undefined && <small class="muted"> · {String(row.pk).slice(0, 8)}</small>}
            </legend>
            {/* the values only: a row that may not be changed may still be removed */}
            <fieldset class="bare form-grid" disabled={!canEdit(row)}>
              {fields
                .filter((f) => shown(f, row) && (row.pk === undefined || f.name !== pk))
                .map((f) => (
                  <FieldInput
                    key={f.name}
                    entity={target}
                    field={f}
                    label={`${labelOf(m, target.name, f.name)}`}
                    value={row.values[f.name]}
                    original={row.stored?.[f.name]}
                    isNew={row.pk === undefined}
                    error={at ? props.errors[`${at}.${f.name}`] : undefined}
                    onChange={(v) => {
                      set(row.key, { values: { ...row.values, [f.name]: v } });
                      if (at) props.onEdited(`${at}.${f.name}`);
                    }}
                  />
                ))}
            </fieldset>
            {canRemove(row) && (
              <button
                type="button"
                class="ghost danger"
                aria-label={`Remove ${target.name} ${live.indexOf(row) + 1}`}
                onClick={() => set(row.key, { removed: true })}
              >
                Remove
              </button>
            )}
          </fieldset>
        );
      })}
      {props.errors[rel.name] && <p class="error-text">{props.errors[rel.name]}</p>}
      <p class="muted small">Saved together with the parent as one nested write ({pk} identifies existing rows).</p>
    </section>
  );
}
