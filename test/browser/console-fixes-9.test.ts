import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The ninth console audit: an optional uuid field emptied in the record form saved as null (not "",
 * which the API refuses), a timestamp filter typed in the browser's time zone like the list shows it,
 * and a file upload that meets an expired access token refreshed and sent again like any other request.
 * One server, one browser, one page for all of it.
 */
describe('admin console, audit fixes (9)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  let post: (path: string, body: unknown) => Promise<any>;
  const run = Date.now().toString(36);
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  const api = (p: string) => `/api/${app}${p}`;
  const rawGet = async (path: string) => (await fetch(`${server.rocket.url}${api(path)}`, { headers: { authorization: `Bearer ${token}` } })).text();
  const clerk = { email: `clerk-${run}@example.com`, password: 'clerk-pass-1' };

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token, post } = suite);
    await post('/_admin/entities', {
      name: 'event',
      table: 'events',
      history: true,
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        // a uuid no relation declares: a plain text input, not a picker
        { name: 'owner_ref', type: 'uuid' },
        { name: 'at', type: 'timestamp' },
        { name: 'attachment', type: 'file' },
      ],
    });
    await post('/_admin/entities', {
      name: 'project',
      table: 'projects',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
      ],
    });
    await post('/_admin/entities', {
      name: 'task',
      table: 'tasks',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'project_id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'status', type: 'string', default: 'draft' },
      ],
    });
    await post('/_admin/relations', { name: 'tasks', type: 'one_to_many', source: 'project', target: 'task', target_key: 'project_id' });
    await post('/_admin/state-machines', {
      entity: 'task',
      field: 'status',
      active: true,
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'review' },
          { from: 'review', to: 'published' },
          { from: 'review', to: 'draft' },
        ],
      },
    });
    await post('/_admin/entities', {
      name: 'invoice',
      table: 'invoices',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
        { name: 'amount', type: 'decimal', precision: 2 },
        { name: 'qty', type: 'int' },
        { name: 'remarks', type: 'text' },
      ],
    });
    await post('/_admin/entities', {
      name: 'line',
      table: 'lines',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'qty', type: 'int', required: true },
        { name: 'price', type: 'int', required: true },
        { name: 'total', type: 'int' },
      ],
    });
    await post('/_admin/rules', {
      entity: 'line',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'total', expression: 'record.qty * record.price' },
    });
    await post('/_admin/users', { email: clerk.email, password: clerk.password, roles: ['clerk'] });
    for (const action of ['read', 'update']) await post('/_admin/permissions', { entity: 'invoice', action, roles: ['clerk'] });
    w = await openSignedInPage(browser, server);
    page = w.page;
    // the list and the form show timestamps in the browser's zone; New York is not UTC
    const cdp = await w.context.newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'America/New_York' });
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  it('saves an emptied optional uuid field as null, not as "" the API refuses', async () => {
    const e = await post('/event', { title: `Owned ${run}`, owner_ref: '4f1c2a8e-0000-4000-8000-000000000001' });
    await page.goto(url(`/a/${app}/data/event/${e.id}`));
    const form = page.getByRole('form', { name: 'event record' });
    await form.getByLabel('owner_ref').fill('');
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await server.client.get(api(`/event/${e.id}`), { token })).body.data.owner_ref).toBeNull();
    expect(await form.getByText('must be uuid').count()).toBe(0);
    expect(w.httpErrors.filter((x) => x.startsWith('422'))).toEqual([]);
    expectCleanPage(w);
  });

  it('filters a timestamp by a time typed in the browser’s time zone, as the list shows it', async () => {
    // 03:30 UTC on 10 March is still the evening of the 9th in New York (UTC−4 then); 12:00 UTC is the 10th
    await post('/event', { title: `Late ${run}`, at: '2026-03-10T03:30:00Z' });
    await post('/event', { title: `Noon ${run}`, at: '2026-03-10T12:00:00Z' });
    await page.goto(url(`/a/${app}/data/event`));
    const table = page.getByRole('table', { name: 'event records' });
    await table.getByText(`Noon ${run}`).waitFor();
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('at');
    await page.getByLabel('Filter 1 operator').selectOption('gte');
    const value = page.getByLabel('Filter 1 value');
    expect(await value.getAttribute('type')).toBe('datetime-local');
    // from midnight of the 10th, New York time
    await value.fill('2026-03-10T00:00:00');
    const listed = page.waitForResponse((r) => r.url().includes('/event?') && r.url().includes('filter'));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const res = await listed;
    expect(decodeURIComponent(new URL(res.url()).search)).toContain('filter[at.gte]=2026-03-10T04:00:00.000Z');
    await expect.poll(() => table.locator('tbody tr').allTextContents()).toEqual([expect.stringContaining(`Noon ${run}`)]);
    expectCleanPage(w);
  });

  it('at 390×844 a filter row and the open column picker both fit: the picker wraps below, nothing is squeezed or cut off', async () => {
    await page.goto(url(`/a/${app}/data/event`));
    await page.getByRole('table', { name: 'event records' }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByRole('button', { name: 'Add filter' }).click();
      await page.getByText(/^Columns \(/).click();
      await page.getByRole('group', { name: 'Columns shown' }).waitFor();
      const box = async (l: ReturnType<Page['locator']>) => (await l.boundingBox())!;
      const card = await box(page.getByRole('region', { name: 'Filters and columns' }));
      const picker = await box(page.getByRole('group', { name: 'Columns shown' }));
      expect(picker.x + picker.width).toBeLessThanOrEqual(card.x + card.width);
      for (const label of ['Filter 1 field', 'Filter 1 operator', 'Filter 1 value']) {
        expect((await box(page.getByLabel(label))).width, label).toBeGreaterThanOrEqual(120);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    // on a desktop the picker stays beside the filters
    const filters = await page.getByRole('form', { name: 'Filters' }).boundingBox();
    const summary = await page.getByText(/^Columns \(/).boundingBox();
    expect(summary!.x).toBeGreaterThan(filters!.x + filters!.width - 1);
    expectCleanPage(w);
  });

  it('shows a timestamp in the history tab in the browser’s time zone, as the list and the form do', async () => {
    const e = await post('/event', { title: `History ${run}`, at: '2026-03-10T03:30:00Z' });
    await page.goto(url(`/a/${app}/data/event/${e.id}`));
    await page.getByRole('tab', { name: 'History' }).click();
    const history = page.getByRole('region', { name: 'History' });
    await history.getByText(`History ${run}`).waitFor();
    const local = await page.evaluate(() => new Date('2026-03-10T03:30:00Z').toLocaleString());
    expect(local).toContain('3/9/2026'); // the evening before, in New York
    const row = history.getByRole('row', { name: /^at\b/ });
    expect(await row.locator('td.to').textContent()).toBe(local);
    expectCleanPage(w);
  });

  it('uploads a file after the access token expired: refreshed and sent again, not a failed upload', async () => {
    const e = await post('/event', { title: `Upload ${run}` });
    await page.goto(url(`/a/${app}/data/event/${e.id}`));
    const form = page.getByRole('form', { name: 'event record' });
    await form.getByLabel('attachment').waitFor();
    // the first upload carries a token the server no longer takes, as after a laptop slept past its expiry
    let refused = 0;
    await page.route('**/_files/upload', async (route) => {
      if (refused > 0) return route.continue();
      refused++;
      const headers = { ...route.request().headers(), authorization: 'Bearer expired.token.value' };
      return route.continue({ headers });
    });
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/_platform/auth/refresh') && r.status() === 200);
    await form.getByLabel('attachment').setInputFiles({ name: `note-${run}.txt`, mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await refreshed;
    await form.getByRole('link', { name: `note-${run}.txt` }).waitFor();
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await server.client.get(api(`/event/${e.id}`), { token })).body.data.attachment?.filename).toBe(`note-${run}.txt`);
    await page.unroute('**/_files/upload');
    expect(refused).toBe(1);
    expect(w.httpErrors.filter((x) => x.includes('/_files/'))).toEqual([`401 POST /api/${app}/_files/upload`]);
    expectCleanPage(w);
  });

  it('offers a nested child’s state field the transitions from its stored state, also after another state is picked', async () => {
    const p = await post('/project', { name: `Launch ${run}`, tasks: { data: [{ title: `Draft task ${run}` }] } });
    await page.goto(url(`/a/${app}/data/project/${p.id}`));
    const row = page.getByRole('group', { name: 'task 1' });
    const status = row.getByLabel('status');
    await status.waitFor();
    expect(await status.locator('option').allTextContents()).toEqual(['draft', 'review']);
    await status.selectOption('review');
    // still what the stored "draft" allows: "published" would be refused by the API (draft → published is no transition)
    expect(await status.locator('option').allTextContents()).toEqual(['draft', 'review']);
    await page.getByRole('form', { name: 'project record' }).getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await server.client.get(api(`/task?filter[project_id]=${p.id}`), { token })).body.data[0]?.status).toBe('review');
    // saved: now the stored state is "review", and its transitions are offered
    await expect.poll(() => status.locator('option').allTextContents()).toEqual(['review', 'published', 'draft']);
    expectCleanPage(w);
  });

  it('the entity designer does not send an Auto choice its field no longer shows after a type change', async () => {
    await page.goto(url(`/a/${app}/schema/entities/new`));
    const designer = page.getByRole('form', { name: 'Entity designer' });
    await designer.getByLabel('Entity name').fill(`stamp_${run}`);
    await designer.getByRole('button', { name: 'Add field' }).click();
    await designer.getByLabel('Field 2 name').fill('seen');
    await designer.getByLabel('Field 2 type').selectOption('timestamp');
    await designer.getByLabel('Field 2 auto').selectOption('create');
    await designer.getByLabel('Field 2 type').selectOption('string');
    expect(await designer.getByLabel('Field 2 auto').count()).toBe(0);
    await designer.getByRole('button', { name: 'Save entity' }).click();
    await page.waitForURL(new RegExp(`/schema/entities/stamp_${run}$`));
    const saved = await server.client.get(api(`/_admin/entities/stamp_${run}`), { token });
    expect(saved.body.data.definition.fields).toEqual([
      { name: 'id', type: 'uuid' },
      { name: 'seen', type: 'string' },
    ]);
    expectCleanPage(w);
  });

  it('shows the accept link to copy by hand where the page has no clipboard (plain http from another host)', async () => {
    const email = `guest-${run}@example.com`;
    const inv = await post('/_admin/invites', { email, roles: ['clerk'] });
    await page.goto(url(`/a/${app}/access`));
    await page.getByRole('tab', { name: 'Invites' }).click();
    // navigator.clipboard exists only in secure contexts: http://192.168.1.5:8080 has none
    await page.evaluate(() => Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined, configurable: true }));
    await page.getByRole('button', { name: `Copy accept link for ${email}` }).click();
    const link = page.getByLabel(`Accept link for ${email}`, { exact: true });
    await link.waitFor();
    expect(await link.inputValue()).toBe(`${server.rocket.url}/admin/accept?app=${app}&token=${inv.token}`);
    // focused and selected: Ctrl+C copies it
    expect(
      await link.evaluate((el: HTMLInputElement) => document.activeElement === el && el.selectionEnd! - el.selectionStart! === el.value.length),
    ).toBe(true);
    expectCleanPage(w);
  });

  it('shows a field a computed rule writes read-only, not as an input whose value the API overrides', async () => {
    await page.goto(url(`/a/${app}/data/line/new`));
    const form = page.getByRole('form', { name: 'line record' });
    await form.getByLabel('qty *').fill('2');
    await form.getByLabel('price *').fill('3');
    expect(await form.getByLabel(/^total/).count()).toBe(0);
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/line$/);
    const rows = (await server.client.get(api('/line'), { token })).body.data;
    expect(rows.map((r: { total: number }) => r.total)).toEqual([6]);
    await page.goto(url(`/a/${app}/data/line/${rows[0].id}`));
    const shown = form.locator('dl.readonly > div', { hasText: 'total' });
    await shown.getByText('computed by a rule').waitFor();
    expect(await shown.locator('dd').textContent()).toBe('6');
    expect(await form.getByLabel(/^total/).count()).toBe(0);
    expectCleanPage(w);
  });

  // last: it leaves the page signed in as the app user
  it('keeps every digit of a decimal an app user saves (their model comes from the OpenAPI document)', async () => {
    const inv = await post('/invoice', { label: `Big ${run}`, amount: '12.50', qty: 3 });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login$/);
    await page.getByText('App user').click();
    await page.getByLabel('App name').fill(app);
    await page.getByLabel('Email').fill(clerk.email);
    await page.getByLabel('Password').fill(clerk.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(new RegExp(`/admin/a/${app}/data$`));
    await page.goto(url(`/a/${app}/data/invoice/${inv.id}`));
    const form = page.getByRole('form', { name: 'invoice record' });
    await form.getByLabel('amount').fill('1234567890123456.79');
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => rawGet(`/invoice/${inv.id}`)).toContain('"amount":1234567890123456.79');
    // an int field stays a number input, not the digit box of a bigint
    expect(await form.getByLabel('qty').getAttribute('type')).toBe('number');
    // a text field is a multi-line box as admins get it (x-rocket-type in the document), a string one line
    expect(await form.getByLabel('remarks').evaluate((el) => el.tagName)).toBe('TEXTAREA');
    expect(await form.getByLabel('label').evaluate((el) => el.tagName)).toBe('INPUT');
    expectCleanPage(w);
  });
});
