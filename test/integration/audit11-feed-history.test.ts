import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SseReader } from '../support/sse.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

// Audit 11 of realtime.md and history.md over HTTP: what earlier passes left out, probed as a client would.
vi.setConfig({ testTimeout: 60_000 });
let s: TestServer;
let app: { name: string; token: string };
let adminId: string;

const uuid = { field: 'id', type: 'uuid', generated: true };
const base = () => `/api/${app.name}`;
const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown, token = app.token) =>
  s.client[method](`${base()}${path}`, { token, body });

/** The body as sent: the test client's JSON.parse would round numbers a double cannot hold. */
async function rawGet(path: string, token = app.token): Promise<string> {
  const res = await fetch(`${s.rocket.url}${base()}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, path).toBe(200);
  return res.text();
}
async function created(path: string, body: unknown, token = app.token) {
  const res = await call('post', path, body, token);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

/** A stream, its parsed events and the raw text the server wrote. */
interface Stream {
  reader: SseReader;
  text: () => string;
}
const streams = new Set<SseReader>();
afterEach(() => {
  for (const r of streams) r.close();
  streams.clear();
});
async function subscribe(query: string, token = app.token): Promise<Stream> {
  const r = await SseReader.open(s.rocket.url, `${base()}/_realtime?${query}`, { authorization: `Bearer ${token}` });
  if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status} ${JSON.stringify(r.body)}`);
  streams.add(r);
  let raw = '';
  r.res.on('data', (c: string) => (raw += c));
  await r.waitFor(1, 'ready');
  return { reader: r, text: () => raw };
}
const changes = (st: Stream) => st.reader.events.filter((e) => e.event === 'change');
/** The raw `data:` text of each change frame. */
const rawChanges = (st: Stream) => [...st.text().matchAll(/event: change\ndata: (.*)\n/g)].map((m) => m[1]!);
/** The raw text of an object member (`"record":{…}`, `"data":{…}`) of JSON text, braces balanced. */
function member(json: string, key: string): string {
  const start = json.indexOf(`"${key}":{`) + key.length + 3;
  let depth = 0;
  let inString = false;
  for (let i = start; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return json.slice(start, i + 1);
  }
  throw new Error(`no ${key} in ${json}`);
}
const history = async (entity: string, id: string) => (await call('get', `/${entity}/${id}/_history?per_page=100`)).body.data as any[];

async function upload(name: string): Promise<{ id: string }> {
  const boundary = `----a11${uniqueName('')}`;
  const body = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
  );
  const res = await fetch(`${s.rocket.url}${base()}/_files/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  expect(res.status).toBe(201);
  return (await res.json()).data;
}

beforeAll(async () => {
  s = await startTestServer();
  app = await s.createApp();
  adminId = (await call('get', '/_admin/users')).body.data.find((u: { email: string }) => u.email === 'admin@localhost').id;
}, 60_000);
afterAll(async () => {
  await s?.close();
});

describe('an event record is what GET answers', () => {
  it('for every field type, exact numbers included, on create, update and (soft) delete', async () => {
    await created('/_admin/entities', {
      name: 'thing',
      table: 'things',
      primary_key: uuid,
      soft_delete: true,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 's', type: 'string' },
        { name: 'tx', type: 'text' },
        { name: 'i', type: 'int' },
        { name: 'b', type: 'bigint' },
        { name: 'd', type: 'decimal', precision: 2 },
        { name: 'dz', type: 'decimal' },
        { name: 'f', type: 'float' },
        { name: 'ok', type: 'boolean' },
        { name: 'u', type: 'uuid' },
        { name: 'ts', type: 'timestamp' },
        { name: 'dt', type: 'date' },
        { name: 'j', type: 'json' },
        { name: 'fl', type: 'file' },
        { name: 'created_at', type: 'timestamp', auto: 'create' },
        { name: 'updated_at', type: 'timestamp', auto: 'update' },
      ],
    });
    const file = await upload('a.txt');
    const st = await subscribe('entities=thing');
    const row = await created('/thing', {
      s: 'x',
      tx: 'long',
      i: 7,
      b: '9007199254740993',
      d: 12.5,
      dz: '0.10000000000000000555',
      f: 0.1,
      ok: true,
      u: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      ts: '2024-01-02T03:04:05.678+02:00',
      dt: '2024-02-03',
      j: { a: [1, 2.5], s: 'x' },
      fl: file.id,
    });
    await st.reader.waitFor(1, 'change');
    const afterCreate = member(await rawGet(`/thing/${row.id}`), 'data');
    expect(afterCreate).toContain('"b":9007199254740993');
    expect(afterCreate).toContain('"dz":0.10000000000000000555');
    expect(member(rawChanges(st)[0]!, 'record')).toBe(afterCreate);

    expect((await call('put', `/thing/${row.id}`, { b: '9007199254740995', d: '3.10', j: { a: [2] } })).status).toBe(200);
    await st.reader.waitFor(2, 'change');
    const afterUpdate = member(await rawGet(`/thing/${row.id}`), 'data');
    expect(member(rawChanges(st)[1]!, 'record')).toBe(afterUpdate);
    expect(changes(st)[1]!.data.changed.sort()).toEqual(['b', 'd', 'j', 'updated_at']);

    expect((await call('delete', `/thing/${row.id}`)).status).toBe(200);
    await st.reader.waitFor(3, 'change');
    expect(changes(st)[2]!.data.action).toBe('delete');
    expect(member(rawChanges(st)[2]!, 'record')).toBe(afterUpdate);

    // history holds the same values (auto fields never), the update only what changed
    const [del, upd, cre] = await history('thing', row.id);
    expect(cre.changes.u).toEqual({ from: null, to: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' });
    expect(cre.changes.ts).toEqual({ from: null, to: '2024-01-02T01:04:05.678Z' });
    expect(cre.changes.fl.to).toMatchObject({ id: file.id, filename: 'a.txt', size: 5, mime_type: 'text/plain' });
    expect(Object.keys(upd.changes).sort()).toEqual(['b', 'd', 'j']);
    expect(del.action).toBe('delete');
    expect(Object.keys(del.changes)).not.toContain('updated_at');
  });
});

describe('every write path: events and history entries', () => {
  it('nested child update and delete, computed and slug fields, cascade and set_null', async () => {
    await created('/_admin/entities', {
      name: 'par',
      table: 'pars',
      primary_key: uuid,
      history: true,
      slug: { field: 'slug', source: 'title', regenerate_on_update: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'slug', type: 'string', unique: true },
        { name: 'qty', type: 'int' },
        { name: 'price', type: 'decimal', precision: 2 },
        { name: 'total', type: 'decimal', precision: 2 },
      ],
    });
    for (const [name, soft] of [
      ['kid', true],
      ['pet', false],
    ] as const) {
      await created('/_admin/entities', {
        name,
        table: `${name}s`,
        primary_key: uuid,
        history: true,
        soft_delete: soft,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'par_id', type: 'uuid' },
          { name: 'name', type: 'string' },
        ],
      });
    }
    await created('/_admin/relations', {
      name: 'kids',
      type: 'one_to_many',
      source: 'par',
      target: 'kid',
      target_key: 'par_id',
      on_delete: 'cascade',
    });
    await created('/_admin/relations', {
      name: 'pets',
      type: 'one_to_many',
      source: 'par',
      target: 'pet',
      target_key: 'par_id',
      on_delete: 'set_null',
    });
    await created('/_admin/rules', {
      entity: 'par',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'total', expression: 'record.qty * record.price' },
    });
    const sp = await subscribe('entities=par');
    const sk = await subscribe('entities=kid');
    const spet = await subscribe('entities=pet');
    const p = await created('/par', {
      title: 'Hello',
      qty: 2,
      price: 1.5,
      kids: { data: [{ name: 'a' }, { name: 'b' }] },
      pets: { data: [{ name: 'rex' }] },
    });
    const kids = (await call('get', `/kid?filter[par_id]=${p.id}&sort=name`)).body.data;
    const pet = (await call('get', `/pet?filter[par_id]=${p.id}`)).body.data[0];
    const put = await call('put', `/par/${p.id}`, {
      title: 'World',
      qty: 3,
      kids: {
        data: [
          { id: kids[0].id, name: 'a2' },
          { id: kids[1].id, _delete: true },
        ],
      },
    });
    expect(put.status).toBe(200);
    expect((await call('put', `/par/${p.id}`, { qty: 3 })).status).toBe(200); // changes nothing: no event, no entry
    expect((await call('delete', `/par/${p.id}`)).status).toBe(200);
    await sp.reader.waitFor(3, 'change');
    await sk.reader.waitFor(5, 'change');
    await spet.reader.waitFor(2, 'change');

    const parEvents = changes(sp).map((e) => e.data);
    expect(parEvents.map((e) => e.action)).toEqual(['create', 'update', 'delete']);
    expect(parEvents[1].changed.sort()).toEqual(['qty', 'slug', 'title', 'total']);
    expect(parEvents[1].record).toMatchObject({ slug: 'world', total: 4.5 });
    const kidEvents = changes(sk).map((e) => e.data);
    const byKid = (id: string) => kidEvents.filter((e) => e.id === id).map((e) => [e.action, e.changed ?? null, e.by]);
    expect(byKid(kids[0].id)).toEqual([
      ['create', null, adminId],
      ['update', ['name'], adminId],
      ['delete', null, adminId],
    ]);
    expect(byKid(kids[1].id)).toEqual([
      ['create', null, adminId],
      ['delete', null, adminId],
    ]);
    expect(changes(spet).map((e) => [e.data.action, e.data.changed ?? null, e.data.record.par_id])).toEqual([
      ['create', null, p.id],
      ['update', ['par_id'], null],
    ]);

    // a deleted row's history is for admins, as this token is
    expect((await history('par', p.id)).map((e: any) => [e.action, Object.keys(e.changes).sort()])).toEqual([
      ['delete', ['id', 'price', 'qty', 'slug', 'title', 'total']],
      ['update', ['qty', 'slug', 'title', 'total']],
      ['create', ['id', 'price', 'qty', 'slug', 'title', 'total']],
    ]);
    const actorsOf = async (entity: string, id: string) =>
      (await call('get', `/_admin/history?entity=${entity}&record_id=${id}`)).body.data.map((e: any) => [e.action, e.actor.kind, e.actor.id]);
    // the request's own nested rows are the user's; the cascade's are the system's, for the user
    expect(await actorsOf('kid', kids[0].id)).toEqual([
      ['delete', 'system', adminId],
      ['update', 'user', adminId],
      ['create', 'user', adminId],
    ]);
    expect(await actorsOf('kid', kids[1].id)).toEqual([
      ['delete', 'user', adminId],
      ['create', 'user', adminId],
    ]);
    expect(await actorsOf('pet', pet.id)).toEqual([
      ['update', 'system', adminId],
      ['create', 'user', adminId],
    ]);
  });

  it('an approval decided by a member and a deadline passed by the job: by and actor', async () => {
    await created('/_admin/entities', {
      name: 'tk',
      table: 'tks',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'status', type: 'string' },
      ],
    });
    await created('/_admin/permissions', { entity: 'tk', action: 'read', roles: ['member'] });
    const member = await created('/_admin/users', { email: 'approver@example.com', password: 'secret-pass-1', roles: ['member'] });
    const token = await s.client.login(`${base()}/auth/login`, 'approver@example.com', 'secret-pass-1');
    const trigger = (to: string) => ({ type: 'state_change', entity: 'tk', field: 'title', to });
    const setStatus = (value: string) => ({
      id: 'set',
      type: 'action',
      actions: [{ type: 'set_field', entity: 'tk', record_id: 'context.id', field: 'status', value }],
    });
    await created('/_admin/workflows', {
      name: 'ap',
      trigger: trigger('ap'),
      context: { id: 'record.id' },
      steps: [{ id: 'wait', type: 'approval', assignee: { type: 'role', role: 'member' }, on_approve: { goto: 'set' } }, setStatus('approved')],
    });
    await created('/_admin/workflows', {
      name: 'dl',
      trigger: trigger('dl'),
      context: { id: 'record.id' },
      steps: [{ id: 'wait', type: 'approval', timeout: '1h', on_timeout: { goto: 'set' } }, setStatus('late')],
    });
    const st = await subscribe('entities=tk', token);
    const a = await created('/tk', { title: 'ap' });
    const d = await created('/tk', { title: 'dl' });
    const pending = (await call('get', '/_workflows/pending', undefined, token)).body.data;
    const instance = pending.find((i: { workflow_name: string }) => i.workflow_name === 'ap');
    expect((await call('post', `/_workflows/${instance.id}/approve`, undefined, token)).status).toBe(200);
    const runtime = (await s.rocket.services.apps.get(app.name))!;
    await runtime.db.query(`UPDATE _workflow_instances SET current_step_deadline = NOW() - interval '1 minute' WHERE workflow_name = 'dl'`);
    await s.rocket.jobs.runNow('workflow-deadlines');
    await st.reader.waitFor(4, 'change');
    const updates = changes(st)
      .map((e) => e.data)
      .filter((e) => e.action === 'update');
    expect(updates.map((e) => [e.id, e.record.status, e.changed, e.by])).toEqual([
      [a.id, 'approved', ['status'], member.id],
      [d.id, 'late', ['status'], null],
    ]);
    expect((await history('tk', a.id))[0]).toMatchObject({
      changes: { status: { from: null, to: 'approved' } },
      actor: { kind: 'system', id: member.id, email: 'approver@example.com' },
    });
    expect((await history('tk', d.id))[0]).toMatchObject({
      changes: { status: { from: null, to: 'late' } },
      actor: { kind: 'system', id: null, email: null },
    });
  });
});

describe('audit log of permissions', () => {
  it('an update of the roles alone logs only the roles as different; a delete logs what create and update logged', async () => {
    const perm = await created('/_admin/permissions', { entity: 'anything', action: 'read', roles: ['v'] });
    expect((await call('put', `/_admin/permissions/${perm.id}`, { entity: 'anything', action: 'read', roles: ['w'] })).status).toBe(200);
    expect((await call('delete', `/_admin/permissions/${perm.id}`)).status).toBe(200);
    const [del, upd, cre] = (await call('get', `/_admin/history?entity=_permissions&record_id=${perm.id}`)).body.data;
    const view = { id: perm.id, entity: 'anything', action: 'read' };
    expect(cre.changes.definition).toEqual({ from: null, to: { ...view, roles: ['v'] } });
    expect(upd.changes.definition).toEqual({ from: { ...view, roles: ['v'] }, to: { ...view, roles: ['w'] } });
    expect(del.changes.definition).toEqual({ from: { ...view, roles: ['w'] }, to: null });
    // conditions, when there are some, are part of every entry
    const cond = [{ field: 'owner', operator: 'eq', value: '$user.id' }];
    const withConditions = await created('/_admin/permissions', { entity: 'anything', action: 'read', roles: ['v'], conditions: cond });
    expect((await call('put', `/_admin/permissions/${withConditions.id}`, { entity: 'anything', action: 'read', roles: ['v'] })).status).toBe(200);
    const [dropped] = (await call('get', `/_admin/history?entity=_permissions&record_id=${withConditions.id}`)).body.data;
    expect(dropped.changes.definition).toEqual({
      from: { id: withConditions.id, entity: 'anything', action: 'read', roles: ['v'], conditions: cond },
      to: { id: withConditions.id, entity: 'anything', action: 'read', roles: ['v'] },
    });
  });
});

describe('stream filters with $user read conditions', () => {
  it('an update moving a row out of either is not sent, into both is; a resume applies the permissions as they are now', async () => {
    await created('/_admin/entities', {
      name: 'doc',
      table: 'docs',
      primary_key: uuid,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'owner', type: 'string' },
        { name: 'n', type: 'int' },
      ],
    });
    const policy = await created('/_admin/permissions', {
      entity: 'doc',
      action: 'read',
      roles: ['reader'],
      conditions: [{ field: 'owner', operator: 'eq', value: '$user.id' }],
    });
    const user = await created('/_admin/users', { email: 'reader@example.com', password: 'secret-pass-1', roles: ['reader'] });
    const token = await s.client.login(`${base()}/auth/login`, 'reader@example.com', 'secret-pass-1');
    const all = await subscribe('entities=doc');
    const mine = await subscribe('entities=doc&filter[n.gte]=5', token);
    const own = await created('/doc', { owner: user.id, n: 1 }); // filtered out
    const other = await created('/doc', { owner: 'x', n: 9 }); // not theirs
    await call('put', `/doc/${own.id.toUpperCase()}`, { n: 6 }); // into the filter
    await call('put', `/doc/${own.id}`, { n: 2 }); // out of the filter
    await call('put', `/doc/${own.id}`, { n: 7 }); // in again
    await call('put', `/doc/${own.id}`, { owner: 'y' }); // out of their rows
    await call('put', `/doc/${other.id}`, { owner: user.id }); // into their rows
    await all.reader.waitFor(7, 'change');
    await mine.reader.waitFor(3, 'change');
    const seen = (st: Stream) =>
      changes(st).map((e) => [e.data.id === own.id ? 'own' : 'other', e.data.action, e.data.record.n, e.data.changed ?? null]);
    expect(seen(mine)).toEqual([
      ['own', 'update', 6, ['n']],
      ['own', 'update', 7, ['n']],
      ['other', 'update', 9, ['owner']],
    ]);
    // the event's id is the record's key as GET answers it, whatever spelling the write used
    expect(changes(mine)[0]!.data.id).toBe(own.id);

    // history follows the same read conditions: the row they no longer own is 404, the one they now own is theirs
    expect((await call('get', `/doc/${own.id}/_history`, undefined, token)).status).toBe(404);
    const theirs = await call('get', `/doc/${other.id.toUpperCase()}/_history`, undefined, token);
    expect(theirs.status).toBe(200);
    expect(theirs.body.data.map((e: { action: string }) => e.action)).toEqual(['update', 'create']);

    // read now means "n ≥ 8", whoever owns the row: a resume replays what that lets them see
    expect(
      (
        await call('put', `/_admin/permissions/${policy.id}`, {
          entity: 'doc',
          action: 'read',
          roles: ['reader'],
          conditions: [{ field: 'n', operator: 'gte', value: 8 }],
        })
      ).status,
    ).toBe(200);
    const before = Number(changes(all)[0]!.id) - 1;
    const r = await SseReader.open(s.rocket.url, `${base()}/_realtime?entities=doc&filter[n.gte]=5`, {
      authorization: `Bearer ${token}`,
      'last-event-id': String(before),
    });
    if (!(r instanceof SseReader)) throw new Error(`stream refused: ${r.status}`);
    streams.add(r);
    await r.waitFor(2, 'change');
    // a live write after the replay: once it is here, the replay is known to be complete
    await created('/doc', { owner: 'z', n: 10 });
    await r.waitFor(3, 'change');
    expect(r.events.map((e) => e.event)).toEqual(['ready', 'change', 'change', 'change']);
    expect(r.events.slice(1).map((e) => [e.data.id === other.id, e.data.action, e.data.record.n])).toEqual([
      [true, 'create', 9],
      [true, 'update', 9],
      [false, 'create', 10],
    ]);
  });
});

describe('audit log of definitions', () => {
  it('keeps keys named like secrets (token, password) in definitions; users and invites still show none', async () => {
    await created('/_admin/entities', {
      name: 'api_key',
      table: 'api_keys',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'token', type: 'string' },
      ],
    });
    const create = { type: 'create_record', entity: 'api_key', data: { token: 'context.token' } };
    const flow = await created('/_admin/workflows', {
      name: 'keys',
      trigger: { type: 'event', event: 'issued' },
      context: { token: 'trigger.token', password: 'trigger.password' },
      steps: [{ id: 'a', type: 'action', actions: [create] }],
    });
    const config = await created('/_admin/ui-configs', { entity: 'api_key', scope: 'keys', config: { columns: { token: { label: 'Token' } } } });
    const [flowEntry] = (await call('get', `/_admin/history?entity=_workflows&record_id=${flow.id}`)).body.data;
    expect(flowEntry.changes.definition.to.context).toEqual({ token: 'trigger.token', password: 'trigger.password' });
    expect(flowEntry.changes.definition.to.steps[0].actions).toEqual([create]);
    const [configEntry] = (await call('get', `/_admin/history?entity=_ui_configs&record_id=${config.id}`)).body.data;
    expect(configEntry.changes.definition.to.config).toEqual({ columns: { token: { label: 'Token' } } });

    const user = await created('/_admin/users', { email: 'keys@example.com', password: 'secret-pass-1' });
    const invite = await created('/_admin/invites', { email: 'keys-invite@example.com' });
    const [userEntry] = (await call('get', `/_admin/history?entity=_users&record_id=${user.id}`)).body.data;
    const [inviteEntry] = (await call('get', `/_admin/history?entity=_invites&record_id=${invite.id}`)).body.data;
    expect(Object.keys(userEntry.changes.definition.to).sort()).toEqual(['active', 'email', 'id', 'roles']);
    expect(inviteEntry.changes.definition.to).not.toHaveProperty('token');
    expect(JSON.stringify(inviteEntry)).not.toContain(invite.token);
  });
});
