import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, ApiError, appBase, downloadFile, parseJson, qs, stringifyJson, upload } from '../api';
import { displayField, mustFill, toLocalInput } from '../fields';
import { entityOf, useModel, type EntityDef, type FieldDef, type SmTransition, type StateMachine } from '../model';
import { getSession } from '../session';
import { Field } from '../ui';

type Value = unknown;

/**
 * The states a state-machine field may take next: the current one plus the transitions allowed from
 * it. `roles` are the caller's when they are not an admin: a transition limited to other roles is not
 * offered (state-machines.md: admins may take every transition). Guards are left to the API.
 */
export function allowedStates(sm: StateMachine, current: unknown, isNew: boolean, roles?: string[]): string[] {
  if (isNew) return sm.definition.initial ? [sm.definition.initial] : [];
  const cur = current === null || current === undefined ? '' : String(current);
  const mine = roles?.map((r) => r.toLowerCase());
  // the API judges a change by the first transition from the current state to the new one (state-machines.md):
  // a later transition to the same state with other roles is never reached
  const first = new Map<string, SmTransition>();
  for (const t of sm.definition.transitions) {
    if ((Array.isArray(t.from) ? t.from : [t.from]).includes(cur) && !first.has(t.to)) first.set(t.to, t);
  }
  const next = [...first.values()].filter((t) => !mine || !t.roles?.length || t.roles.some((r) => mine.includes(r.toLowerCase()))).map((t) => t.to);
  return [...new Set([cur, ...next].filter((s) => s !== ''))];
}

/** One input per field type (spec/console.md): the label and the API's error for it come with it. */
export function FieldInput(props: {
  entity: EntityDef;
  field: FieldDef;
  label: string;
  value: Value;
  original?: Value;
  isNew: boolean;
  error?: string;
  onChange: (v: Value) => void;
}) {
  const { field: f, value, onChange } = props;
  const m = useModel();
  const machine = m.machines.find((s) => s.entity === props.entity.name && s.field === f.name);
  const fk = m.relations.find((r) => r.target === props.entity.name && r.target_key === f.name && r.type !== 'many_to_many');
  const required = mustFill(props.entity, f);
  const label = props.label + (required ? ' *' : '');

  if (machine && (!props.isNew || machine.definition.initial)) {
    const states = allowedStates(machine, props.original, props.isNew, m.admin ? undefined : (getSession()?.roles ?? []));
    return (
      <Field label={label} error={props.error} hint="Only transitions allowed from the current state are offered">
        {(a) => (
          <select
            {...a}
            name={f.name}
            value={value === null || value === undefined ? '' : String(value)}
            onChange={(e) => onChange(e.currentTarget.value || null)}
          >
            {props.isNew && <option value="">—</option>}
            {states.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        )}
      </Field>
    );
  }
  if (fk) return <FkPicker label={label} target={fk.source} value={value} error={props.error} name={f.name} onChange={onChange} />;
  if (f.enum?.length) {
    return (
      <Field label={label} error={props.error}>
        {(a) => (
          <select
            {...a}
            name={f.name}
            value={value === null || value === undefined ? '' : String(value)}
            onChange={(e) => onChange(e.currentTarget.value === '' ? null : e.currentTarget.value)}
          >
            <option value="">—</option>
            {f.enum!.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        )}
      </Field>
    );
  }
  switch (f.type) {
    case 'boolean':
      return (
        <Field label={label} error={props.error}>
          {(a) => (
            <input
              {...a}
              class="checkbox"
              name={f.name}
              type="checkbox"
              checked={value === true}
              onChange={(e) => onChange(e.currentTarget.checked)}
            />
          )}
        </Field>
      );
    case 'text':
      return (
        <Field label={label} error={props.error}>
          {(a) => (
            <textarea
              {...a}
              name={f.name}
              rows={4}
              value={value === null || value === undefined ? '' : String(value)}
              onInput={(e) => onChange(e.currentTarget.value)}
            />
          )}
        </Field>
      );
    case 'bigint':
      // text, not a number input: the value travels as a digit string (rest-api.md accepts one) because
      // a JavaScript number cannot hold every int8 (9007199254740993 would be sent as …992)
      return (
        <Field label={label} error={props.error} hint="A whole number">
          {(a) => (
            <input
              {...a}
              name={f.name}
              inputMode="numeric"
              pattern="-?[0-9]+"
              title="A whole number, digits only"
              value={value === null || value === undefined ? '' : String(value)}
              onInput={(e) => onChange(e.currentTarget.value.trim() === '' ? null : e.currentTarget.value.trim())}
            />
          )}
        </Field>
      );
    case 'int':
    case 'integer':
    case 'float':
    case 'decimal':
      return (
        <Field label={label} error={props.error}>
          {(a) => (
            <input
              {...a}
              name={f.name}
              type="number"
              step={f.type === 'float' ? 'any' : f.type === 'decimal' ? (f.precision ? String(10 ** -f.precision) : 'any') : '1'}
              value={value === null || value === undefined ? '' : String(value)}
              // a decimal travels as the typed string: a JavaScript number keeps only ~16 digits
              // (1234567890123456.78 would be sent as …456.8); the API accepts numeric strings
              onInput={(e) => {
                const t = e.currentTarget.value;
                onChange(t === '' ? null : f.type === 'decimal' ? t : Number(t));
              }}
            />
          )}
        </Field>
      );
    case 'date':
      return (
        <Field label={label} error={props.error}>
          {(a) => (
            <input
              {...a}
              name={f.name}
              type="date"
              value={typeof value === 'string' ? value.slice(0, 10) : ''}
              onInput={(e) => onChange(e.currentTarget.value || null)}
            />
          )}
        </Field>
      );
    case 'timestamp':
      return (
        <Field label={label} error={props.error} hint="Your local time">
          {(a) => (
            <input
              {...a}
              name={f.name}
              type="datetime-local"
              step="1"
              value={toLocalInput(value)}
              onInput={(e) => onChange(e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : null)}
            />
          )}
        </Field>
      );
    case 'json':
      return <JsonInput label={label} value={value} error={props.error} name={f.name} onChange={onChange} />;
    case 'file':
      return <FileInput label={label} value={value} error={props.error} name={f.name} onChange={onChange} />;
    default:
      return (
        <Field label={label} error={props.error}>
          {(a) => (
            <input
              {...a}
              name={f.name}
              value={value === null || value === undefined ? '' : String(value)}
              // an emptied uuid input means "no value": "" is no uuid, and the API would refuse the save
              onInput={(e) => onChange(f.type === 'uuid' && e.currentTarget.value.trim() === '' ? null : e.currentTarget.value)}
            />
          )}
        </Field>
      );
  }
}

/** JSON editor: text that must parse; the parse error shows at the input until it does. */
function JsonInput(props: { label: string; name: string; value: Value; error?: string; onChange: (v: Value) => void }) {
  const [text, setText] = useState(() => (props.value === undefined || props.value === null ? '' : stringifyJson(props.value, 2)));
  const [parseError, setParseError] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  // the browser's own validity: a form with this field unparsed does not submit (no partial save)
  useEffect(() => ref.current?.setCustomValidity(parseError ? `${props.label}: ${parseError}` : ''), [parseError]);
  return (
    <Field label={props.label} error={parseError || props.error} hint="JSON value">
      {(a) => (
        <textarea
          {...a}
          ref={ref}
          name={props.name}
          class="code"
          rows={5}
          spellcheck={false}
          value={text}
          onInput={(e) => {
            const t = e.currentTarget.value;
            setText(t);
            if (t.trim() === '') {
              setParseError('');
              props.onChange(null);
              return;
            }
            try {
              // lossless: an integer beyond 2^53 stays a number with all its digits
              props.onChange(parseJson(t, true) as Value);
              setParseError('');
            } catch (err) {
              setParseError(`Not valid JSON: ${(err as Error).message}`);
            }
          }}
        />
      )}
    </Field>
  );
}

/** Uploads through /_files/upload with a progress bar; the field then holds the file's id. */
function FileInput(props: { label: string; name: string; value: Value; error?: string; onChange: (v: Value) => void }) {
  const m = useModel();
  const [progress, setProgress] = useState<number | null>(null);
  const [err, setErr] = useState('');
  const current = props.value as { id?: string; filename?: string } | string | null | undefined;
  const currentId = typeof current === 'string' ? current : current?.id;
  const currentName = typeof current === 'object' && current ? current.filename : undefined;
  return (
    <Field label={props.label} error={err || props.error}>
      {(a) => (
        <div class="file-input">
          {currentId && (
            <p>
              Current:{' '}
              <a
                href={`${appBase(m.app)}/_files/${currentId}`}
                download={currentName ?? ''}
                title={`Download ${currentName ?? 'the file'}`}
                // also with a modifier key: a new tab would open the route without the token
                onClick={(e) => {
                  e.preventDefault();
                  setErr('');
                  downloadFile(`${appBase(m.app)}/_files/${currentId}`, currentName ?? currentId).catch((x: Error) =>
                    setErr(`Download failed: ${x.message}`),
                  );
                }}
              >
                {currentName ?? currentId}
              </a>{' '}
              <button type="button" class="ghost" onClick={() => props.onChange(null)}>
                Clear
              </button>
            </p>
          )}
          <input
            {...a}
            name={props.name}
            type="file"
            onChange={async (e) => {
              const file = e.currentTarget.files?.[0];
              if (!file) return;
              setErr('');
              setProgress(0);
              try {
                const up = await upload(m.app, file, setProgress);
                props.onChange({ id: up.id, filename: up.filename, size: up.size, mime_type: up.mime_type });
              } catch (x) {
                setErr((x as Error).message);
              } finally {
                setProgress(null);
              }
            }}
          />
          {progress !== null && <progress max={1} value={progress} aria-label={`Uploading ${props.label}`} />}
        </div>
      )}
    </Field>
  );
}

/**
 * Foreign-key picker: searches the target entity by its display field and stores the key. A combobox
 * (ARIA 1.2 pattern): ArrowDown/ArrowUp move through the matches (aria-activedescendant), Enter picks
 * the active one (and never submits the form while the list is open), Escape closes the list.
 */
export function FkPicker(props: {
  label: string;
  name: string;
  target: string;
  value: Value;
  error?: string;
  /** `record`: the picked record as the search listed it (absent when the value is cleared). */
  onChange: (v: Value, record?: Record<string, unknown>) => void;
  excludeIds?: string[];
}) {
  const m = useModel();
  const target = entityOf(m, props.target);
  const [q, setQ] = useState('');
  const [open, setOpen] = useState(false);
  const [options, setOptions] = useState<Record<string, unknown>[]>([]);
  const [active, setActive] = useState(-1);
  const [chosen, setChosen] = useState<string>('');
  // Until the current search has answered, an empty list means nothing yet; a refused search is said as such.
  const [searching, setSearching] = useState(false);
  const [problem, setProblem] = useState<string | undefined>();
  const uid = useId();
  const pk = target?.primary_key.field ?? 'id';
  const shown = target ? displayField(target) : 'id';
  const stringSearch =
    target?.fields.find((f) => f.name === shown)?.type === 'string' || target?.fields.find((f) => f.name === shown)?.type === 'text';
  const visible = options.filter((o) => !props.excludeIds?.includes(String(o[pk])));
  const listId = `${uid}-options`;
  const optionId = (i: number) => `${uid}-option-${i}`;

  useEffect(() => {
    if (!target || props.value === null || props.value === undefined || props.value === '') return setChosen('');
    api
      .get<Record<string, unknown>>(`${appBase(m.app)}/${target.name}/${encodeURIComponent(String(props.value))}`)
      .then((r) => setChosen(String(r[shown] ?? r[pk])))
      .catch(() => setChosen(String(props.value)));
  }, [props.value, target?.name]);

  useEffect(() => {
    if (!open || !target) return;
    setSearching(true);
    let current = true;
    const t = setTimeout(() => {
      const params: Record<string, string | number> = { per_page: 10 };
      if (q && stringSearch) params[`filter[${shown}.like]`] = `%${q}%`;
      else if (q) params[`filter[${pk}]`] = q;
      // records already linked are left out by the server: a page of only those would show "No matches"
      // while others exist (a comma list cannot carry a key that holds a comma)
      const excluded = props.excludeIds ?? [];
      if (excluded.length && !excluded.some((id) => id.includes(','))) params[`filter[${pk}.not_in]`] = excluded.join(',');
      api
        .list<Record<string, unknown>>(`${appBase(m.app)}/${target.name}${qs(params)}`)
        .then((r) => {
          if (!current) return;
          setOptions(r.data);
          setActive(-1);
          setProblem(undefined);
          setSearching(false);
        })
        .catch((err: unknown) => {
          if (!current) return;
          setOptions([]);
          setProblem(err instanceof ApiError ? err.message : 'the server could not be reached');
          setSearching(false);
        });
    }, 200);
    return () => {
      current = false;
      clearTimeout(t);
    };
  }, [q, open, target?.name]);

  useEffect(() => {
    if (open && active >= 0) document.getElementById(optionId(active))?.scrollIntoView({ block: 'nearest' });
  }, [active, open]);

  if (!target) {
    return (
      <Field label={props.label} error={props.error}>
        {(a) => (
          <input
            {...a}
            name={props.name}
            value={props.value === null || props.value === undefined ? '' : String(props.value)}
            onInput={(e) => props.onChange(e.currentTarget.value || null)}
          />
        )}
      </Field>
    );
  }
  const close = () => {
    setOpen(false);
    setActive(-1);
  };
  const pick = (o: Record<string, unknown>) => {
    props.onChange(o[pk], o);
    setChosen(String(o[shown] ?? o[pk]));
    setQ('');
    close();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (!open) setOpen(true);
        else if (visible.length) setActive(Math.min(active + 1, visible.length - 1));
        break;
      case 'ArrowUp':
        e.preventDefault();
        if (!open) setOpen(true);
        else if (visible.length) setActive(active <= 0 ? 0 : active - 1);
        break;
      case 'Home':
      case 'End':
        if (open && visible.length) {
          e.preventDefault();
          setActive(e.key === 'Home' ? 0 : visible.length - 1);
        }
        break;
      case 'Enter':
        if (!open) return;
        // the list is open: Enter belongs to the picker, not to the form around it
        e.preventDefault();
        if (active >= 0 && visible[active]) pick(visible[active]);
        break;
      case 'Escape':
        if (!open) return;
        e.preventDefault();
        e.stopPropagation();
        close();
        break;
    }
  };
  const activeOk = open && active >= 0 && active < visible.length;
  return (
    <Field label={props.label} error={props.error} hint={chosen ? `Selected: ${chosen}` : `Search ${target.name} by ${shown}`}>
      {(a) => (
        <div class="picker">
          <input
            {...a}
            name={props.name}
            role="combobox"
            autoComplete="off"
            aria-expanded={open}
            aria-controls={listId}
            aria-autocomplete="list"
            aria-activedescendant={activeOk ? optionId(active) : undefined}
            placeholder={chosen || `Search ${target.name}…`}
            value={q}
            onFocus={() => setOpen(true)}
            onBlur={() => setTimeout(close, 200)}
            onKeyDown={onKeyDown}
            onInput={(e) => {
              setQ(e.currentTarget.value);
              setOpen(true);
            }}
          />
          {props.value !== null && props.value !== undefined && props.value !== '' && (
            <button type="button" class="ghost" aria-label={`Clear ${props.label}`} onClick={() => props.onChange(null)}>
              ✕
            </button>
          )}
          {open && (
            <div class="options" id={listId} role="listbox" aria-label={`${target.name} matches`}>
              {visible.map((o, i) => (
                <div
                  key={String(o[pk])}
                  id={optionId(i)}
                  role="option"
                  tabIndex={-1}
                  aria-selected={i === active}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    pick(o);
                  }}
                  onMouseMove={() => i !== active && setActive(i)}
                >
                  {String(o[shown] ?? o[pk])}
                  {shown !== pk && <small class="muted"> {String(o[pk]).slice(0, 8)}</small>}
                </div>
              ))}
              {problem !== undefined && !searching ? (
                <div class="error-text" role="alert">
                  Could not search {target.name}: {problem}
                </div>
              ) : (
                visible.length === 0 && (
                  <div class="muted" role="status">
                    {searching ? 'Searching…' : 'No matches'}
                  </div>
                )
              )}
            </div>
          )}
        </div>
      )}
    </Field>
  );
}
