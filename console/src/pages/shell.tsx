import { useMemo, useState } from 'preact/hooks';
import { loadModel, ModelContext, type Action, type AppModel } from '../model';
import { match } from '../router';
import { getSession, logout } from '../session';
import { ErrorBox, Link, NotFound, Spinner, useAsync } from '../ui';
import { AccessPage } from './access';
import { ActivityPage } from './activity';
import { ApiPage } from './api-page';
import { InboxPage } from './inbox';
import { LogicPage } from './logic';
import { ProfilePage } from './profile';
import { DataIndex, DataPage } from './data';
import { RecordPage } from './record';
import { EntityDesigner, RelationEditor, SchemaPage } from './schema';

/** The frame around every page of one app: navigation, the signed-in user, the app's metadata. */
export function AppShell(props: { app: string; path: string; admin: boolean }) {
  const { app, path, admin } = props;
  const base = `/a/${encodeURIComponent(app)}`;
  const loaded = useAsync(() => loadModel(app, admin), [app, admin]);
  const [menuOpen, setMenuOpen] = useState(false);
  const session = getSession();

  const model: AppModel | null = useMemo(() => {
    if (!loaded.data) return null;
    const perms = loaded.data.perms;
    return {
      app,
      admin,
      entities: loaded.data.entities,
      relations: loaded.data.relations,
      machines: loaded.data.machines,
      ui: loaded.data.ui,
      can: (entity: string, action: Action) => admin || Boolean(perms?.[entity]?.has(action)),
      reload: loaded.reload,
    };
  }, [loaded.data, app, admin, loaded.reload]);

  const section = path.split('/')[3] ?? '';
  const nav: { to: string; label: string; key: string }[] = [
    ...(admin ? [{ to: `${base}/schema`, label: 'Schema', key: 'schema' }] : []),
    { to: `${base}/data`, label: 'Data', key: 'data' },
    ...(admin
      ? [
          { to: `${base}/logic`, label: 'Logic', key: 'logic' },
          { to: `${base}/access`, label: 'Access', key: 'access' },
        ]
      : []),
    { to: `${base}/inbox`, label: 'Inbox', key: 'inbox' },
    ...(admin
      ? [
          { to: `${base}/activity`, label: 'Activity', key: 'activity' },
          { to: `${base}/api`, label: 'API', key: 'api' },
        ]
      : []),
    { to: `${base}/profile`, label: 'Profile', key: 'profile' },
  ];

  return (
    <div class="layout">
      <header class="topbar">
        <button type="button" class="ghost menu-btn" aria-label="Menu" aria-expanded={menuOpen} onClick={() => setMenuOpen(!menuOpen)}>
          ☰
        </button>
        <span class="brand">
          <span class="logo" aria-hidden="true">
            ▲
          </span>{' '}
          <span class="brand-name">Rocket</span>
        </span>
        <span class="crumb">
          {session?.kind === 'platform' && (
            <>
              <Link to="/apps">Apps</Link> /{' '}
            </>
          )}
          <strong>{app}</strong>
        </span>
        <span class="spacer" />
        <span class="muted user" title={session?.roles.join(', ')}>
          {session?.email}
        </span>
        <button type="button" class="ghost" onClick={() => void logout()}>
          Sign out
        </button>
      </header>
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: a click that bubbles up from a link (Enter on a link is a click too) closes the phone menu */}
      <nav class={`sidebar ${menuOpen ? 'open' : ''}`} aria-label="App sections" onClick={() => setMenuOpen(false)}>
        <ul>
          {nav.map((n) => (
            <li key={n.key}>
              <Link to={n.to} aria-current={section === n.key ? 'page' : undefined}>
                {n.label}
              </Link>
            </li>
          ))}
        </ul>
        {model && section === 'data' && model.entities.length > 0 && (
          <>
            <h2 class="nav-head">Entities</h2>
            <ul>
              {model.entities
                .filter((e) => model.can(e.name, 'read'))
                .map((e) => (
                  <li key={e.name}>
                    <Link to={`${base}/data/${e.name}`} aria-current={path.split('/')[4] === e.name ? 'page' : undefined}>
                      {e.name}
                    </Link>
                  </li>
                ))}
            </ul>
          </>
        )}
      </nav>
      <main class="content">
        <ErrorBox error={loaded.error} />
        {!model && loaded.loading && <Spinner label="Loading the app…" />}
        {model && (
          <ModelContext.Provider value={model}>
            <Page path={path} base={base} admin={admin} />
          </ModelContext.Provider>
        )}
      </main>
    </div>
  );
}

function Page(props: { path: string; base: string; admin: boolean }) {
  const rest = props.path.slice(props.base.length) || '/';
  if (props.admin) {
    if (rest === '/' || rest === '/schema') return <SchemaPage />;
    const entity = match('/schema/entities/:name', rest);
    if (entity) return <EntityDesigner name={entity.name!} />;
    const relation = match('/schema/relations/:name', rest);
    if (relation) return <RelationEditor name={relation.name!} />;
    if (rest === '/api') return <ApiPage />;
    if (rest === '/logic') return <LogicPage />;
    if (rest === '/access') return <AccessPage />;
    if (rest === '/activity') return <ActivityPage />;
  } else if (ADMIN_SECTIONS.has(rest.split('/')[1] ?? '')) return <AdminsOnly />;
  if (rest === '/inbox') return <InboxPage />;
  if (rest === '/profile') return <ProfilePage />;
  if (rest === '/data' || rest === '/') return <DataIndex />;
  const list = match('/data/:entity', rest);
  if (list) return <DataPage entity={list.entity!} />;
  const record = match('/data/:entity/:id', rest);
  if (record) return <RecordPage entity={record.entity!} id={record.id!} />;
  return <NotFound inside />;
}

const ADMIN_SECTIONS = new Set(['schema', 'logic', 'access', 'activity', 'api']);

/** An admin page opened by someone else (a shared link): it exists, so "not found" would mislead. */
function AdminsOnly() {
  return (
    <section class="center-page" aria-label="Not available">
      <h1>Not available</h1>
      <p>Only admins of this app can open this page.</p>
      <a href="/admin/">Back to the start</a>
    </section>
  );
}
