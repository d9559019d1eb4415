import { useState } from 'preact/hooks';
import { api } from '../api';
import { logout } from '../session';
import { navigate } from '../router';
import { ConfirmDialog, Empty, ErrorBox, Field, Link, Modal, PageHead, Spinner, errorsByField, toast, useAction, useAsync } from '../ui';

interface App {
  name: string;
  display_name: string;
  db_name: string;
  status: string;
  created_at?: string;
}

export function AppsPage() {
  const apps = useAsync(() => api.get<App[]>('/api/_platform/apps'), []);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<App | null>(null);

  return (
    <div class="layout single">
      <header class="topbar">
        <span class="brand">
          <span class="logo" aria-hidden="true">
            ▲
          </span>{' '}
          Rocket
        </span>
        <span class="spacer" />
        <button type="button" class="ghost" onClick={() => void logout()}>
          Sign out
        </button>
      </header>
      <main class="content">
        <PageHead title="Apps" sub="Each app has its own database, users and API.">
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New app
          </button>
        </PageHead>
        <ErrorBox error={apps.error} />
        {apps.loading && !apps.data && <Spinner />}
        {apps.data && apps.data.length === 0 && <Empty>No apps yet. Create the first one.</Empty>}
        {apps.data && apps.data.length > 0 && (
          <ul class="cards" aria-label="Apps">
            {apps.data.map((a) => (
              <li key={a.name} class="card app-card">
                <div>
                  <h2>
                    <Link to={`/a/${encodeURIComponent(a.name)}/schema`}>{a.display_name || a.name}</Link>
                  </h2>
                  <p class="muted">
                    <code>{a.name}</code> · <span class={`badge ${a.status === 'active' ? 'ok' : ''}`}>{a.status}</span>
                  </p>
                </div>
                <div class="row-actions">
                  <button type="button" onClick={() => navigate(`/a/${encodeURIComponent(a.name)}/schema`)}>
                    Open
                  </button>
                  <button type="button" class="danger ghost" aria-label={`Delete app ${a.name}`} onClick={() => setDeleting(a)}>
                    Delete
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
      </main>
      {creating && (
        <CreateApp
          onClose={() => setCreating(false)}
          onCreated={(name) => {
            setCreating(false);
            toast(`App ${name} created`);
            apps.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          message="The app's database, users, files and data are removed for good."
          confirmLabel="Delete app"
          typeToConfirm={deleting.name}
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.del(`/api/_platform/apps/${encodeURIComponent(deleting.name)}`);
            toast(`App ${deleting.name} deleted`);
            apps.reload();
            return true;
          }}
        />
      )}
    </div>
  );
}

function CreateApp(props: { onClose: () => void; onCreated: (name: string) => void }) {
  const [name, setName] = useState('');
  const [display, setDisplay] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const create = useAction(async () => {
    const body: Record<string, string> = { name: name.trim() };
    if (display.trim()) body.display_name = display.trim();
    if (email.trim()) body.admin_email = email.trim();
    if (password) body.admin_password = password;
    await api.post('/api/_platform/apps', body);
    props.onCreated(body.name!);
    return true;
  });
  const { byField } = errorsByField(create.error);
  // the platform API names the input only in its message ("App already exists: x", "admin_password is required …")
  const msg = create.error instanceof Error ? create.error.message : '';
  const nameError = byField.name ?? (/^App (name|already)/.test(msg) ? msg : undefined);
  const emailError = byField.admin_email ?? (/^admin_email\b/.test(msg) ? msg : undefined);
  const passwordError = byField.admin_password ?? (/^admin_password\b/.test(msg) ? msg : undefined);
  // the API seeds the default admin only when both are absent: one without the other is refused
  const seeding = email.trim() !== '' || password !== '';
  return (
    <Modal title="New app" onClose={props.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <div class="dialog-body">
          <Field label="Name" hint="Lowercase letters, digits, - and _; starts with a letter. Used in URLs." error={nameError}>
            {(a) => (
              <input
                {...a}
                name="name"
                required
                pattern="[a-z][a-z0-9_\-]*"
                maxLength={56}
                value={name}
                onInput={(e) => setName(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field label="Display name">
            {(a) => <input {...a} name="display_name" value={display} placeholder={name} onInput={(e) => setDisplay(e.currentTarget.value)} />}
          </Field>
          <Field label="Admin email" hint="Leave email and password empty for admin@localhost / changeme." error={emailError}>
            {(a) => (
              <input {...a} name="admin_email" type="email" required={seeding} value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
            )}
          </Field>
          <Field label="Admin password" hint="Required with an admin email." error={passwordError}>
            {(a) => (
              <input
                {...a}
                name="admin_password"
                type="password"
                autoComplete="new-password"
                required={seeding}
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            )}
          </Field>
          <ErrorBox error={create.error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={create.busy}>
            {create.slow ? 'Creating…' : 'Create app'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
