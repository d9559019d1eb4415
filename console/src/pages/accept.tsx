import { useState } from 'preact/hooks';
import { request } from '../api';
import { navigate } from '../router';
import { sessionFrom, setSession } from '../session';
import { ErrorBox, Field, useAction } from '../ui';

/** The accept link of an invite: choose a password, become a user of the app, signed in. */
export function AcceptInvitePage() {
  const params = new URLSearchParams(location.search);
  const app = params.get('app') ?? '';
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const accept = useAction(async () => {
    const r = await request<{ data: { access_token: string; refresh_token: string; user: { email: string } } }>(
      'POST',
      `/api/${encodeURIComponent(app)}/auth/accept-invite`,
      {
        body: { token, password },
        anonymous: true,
      },
    );
    setSession(sessionFrom('app', app, r.data.user.email, r.data));
    navigate(`/a/${encodeURIComponent(app)}/data`, true);
    return true;
  });
  return (
    <main class="login">
      <form
        class="card login-card"
        aria-label="Accept invite"
        onSubmit={(e) => {
          e.preventDefault();
          void accept.run();
        }}
      >
        <div class="brand">Join {app}</div>
        <p class="muted">You were invited to the app {app}. Choose a password to finish.</p>
        <Field label="Password">
          {(a) => (
            <input {...a} type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        <ErrorBox error={accept.error} />
        <button type="submit" class="primary block" disabled={accept.busy || !token}>
          {accept.slow ? 'Accepting…' : 'Accept invite'}
        </button>
      </form>
    </main>
  );
}
