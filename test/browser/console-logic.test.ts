import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, launchBrowser, openSignedInPage, type WatchedPage } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** issue 17: logic editors with diagrams, access, inbox, webhooks and activity, in a real browser. */
describe('admin console, part 2', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  let receiver: Server;
  const received: string[] = [];
  let failNext = false;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  let ticketId: string;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(body);
        const status = failNext ? 500 : 200;
        failNext = false;
        res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true}' : '{"ok":false}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    ({ name: app, token } = await server.createApp());
    const entity = await server.client.post(`/api/${app}/_admin/entities`, {
      token,
      body: {
        name: 'ticket',
        table: 'tickets',
        history: true,
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'title', type: 'string', required: true },
          { name: 'status', type: 'string' },
          { name: 'approved', type: 'boolean', default: false },
          { name: 'owner_id', type: 'uuid' },
        ],
      },
    });
    expect(entity.status).toBe(201);
    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
    receiver?.close();
  });
  afterEach(() => expectCleanPage(w));

  it('state machine editor with its diagram; the record form offers only allowed transitions', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'State machines' }).click();
    await page.getByRole('button', { name: 'New state machine' }).click();
    const form = page.getByRole('form', { name: 'State machine editor' });
    await form.getByLabel('Entity').selectOption('ticket');
    await form.getByLabel('State field').selectOption('status');
    await form.getByLabel('Initial state').fill('open');
    await form.getByLabel('Transition 1 from').fill('open');
    await form.getByLabel('Transition 1 to').fill('in_progress');
    await form.getByRole('button', { name: 'Add transition' }).click();
    await form.getByLabel('Transition 2 from').fill('in_progress');
    await form.getByLabel('Transition 2 to').fill('done');
    await form.getByLabel('Transition 2 guard').fill('record.title != ');
    await form.getByRole('button', { name: 'Save state machine' }).click();
    // the guard does not compile: the API's message shows at the guard input
    await form
      .locator('.field.has-error', { has: page.getByLabel('Transition 2 guard') })
      .getByRole('alert')
      .waitFor();
    await form.getByLabel('Transition 2 guard').fill("record.title != ''");
    await form.getByLabel('Transition 2 roles').fill('manager, lead');
    const diagram = form.getByRole('img', { name: 'State diagram' });
    await diagram.waitFor();
    // guards and roles are visible in the diagram
    await expect.poll(() => diagram.textContent()).toContain("if record.title != ''");
    expect(await diagram.textContent()).toContain('roles: manager, lead');
    await w.screenshot('30-state-machine-editor');
    await form.getByRole('button', { name: 'Save state machine' }).click();
    await page.getByRole('img', { name: 'States of ticket.status' }).waitFor();
    await w.screenshot('31-logic-state-machines');

    const created = await server.client.post(`/api/${app}/ticket`, { token, body: { title: 'Printer jam', status: 'open' } });
    expect(created.status).toBe(201);
    ticketId = created.body.data.id;
    await page.goto(url(`/a/${app}/data/ticket/${ticketId}`));
    const status = page.getByLabel('status');
    await expect.poll(() => status.locator('option').allTextContents()).toEqual(['open', 'in_progress']);
    await status.selectOption('in_progress');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await server.client.get(`/api/${app}/ticket/${ticketId}`, { token })).body.data.status).toBe('in_progress');
    await page.goto(url(`/a/${app}/data/ticket/${ticketId}`));
    await expect.poll(() => page.getByLabel('status').locator('option').allTextContents()).toEqual(['in_progress', 'done']);
  });

  it('workflow editor with its diagram; an approval from a second user in their inbox changes the record', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Workflows' }).click();
    await page.getByRole('button', { name: 'New workflow' }).click();
    const form = page.getByRole('form', { name: 'Workflow editor' });
    await form.getByLabel('Workflow name').fill('review');
    await form.getByLabel('Trigger (JSON)').fill(JSON.stringify({ type: 'state_change', entity: 'ticket', field: 'status', to: 'done' }));
    await form.getByLabel('Context (JSON)').fill(JSON.stringify({ record_id: 'trigger.record_id' }));
    await form.getByLabel('Steps (JSON)').fill(
      JSON.stringify([
        { id: 'mgr', type: 'approval', assignee: { type: 'role', role: 'manager' }, timeout: '72h', on_approve: { goto: 'mark' }, on_reject: 'end' },
        {
          id: 'mark',
          type: 'action',
          actions: [{ type: 'set_field', entity: 'ticket', record_id: 'context.record_id', field: 'approved', value: true }],
          then: 'end',
        },
      ]),
    );
    const wfDiagram = form.getByRole('img', { name: 'Workflow diagram' });
    await wfDiagram.waitFor();
    // the approval deadline and the gotos' targets are visible
    expect(await wfDiagram.textContent()).toContain('approval · 72h · manager');
    expect(await wfDiagram.textContent()).toContain('mark');
    await w.screenshot('32-workflow-editor');
    await form.getByRole('button', { name: 'Save workflow' }).click();
    await page.getByRole('img', { name: 'Steps of workflow review' }).waitFor();
    await w.screenshot('32a-logic-workflows');

    // the second user, made on the Access page
    await page.goto(url(`/a/${app}/access`));
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.getByLabel('Email').fill('mgr@example.com');
    await dialog.getByLabel('Password').fill('manager-pass-1');
    await dialog.getByLabel('Roles').fill('manager');
    await dialog.getByRole('button', { name: 'Save user' }).click();
    await page.getByRole('table', { name: 'Users' }).getByText('mgr@example.com').waitFor();
    await w.screenshot('33-access-users');
    await page.getByRole('tab', { name: 'Permissions' }).click();
    await page.getByRole('button', { name: 'Add read policy on ticket' }).click();
    const policy = page.getByRole('dialog', { name: 'read on ticket' });
    await policy.getByLabel('Roles').fill('manager');
    await policy.getByRole('button', { name: 'Add condition' }).click();
    await policy.getByLabel('Condition 1 field').selectOption('status');
    await policy.getByLabel('Condition 1 operator').selectOption('neq');
    await policy.getByLabel('Condition 1 value').fill('void');
    await w.screenshot('34-access-policy');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('button', { name: /Edit read policy on ticket for manager/ }).waitFor();
    const perms = await server.client.get(`/api/${app}/_admin/permissions`, { token });
    expect(perms.body.data).toMatchObject([
      { entity: 'ticket', action: 'read', roles: ['manager'], conditions: [{ field: 'status', operator: 'neq', value: 'void' }] },
    ]);

    // trigger the workflow from the data browser
    await page.goto(url(`/a/${app}/data/ticket/${ticketId}`));
    await page.getByLabel('status').selectOption('done');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(new RegExp(`/data/ticket/${ticketId}$`));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login$/);

    await page.getByText('App user').click();
    await page.getByLabel('App name').fill(app);
    await page.getByLabel('Email').fill('mgr@example.com');
    await page.getByLabel('Password').fill('manager-pass-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(new RegExp(`/admin/a/${app}/data$`));
    expect(await page.getByRole('navigation', { name: 'App sections' }).getByRole('link', { name: 'Schema' }).count()).toBe(0);
    await page.getByRole('navigation', { name: 'App sections' }).getByRole('link', { name: 'Inbox' }).click();
    const item = page.getByRole('article', { name: 'review at mgr' });
    await item.waitFor();
    await item.getByRole('button', { name: 'Step history' }).click();
    await w.screenshot('35-inbox');
    await item.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Nothing waits for you.').waitFor();
    await w.screenshot('35a-inbox-empty');
    await expect.poll(async () => (await server.client.get(`/api/${app}/ticket/${ticketId}`, { token })).body.data.approved).toBe(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login$/);
    await page.getByText('Platform admin').click();
    await page.getByLabel('Email').fill(server.config.platformEmail);
    await page.getByLabel('Password').fill(server.config.platformPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin\/apps$/);
  });

  it('webhook to a local receiver: the delivery shows in the log and can be retried', { timeout: 120_000 }, async () => {
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('Entity').selectOption('ticket');
    await dialog.getByLabel('Event').selectOption('after_write');
    await dialog.getByLabel('URL').fill(hookUrl);
    await dialog.getByLabel('Max attempts').fill('1');
    await dialog.getByRole('button', { name: 'Save webhook' }).click();
    await page.getByRole('table', { name: 'Webhooks' }).getByText(hookUrl).waitFor();

    const before = received.length;
    failNext = true; // the first delivery fails; with one attempt allowed it is then 'failed'
    await server.client.post(`/api/${app}/ticket`, { token, body: { title: 'Hooked', status: 'open' } });
    await expect.poll(() => received.length, { timeout: 20_000 }).toBeGreaterThan(before);
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    await expect
      .poll(async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return deliveries
          .getByText('failed')
          .count()
          .catch(() => 0);
      })
      .toBeGreaterThan(0);
    // the log's filters: by status, by webhook
    const log = page.getByRole('region', { name: 'Delivery log' });
    await log.getByLabel('Status').selectOption('delivered');
    await expect
      .poll(async () => (await deliveries.locator('tbody tr').count()) > 0 || (await log.getByText('No deliveries.').count()) > 0)
      .toBe(true);
    expect(await deliveries.getByText('failed').count()).toBe(0);
    await log.getByLabel('Status').selectOption('failed');
    await expect.poll(() => deliveries.getByText('failed').count()).toBeGreaterThan(0);
    expect(await deliveries.getByText('delivered', { exact: true }).count()).toBe(0);
    await log.getByLabel('Webhook').selectOption({ label: `ticket after_write ${hookUrl}` });
    await expect.poll(() => deliveries.getByText('failed').count()).toBeGreaterThan(0);
    await log.getByLabel('Status').selectOption('');
    await deliveries.getByRole('button', { name: 'Payload' }).first().click();
    await page.getByRole('dialog', { name: 'Delivery' }).getByText('"Hooked"').waitFor();
    await w.screenshot('36-webhook-delivery');
    await page.getByRole('dialog', { name: 'Delivery' }).getByRole('button', { name: 'Close' }).click();
    const n = received.length;
    await deliveries.getByRole('button', { name: 'Retry' }).first().click();
    await deliveries.getByText('retrying').waitFor();
    // the retry job sends it within about 30 s
    await expect.poll(() => received.length, { timeout: 60_000 }).toBeGreaterThan(n);
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return deliveries
            .getByText('delivered')
            .count()
            .catch(() => 0);
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    await w.screenshot('37-logic-webhooks');
  });

  it('invites (single, bulk, copy link, revoke); a read policy with a $user.id condition: the user sees only their own rows', async () => {
    await page.goto(url(`/a/${app}/access`));
    await page.getByRole('tab', { name: 'Invites' }).click();
    const invites = page.getByRole('region', { name: 'Invites' });
    await invites.getByLabel('Emails').fill('agent1@example.com');
    await invites.getByLabel('Invite roles').fill('agent');
    await invites.getByRole('button', { name: 'Send invite' }).click();
    const table = invites.getByRole('table', { name: 'Invites' });
    await table.getByText('agent1@example.com').waitFor();
    // bulk: an address of an existing user is skipped, the others invited
    await invites.getByLabel('Emails').fill('bulk1@example.com\nbulk2@example.com\nmgr@example.com');
    await invites.getByRole('button', { name: 'Send invite' }).click();
    await invites.getByRole('status').filter({ hasText: '2 invited, 1 skipped of 3' }).waitFor();
    await table.getByText('bulk2@example.com').waitFor();
    await w.screenshot('41-access-invites');
    await invites.getByRole('button', { name: 'Revoke invite for bulk2@example.com' }).click();
    await page.getByRole('dialog', { name: 'Revoke the invite for bulk2@example.com?' }).getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => table.getByText('bulk2@example.com').count()).toBe(0);
    const left = await server.client.get(`/api/${app}/_admin/invites`, { token });
    expect(left.body.data.map((i: { email: string }) => i.email).sort()).toEqual(['agent1@example.com', 'bulk1@example.com']);
    await w.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.rocket.url });
    await invites.getByRole('button', { name: 'Copy accept link for agent1@example.com' }).click();
    await page.getByText('Accept link copied').waitFor();
    const link = await page.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(new RegExp(`^${server.rocket.url}/admin/accept\\?`));

    await page.getByRole('tab', { name: 'Permissions' }).click();
    await page.getByRole('button', { name: 'Add read policy on ticket' }).click();
    const policy = page.getByRole('dialog', { name: 'read on ticket' });
    await policy.getByLabel('Roles').fill('agent');
    await policy.getByRole('button', { name: 'Add condition' }).click();
    await policy.getByLabel('Condition 1 field').selectOption('owner_id');
    await policy.getByLabel('Condition 1 operator').selectOption('eq');
    await policy.getByLabel('Condition 1 value').fill('$user.id');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('button', { name: /Edit read policy on ticket for agent/ }).waitFor();
    await w.screenshot('42-access-permissions');
    const perms = await server.client.get(`/api/${app}/_admin/permissions`, { token });
    expect(perms.body.data).toContainEqual(
      expect.objectContaining({
        entity: 'ticket',
        action: 'read',
        roles: ['agent'],
        conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }],
      }),
    );

    // the invited user accepts through the copied link and is signed in
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login$/);
    await page.goto(link);
    await page.getByLabel('Password').fill('agent-pass-1');
    await w.screenshot('43-accept-invite');
    await page.getByRole('button', { name: 'Accept invite' }).click();
    await page.waitForURL(new RegExp(`/admin/a/${app}/data$`));
    const users = await server.client.get(`/api/${app}/_admin/users`, { token });
    const id = (email: string) => users.body.data.find((u: { email: string }) => u.email === email)?.id as string;
    const other = await server.client.post(`/api/${app}/_admin/users`, {
      token,
      body: { email: 'agent2@example.com', password: 'agent-pass-2', roles: ['agent'] },
    });
    expect(other.status).toBe(201);
    const mine = id('agent1@example.com');
    expect(mine).toMatch(/^[0-9a-f-]{36}$/);
    for (const [title, owner] of [
      ['Mine', mine],
      ['Theirs', other.body.data.id],
    ]) {
      expect((await server.client.post(`/api/${app}/ticket`, { token, body: { title, status: 'open', owner_id: owner } })).status).toBe(201);
    }
    await page.getByRole('list', { name: 'Entities' }).getByRole('link', { name: 'ticket' }).click();
    const rows = page.getByRole('table', { name: 'ticket records' }).locator('tbody tr');
    await expect.poll(() => rows.allTextContents()).toEqual([expect.stringContaining('Mine')]);
    // live rows obey the same condition
    await page.getByText('live', { exact: true }).waitFor();
    for (const [title, owner] of [
      ['Theirs too', other.body.data.id],
      ['Mine too', mine],
    ]) {
      expect((await server.client.post(`/api/${app}/ticket`, { token, body: { title, status: 'open', owner_id: owner } })).status).toBe(201);
    }
    await page.getByRole('table', { name: 'ticket records' }).getByText('Mine too').waitFor();
    expect((await rows.allTextContents()).filter((t) => t.includes('Theirs'))).toEqual([]);
    await w.screenshot('44-user-own-rows');
    // a non-admin cannot read the state machines: the record form takes them from the user's own
    // OpenAPI document and still offers only the allowed transitions
    await page
      .getByRole('table', { name: 'ticket records' })
      .getByRole('row', { name: /Mine too/ })
      .click();
    await page.getByRole('form', { name: 'ticket record' }).waitFor();
    await expect.poll(() => page.getByLabel('status').locator('option').allTextContents()).toEqual(['open', 'in_progress']);
    await w.screenshot('45-user-record-transitions');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login$/);
    await page.getByText('Platform admin').click();
    await page.getByLabel('Email').fill(server.config.platformEmail);
    await page.getByLabel('Password').fill(server.config.platformPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin\/apps$/);
  });

  it('rules editor shows the compile error of an expression at its input', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.getByLabel('Rule type').selectOption('expression');
    await dialog.getByLabel('Expression').fill('record.title ==');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await dialog
      .locator('.field.has-error', { has: page.getByLabel('Expression') })
      .getByRole('alert')
      .waitFor();
    await dialog.getByLabel('Expression').fill("record.title != 'x'");
    await dialog.getByLabel('Error message').fill('Title must not be x');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await page.getByRole('table', { name: 'Rules' }).getByText("record.title != 'x'").waitFor();
    await w.screenshot('38-logic-rules');

    // deleting asks first, in place
    await page.getByRole('button', { name: "record.title != 'x'" }).click();
    const edit = page.getByRole('dialog', { name: 'Edit rule' });
    await edit.getByRole('button', { name: 'Delete rule' }).click();
    const ask = edit.getByRole('group', { name: 'Delete this rule?' });
    await ask.getByRole('button', { name: 'Keep' }).click();
    expect(await ask.count()).toBe(0);
    await edit.getByRole('button', { name: 'Delete rule' }).click();
    await w.screenshot('38a-logic-rule-delete');
    await ask.getByRole('button', { name: 'Yes, delete rule' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Rules' }).getByText("record.title != 'x'").count()).toBe(0);
    expect((await server.client.get(`/api/${app}/_admin/rules`, { token })).body.data).toEqual([]);
  });

  it('the activity page lists the audit entries of all of this', async () => {
    await page.goto(url(`/a/${app}/activity`));
    const log = page.getByRole('region', { name: 'Audit log' });
    await log.getByText('_state_machines').first().waitFor();
    await log.getByText('_workflows').first().waitFor();
    await log.getByText('_webhooks').first().waitFor();
    await log.getByText('_permissions').first().waitFor();
    await log.getByLabel('Entity').fill('ticket');
    await log.getByLabel('Entity').press('Tab');
    await log.getByText(ticketId).first().waitFor();
    await page.getByRole('region', { name: 'Delivery log' }).getByRole('table', { name: 'Deliveries' }).waitFor();
    await w.screenshot('39-activity');
    await page.goto(url(`/a/${app}/data/ticket/${ticketId}`));
    await page.getByRole('tab', { name: 'History' }).click();
    await page.getByRole('region', { name: 'History' }).getByText('approved').first().waitFor();
    await w.screenshot('40-record-history');
  });
});
