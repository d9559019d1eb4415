import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

interface Log {
  id: string;
  entity: string;
  url: string;
  status: string;
  attempt: number;
  created_at: string;
}

/**
 * The seventh console audit: the delivery log's per-row buttons named after their row and its entity
 * filter, the webhook form's Headers checked and its error placed at the input, a duplicate workflow
 * name shown at the Name input, and who decided each step in the inbox's step history.
 */
describe('admin console, audit fixes (7)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  let receiver: Server;
  let hookBase: string;
  const run = Date.now().toString(36);
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  const api = (p: string) => `/api/${app}${p}`;

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token } = suite);
    const { post } = suite;
    // every delivery fails, so each log row offers a retry
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(500, { 'content-type': 'application/json' }).end('{"ok":false}'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    for (const name of ['order', 'invoice', 'ticket']) {
      await post('/_admin/entities', {
        name,
        table: `${name}s`,
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'title', type: 'string', required: true },
          { name: 'status', type: 'string' },
        ],
      });
    }
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise((r) => receiver?.close(r));
  });
  afterEach(async () => {
    if (w) expectCleanPage(w);
    await w?.close();
  });

  it('names each delivery row’s Payload and Retry buttons after the row, and filters the log by entity', async () => {
    const orderUrl = `${hookBase}/order-${run}`;
    const invoiceUrl = `${hookBase}/invoice-${run}`;
    for (const [entity, hookUrl] of [
      ['order', orderUrl],
      ['invoice', invoiceUrl],
    ]) {
      const r = await server.client.post(api('/_admin/webhooks'), {
        token,
        body: { entity, hook: 'after_write', url: hookUrl, method: 'POST', async: true, retry: { max_attempts: 1, backoff: 'linear' } },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    for (const [entity, title] of [
      ['order', `first ${run}`],
      ['order', `second ${run}`],
      ['invoice', `third ${run}`],
    ]) {
      expect((await server.client.post(api(`/${entity}`), { token, body: { title } })).status).toBe(201);
    }
    const logs = async () => (await server.client.get(api('/_admin/webhook-logs'), { token })).body.data as Log[];
    const mine = async () => (await logs()).filter((l) => l.url === orderUrl || l.url === invoiceUrl);
    await expect.poll(async () => (await mine()).filter((l) => l.status === 'failed').length, { timeout: 30_000 }).toBe(3);
    const invoiceLog = (await mine()).find((l) => l.url === invoiceUrl)!;

    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    const log = page.getByRole('region', { name: 'Delivery log' });
    const deliveries = log.getByRole('table', { name: 'Deliveries' });
    await expect.poll(() => deliveries.locator('tbody tr').count()).toBe(3);

    // each row's buttons carry its own name: no two Retry (or Payload) buttons are alike
    const labels = async (word: string) =>
      deliveries.getByRole('button', { name: new RegExp(`^${word} `) }).evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    for (const word of ['Payload', 'Retry']) {
      const names = await labels(word);
      expect(names).toHaveLength(3);
      expect(new Set(names).size).toBe(3);
    }
    const when = await page.evaluate((at) => new Date(at).toLocaleString(), invoiceLog.created_at);
    const payload = deliveries.getByRole('button', { name: `Payload of delivery to ${invoiceUrl} at ${when}`, exact: true });
    expect(await payload.count()).toBe(1);
    await payload.click();
    const dialog = page.getByRole('dialog', { name: 'Delivery' });
    await dialog.getByText(`third ${run}`).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
    const retry = deliveries.getByRole('button', { name: `Retry delivery to ${invoiceUrl} at ${when}`, exact: true });
    expect(await retry.count()).toBe(1);
    await retry.click();
    // the named row's delivery is the one scheduled again; the order deliveries stay failed at attempt 1
    await expect
      .poll(async () => {
        const l = (await mine()).find((x) => x.id === invoiceLog.id)!;
        return l.status === 'retrying' || l.attempt === 2;
      })
      .toBe(true);
    expect((await mine()).filter((l) => l.url === orderUrl).map((l) => [l.status, l.attempt])).toEqual([
      ['failed', 1],
      ['failed', 1],
    ]);

    // the entity filter asks the API for that entity's deliveries only
    const asked = page.waitForRequest(
      (r) => new URL(r.url()).pathname.endsWith('/_admin/webhook-logs') && new URL(r.url()).searchParams.get('entity') === 'invoice',
    );
    await log.getByLabel('Entity', { exact: true }).selectOption('invoice');
    await asked;
    await expect.poll(() => deliveries.locator('tbody tr').count()).toBe(1);
    expect(await deliveries.getByText(invoiceUrl).count()).toBe(1);
    expect(await deliveries.getByText(orderUrl).count()).toBe(0);
    await log.getByLabel('Entity', { exact: true }).selectOption('order');
    await expect.poll(() => deliveries.locator('tbody tr').count()).toBe(2);
    expect(await deliveries.getByText(invoiceUrl).count()).toBe(0);
    await w.screenshot('fix7-01-delivery-log');
  });

  it('refuses Headers that are not a JSON object at the Headers input, before sending', async () => {
    w = await openSignedInPage(browser, server);
    page = w.page;
    const sent: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/_admin/webhooks')) sent.push(r.postData() ?? '');
    });
    const hookUrl = `${hookBase}/headers-${run}`;
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('Entity').selectOption('ticket');
    await dialog.getByLabel('URL').fill(hookUrl);
    const headers = dialog.getByLabel('Headers (JSON)');
    const error = dialog.locator('[data-error-for="Headers (JSON)"]');
    for (const [text, message] of [
      ['[]', /JSON object/],
      ['42', /JSON object/],
      ['"X-Token: t"', /JSON object/],
      ['null', /JSON object/],
      ['{"X-Token": ', /^Headers are not valid JSON/],
    ] as const) {
      await headers.fill(text);
      await dialog.getByRole('button', { name: 'Save webhook' }).click();
      await expect.poll(async () => (await error.count()) === 1 && message.test((await error.textContent()) ?? '')).toBe(true);
      expect(await headers.getAttribute('aria-invalid')).toBe('true');
      // placed at the input, not repeated in the dialog's general error box
      expect(await dialog.locator('.alert').count()).toBe(0);
    }
    expect(sent).toEqual([]);
    await w.screenshot('fix7-02-webhook-headers');

    await headers.fill('{"X-Token": "t-1"}');
    await dialog.getByRole('button', { name: 'Save webhook' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(sent).toHaveLength(1);
    const hooks = (await server.client.get(api('/_admin/webhooks'), { token })).body.data as { url: string; headers: unknown }[];
    expect(hooks.filter((h) => h.url === hookUrl)).toMatchObject([{ headers: { 'X-Token': 't-1' } }]);
  });

  it('shows a duplicate workflow name at the Name input', async () => {
    // "step" in the name: the 409's message must not land at the Steps input too
    const name = `step_flow_${run}`;
    const trigger = { type: 'state_change', entity: 'ticket', field: 'status', to: `never_${run}` };
    const steps = [{ id: 'ok', type: 'approval', on_approve: 'end', on_reject: 'end' }];
    const created = await server.client.post(api('/_admin/workflows'), { token, body: { name, trigger, context: {}, steps } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Workflows' }).click();
    await page.getByRole('button', { name: 'New workflow' }).click();
    const editor = page.getByRole('form', { name: 'Workflow editor' });
    await editor.getByLabel('Workflow name').fill(name);
    await editor.getByLabel('Trigger (JSON)').fill(JSON.stringify(trigger));
    await editor.getByLabel('Steps (JSON)').fill(JSON.stringify(steps));
    await editor.getByRole('button', { name: 'Save workflow' }).click();
    const nameError = editor.locator('[data-error-for="Workflow name"]');
    await nameError.waitFor();
    expect(await nameError.textContent()).toBe(`Workflow already exists: ${name}`);
    expect(await editor.getByLabel('Workflow name').getAttribute('aria-invalid')).toBe('true');
    expect(await editor.locator('[data-error-for="Steps (JSON)"]').count()).toBe(0);
    expect(await editor.locator('[data-error-for="Trigger (JSON)"]').count()).toBe(0);
    expect(w.httpErrors).toContain(`409 POST /api/${app}/_admin/workflows`);
    const all = (await server.client.get(api('/_admin/workflows'), { token })).body.data as { name: string }[];
    expect(all.filter((x) => x.name === name)).toHaveLength(1);
    await w.screenshot('fix7-03-workflow-name');
  });

  it('shows who decided each step in the inbox’s step history', async () => {
    const wfName = `two_step_${run}`;
    const email = `mgr-${run}@example.com`;
    const to = `review_${run}`;
    const user = await server.client.post(api('/_admin/users'), { token, body: { email, password: 'manager-pass-1', roles: ['manager'] } });
    expect(user.status).toBe(201);
    const wf = await server.client.post(api('/_admin/workflows'), {
      token,
      body: {
        name: wfName,
        trigger: { type: 'state_change', entity: 'ticket', field: 'status', to },
        context: { record_id: 'record_id' },
        steps: [
          { id: 'first', type: 'approval', assignee: { type: 'role', role: 'manager' }, on_approve: { goto: 'second' }, on_reject: 'end' },
          { id: 'second', type: 'approval', assignee: { type: 'role', role: 'manager' }, on_approve: 'end', on_reject: 'end' },
        ],
      },
    });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    expect((await server.client.post(api('/ticket'), { token, body: { title: `Ticket ${run}`, status: to } })).status).toBe(201);
    const mgr = await server.client.login(api('/auth/login'), email, 'manager-pass-1');
    const pending = (await server.client.get(api('/_workflows/pending'), { token: mgr })).body.data as { id: string; workflow_name: string }[];
    const instance = pending.find((i) => i.workflow_name === wfName)!;
    const approved = await server.client.post(api(`/_workflows/${instance.id}/approve`), { token: mgr });
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({ current_step: 'second', history: [{ step: 'first', status: 'approved', by: user.body.data.id }] });

    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/inbox`));
    const card = page.getByRole('article', { name: `${wfName} at second` });
    await card.getByRole('button', { name: 'Step history' }).click();
    const history = card.getByRole('list', { name: 'Step history' });
    await history.getByText(`by ${email}`).waitFor();
    expect((await history.getByRole('listitem').first().textContent())?.replace(/\s+/g, ' ')).toMatch(
      new RegExp(`^first approved by ${email.replace(/\./g, '\\.')} `),
    );
    await w.screenshot('fix7-04-inbox-by');
  });
});
