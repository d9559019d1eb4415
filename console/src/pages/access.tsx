import { useEffect, useRef, useState } from 'preact/hooks';
import { api, appBase } from '../api';
import { type Action, useModel } from '../model';
import {
  Check,
  ConfirmButton,
  ConfirmDialog,
  Empty,
  ErrorBox,
  Field,
  Modal,
  PageHead,
  Spinner,
  TabPanel,
  Tabs,
  errorsByField,
  toast,
  useAction,
  useAsync,
} from '../ui';

interface User {
  id: string;
  email: string;
  roles: string[];
  active: boolean;
}
interface Invite {
  id: string;
  email: string;
  roles: string[];
  token: string;
  expires_at: string;
  accepted_at: string | null;
}
interface Condition {
  field: string;
  operator: string;
  value: unknown;
}
interface Permission {
  id: string;
  entity: string;
  action: Action;
  roles: string[];
  conditions?: Condition[];
}

const ACTIONS: Action[] = ['read', 'create', 'update', 'delete'];
const COND_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in'];
const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Users, invites and the permission grid of one app (spec/console.md page 5). */
export function AccessPage() {
  const [tab, setTab] = useState<'users' | 'invites' | 'permissions'>('users');
  return (
    <>
      <PageHead title="Access" sub="Who can sign in to this app, and what each role may do." />
      <Tabs
        id="access"
        label="Access sections"
        tabs={[
          ['users', 'Users'],
          ['invites', 'Invites'],
          ['permissions', 'Permissions'],
        ]}
        value={tab}
        onChange={setTab}
      />
      <TabPanel id="access" tab={tab}>
        {tab === 'users' && <Users />}
        {tab === 'invites' && <Invites />}
        {tab === 'permissions' && <Permissions />}
      </TabPanel>
    </>
  );
}

function Users() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/users`;
  const users = useAsync(() => api.get<User[]>(base), []);
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  return (
    <section class="card" aria-label="Users">
      <div class="section-head">
        <h2>Users</h2>
        <button type="button" class="primary" onClick={() => setEditing('new')}>
          New user
        </button>
      </div>
      <ErrorBox error={users.error} />
      {!users.data ? (
        <Spinner />
      ) : (
        <div class="scroll-x">
          <table class="table" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Roles</th>
                <th scope="col">Active</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id}>
                  <td>{u.email}</td>
                  <td>{u.roles.join(', ') || <span class="muted">none</span>}</td>
                  <td>{u.active ? 'Yes' : 'No'}</td>
                  <td class="row-actions">
                    <button type="button" aria-label={`Edit ${u.email}`} onClick={() => setEditing(u)}>
                      Edit
                    </button>
                    <button type="button" class="ghost danger" aria-label={`Delete ${u.email}`} onClick={() => setDeleting(u)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <UserForm
          user={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            users.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.email}?`}
          message="The account and its sessions are removed."
          confirmLabel="Delete user"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.del(`${base}/${deleting.id}`);
            users.reload();
            return true;
          }}
        />
      )}
    </section>
  );
}

function UserForm(props: { user: User | null; onClose: () => void; onSaved: () => void }) {
  const m = useModel();
  const u = props.user;
  const [email, setEmail] = useState(u?.email ?? '');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState(u?.roles.join(', ') ?? '');
  const [active, setActive] = useState(u?.active ?? true);
  const save = useAction(async () => {
    const body: Record<string, unknown> = { email, roles: splitList(roles), active };
    if (password) body.password = password;
    const base = `${appBase(m.app)}/_admin/users`;
    if (u) await api.put(`${base}/${u.id}`, body);
    else await api.post(base, body);
    toast(`User ${email} saved`);
    props.onSaved();
    return true;
  });
  const { byField } = errorsByField(save.error);
  // the user API names the field only in its message ("email is required", "A user with this email already exists")
  const msg = save.error instanceof Error ? save.error.message : '';
  const emailError = byField.email ?? (/email/i.test(msg) ? msg : undefined);
  const passwordError = byField.password ?? (/password/i.test(msg) ? msg : undefined);
  return (
    <Modal title={u ? `Edit ${u.email}` : 'New user'} onClose={props.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <div class="dialog-body">
          <Field label="Email" error={emailError}>
            {(a) => <input {...a} type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
          </Field>
          <Field label={u ? 'New password' : 'Password'} hint={u ? 'Leave empty to keep the current one' : undefined} error={passwordError}>
            {(a) => (
              <input
                {...a}
                type="password"
                autoComplete="new-password"
                required={!u}
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field label="Roles" hint="comma separated, e.g. admin, clerk" error={byField.roles}>
            {(a) => <input {...a} value={roles} onInput={(e) => setRoles(e.currentTarget.value)} />}
          </Field>
          <Check label="Active" checked={active} onChange={setActive} />
          <ErrorBox error={save.error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={save.busy}>
            {save.slow ? 'Saving…' : 'Save user'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** A read-only text, focused and selected when it appears, for copying by hand (Ctrl+C). */
function SelectedLink(props: { label: string; value: string }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    ref.current?.focus();
    ref.current?.select();
  }, []);
  return <input ref={ref} class="code" readOnly aria-label={props.label} value={props.value} onFocus={(e) => e.currentTarget.select()} />;
}

export function acceptLink(app: string, token: string): string {
  return `${location.origin}/admin/accept?app=${encodeURIComponent(app)}&token=${encodeURIComponent(token)}`;
}

function Invites() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/invites`;
  const invites = useAsync(() => api.get<Invite[]>(base), []);
  const [emails, setEmails] = useState('');
  const [roles, setRoles] = useState('');
  const [revoking, setRevoking] = useState<Invite | null>(null);
  const [bulkResult, setBulkResult] = useState<{
    summary: { total: number; created: number; skipped: number };
    skipped: { email: string; reason: string }[];
  } | null>(null);
  // the link shown for copying by hand where the clipboard cannot be written (a page served over plain
  // http from another host has no navigator.clipboard, and a browser may refuse the write)
  const [shownLink, setShownLink] = useState<string | null>(null);
  const copyLink = async (i: Invite) => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(acceptLink(m.app, i.token));
      setShownLink(null);
      toast('Accept link copied');
    } catch {
      setShownLink(i.id);
      toast('Copy the accept link from the selected field', 'error');
    }
  };
  const invite = useAction(async () => {
    const list = splitList(emails.replace(/\s+/g, ','));
    setBulkResult(null);
    if (list.length === 1) {
      await api.post(base, { email: list[0], roles: splitList(roles) });
      toast(`Invited ${list[0]}`);
    } else {
      const r = await api.post<{ summary: { total: number; created: number; skipped: number }; skipped: { email: string; reason: string }[] }>(
        `${base}/bulk`,
        { emails: list, roles: splitList(roles) },
      );
      setBulkResult(r);
    }
    setEmails('');
    invites.reload();
    return true;
  });
  const { byField } = errorsByField(invite.error);
  // the invite API names the input only in its message ("A user with this email already exists", "roles must …")
  const inviteMsg = invite.error instanceof Error ? invite.error.message : '';
  const rolesError = byField.roles ?? (/^roles\b/.test(inviteMsg) ? inviteMsg : undefined);
  const emailsError = byField.email ?? byField.emails ?? (!rolesError && /email/i.test(inviteMsg) ? inviteMsg : undefined);
  return (
    <section class="card" aria-label="Invites">
      <h2>Invites</h2>
      <form
        class="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          void invite.run();
        }}
      >
        <Field label="Emails" hint="One address, or several separated by commas or new lines (bulk)" error={emailsError}>
          {(a) => <textarea {...a} rows={2} required value={emails} onInput={(e) => setEmails(e.currentTarget.value)} />}
        </Field>
        <Field label="Invite roles" hint="comma separated" error={rolesError}>
          {(a) => <input {...a} value={roles} onInput={(e) => setRoles(e.currentTarget.value)} />}
        </Field>
        <div>
          <button type="submit" class="primary" disabled={invite.busy}>
            {invite.slow ? 'Sending…' : 'Send invite'}
          </button>
        </div>
      </form>
      <ErrorBox error={invite.error} />
      {bulkResult && (
        <p role="status">
          {bulkResult.summary.created} invited, {bulkResult.summary.skipped} skipped of {bulkResult.summary.total}.
          {bulkResult.skipped.map((s) => (
            <span key={s.email}>
              {' '}
              {s.email}: {s.reason}.
            </span>
          ))}
        </p>
      )}
      {!invites.data ? (
        <Spinner />
      ) : invites.data.length === 0 ? (
        <Empty>No invites.</Empty>
      ) : (
        <div class="scroll-x">
          <table class="table" aria-label="Invites">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Roles</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invites.data.map((i) => {
                const status = i.accepted_at ? 'accepted' : new Date(i.expires_at) < new Date() ? 'expired' : 'pending';
                return (
                  <tr key={i.id}>
                    <td>{i.email}</td>
                    <td>{i.roles.join(', ')}</td>
                    <td>{status}</td>
                    <td class="row-actions">
                      {status === 'pending' && (
                        <button type="button" aria-label={`Copy accept link for ${i.email}`} onClick={() => void copyLink(i)}>
                          Copy link
                        </button>
                      )}
                      {shownLink === i.id && <SelectedLink label={`Accept link for ${i.email}`} value={acceptLink(m.app, i.token)} />}
                      <button type="button" class="ghost danger" aria-label={`Revoke invite for ${i.email}`} onClick={() => setRevoking(i)}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke the invite for ${revoking.email}?`}
          message="Its accept link stops working."
          confirmLabel="Revoke"
          onConfirm={async () => {
            await api.del(`${base}/${revoking.id}`);
            invites.reload();
            return true;
          }}
          onClose={() => setRevoking(null)}
        />
      )}
    </section>
  );
}

function Permissions() {
  const m = useModel();
  const base = `${appBase(m.app)}/_admin/permissions`;
  const perms = useAsync(() => api.get<Permission[]>(base), []);
  const [editing, setEditing] = useState<Permission | { entity: string; action: Action } | null>(null);
  if (perms.error) return <ErrorBox error={perms.error} />;
  if (!perms.data) return <Spinner />;
  const cell = (entity: string, action: Action) => perms.data!.filter((p) => p.entity === entity && p.action === action);
  return (
    <section class="card" aria-label="Permissions">
      <h2>Permissions</h2>
      <p class="muted">
        Admins may do everything. Everyone else needs a policy: roles that may do an action, optionally only on rows matching conditions.
      </p>
      <div class="table-wrap">
        <table class="table perm-grid" aria-label="Permission grid">
          <thead>
            <tr>
              <th scope="col">Entity</th>
              {ACTIONS.map((a) => (
                <th key={a} scope="col">
                  {a}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {m.entities.map((e) => (
              <tr key={e.name}>
                <th scope="row">{e.name}</th>
                {ACTIONS.map((a) => (
                  <td key={a}>
                    {cell(e.name, a).map((p) => (
                      <button
                        key={p.id}
                        type="button"
                        class="policy"
                        aria-label={`Edit ${a} policy on ${e.name} for ${p.roles.join(', ')}`}
                        onClick={() => setEditing(p)}
                      >
                        {p.roles.join(', ') || 'no roles'}
                        {p.conditions?.length ? (
                          <small> · {p.conditions.map((c) => `${c.field} ${c.operator} ${JSON.stringify(c.value)}`).join(' and ')}</small>
                        ) : null}
                      </button>
                    ))}
                    <button
                      type="button"
                      class="ghost add"
                      aria-label={`Add ${a} policy on ${e.name}`}
                      onClick={() => setEditing({ entity: e.name, action: a })}
                    >
                      +
                    </button>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editing && (
        <PolicyForm
          policy={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            perms.reload();
          }}
        />
      )}
    </section>
  );
}

function PolicyForm(props: { policy: Permission | { entity: string; action: Action }; onClose: () => void; onSaved: () => void }) {
  const m = useModel();
  const p = props.policy;
  const existing = 'id' in p ? p : null;
  const entity = m.entities.find((e) => e.name === p.entity);
  const [roles, setRoles] = useState(existing?.roles.join(', ') ?? '');
  const [conds, setConds] = useState<{ field: string; operator: string; value: string }[]>(
    (existing?.conditions ?? []).map((c) => ({
      field: c.field,
      operator: c.operator,
      value: Array.isArray(c.value) ? c.value.join(', ') : String(c.value),
    })),
  );
  const base = `${appBase(m.app)}/_admin/permissions`;
  const save = useAction(async () => {
    const body = {
      entity: p.entity,
      action: p.action,
      roles: splitList(roles),
      conditions: conds.map((c) => ({
        field: c.field,
        operator: c.operator,
        value:
          c.operator === 'in' || c.operator === 'not_in'
            ? c.value.trim() === '$user.roles'
              ? '$user.roles'
              : splitList(c.value)
            : /^(gt|gte|lt|lte)$/.test(c.operator) && c.value.trim() !== '' && !Number.isNaN(Number(c.value))
              ? Number(c.value)
              : c.value,
      })),
    };
    if (existing) await api.put(`${base}/${existing.id}`, body);
    else await api.post(base, body);
    toast('Policy saved');
    props.onSaved();
    return true;
  });
  const del = useAction(async () => {
    if (!existing) return;
    await api.del(`${base}/${existing.id}`);
    props.onSaved();
    return true;
  });
  const { byField } = errorsByField(save.error);
  // a condition's problem comes as a message that starts with its path ("conditions[0].value must be an array …")
  const saveMsg = save.error instanceof Error ? save.error.message : '';
  const condError = (path: string) => byField[path] ?? (saveMsg.startsWith(`${path} `) ? saveMsg : undefined);
  return (
    <Modal title={`${p.action} on ${p.entity}`} onClose={props.onClose} wide>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <div class="dialog-body">
          <Field label="Roles" hint="comma separated" error={byField.roles}>
            {(a) => <input {...a} value={roles} onInput={(e) => setRoles(e.currentTarget.value)} />}
          </Field>
          <fieldset class="conditions">
            <legend>Row conditions (all must hold)</legend>
            {conds.map((c, i) => (
              <div class="filter-row" key={i}>
                <Field label={`Condition ${i + 1} field`} error={condError(`conditions[${i}].field`)}>
                  {(a) => (
                    <select
                      {...a}
                      value={c.field}
                      onChange={(e) => setConds(conds.map((x, j) => (j === i ? { ...x, field: e.currentTarget.value } : x)))}
                    >
                      {(entity?.fields ?? []).map((f) => (
                        <option key={f.name}>{f.name}</option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field label={`Condition ${i + 1} operator`} error={condError(`conditions[${i}].operator`)}>
                  {(a) => (
                    <select
                      {...a}
                      value={c.operator}
                      onChange={(e) => setConds(conds.map((x, j) => (j === i ? { ...x, operator: e.currentTarget.value } : x)))}
                    >
                      {COND_OPS.map((o) => (
                        <option key={o}>{o}</option>
                      ))}
                    </select>
                  )}
                </Field>
                <Field
                  label={`Condition ${i + 1} value`}
                  hint="$user.id, $user.email, $user.roles allowed"
                  error={condError(`conditions[${i}].value`)}
                >
                  {(a) => (
                    <input
                      {...a}
                      value={c.value}
                      onInput={(e) => setConds(conds.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))}
                    />
                  )}
                </Field>
                <button
                  type="button"
                  class="ghost"
                  aria-label={`Remove condition ${i + 1}`}
                  onClick={() => setConds(conds.filter((_, j) => j !== i))}
                >
                  ✕
                </button>
              </div>
            ))}
            <button type="button" onClick={() => setConds([...conds, { field: entity?.fields[0]?.name ?? '', operator: 'eq', value: '' }])}>
              Add condition
            </button>
          </fieldset>
          <ErrorBox error={save.error ?? del.error} />
        </div>
        <footer class="dialog-foot">
          {existing && (
            <ConfirmButton label="Delete policy" question="Delete this policy?" busy={del.busy} slow={del.slow} onConfirm={() => void del.run()} />
          )}
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={save.busy}>
            {save.slow ? 'Saving…' : 'Save policy'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
