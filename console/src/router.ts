import { useEffect, useState } from 'preact/hooks';

/** Client-side routing under /admin/ with the History API; the server answers index.html for any path. */
export const BASE = '/admin';

type Listener = () => void;
const listeners = new Set<Listener>();

function notify(): void {
  for (const fn of listeners) fn();
}
window.addEventListener('popstate', notify);

/** The path below /admin, e.g. "/a/shop/data/order". */
export function currentPath(): string {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return p === '' ? '/' : p;
}

export function href(path: string): string {
  return BASE + path;
}

export function navigate(path: string, replace = false): void {
  const url = path.startsWith(BASE) ? path : href(path);
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.scrollTo(0, 0);
  notify();
}

export function useLocation(): { path: string; search: URLSearchParams } {
  const [, force] = useState(0);
  useEffect(() => {
    const fn = () => force((n) => n + 1);
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, []);
  return { path: currentPath(), search: new URLSearchParams(location.search) };
}

/** Matches "/a/:app/data/:entity" against a path; returns the decoded parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const ps = pattern.split('/');
  const xs = path.replace(/\/+$/, '').split('/');
  if (ps.length !== xs.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    const x = xs[i]!;
    if (p.startsWith(':')) {
      if (!x) return null;
      out[p.slice(1)] = decodeURIComponent(x);
    } else if (p !== x) return null;
  }
  return out;
}
