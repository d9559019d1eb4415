import { useModel } from '../model';
import { getSession } from '../session';
import { PageHead } from '../ui';

/**
 * The signed-in account (spec/console.md, Sessions: every user has their profile). The API has no
 * self-service account route, so this shows what the session's tokens say about the caller.
 */
export function ProfilePage() {
  const m = useModel();
  const s = getSession();
  if (!s) return null;
  return (
    <>
      <PageHead title="Profile" sub="The account this session is signed in with." />
      <section class="card" aria-label="Account">
        <dl class="props">
          <dt>Email</dt>
          <dd>{s.email}</dd>
          <dt>Account</dt>
          <dd>{s.kind === 'platform' ? 'Platform admin (acts as admin in every app)' : `User of the app ${m.app}`}</dd>
          <dt>User id</dt>
          <dd>
            <code>{s.userId}</code>
          </dd>
          <dt>Roles</dt>
          <dd>{s.kind === 'platform' ? 'admin' : s.roles.length ? s.roles.join(', ') : 'none'}</dd>
          <dt>Access</dt>
          <dd>{m.admin ? 'Everything in this app' : 'The entities and actions your roles are granted, and your inbox'}</dd>
          <dt>Session</dt>
          <dd>Access token renewed automatically; it currently ends at {new Date(s.exp * 1000).toLocaleTimeString()}.</dd>
        </dl>
      </section>
    </>
  );
}
