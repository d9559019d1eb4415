import { useState } from 'preact/hooks';
import { request } from '../api';
import { navigate } from '../router';
import { sessionFrom, setSession, takeReturnPath } from '../session';
import { ErrorBox, Field, useAction } from '../ui';

type Tokens = { data: { access_token: string; refresh_token: string } };

export function LoginPage() {
  const [kind, setKind] = useState<'platform' | 'app'>('platform');
  const [app, setApp] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [expired] = useState(() => sessionStorage.getItem('rocket.console.return') !== null);
  const login = useAction(async () => {
    const path = kind === 'platform' ? '/api/_platform/auth/login' : `/api/${encodeURIComponent(app.trim())}/auth/login`;
    const res = await request<Tokens>('POST', path, { body: { email, password }, anonymous: true });
    const s = sessionFrom(kind, kind === 'app' ? app.trim() : undefined, email.trim().toLowerCase(), res.data);
    const back = takeReturnPath();
    setSession(s);
    const home = kind === 'platform' ? '/apps' : `/a/${encodeURIComponent(s.app ?? '')}/data`;
    // return to where the session ended, if that page belongs to the same kind of session
    // (the app's own pages: /admin/a/shop/… but not /admin/a/shop2/…, which an app user of shop may not open)
    const own = `/admin/a/${encodeURIComponent(s.app ?? '')}`;
    const ok = back && (kind === 'platform' || back === own || back.startsWith(`${own}/`) || back.startsWith(`${own}?`));
    navigate(ok ? back : home, true);
    return true;
  });

  return (
    <main class="login">
      <form
        class="card login-card"
        aria-label="Sign in"
        onSubmit={(e) => {
          e.preventDefault();
          void login.run();
        }}
      >
        <div class="brand">
          <span class="logo" aria-hidden="true">
            ▲
          </span>{' '}
          Rocket console
        </div>
        {expired && <p class="notice">Your session ended. Sign in again to continue where you were.</p>}
        <div class="segmented" role="radiogroup" aria-label="Account type">
          <label>
            <input type="radio" name="kind" checked={kind === 'platform'} onChange={() => setKind('platform')} /> Platform admin
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === 'app'} onChange={() => setKind('app')} /> App user
          </label>
        </div>
        {kind === 'app' && (
          <Field label="App name">
            {(a) => <input {...a} name="app" required value={app} autoComplete="organization" onInput={(e) => setApp(e.currentTarget.value)} />}
          </Field>
        )}
        <Field label="Email">
          {(a) => (
            <input {...a} name="email" type="email" required autoComplete="username" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          )}
        </Field>
        <Field label="Password">
          {(a) => (
            <input
              {...a}
              name="password"
              type="password"
              required
              autoComplete="current-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        <ErrorBox error={login.error} />
        <button type="submit" class="primary block" disabled={login.busy}>
          {login.slow ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
