import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
let adminId: string;

const uuid = { field: 'id', type: 'uuid', generated: true };
const base = () => `/api/${app.name}`;
const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown, token = app.token) =>
  s.client[method](`${base()}${path}`, { token, body });
const q = (sql: string, params: unknown[] = []) => runtime.db.query<any>(sql, params as never[]);

/** The audit entries of one item, newest first. */
async function auditOf(entity: string, recordId?: string) {
  const res = await call('get', `/_admin/history?entity=${entity}${recordId ? `&record_id=${recordId}` : ''}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as any[];
}

beforeAll(async () => {
  s = await startTestServer({ ROCKET_HISTORY_RETENTION_DAYS: '30' });
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  adminId = (await q(`SELECT id::text FROM _users WHERE email = 'admin@localhost'`))[0].id;
});
afterAll(async () => {
  await s?.close();
});

describe('metadata audit', () => {
  it('records entity create, update and delete with the definitions; a refused change records nothing', async () => {
    const def = {
      name: 'asset',
      table: 'assets',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
      ],
    };
    const created = await call('post', '/_admin/entities', def);
    expect(created.status).toBe(201);
    const changed = { ...def, history: true, fields: [...def.fields, { name: 'serial', type: 'string' }] };
    expect((await call('put', '/_admin/entities/asset', changed)).status).toBe(200);
    expect((await call('post', '/_admin/entities', def)).status).toBe(409);
    expect((await call('delete', '/_admin/entities/asset')).status).toBe(200);
    const entries = await auditOf('_entities', 'asset');
    expect(entries.map((e) => e.action)).toEqual(['delete', 'update', 'create']);
    const [del, upd, cre] = entries;
    expect(cre).toMatchObject({ entity: '_entities', record_id: 'asset', actor: { kind: 'user', id: adminId, email: 'admin@localhost' } });
    expect(cre.changes).toEqual({ definition: { from: null, to: created.body.data } });
    expect(upd.changes.definition.from).toEqual(created.body.data);
    expect(upd.changes.definition.to).toMatchObject({ name: 'asset', history: true });
    expect(del.changes.definition).toEqual({ from: upd.changes.definition.to, to: null });
  });

  it('records relations, rules, state machines, permissions, webhooks, workflows and UI configs by name or id', async () => {
    for (const name of ['owner', 'pet']) {
      expect(
        (
          await call('post', '/_admin/entities', {
            name,
            table: `${name}s`,
            primary_key: uuid,
            fields: [
              { name: 'id', type: 'uuid' },
              { name: 'owner_id', type: 'uuid' },
              { name: 'state', type: 'string' },
            ],
          })
        ).status,
      ).toBe(201);
    }
    const rel = await call('post', '/_admin/relations', {
      name: 'pets',
      type: 'one_to_many',
      source: 'owner',
      target: 'pet',
      target_key: 'owner_id',
    });
    expect(rel.status).toBe(201);
    expect((await auditOf('_relations', 'pets'))[0].changes.definition).toEqual({ from: null, to: rel.body.data });
    expect((await call('delete', '/_admin/relations/pets')).status).toBe(200);
    expect((await auditOf('_relations', 'pets')).map((e) => e.action)).toEqual(['delete', 'create']);

    const items: Array<[string, string, unknown]> = [
      [
        '_rules',
        '/_admin/rules',
        {
          entity: 'pet',
          hook: 'before_write',
          type: 'field',
          definition: { field: 'state', operator: 'min_length', value: 1, message: 'state needed' },
        },
      ],
      [
        '_state_machines',
        '/_admin/state-machines',
        { entity: 'pet', field: 'state', definition: { initial: 'new', transitions: [{ from: 'new', to: 'old' }] } },
      ],
      ['_permissions', '/_admin/permissions', { entity: 'pet', action: 'read', roles: ['vet'] }],
      ['_webhooks', '/_admin/webhooks', { entity: 'pet', hook: 'after_write', url: 'https://example.com/hook' }],
      [
        '_workflows',
        '/_admin/workflows',
        { name: 'wf', trigger: { type: 'event', event: 'pet_seen' }, steps: [{ id: 'a', type: 'action', actions: [] }] },
      ],
      ['_ui_configs', '/_admin/ui-configs', { entity: 'pet', scope: 'default', config: { list: { columns: ['state'] } } }],
    ];
    for (const [collection, path, body] of items) {
      const res = await call('post', path, body);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(201);
      const id = String(res.body.data.id);
      const [entry] = await auditOf(collection, id);
      expect(entry, collection).toMatchObject({ action: 'create', record_id: id, changes: { definition: { from: null } } });
      expect(entry.changes.definition.to, collection).toMatchObject({ id: res.body.data.id });
      expect((await call('delete', `${path}/${id}`)).status).toBe(200);
      const [removed] = await auditOf(collection, id);
      expect(removed.action).toBe('delete');
      expect(removed.changes.definition.to).toBeNull();
      expect(removed.changes.definition.from).toMatchObject({ id: res.body.data.id });
    }
  });

  it('deleting an entity records the relations, rules and state machines it takes with it, each as its own delete', async () => {
    for (const name of ['hull', 'deck']) {
      const fields = [
        { name: 'id', type: 'uuid' },
        { name: 'hull_id', type: 'uuid' },
        { name: 'state', type: 'string' },
      ];
      expect((await call('post', '/_admin/entities', { name, table: `${name}s`, primary_key: uuid, fields })).status).toBe(201);
    }
    const rel = await call('post', '/_admin/relations', {
      name: 'hull_decks',
      type: 'one_to_many',
      source: 'hull',
      target: 'deck',
      target_key: 'hull_id',
    });
    expect(rel.status).toBe(201);
    const rule = await call('post', '/_admin/rules', {
      entity: 'deck',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'state', operator: 'min_length', value: 1, message: 'state needed' },
    });
    expect(rule.status).toBe(201);
    const machine = await call('post', '/_admin/state-machines', {
      entity: 'deck',
      field: 'state',
      definition: { initial: 'new', transitions: [{ from: 'new', to: 'old' }] },
    });
    expect(machine.status).toBe(201);
    expect((await call('delete', '/_admin/entities/deck')).status).toBe(200);

    expect((await call('get', '/_admin/relations/hull_decks')).status).toBe(404);
    const [relEntry] = await auditOf('_relations', 'hull_decks');
    expect(relEntry).toMatchObject({ action: 'delete', actor: { kind: 'user', id: adminId } });
    expect(relEntry.changes.definition).toEqual({ from: rel.body.data, to: null });
    const [ruleEntry] = await auditOf('_rules', rule.body.data.id);
    expect(ruleEntry.action).toBe('delete');
    expect(ruleEntry.changes.definition).toEqual({ from: (await auditOf('_rules', rule.body.data.id))[1].changes.definition.to, to: null });
    const [machineEntry] = await auditOf('_state_machines', machine.body.data.id);
    expect(machineEntry.action).toBe('delete');
    expect(machineEntry.changes.definition.from).toMatchObject({ id: machine.body.data.id, entity: 'deck', field: 'state', active: true });
    expect(machineEntry.changes.definition.to).toBeNull();
    expect((await auditOf('_entities', 'deck'))[0].action).toBe('delete');
  });

  it('records users, invites and imports without any password hash or invite token', async () => {
    const created = await call('post', '/_admin/users', { email: 'new@example.com', password: 'a-long-secret-1', roles: ['staff'] });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    expect(
      (await call('put', `/_admin/users/${id}`, { email: 'new@example.com', password: 'another-secret-2', roles: ['staff', 'lead'] })).status,
    ).toBe(200);
    const entries = await auditOf('_users', id);
    expect(entries.map((e) => e.action)).toEqual(['update', 'create']);
    expect(entries[1].changes.definition.to).toMatchObject({ id, email: 'new@example.com', roles: ['staff'], active: true });
    expect(entries[0].changes.definition.to.roles).toEqual(['staff', 'lead']);

    const invite = await call('post', '/_admin/invites', { email: 'invitee@example.com', roles: ['staff'] });
    expect(invite.status).toBe(201);
    const [inv] = await auditOf('_invites', invite.body.data.id);
    expect(inv.changes.definition.to).toMatchObject({ email: 'invitee@example.com' });
    expect(inv.changes.definition.to).not.toHaveProperty('token');
    const accepted = await s.client.post(`${base()}/auth/accept-invite`, { body: { token: invite.body.data.token, password: 'invitee-secret-3' } });
    expect(accepted.status).toBe(201);
    const [joined] = await auditOf('_users', accepted.body.data.user.id);
    expect(joined).toMatchObject({ action: 'create', actor: { kind: 'user', id: accepted.body.data.user.id, email: 'invitee@example.com' } });
    // The same definition as a user an admin creates.
    expect(joined.changes.definition).toEqual({ from: null, to: { ...accepted.body.data.user, active: true } });

    const imported = await call('post', '/_admin/import', {
      version: 1,
      entities: [{ name: 'imported', table: 'importeds', primary_key: uuid, fields: [{ name: 'id', type: 'uuid' }] }],
      permissions: [{ entity: 'imported', action: 'read', roles: ['staff'] }],
    });
    expect(imported.status).toBe(200);
    const [imp] = await auditOf('_import');
    expect(imp).toMatchObject({ record_id: null, action: 'create', changes: { summary: { from: null, to: imported.body.data.summary } } });
    // and each definition it created, like the same change through the admin API
    const [entityEntry] = await auditOf('_entities', 'imported');
    expect(entityEntry).toMatchObject({ action: 'create', changes: { definition: { from: null, to: { name: 'imported', table: 'importeds' } } } });
    const permissions = await q(`SELECT changes FROM _history WHERE entity = '_permissions' AND changes->'definition'->'to'->>'entity' = 'imported'`);
    expect(permissions).toHaveLength(1);

    // the features' sections (workflows, webhooks, UI configs) log what they stored, with its id, as their admin APIs do
    const features = {
      version: 1,
      workflows: [{ name: 'imported_flow', trigger: { type: 'event', event: 'ping' }, steps: [{ id: 's', type: 'action', actions: [] }] }],
      webhooks: [{ entity: 'imported', hook: 'after_write', url: 'http://127.0.0.1:9/hook' }],
      ui_configs: [{ entity: 'imported', scope: 's1', config: { a: 1 } }],
    };
    expect((await call('post', '/_admin/import', features)).status).toBe(200);
    const webhook = (await call('get', '/_admin/webhooks')).body.data.find((w: { url: string }) => w.url === 'http://127.0.0.1:9/hook');
    const [hookEntry] = await auditOf('_webhooks', webhook.id);
    expect(hookEntry).toMatchObject({ action: 'create', record_id: webhook.id });
    const { created_at: _c, updated_at: _u, ...webhookView } = webhook;
    expect(hookEntry.changes.definition).toEqual({ from: null, to: webhookView });
    const flow = (await call('get', '/_admin/workflows')).body.data.find((w: { name: string }) => w.name === 'imported_flow');
    expect((await auditOf('_workflows', flow.id))[0]).toMatchObject({ action: 'create', record_id: flow.id });
    const config = (await call('get', '/_admin/ui-configs')).body.data.find((c: { scope: string }) => c.scope === 's1');
    const view = { id: config.id, entity: 'imported', scope: 's1' };
    expect((await auditOf('_ui_configs', config.id))[0].changes.definition).toEqual({ from: null, to: { ...view, config: { a: 1 } } });
    // importing it again replaces the config: an update from the old definition
    expect((await call('post', '/_admin/import', { version: 1, ui_configs: [{ entity: 'imported', scope: 's1', config: { a: 99 } }] })).status).toBe(
      200,
    );
    const [replaced] = await auditOf('_ui_configs', config.id);
    expect(replaced).toMatchObject({ action: 'update', record_id: config.id });
    expect(replaced.changes.definition).toEqual({ from: { ...view, config: { a: 1 } }, to: { ...view, config: { a: 99 } } });

    // no hash, no token, no password anywhere in the log
    const secrets = await q(`SELECT password_hash AS s FROM _users UNION ALL SELECT token FROM _invites`);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const log = await q(`SELECT string_agg(changes::text, ' ') AS text FROM _history`);
    for (const { s: secret } of secrets) expect(log[0].text).not.toContain(secret);
    expect(log[0].text).not.toMatch(/password|\$2[aby]\$|\$argon2/);
  });
});

describe('invite audit', () => {
  it('a bulk invite logs each invite like a single one (roles, invited_by); accepting logs the user and the invite', async () => {
    const single = await call('post', '/_admin/invites', { email: 'one@example.com', roles: ['staff'] });
    expect(single.status).toBe(201);
    const bulk = await call('post', '/_admin/invites/bulk', { emails: ['Two@example.com', 'three@example.com'], roles: ['staff', 'lead'] });
    expect(bulk.status).toBe(200);
    const [one] = await auditOf('_invites', single.body.data.id);
    const { token: _t, created_at: _c, ...oneView } = single.body.data;
    expect(one).toMatchObject({ action: 'create', actor: { kind: 'user', id: adminId }, changes: { definition: { from: null, to: oneView } } });
    expect(Object.keys(oneView).sort()).toEqual(['email', 'expires_at', 'id', 'invited_by', 'roles']);
    for (const created of bulk.body.data.created) {
      const entries = await auditOf('_invites', created.id);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ action: 'create', actor: { kind: 'user', id: adminId } });
      expect(entries[0].changes.definition).toEqual({
        from: null,
        to: { id: created.id, email: created.email, roles: ['staff', 'lead'], expires_at: created.expires_at, invited_by: adminId },
      });
    }

    const token = bulk.body.data.created[0].token;
    const accepted = await s.client.post(`${base()}/auth/accept-invite`, { body: { token, password: 'invitee-secret-4' } });
    expect(accepted.status).toBe(201);
    const user = accepted.body.data.user;
    const invitee = { kind: 'user', id: user.id, email: 'two@example.com' };
    const [joined] = await auditOf('_users', user.id);
    expect(joined).toMatchObject({ action: 'create', actor: invitee, changes: { definition: { from: null, to: user } } });
    const [acceptance, creation] = await auditOf('_invites', bulk.body.data.created[0].id);
    expect(acceptance).toMatchObject({ action: 'update', actor: invitee });
    const stored = (await q(`SELECT accepted_at FROM _invites WHERE id = $1`, [bulk.body.data.created[0].id]))[0];
    expect(acceptance.changes.definition).toEqual({
      from: { ...creation.changes.definition.to, accepted_at: null },
      to: { ...creation.changes.definition.to, accepted_at: stored.accepted_at.toISOString() },
    });
    // a refused accept (already used) logs nothing
    expect((await s.client.post(`${base()}/auth/accept-invite`, { body: { token, password: 'again-secret-5' } })).status).toBe(400);
    expect(await auditOf('_invites', bulk.body.data.created[0].id)).toHaveLength(2);
  });
});

describe('import sample data', () => {
  it('records sample rows of entities with history as creates by the importing admin', async () => {
    const doc = {
      version: 1,
      entities: [
        {
          name: 'crate',
          table: 'crates',
          primary_key: uuid,
          history: true,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'label', type: 'string' },
          ],
        },
        {
          name: 'box',
          table: 'boxes',
          primary_key: uuid,
          fields: [
            { name: 'id', type: 'uuid' },
            { name: 'label', type: 'string' },
          ],
        },
      ],
      sample_data: {
        crate: [{ id: '11111111-1111-4111-8111-111111111111', label: 'one' }],
        box: [{ id: '22222222-2222-4222-8222-222222222222', label: 'two' }],
      },
    };
    const res = await call('post', '/_admin/import', doc);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.summary.records).toBe(2);
    const [entry] = await auditOf('crate', '11111111-1111-4111-8111-111111111111');
    expect(entry).toMatchObject({
      action: 'create',
      actor: { kind: 'user', id: adminId },
      changes: { id: { from: null, to: '11111111-1111-4111-8111-111111111111' }, label: { from: null, to: 'one' } },
    });
    expect(await q(`SELECT 1 FROM _history WHERE entity = 'box'`)).toEqual([]);
    // the entity carries the key through export
    const exported = await call('get', '/_admin/export');
    expect(exported.body.data.entities.find((e: any) => e.name === 'crate').history).toBe(true);
  });
});

describe('retention', () => {
  it('the retention job deletes entries older than ROCKET_HISTORY_RETENTION_DAYS and keeps the rest', async () => {
    const before = await q('SELECT count(*)::int AS n FROM _history');
    await q(`INSERT INTO _history (entity, record_id, action, changes, actor_kind, at)
             VALUES ('old', '1', 'create', '{}', 'system', NOW() - interval '31 days'), ('old', '2', 'create', '{}', 'system', NOW() - interval '40 days'),
                    ('recent', '3', 'create', '{}', 'system', NOW() - interval '29 days')`);
    await s.rocket.jobs.runNow('history-retention');
    expect(await q(`SELECT entity FROM _history WHERE entity IN ('old', 'recent')`)).toEqual([{ entity: 'recent' }]);
    expect((await q('SELECT count(*)::int AS n FROM _history'))[0].n).toBe(before[0].n + 1);
  });

  it('the log is indexed in its reading order (newest first by id) and by a BRIN range on at; no DESC btree here or on the webhook log', async () => {
    const defs = (await q(`SELECT indexdef FROM pg_indexes WHERE tablename = '_history' ORDER BY indexname`)).map((r: { indexdef: string }) =>
      r.indexdef.replace(/^CREATE (UNIQUE )?INDEX \S+ ON \S+ /, ''),
    );
    expect(defs.sort()).toEqual(['USING brin (at)', 'USING btree (actor_id, id)', 'USING btree (entity, record_id, id)', 'USING btree (id)'].sort());
    const logs = (await q(`SELECT indexdef FROM pg_indexes WHERE tablename = '_webhook_logs'`)).map((r: { indexdef: string }) => r.indexdef);
    expect(logs.filter((d: string) => d.includes('DESC'))).toEqual([]);
    expect(logs.some((d: string) => d.endsWith('USING btree (created_at, id)'))).toBe(true);
  });

  it('refuses a bad ROCKET_HISTORY_RETENTION_DAYS value and names it', () => {
    for (const bad of ['0', 'ten', '1.5']) {
      expect(() => loadConfig({ ROCKET_HISTORY_RETENTION_DAYS: bad, ROCKET_CONFIG: '' })).toThrow(ConfigError);
      expect(() => loadConfig({ ROCKET_HISTORY_RETENTION_DAYS: bad })).toThrow(/ROCKET_HISTORY_RETENTION_DAYS/);
    }
    expect(loadConfig({ ROCKET_HISTORY_RETENTION_DAYS: '7' }).historyRetentionDays).toBe(7);
    expect(loadConfig({}).historyRetentionDays).toBeUndefined();
  });
});
