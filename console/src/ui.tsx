import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, type Detail } from './api';
import { href, navigate } from './router';

/** Internal link that routes without reloading. */
export function Link(props: { to: string; class?: string; children: ComponentChildren; 'aria-current'?: 'page' }) {
  return (
    <a
      href={href(props.to)}
      class={props.class}
      aria-current={props['aria-current']}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

/** Errors keyed by the field path the API names (`fields[2].default`, `items[0].qty`, `total`). */
export type FieldErrors = Record<string, string>;

export function errorsByField(err: unknown): { byField: FieldErrors; general: Detail[] } {
  const byField: FieldErrors = {};
  const general: Detail[] = [];
  if (err instanceof ApiError) {
    for (const d of err.details) {
      if (d.field) byField[d.field] = byField[d.field] ? `${byField[d.field]}; ${d.message}` : d.message;
      else general.push(d);
    }
  }
  return { byField, general };
}

/** A labelled control with its error underneath. The control receives the id and aria attributes. */
export function Field(props: {
  label: string;
  error?: string;
  hint?: string;
  class?: string;
  children: (a: { id: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ComponentChildren;
}) {
  const id = useId();
  const errId = `${id}-err`;
  return (
    <div class={`field ${props.error ? 'has-error' : ''} ${props.class ?? ''}`}>
      <label for={id}>{props.label}</label>
      {props.children({ id, 'aria-invalid': props.error ? true : undefined, 'aria-describedby': props.error ? errId : undefined })}
      {props.hint && !props.error && <small class="hint">{props.hint}</small>}
      {props.error && (
        <small class="error-text" id={errId} role="alert" data-error-for={props.label}>
          {props.error}
        </small>
      )}
    </div>
  );
}

export function Check(props: { label: string; checked: boolean; onChange: (v: boolean) => void; disabled?: boolean; error?: string }) {
  const id = useId();
  return (
    <div class={`check ${props.error ? 'has-error' : ''}`}>
      <input id={id} type="checkbox" checked={props.checked} disabled={props.disabled} onChange={(e) => props.onChange(e.currentTarget.checked)} />
      <label for={id}>{props.label}</label>
      {props.error && (
        <small class="error-text" role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** A failed request shown as the envelope's message plus any details not shown elsewhere. */
export function ErrorBox(props: { error: unknown; details?: Detail[] }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  const details = props.details ?? (props.error instanceof ApiError ? props.error.details : []);
  return (
    <div class="alert" role="alert">
      <strong>{message}</strong>
      {details.length > 0 && (
        <ul>
          {details.map((d, i) => (
            <li key={i}>
              {d.field ? <code>{d.field}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Spinner(props: { label?: string; inline?: boolean }) {
  const Tag = props.inline ? 'span' : 'div';
  return (
    <Tag class={props.inline ? 'spinner inline' : 'spinner'} role="status" aria-live="polite">
      <span class="spin" aria-hidden="true" /> {props.label ?? 'Loading…'}
    </Tag>
  );
}

/** Loads data on mount and whenever `deps` change; `reload` fetches again. */
export function useAsync<T>(
  fn: () => Promise<T>,
  deps: unknown[],
): {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Still loading after about 300 ms: time to show progress (spec/console.md, Errors and feedback). */
  slow: boolean;
  reload: () => void;
  setData: (d: T) => void;
} {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean; slow?: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, slow: false }));
    const t = setTimeout(() => live && setState((s) => (s.loading ? { ...s, slow: true } : s)), 300);
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
      clearTimeout(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((data: T) => setState({ data, loading: false }), []);
  return { data: state.data, error: state.error, loading: state.loading, slow: Boolean(state.slow), reload, setData };
}

/** Runs an action with a busy flag (progress shows after 300 ms) and its error kept for display. */
export function useAction<A extends unknown[], R>(fn: (...a: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [slow, setSlow] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...a: A): Promise<R | undefined> => {
    setBusy(true);
    setError(null);
    const t = setTimeout(() => setSlow(true), 300);
    try {
      return await fn(...a);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      clearTimeout(t);
      setBusy(false);
      setSlow(false);
    }
  };
  return { run, busy, slow, error, setError };
}

/** A modal dialog (native <dialog>, so focus and Escape behave). */
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const gone = useRef(false);
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    // The dialog leaves by being unmounted, not closed, so the browser never hands focus back and it
    // would fall to <body>: keyboard users would start over from the top of the page. It goes back to
    // the control that opened the dialog, once the dialog no longer makes the page inert.
    return () => {
      gone.current = true;
      if (d?.open) d.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  // close() above fires a last close event after unmounting: the owner already knows
  const close = () => {
    if (!gone.current) props.onClose();
  };
  return (
    <dialog ref={ref} class={props.wide ? 'wide' : ''} aria-label={props.title} onClose={close} onCancel={close}>
      <header class="dialog-head">
        <h2>{props.title}</h2>
        <button type="button" class="ghost" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/** Asks before a destructive action; with `typeToConfirm` the user must type that text first. */
export function ConfirmDialog(props: {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  typeToConfirm?: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState('');
  const action = useAction(props.onConfirm);
  const ok = !props.typeToConfirm || typed === props.typeToConfirm;
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!ok) return;
          const r = await action.run();
          if (r !== undefined) props.onClose();
        }}
      >
        <div class="dialog-body">
          <p>{props.message}</p>
          {props.typeToConfirm && (
            <Field label={`Type "${props.typeToConfirm}" to confirm`}>
              {(a) => <input {...a} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoComplete="off" />}
            </Field>
          )}
          <ErrorBox error={action.error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={!ok || action.busy}>
            {action.slow ? 'Working…' : props.confirmLabel}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

type Toast = { id: number; text: string; kind: 'ok' | 'error' };
let toastId = 0;
const toastListeners = new Set<(t: Toast[]) => void>();
let toasts: Toast[] = [];

export function toast(text: string, kind: Toast['kind'] = 'ok'): void {
  const t = { id: ++toastId, text, kind };
  toasts = [...toasts, t];
  for (const fn of toastListeners) fn(toasts);
  setTimeout(() => {
    toasts = toasts.filter((x) => x.id !== t.id);
    for (const fn of toastListeners) fn(toasts);
  }, 4000);
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    toastListeners.add(setList);
    return () => void toastListeners.delete(setList);
  }, []);
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

export function PageHead(props: { title: string; children?: ComponentChildren; sub?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Rocket`;
  }, [props.title]);
  return (
    <div class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.sub && <p class="muted">{props.sub}</p>}
      </div>
      {props.children && <div class="actions">{props.children}</div>}
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

/**
 * A card of one kind of an app's definitions (rules, webhooks, …): its heading with the button that starts a
 * new one, then the list once loaded — a spinner before, a note when there is none, the load's error above.
 * `after` follows the list inside the card (an open editor).
 */
export function ListCard<T>(props: {
  title: string;
  newLabel: string;
  onNew: () => void;
  newDisabled?: boolean;
  list: { data: T[] | undefined; error: unknown };
  empty: string;
  children: (items: T[]) => ComponentChildren;
  after?: ComponentChildren;
}) {
  const items = props.list.data;
  return (
    <section class="card" aria-label={props.title}>
      <div class="section-head">
        <h2>{props.title}</h2>
        <button type="button" class="primary" disabled={props.newDisabled} onClick={props.onNew}>
          {props.newLabel}
        </button>
      </div>
      <ErrorBox error={props.list.error} />
      {!items ? <Spinner /> : items.length === 0 ? <Empty>{props.empty}</Empty> : props.children(items)}
      {props.after}
    </section>
  );
}

/** `inside` when drawn in the app shell's own <main>: a page has one main landmark. */
export function NotFound(props: { inside?: boolean }) {
  const Tag = props.inside ? 'section' : 'main';
  return (
    <Tag class="center-page" aria-label={props.inside ? 'Page not found' : undefined}>
      <h1>Page not found</h1>
      <a href="/admin/">Back to the start</a>
    </Tag>
  );
}

/**
 * A destructive button inside a dialog that asks first, in place (spec: destructive actions ask
 * first): a second modal on top of the first would trap focus twice.
 */
export function ConfirmButton(props: { label: string; question: string; busy?: boolean; slow?: boolean; onConfirm: () => void }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger ghost" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <fieldset class="confirm-inline">
      <legend>{props.question}</legend>
      <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>
        {props.slow ? 'Working…' : `Yes, ${props.label.toLowerCase()}`}
      </button>
      <button type="button" class="ghost" onClick={() => setAsking(false)}>
        Keep
      </button>
    </fieldset>
  );
}

/**
 * A row of tabs as screen readers announce them (WAI-ARIA tabs): the arrow keys, Home and End move to
 * and select a tab, only the selected one is in the Tab sequence, and each tab names the panel it shows
 * (`TabPanel` with the same `id`).
 */
export function Tabs<T extends string>(props: {
  id: string;
  label: string;
  tabs: readonly (readonly [T, string])[];
  value: T;
  onChange: (t: T) => void;
}) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const onKeyDown = (ev: KeyboardEvent) => {
    const at = props.tabs.findIndex(([k]) => k === props.value);
    const last = props.tabs.length - 1;
    const keys: Record<string, number> = { ArrowRight: at === last ? 0 : at + 1, ArrowLeft: at === 0 ? last : at - 1, Home: 0, End: last };
    const next = keys[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    props.onChange(props.tabs[next]![0]);
    refs.current[next]?.focus();
  };
  return (
    <div class="tabs" role="tablist" aria-label={props.label} onKeyDown={onKeyDown}>
      {props.tabs.map(([k, text], i) => (
        <button
          key={k}
          ref={(el) => {
            refs.current[i] = el;
          }}
          id={`${props.id}-tab-${k}`}
          type="button"
          role="tab"
          aria-selected={props.value === k}
          aria-controls={`${props.id}-panel`}
          tabIndex={props.value === k ? 0 : -1}
          onClick={() => props.onChange(k)}
        >
          {text}
        </button>
      ))}
    </div>
  );
}

/** What the selected tab of `Tabs` (same `id`) shows, named after that tab; just the content where no tabs are `shown`. */
export function TabPanel(props: { id: string; tab: string; shown?: boolean; children: ComponentChildren }) {
  if (props.shown === false) return <>{props.children}</>;
  return (
    <div role="tabpanel" id={`${props.id}-panel`} aria-labelledby={`${props.id}-tab-${props.tab}`}>
      {props.children}
    </div>
  );
}
