/**
 * The signed-in session: tokens in memory and in sessionStorage (so a reload keeps the
 * session but closing the tab ends it), refreshed shortly before the access token expires.
 */

export interface Session {
  kind: 'platform' | 'app';
  /** For app sessions: the app signed into. */
  app?: string;
  email: string;
  access: string;
  refresh: string;
  userId: string;
  roles: string[];
  /** Access-token expiry, epoch seconds. */
  exp: number;
}

interface Claims {
  sub?: string;
  roles?: string[];
  exp?: number;
  email?: string;
}

const KEY = 'rocket.console.session';
const RETURN_KEY = 'rocket.console.return';

type Listener = (s: Session | null) => void;
let current: Session | null = load();
const listeners = new Set<Listener>();
let timer: ReturnType<typeof setTimeout> | undefined;

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function decodeClaims(token: string): Claims {
  const part = token.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(json) as Claims;
}

export function getSession(): Session | null {
  return current;
}

export function isAdmin(s: Session | null): boolean {
  if (!s) return false;
  return s.kind === 'platform' || s.roles.includes('admin');
}

export function subscribeSession(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function setSession(s: Session | null): void {
  current = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(s);
}

/** Builds a session from a token pair answered by a login or refresh. */
export function sessionFrom(
  kind: Session['kind'],
  app: string | undefined,
  email: string,
  tokens: { access_token: string; refresh_token: string },
): Session {
  const c = decodeClaims(tokens.access_token);
  return {
    kind,
    app,
    email,
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    userId: c.sub ?? '',
    roles: c.roles ?? [],
    exp: c.exp ?? Math.floor(Date.now() / 1000) + 900,
  };
}

/** Base path of the auth routes of a session: platform or the app's own. */
export function authBase(s: Pick<Session, 'kind' | 'app'>): string {
  return s.kind === 'platform' ? '/api/_platform/auth' : `/api/${encodeURIComponent(s.app ?? '')}/auth`;
}

let refreshing: Promise<boolean> | null = null;

/** Exchanges the refresh token for a new pair; false (and signed out) when the server refuses. */
export function refreshSession(): Promise<boolean> {
  const s = current;
  if (!s) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await fetch(`${authBase(s)}/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: s.refresh }),
      });
      if (!res.ok) {
        expire();
        return false;
      }
      const body = (await res.json()) as { data: { access_token: string; refresh_token: string } };
      setSession(sessionFrom(s.kind, s.app, s.email, body.data));
      return true;
    } catch {
      return false; // network trouble: keep the session, the next request tries again
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** The session ended without the user asking: remember where they were for after the next login. */
export function expire(): void {
  if (!current) return;
  sessionStorage.setItem(RETURN_KEY, location.pathname + location.search);
  setSession(null);
}

export function takeReturnPath(): string | null {
  const p = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return p;
}

export async function logout(): Promise<void> {
  const s = current;
  setSession(null);
  if (!s) return;
  await fetch(`${authBase(s)}/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: s.refresh }),
  }).catch(() => undefined);
}

// Refresh a minute before expiry (or halfway for very short tokens).
function schedule(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (!current) return;
  const left = current.exp * 1000 - Date.now();
  const lead = Math.min(60_000, left / 2);
  timer = setTimeout(() => void refreshSession(), Math.max(1000, left - lead));
}

schedule();
