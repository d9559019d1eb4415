import { useState } from 'preact/hooks';
import { api, appBase, exactAsDouble } from '../api';
import { entityOf, FIELD_TYPES, useModel, type EntityDef, type FieldDef, type FieldType, type RelationDef } from '../model';
import { navigate } from '../router';
import { Check, ConfirmDialog, Empty, ErrorBox, Field, Link, PageHead, errorsByField, toast, useAction } from '../ui';
import { ErDiagram } from './er-diagram';

export function SchemaPage() {
  const m = useModel();
  const base = `/a/${encodeURIComponent(m.app)}/schema`;
  return (
    <>
      <PageHead title="Schema" sub="Entities become tables and REST routes as soon as they are saved.">
        <button type="button" class="primary" onClick={() => navigate(`${base}/entities/new`)}>
          New entity
        </button>
        <button type="button" onClick={() => navigate(`${base}/relations/new`)} disabled={m.entities.length === 0}>
          New relation
        </button>
      </PageHead>
      <div class="grid-2">
        <section class="card" aria-labelledby="entities-h">
          <h2 id="entities-h">Entities</h2>
          {m.entities.length === 0 ? (
            <Empty>No entities yet.</Empty>
          ) : (
            <div class="scroll-x">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Table</th>
                    <th scope="col">Fields</th>
                    <th scope="col">Options</th>
                  </tr>
                </thead>
                <tbody>
                  {m.entities.map((e) => (
                    <tr key={e.name}>
                      <td>
                        <Link to={`${base}/entities/${e.name}`}>{e.name}</Link>
                      </td>
                      <td>
                        <code>{e.table}</code>
                      </td>
                      <td>{e.fields.length}</td>
                      <td class="muted">{[e.soft_delete && 'soft delete', e.slug && 'slug', e.history && 'history'].filter(Boolean).join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section class="card" aria-labelledby="relations-h">
          <h2 id="relations-h">Relations</h2>
          {m.relations.length === 0 ? (
            <Empty>No relations yet.</Empty>
          ) : (
            <div class="scroll-x">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col">From → to</th>
                  </tr>
                </thead>
                <tbody>
                  {m.relations.map((r) => (
                    <tr key={r.name}>
                      <td>
                        <Link to={`${base}/relations/${r.name}`}>{r.name}</Link>
                      </td>
                      <td>{r.type.replace(/_/g, ' ')}</td>
                      <td>
                        {r.source} → {r.target}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>
      {m.entities.length > 0 && (
        <section class="card" aria-labelledby="er-h">
          <h2 id="er-h">Entity-relationship diagram</h2>
          <ErDiagram entities={m.entities} relations={m.relations} />
        </section>
      )}
    </>
  );
}

/** Field row being edited: enum and default kept as text until saved. */
interface FieldDraft extends Omit<FieldDef, 'enum' | 'default'> {
  enumText: string;
  defaultText: string;
  key: number;
}

let draftKey = 0;

function toDraft(f: FieldDef): FieldDraft {
  const { enum: en, default: d, ...rest } = f;
  return { ...rest, enumText: (en ?? []).join(', '), defaultText: d === undefined || d === null ? '' : String(d), key: ++draftKey };
}

const NUMERIC = new Set(['int', 'integer', 'bigint', 'float', 'decimal']);
const NUMERIC_TEXT = /^\s*-?\d+(\.\d+)?\s*$/;

function fromDraft(f: FieldDraft): FieldDef {
  const out: FieldDef = { name: f.name.trim(), type: f.type };
  if (f.required) out.required = true;
  if (f.unique) out.unique = true;
  if (f.nullable) out.nullable = true;
  if (f.index) out.index = true;
  // only where the designer shows the Auto input: a choice left from before the type changed is not sent unseen
  if (f.auto && (f.type === 'timestamp' || f.type === 'date')) out.auto = f.auto;
  if (f.type === 'decimal' && f.precision !== undefined && !Number.isNaN(f.precision)) out.precision = f.precision;
  const en = f.enumText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (en.length) out.enum = en;
  if (f.defaultText !== '') {
    const t = f.defaultText;
    // a bigint default stays a digit string: as a JavaScript number 9007199254740993 would become …992
    if (f.type === 'bigint' && /^\s*-?\d+\s*$/.test(t)) out.default = t.trim();
    // so does a decimal default a double cannot hold (1234567890123456.78 would become …456.8)
    else if (f.type === 'decimal' && NUMERIC_TEXT.test(t) && !exactAsDouble(t.trim())) out.default = t.trim();
    else if (NUMERIC.has(f.type) && t.trim() !== '' && !Number.isNaN(Number(t))) out.default = Number(t);
    else if (f.type === 'boolean' && (t === 'true' || t === 'false')) out.default = t === 'true';
    else out.default = t;
  }
  return out;
}

// Paths the designer shows next to an input; any other detail goes to the summary at the top.
const KNOWN =
  /^(name|table|fields|indexes|slug(\.(field|source|regenerate_on_update))?|primary_key\.(field|type|generated)|fields\[\d+\]\.(name|type|required|unique|nullable|default|enum|precision|auto|index)|indexes\[\d+\](\.(fields|unique|name))?)$/;

export function EntityDesigner(props: { name: string }) {
  const m = useModel();
  const isNew = props.name === 'new';
  const existing = isNew ? undefined : entityOf(m, props.name);
  const [name, setName] = useState(existing?.name ?? '');
  const [table, setTable] = useState(existing?.table ?? '');
  const [pk, setPk] = useState(existing?.primary_key ?? { field: 'id', type: 'uuid', generated: true });
  const [softDelete, setSoftDelete] = useState(Boolean(existing?.soft_delete));
  const [historyOn, setHistoryOn] = useState(Boolean(existing?.history));
  const [slugOn, setSlugOn] = useState(Boolean(existing?.slug));
  const [slug, setSlug] = useState(existing?.slug ?? { field: '', source: '', regenerate_on_update: false });
  const [fields, setFields] = useState<FieldDraft[]>(() => (existing?.fields ?? [{ name: 'id', type: 'uuid' as FieldType }]).map(toDraft));
  const [indexes, setIndexes] = useState(() =>
    (existing?.indexes ?? []).map((i) => ({ fieldsText: i.fields.join(', '), unique: Boolean(i.unique), name: i.name ?? '' })),
  );
  const [deleting, setDeleting] = useState(false);
  // a stored entity moved to another table: asked first (see the submit handler)
  const [moving, setMoving] = useState<string | null>(null);
  const base = `${appBase(m.app)}/_admin/entities`;

  const save = useAction(async () => {
    const def: EntityDef = {
      name: name.trim(),
      table: table.trim() || name.trim(),
      primary_key: { field: pk.field, ...(pk.type ? { type: pk.type } : {}), generated: Boolean(pk.generated) },
      soft_delete: softDelete,
      history: historyOn,
      fields: fields.map(fromDraft),
    };
    if (slugOn) {
      def.slug = { field: slug.field, regenerate_on_update: Boolean(slug.regenerate_on_update) };
      if (slug.source) def.slug.source = slug.source;
    }
    if (indexes.length) {
      def.indexes = indexes.map((i) => ({
        fields: i.fieldsText
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        ...(i.unique ? { unique: true } : {}),
        ...(i.name.trim() ? { name: i.name.trim() } : {}),
      }));
    }
    if (isNew) await api.post(base, def);
    else await api.put(`${base}/${encodeURIComponent(props.name)}`, def);
    toast(`Entity ${def.name} saved`);
    m.reload();
    if (isNew) navigate(`/a/${encodeURIComponent(m.app)}/schema/entities/${def.name}`, true);
    return true;
  });
  const { byField } = errorsByField(save.error);
  const unplaced =
    save.error && 'details' in (save.error as object)
      ? (save.error as { details: { field?: string; message: string }[] }).details.filter((d) => !d.field || !KNOWN.test(d.field))
      : [];

  if (!isNew && !existing) return <Empty>No entity named {props.name}.</Empty>;

  const names = fields.map((f) => f.name).filter(Boolean);
  const update = (i: number, patch: Partial<FieldDraft>) => setFields(fields.map((f, j) => (j === i ? { ...f, ...patch } : f)));

  return (
    <form
      class="designer"
      aria-label="Entity designer"
      onSubmit={(e) => {
        e.preventDefault();
        // the API then reads and writes the other table (made empty when missing) and leaves the old one
        // with its rows (metadata.md §6): to the user every record seems gone, so this asks first
        const to = table.trim() || name.trim();
        if (existing && to !== existing.table) setMoving(to);
        else void save.run();
      }}
    >
      <PageHead title={isNew ? 'New entity' : `Entity ${props.name}`} sub={<Link to={`/a/${encodeURIComponent(m.app)}/schema`}>← Schema</Link>}>
        {!isNew && (
          <>
            <button type="button" onClick={() => navigate(`/a/${encodeURIComponent(m.app)}/data/${props.name}`)}>
              Browse data
            </button>
            <button type="button" class="danger ghost" onClick={() => setDeleting(true)}>
              Delete entity
            </button>
          </>
        )}
        <button type="submit" class="primary" disabled={save.busy}>
          {save.slow ? 'Saving…' : 'Save entity'}
        </button>
      </PageHead>
      {save.error ? <ErrorBox error={save.error} details={unplaced} /> : null}
      <section class="card form-grid" aria-label="Entity options">
        <Field label="Entity name" error={byField.name} hint={isNew ? 'Route segment: /api/<app>/<name>' : 'Renaming is not possible'}>
          {(a) => <input {...a} name="entity-name" required value={name} disabled={!isNew} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <Field label="Table" error={byField.table} hint="Physical table; defaults to the entity name">
          {(a) => <input {...a} name="table" value={table} placeholder={name} onInput={(e) => setTable(e.currentTarget.value)} />}
        </Field>
        <Field label="Primary key field" error={byField['primary_key.field']}>
          {(a) => (
            <select {...a} name="pk-field" value={pk.field} onChange={(e) => setPk({ ...pk, field: e.currentTarget.value })}>
              {!names.includes(pk.field) && <option value={pk.field}>{pk.field || '—'}</option>}
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Primary key type" error={byField['primary_key.type']}>
          {(a) => (
            <select {...a} name="pk-type" value={pk.type ?? ''} onChange={(e) => setPk({ ...pk, type: e.currentTarget.value || undefined })}>
              {['uuid', 'int', 'bigint', 'string'].map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div class="checks">
          <Check
            label="Generated key"
            checked={Boolean(pk.generated)}
            onChange={(v) => setPk({ ...pk, generated: v })}
            error={byField['primary_key.generated']}
          />
          <Check label="Soft delete" checked={softDelete} onChange={setSoftDelete} />
          <Check label="Record history" checked={historyOn} onChange={setHistoryOn} />
          <Check label="Slug" checked={slugOn} onChange={setSlugOn} error={byField.slug} />
        </div>
        {slugOn && (
          <>
            <Field label="Slug field" error={byField['slug.field']} hint="A unique string or text field">
              {(a) => (
                <select {...a} name="slug-field" value={slug.field} onChange={(e) => setSlug({ ...slug, field: e.currentTarget.value })}>
                  <option value="">—</option>
                  {names.map((n) => (
                    <option key={n}>{n}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Slug source" error={byField['slug.source']}>
              {(a) => (
                <select {...a} name="slug-source" value={slug.source ?? ''} onChange={(e) => setSlug({ ...slug, source: e.currentTarget.value })}>
                  <option value="">—</option>
                  {names.map((n) => (
                    <option key={n}>{n}</option>
                  ))}
                </select>
              )}
            </Field>
            <Check
              label="Regenerate slug on update"
              checked={Boolean(slug.regenerate_on_update)}
              onChange={(v) => setSlug({ ...slug, regenerate_on_update: v })}
            />
          </>
        )}
      </section>

      <section class="card" aria-labelledby="fields-h">
        <div class="section-head">
          <h2 id="fields-h">Fields</h2>
          <button type="button" onClick={() => setFields([...fields, toDraft({ name: '', type: 'string' })])}>
            Add field
          </button>
        </div>
        {byField.fields && (
          <p class="error-text" role="alert">
            {byField.fields}
          </p>
        )}
        <div class="field-rows">
          {fields.map((f, i) => {
            const at = `fields[${i}]`;
            const label = (what: string) => `Field ${i + 1} ${what}`;
            return (
              <fieldset key={f.key} class="field-row" aria-label={`Field ${i + 1}`}>
                <legend class="sr-only">Field {i + 1}</legend>
                <Field label="Name" error={byField[`${at}.name`]}>
                  {(a) => (
                    <input
                      {...a}
                      aria-label={label('name')}
                      name={`${at}.name`}
                      value={f.name}
                      onInput={(e) => update(i, { name: e.currentTarget.value })}
                    />
                  )}
                </Field>
                <Field label="Type" error={byField[`${at}.type`]}>
                  {(a) => (
                    <select
                      {...a}
                      aria-label={label('type')}
                      name={`${at}.type`}
                      value={f.type}
                      onChange={(e) => update(i, { type: e.currentTarget.value as FieldType })}
                    >
                      {FIELD_TYPES.map((t) => (
                        <option key={t}>{t}</option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field label="Default" error={byField[`${at}.default`]}>
                  {(a) => (
                    <input
                      {...a}
                      aria-label={label('default')}
                      name={`${at}.default`}
                      value={f.defaultText}
                      onInput={(e) => update(i, { defaultText: e.currentTarget.value })}
                    />
                  )}
                </Field>
                <Field label="Enum values" error={byField[`${at}.enum`]} hint="comma separated">
                  {(a) => (
                    <input
                      {...a}
                      aria-label={label('enum values')}
                      name={`${at}.enum`}
                      value={f.enumText}
                      onInput={(e) => update(i, { enumText: e.currentTarget.value })}
                    />
                  )}
                </Field>
                {f.type === 'decimal' && (
                  <Field label="Precision" error={byField[`${at}.precision`]}>
                    {(a) => (
                      <input
                        {...a}
                        aria-label={label('precision')}
                        type="number"
                        value={f.precision ?? ''}
                        onInput={(e) => update(i, { precision: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) })}
                      />
                    )}
                  </Field>
                )}
                {(f.type === 'timestamp' || f.type === 'date') && (
                  <Field label="Auto" error={byField[`${at}.auto`]}>
                    {(a) => (
                      <select
                        {...a}
                        aria-label={label('auto')}
                        value={f.auto ?? ''}
                        onChange={(e) => update(i, { auto: (e.currentTarget.value || undefined) as FieldDef['auto'] })}
                      >
                        <option value="">—</option>
                        <option value="create">on create</option>
                        <option value="update">on every update</option>
                      </select>
                    )}
                  </Field>
                )}
                <div class="checks">
                  <Check
                    label="Required"
                    checked={Boolean(f.required)}
                    onChange={(v) => update(i, { required: v })}
                    error={byField[`${at}.required`]}
                  />
                  <Check label="Unique" checked={Boolean(f.unique)} onChange={(v) => update(i, { unique: v })} error={byField[`${at}.unique`]} />
                  <Check label="Nullable" checked={Boolean(f.nullable)} onChange={(v) => update(i, { nullable: v })} />
                  <Check label="Index" checked={Boolean(f.index)} onChange={(v) => update(i, { index: v })} error={byField[`${at}.index`]} />
                </div>
                <button
                  type="button"
                  class="ghost danger"
                  aria-label={`Remove field ${i + 1}`}
                  onClick={() => setFields(fields.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </fieldset>
            );
          })}
        </div>
      </section>

      <section class="card" aria-labelledby="indexes-h">
        <div class="section-head">
          <h2 id="indexes-h">Indexes</h2>
          <button type="button" onClick={() => setIndexes([...indexes, { fieldsText: '', unique: false, name: '' }])}>
            Add index
          </button>
        </div>
        {byField.indexes && <p class="error-text">{byField.indexes}</p>}
        {indexes.length === 0 && <p class="muted">No secondary indexes.</p>}
        {indexes.map((ix, i) => (
          <div key={i} class="index-row">
            <Field label={`Index ${i + 1} fields`} hint="comma separated" error={byField[`indexes[${i}].fields`] ?? byField[`indexes[${i}]`]}>
              {(a) => (
                <input
                  {...a}
                  value={ix.fieldsText}
                  onInput={(e) => setIndexes(indexes.map((x, j) => (j === i ? { ...x, fieldsText: e.currentTarget.value } : x)))}
                />
              )}
            </Field>
            <Field label={`Index ${i + 1} name`} error={byField[`indexes[${i}].name`]}>
              {(a) => (
                <input
                  {...a}
                  value={ix.name}
                  placeholder="generated"
                  onInput={(e) => setIndexes(indexes.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)))}
                />
              )}
            </Field>
            <Check label="Unique" checked={ix.unique} onChange={(v) => setIndexes(indexes.map((x, j) => (j === i ? { ...x, unique: v } : x)))} />
            <button
              type="button"
              class="ghost danger"
              aria-label={`Remove index ${i + 1}`}
              onClick={() => setIndexes(indexes.filter((_, j) => j !== i))}
            >
              Remove
            </button>
          </div>
        ))}
      </section>
      {moving !== null && existing && (
        <ConfirmDialog
          title={`Move ${props.name} to table ${moving}?`}
          message={
            <>
              From now on the {props.name} records are read from and written to <code>{moving}</code> (created empty if it does not exist). The rows
              of <code>{existing.table}</code> stay in the database but no longer show here or in the API.
            </>
          }
          confirmLabel="Change table"
          onClose={() => setMoving(null)}
          onConfirm={async () => {
            setMoving(null);
            void save.run();
            return true;
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete entity ${props.name}?`}
          message="Its relations, rules and state machines are removed. The table and its data stay in the database."
          confirmLabel="Delete entity"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.del(`${base}/${encodeURIComponent(props.name)}`);
            toast(`Entity ${props.name} deleted`);
            m.reload();
            navigate(`/a/${encodeURIComponent(m.app)}/schema`, true);
            return true;
          }}
        />
      )}
    </form>
  );
}

const ON_DELETE = ['', 'cascade', 'set_null', 'restrict', 'detach'];

export function RelationEditor(props: { name: string }) {
  const m = useModel();
  const isNew = props.name === 'new';
  const existing = m.relations.find((r) => r.name === props.name);
  const [r, setR] = useState<RelationDef>(
    existing ?? {
      name: '',
      type: 'one_to_many',
      source: m.entities[0]?.name ?? '',
      target: m.entities[1]?.name ?? m.entities[0]?.name ?? '',
      target_key: '',
      on_delete: 'cascade',
      write_mode: 'diff',
    },
  );
  const [deleting, setDeleting] = useState(false);
  const base = `${appBase(m.app)}/_admin/relations`;
  const save = useAction(async () => {
    const body: RelationDef = { name: r.name.trim(), type: r.type, source: r.source, target: r.target };
    if (r.type === 'many_to_many') {
      body.join_table = r.join_table;
      body.source_join_key = r.source_join_key;
      body.target_join_key = r.target_join_key;
    } else body.target_key = r.target_key;
    for (const k of ['on_delete', 'write_mode', 'ownership', 'fetch'] as const) if (r[k]) body[k] = r[k];
    if (isNew) await api.post(base, body);
    else await api.put(`${base}/${encodeURIComponent(props.name)}`, body);
    toast(`Relation ${body.name} saved`);
    m.reload();
    navigate(`/a/${encodeURIComponent(m.app)}/schema`);
    return true;
  });
  if (!isNew && !existing) return <Empty>No relation named {props.name}.</Empty>;
  const { byField } = errorsByField(save.error);
  const target = entityOf(m, r.target);
  const set = (patch: Partial<RelationDef>) => setR({ ...r, ...patch });
  const entitySelect = (key: 'source' | 'target', label: string) => (
    <Field label={label} error={byField[key]}>
      {(a) => (
        <select {...a} name={key} value={r[key]} onChange={(e) => set({ [key]: e.currentTarget.value })}>
          {m.entities.map((e) => (
            <option key={e.name}>{e.name}</option>
          ))}
        </select>
      )}
    </Field>
  );
  return (
    <form
      aria-label="Relation editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <PageHead title={isNew ? 'New relation' : `Relation ${props.name}`} sub={<Link to={`/a/${encodeURIComponent(m.app)}/schema`}>← Schema</Link>}>
        {!isNew && (
          <button type="button" class="danger ghost" onClick={() => setDeleting(true)}>
            Delete relation
          </button>
        )}
        <button type="submit" class="primary" disabled={save.busy}>
          {save.slow ? 'Saving…' : 'Save relation'}
        </button>
      </PageHead>
      <ErrorBox error={save.error} />
      <section class="card form-grid">
        <Field label="Relation name" error={byField.name} hint="Used as include name and nested-write key">
          {(a) => (
            <input {...a} name="relation-name" required value={r.name} disabled={!isNew} onInput={(e) => set({ name: e.currentTarget.value })} />
          )}
        </Field>
        <Field label="Type" error={byField.type}>
          {(a) => (
            <select {...a} name="type" value={r.type} onChange={(e) => set({ type: e.currentTarget.value as RelationDef['type'] })}>
              <option value="one_to_many">one to many</option>
              <option value="one_to_one">one to one</option>
              <option value="many_to_many">many to many</option>
            </select>
          )}
        </Field>
        {entitySelect('source', 'Source entity')}
        {entitySelect('target', 'Target entity')}
        {r.type !== 'many_to_many' ? (
          <Field label="Target key (foreign key on the target)" error={byField.target_key}>
            {(a) => (
              <select {...a} name="target_key" value={r.target_key ?? ''} onChange={(e) => set({ target_key: e.currentTarget.value })}>
                <option value="">—</option>
                {(target?.fields ?? []).map((f) => (
                  <option key={f.name}>{f.name}</option>
                ))}
              </select>
            )}
          </Field>
        ) : (
          <>
            <Field label="Join table" error={byField.join_table}>
              {(a) => <input {...a} name="join_table" value={r.join_table ?? ''} onInput={(e) => set({ join_table: e.currentTarget.value })} />}
            </Field>
            <Field label="Source join key" error={byField.source_join_key}>
              {(a) => (
                <input
                  {...a}
                  name="source_join_key"
                  value={r.source_join_key ?? ''}
                  onInput={(e) => set({ source_join_key: e.currentTarget.value })}
                />
              )}
            </Field>
            <Field label="Target join key" error={byField.target_join_key}>
              {(a) => (
                <input
                  {...a}
                  name="target_join_key"
                  value={r.target_join_key ?? ''}
                  onInput={(e) => set({ target_join_key: e.currentTarget.value })}
                />
              )}
            </Field>
          </>
        )}
        <Field label="On delete" error={byField.on_delete}>
          {(a) => (
            <select {...a} name="on_delete" value={r.on_delete ?? ''} onChange={(e) => set({ on_delete: e.currentTarget.value })}>
              {ON_DELETE.map((o) => (
                <option key={o} value={o}>
                  {o || '(nothing)'}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Nested write mode" error={byField.write_mode}>
          {(a) => (
            <select {...a} name="write_mode" value={r.write_mode ?? 'diff'} onChange={(e) => set({ write_mode: e.currentTarget.value })}>
              {['diff', 'replace', 'append'].map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Ownership" error={byField.ownership}>
          {(a) => (
            <select {...a} name="ownership" value={r.ownership ?? ''} onChange={(e) => set({ ownership: e.currentTarget.value })}>
              {['', 'source', 'target', 'none'].map((o) => (
                <option key={o} value={o}>
                  {o || '—'}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Fetch" error={byField.fetch}>
          {(a) => (
            <select {...a} name="fetch" value={r.fetch ?? ''} onChange={(e) => set({ fetch: e.currentTarget.value })}>
              {['', 'lazy', 'eager'].map((o) => (
                <option key={o} value={o}>
                  {o || '—'}
                </option>
              ))}
            </select>
          )}
        </Field>
      </section>
      {deleting && (
        <ConfirmDialog
          title={`Delete relation ${props.name}?`}
          message="Join tables and foreign-key columns stay; only the relation's metadata goes."
          confirmLabel="Delete relation"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.del(`${base}/${encodeURIComponent(props.name)}`);
            m.reload();
            navigate(`/a/${encodeURIComponent(m.app)}/schema`, true);
            return true;
          }}
        />
      )}
    </form>
  );
}
