import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, appBase, qs, type ListMeta } from '../api';
import { defaultColumns, formatCell, operatorLabel, operatorsFor } from '../fields';
import { useLiveChanges } from '../live';
import { entityOf, hiddenOf, labelOf, useModel, type AppModel, type EntityDef, type FieldDef } from '../model';
import { navigate } from '../router';
import { Empty, ErrorBox, Field, Link, PageHead, Spinner, useAsync } from '../ui';

type Row = Record<string, unknown>;

export function DataIndex() {
  const m = useModel();
  const readable = m.entities.filter((e) => m.can(e.name, 'read'));
  return (
    <>
      <PageHead title="Data" sub="Pick an entity to browse and edit its records." />
      {readable.length === 0 ? (
        <Empty>{m.admin ? 'No entities yet: design one on the Schema page.' : 'Your account may not read any entity of this app.'}</Empty>
      ) : (
        <ul class="cards" aria-label="Entities">
          {readable.map((e) => (
            <li key={e.name} class="card">
              <h2>
                <Link to={`/a/${encodeURIComponent(m.app)}/data/${e.name}`}>{e.name}</Link>
              </h2>
              <p class="muted">{e.fields.length} fields</p>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

interface Filter {
  /** Identifies a row across draft and applied filters: removing a row removes what it applied. */
  key: number;
  field: string;
  op: string;
  value: string;
}

let filterKey = 0;

/** How a list was left: coming back to it (its link from a record, Back, the sidebar) finds the same rows. */
interface ListView {
  page: number;
  perPage: number;
  sort: string;
  filters: Filter[];
}

/**
 * The last view of each list, by app and entity, for as long as the console stays loaded (a reload starts
 * afresh): leaving page 3 sorted by name to open a record must not bring the user back to page 1, unsorted.
 */
const listViews = new Map<string, ListView>();

/** Operators whose value is a comma list: an enum field then offers its values to pick several. */
const LIST_OPS = new Set(['in', 'not_in']);

/** A filter's value as the API takes it: a timestamp typed in local time becomes the instant it names (RFC 3339, UTC). */
function filterValue(f: FieldDef | undefined, value: string): string {
  if (f?.type !== 'timestamp' || value === '') return value;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

function storedColumns(app: string, entity: string): string[] | null {
  try {
    const v = localStorage.getItem(`rocket.console.columns.${app}.${entity}`);
    return v ? (JSON.parse(v) as string[]) : null;
  } catch {
    return null;
  }
}

/** Fields the column picker offers: not hidden by the UI config; its configured columns first, in its order. */
function pickableColumns(m: AppModel, e: EntityDef): FieldDef[] {
  const hidden = hiddenOf(m, e.name);
  const cfg = m.ui[e.name];
  const order = cfg?.columns ?? cfg?.column_order ?? [];
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return e.fields.filter((f) => !hidden.has(f.name)).sort((a, b) => rank(a.name) - rank(b.name));
}

export function DataPage(props: { entity: string }) {
  const m = useModel();
  const e = entityOf(m, props.entity);
  if (!e || !m.can(e.name, 'read')) return <Empty>No entity named {props.entity} that you may read.</Empty>;
  return <Browser key={e.name} e={e} />;
}

function Browser(props: { e: EntityDef }) {
  const { e } = props;
  const m = useModel();
  const viewKey = `${m.app}/${e.name}`;
  const [left] = useState(() => listViews.get(viewKey));
  const [page, setPage] = useState(left?.page ?? 1);
  const [perPage, setPerPage] = useState(left?.perPage ?? 25);
  const [sort, setSort] = useState<string>(left?.sort ?? '');
  const [filters, setFilters] = useState<Filter[]>(left?.filters ?? []);
  const [draft, setDraft] = useState<Filter[]>(left?.filters ?? []);
  useEffect(() => void listViews.set(viewKey, { page, perPage, sort, filters }), [viewKey, page, perPage, sort, filters]);
  // the fields the picker offers: never those the UI config hides, in its column order first
  const pickable = useMemo(() => pickableColumns(m, e), [m, e]);
  const [columns, setColumns] = useState<string[]>(() =>
    (storedColumns(m.app, e.name) ?? defaultColumns(m, e)).filter((c) => pickable.some((f) => f.name === c)),
  );
  const renderStart = useRef(0);

  const query = useMemo(() => {
    const p: Record<string, string | number> = { page, per_page: perPage };
    if (sort) p.sort = sort;
    for (const f of filters)
      p[`filter[${f.field}.${f.op}]`] = filterValue(
        e.fields.find((x) => x.name === f.field),
        f.value,
      );
    return qs(p);
  }, [page, perPage, sort, filters]);

  const list = useAsync(async () => {
    const r = await api.list<Row>(`${appBase(m.app)}/${e.name}${query}`);
    renderStart.current = performance.now();
    return r;
  }, [query]);

  // How long the rows took from arrival to laid out; read by the browser tests (Performance API).
  useLayoutEffect(() => {
    if (!list.data || !renderStart.current) return;
    const start = renderStart.current;
    renderStart.current = 0;
    requestAnimationFrame(() => {
      performance.measure('console:rows-rendered', { start, end: performance.now(), detail: { rows: list.data?.data.length } });
    });
  }, [list.data]);

  // several changes in a burst (a nested write, an import) cost one refetch
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(refetchTimer.current), []);
  const refetch = () => {
    clearTimeout(refetchTimer.current);
    refetchTimer.current = setTimeout(list.reload, 150);
  };
  const live = useLiveChanges(m.app, e.name, (ev) => {
    const data = list.data;
    if (!data) return;
    if (ev.kind === 'refetch') return refetch();
    const { change } = ev;
    // a new row's place depends on sort, filters and paging: the server decides
    if (change.action === 'create') return refetch();
    // under a filter or a sort a changed row may leave the page, join it or move: the server decides
    // too, so the list and its count are what a reload would show (also for rows not on this page)
    if (change.action === 'update' && (filters.length > 0 || sort)) return refetch();
    const pk = e.primary_key.field;
    const at = data.data.findIndex((r) => String(r[pk]) === String(change.id));
    // a row deleted elsewhere still changes the count and what the later pages hold
    if (at < 0) return change.action === 'delete' ? refetch() : undefined;
    const rows = [...data.data];
    if (change.action === 'delete') rows.splice(at, 1);
    else rows[at] = change.record;
    list.setData({
      ...data,
      data: rows,
      meta: change.action === 'delete' && data.meta ? { ...data.meta, total: Math.max(0, (data.meta.total ?? 1) - 1) } : data.meta,
    });
    // the row goes at once; when later pages hold rows, the first of them moves up onto this page
    if (change.action === 'delete' && (data.meta?.total ?? 0) > page * perPage) refetch();
  });

  const meta: ListMeta | undefined = list.data?.meta;
  const total = meta?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / perPage));
  // rows deleted (here or elsewhere) may leave this page past the last one: show the last page there is
  useEffect(() => {
    if (list.data && meta?.total !== undefined && page > pages) setPage(pages);
  }, [list.data]);
  const fieldsByName = new Map(e.fields.map((f) => [f.name, f]));
  const hidden = hiddenOf(m, e.name);
  const filterable = e.fields.filter((f) => operatorsFor(f).length > 0 && !hidden.has(f.name));
  const base = `/a/${encodeURIComponent(m.app)}/data/${e.name}`;

  const toggleSort = (col: string) => {
    setSort(sort === col ? `-${col}` : sort === `-${col}` ? '' : col);
    setPage(1);
  };
  const saveColumns = (cols: string[]) => {
    setColumns(cols);
    localStorage.setItem(`rocket.console.columns.${m.app}.${e.name}`, JSON.stringify(cols));
  };

  return (
    <>
      <PageHead
        title={e.name}
        sub={
          <>
            {`${total} record${total === 1 ? '' : 's'}`}{' '}
            {live && (
              <span class="badge ok" title="New and changed rows appear without reloading">
                live
              </span>
            )}
            {/* another page, sort or filter on its way: the rows shown are still the last ones */}
            {list.data && list.slow && (
              <>
                {' '}
                <Spinner inline label="Loading…" />
              </>
            )}
          </>
        }
      >
        {m.can(e.name, 'create') && (
          <button type="button" class="primary" onClick={() => navigate(`${base}/new`)}>
            New {e.name}
          </button>
        )}
      </PageHead>
      <section class="card toolbar" aria-label="Filters and columns">
        <form
          class="filters"
          aria-label="Filters"
          onSubmit={(ev) => {
            ev.preventDefault();
            setFilters(draft.filter((f) => f.field && f.op));
            setPage(1);
          }}
        >
          {draft.map((f, i) => {
            const fd = fieldsByName.get(f.field);
            const ops = fd ? operatorsFor(fd) : [];
            const set = (patch: Partial<Filter>) => setDraft(draft.map((x, j) => (j === i ? { ...x, ...patch } : x)));
            return (
              <div class="filter-row" key={f.key}>
                <Field label={`Filter ${i + 1} field`}>
                  {(a) => (
                    <select
                      {...a}
                      value={f.field}
                      onChange={(ev) =>
                        set({ field: ev.currentTarget.value, op: operatorsFor(fieldsByName.get(ev.currentTarget.value)!)[0]!, value: '' })
                      }
                    >
                      {filterable.map((x) => (
                        <option key={x.name} value={x.name}>
                          {labelOf(m, e.name, x.name)}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field label={`Filter ${i + 1} operator`}>
                  {(a) => (
                    <select
                      {...a}
                      value={f.op}
                      onChange={(ev) => {
                        const op = ev.currentTarget.value;
                        // from several enum values to one: the first stays chosen
                        const one = fd?.enum && !LIST_OPS.has(op) ? (f.value.split(',')[0] ?? '') : f.value;
                        set({ op, value: one });
                      }}
                    >
                      {ops.map((o) => (
                        <option key={o} value={o}>
                          {operatorLabel(fd, o)}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                {/* required: the API cannot filter by an empty value, and the row must not look applied while nothing filters */}
                <Field label={`Filter ${i + 1} value`}>
                  {(field) => {
                    const a = { ...field, required: true };
                    return fd?.type === 'boolean' ? (
                      <select {...a} value={f.value} onChange={(ev) => set({ value: ev.currentTarget.value })}>
                        <option value="">—</option>
                        <option value="true">true</option>
                        <option value="false">false</option>
                      </select>
                    ) : fd?.enum && LIST_OPS.has(f.op) ? (
                      <select
                        {...a}
                        multiple
                        size={Math.min(fd.enum.length, 4)}
                        onChange={(ev) => set({ value: [...ev.currentTarget.selectedOptions].map((o) => o.value).join(',') })}
                      >
                        {fd.enum.map((v) => (
                          <option key={v} selected={f.value.split(',').includes(v)}>
                            {v}
                          </option>
                        ))}
                      </select>
                    ) : fd?.enum && (f.op === 'eq' || f.op === 'neq') ? (
                      <select {...a} value={f.value} onChange={(ev) => set({ value: ev.currentTarget.value })}>
                        <option value="">—</option>
                        {fd.enum.map((v) => (
                          <option key={v}>{v}</option>
                        ))}
                      </select>
                    ) : fd?.type === 'timestamp' ? (
                      // the list shows timestamps in the browser's time zone: a filter is typed in it too
                      <input {...a} type="datetime-local" step="1" value={f.value} onInput={(ev) => set({ value: ev.currentTarget.value })} />
                    ) : fd?.type === 'date' ? (
                      <input {...a} type="date" value={f.value} onInput={(ev) => set({ value: ev.currentTarget.value })} />
                    ) : (
                      <input {...a} value={f.value} onInput={(ev) => set({ value: ev.currentTarget.value })} />
                    );
                  }}
                </Field>
                <button
                  type="button"
                  class="ghost"
                  aria-label={`Remove filter ${i + 1}`}
                  onClick={() => {
                    setDraft(draft.filter((x) => x.key !== f.key));
                    // an applied filter goes at once, also the last one: the list must not stay filtered by a row no longer shown
                    if (filters.some((x) => x.key === f.key)) {
                      setFilters(filters.filter((x) => x.key !== f.key));
                      setPage(1);
                    }
                  }}
                >
                  ✕
                </button>
              </div>
            );
          })}
          <div class="filter-actions">
            <button
              type="button"
              disabled={filterable.length === 0}
              onClick={() => {
                const f = filterable[0]!;
                setDraft([...draft, { key: ++filterKey, field: f.name, op: operatorsFor(f)[0]!, value: '' }]);
              }}
            >
              Add filter
            </button>
            {(draft.length > 0 || filters.length > 0) && (
              <button type="submit" class="primary">
                Apply filters
              </button>
            )}
          </div>
        </form>
        <details class="columns-picker">
          <summary>Columns ({columns.length})</summary>
          <fieldset>
            <legend class="sr-only">Columns shown</legend>
            {pickable.map((f) => (
              <label key={f.name} class="check">
                <input
                  type="checkbox"
                  checked={columns.includes(f.name)}
                  onChange={(ev) =>
                    saveColumns(
                      ev.currentTarget.checked
                        ? pickable.map((x) => x.name).filter((n) => n === f.name || columns.includes(n))
                        : columns.filter((c) => c !== f.name),
                    )
                  }
                />{' '}
                {labelOf(m, e.name, f.name)}
              </label>
            ))}
          </fieldset>
        </details>
      </section>
      <ErrorBox error={list.error} />
      {list.loading && !list.data && <Spinner />}
      {list.data && (
        <div class="table-wrap">
          <table class="table data-table" aria-label={`${e.name} records`} aria-busy={list.loading}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c} scope="col" aria-sort={sort === c ? 'ascending' : sort === `-${c}` ? 'descending' : 'none'}>
                    <button type="button" class="sort" onClick={() => toggleSort(c)}>
                      {labelOf(m, e.name, c)}
                      <span aria-hidden="true">{sort === c ? ' ▲' : sort === `-${c}` ? ' ▼' : ''}</span>
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((r) => {
                const id = String(r[e.primary_key.field]);
                return (
                  <tr key={id} class="clickable" onClick={() => navigate(`${base}/${encodeURIComponent(id)}`)}>
                    {columns.map((c, ci) => (
                      <td key={c}>
                        {ci === 0 ? (
                          <Link to={`${base}/${encodeURIComponent(id)}`}>{formatCell(fieldsByName.get(c), r[c]) || '—'}</Link>
                        ) : (
                          formatCell(fieldsByName.get(c), r[c])
                        )}
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {list.data.data.length === 0 && <Empty>No records match.</Empty>}
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
          Previous
        </button>
        <span>
          Page {page} of {pages}
        </span>
        <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>
          Next
        </button>
        <Field label="Rows per page" class="inline">
          {(a) => (
            <select
              {...a}
              value={String(perPage)}
              onChange={(ev) => {
                setPerPage(Number(ev.currentTarget.value));
                setPage(1);
              }}
            >
              {[10, 25, 50, 100].map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          )}
        </Field>
      </nav>
    </>
  );
}
