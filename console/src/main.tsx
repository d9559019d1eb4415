import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { isAdmin, getSession, subscribeSession, type Session } from './session';
import { match, navigate, useLocation } from './router';
import { NotFound, Toasts } from './ui';
import { LoginPage } from './pages/login';
import { AppsPage } from './pages/apps';
import { AppShell } from './pages/shell';
import { AcceptInvitePage } from './pages/accept';

function useSession(): Session | null {
  const [s, set] = useState(getSession());
  useEffect(() => subscribeSession(set), []);
  return s;
}

function Root() {
  const session = useSession();
  const { path } = useLocation();

  useEffect(() => {
    if (path === '/accept') return;
    if (!session && path !== '/login') navigate('/login', true);
    else if (session && (path === '/' || path === '/login')) {
      navigate(session.kind === 'platform' ? '/apps' : `/a/${encodeURIComponent(session.app ?? '')}/data`, true);
    }
  }, [session, path]);

  if (path === '/accept') return <AcceptInvitePage />;
  if (!session || path === '/login') return <LoginPage />;
  if (path === '/apps') return session.kind === 'platform' ? <AppsPage /> : <Forbidden />;
  const m = match('/a/:app', path.split('/').slice(0, 3).join('/'));
  if (m) {
    // an app user stays in their own app
    if (session.kind === 'app' && m.app !== session.app) return <Forbidden />;
    // keyed by app: a jump through history from one app straight to another must not keep the first app's pages and their loaded lists
    return <AppShell key={m.app} app={m.app!} path={path} admin={isAdmin(session)} />;
  }
  return <NotFound />;
}

function Forbidden() {
  return (
    <main class="center-page">
      <h1>Not available</h1>
      <p>Your account cannot open this page.</p>
      <a href="/admin/">Back to the start</a>
    </main>
  );
}

render(
  <>
    <Root />
    <Toasts />
  </>,
  document.getElementById('root')!,
);
