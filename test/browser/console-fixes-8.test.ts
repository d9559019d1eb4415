import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, openWatchedPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The eighth console audit: fields a UI config hides stay out of the column picker and the record's
 * read-only values, the webhook form's Headers values checked to be strings, nested child rows offering
 * only what the caller's permissions on the child entity grant, large json integers in the history shown
 * as the numbers they are, and an expired session of another app not taken for the app user's own.
 */
describe('admin console, audit fixes (8)', { timeout: 240_000 }, () => {
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
  const clerk = { email: `clerk-${run}@example.com`, password: 'clerk-pass-1' };

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token, post } = suite);
    await post('/_admin/entities', {
      name: 'customer',
      table: 'customers',
      history: true,
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
        { name: 'secret', type: 'string' },
        { name: 'tier', type: 'string' },
        { name: 'note', type: 'json' },
      ],
    });
    await post('/_admin/entities', {
      name: 'order',
      table: 'orders',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'customer_id', type: 'uuid' },
        { name: 'total', type: 'integer' },
      ],
    });
    await post('/_admin/relations', { name: 'orders', type: 'one_to_many', source: 'customer', target: 'order', target_key: 'customer_id' });
    await post('/_admin/entities', {
      name: 'tag',
      table: 'tags',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string' },
      ],
    });
    await post('/_admin/relations', {
      name: 'tags',
      type: 'many_to_many',
      source: 'customer',
      target: 'tag',
      join_table: 'customer_tags',
      source_join_key: 'customer_id',
      target_join_key: 'tag_id',
    });
    await post('/_admin/ui-configs', {
      entity: 'customer',
      config: { labels: { name: 'Full name' }, columns: ['tier', 'name'], hidden: ['secret'] },
    });
    await post('/_admin/users', { email: clerk.email, password: clerk.password, roles: ['clerk'] });
    for (const [entity, action] of [
      ['customer', 'read'],
      ['customer', 'update'],
      ['order', 'read'],
    ]) {
      await post('/_admin/permissions', { entity, action, roles: ['clerk'] });
    }
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(async () => {
    if (w) expectCleanPage(w);
    await w?.close();
  });

  /** A watched page signed in as the app user `clerk` of the suite's app. */
  async function openAsClerk(): Promise<void> {
    w = await openWatchedPage(browser, server.rocket.url);
    page = w.page;
    page.setDefaultTimeout(20_000);
    await signInAsClerk();
    await page.waitForURL(new RegExp(`/admin/a/${app}/data$`));
  }
  async function signInAsClerk(): Promise<void> {
    if (!/\/admin\/login$/.test(page.url())) await page.goto(url('/login'));
    await page.getByText('App user').click();
    await page.getByLabel('App name').fill(app);
    await page.getByLabel('Email').fill(clerk.email);
    await page.getByLabel('Password').fill(clerk.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('keeps fields the UI config hides out of the column picker and the record’s read-only values', async () => {
    const secret = `s3cr3t-${run}`;
    const c = await post('/customer', { name: `Picker ${run}`, secret, tier: 'gold' });

    w = await openSignedInPage(browser, server);
    page = w.page;
    // columns chosen before the field was hidden (stored by this browser) do not bring it back
    await page.evaluate(([a]) => localStorage.setItem(`rocket.console.columns.${a}.customer`, JSON.stringify(['name', 'secret'])), [app]);
    await page.goto(url(`/a/${app}/data/customer`));
    const table = page.getByRole('table', { name: 'customer records' });
    await table.getByText(`Picker ${run}`).waitFor();
    expect(await table.locator('thead th').allTextContents()).toEqual(['Full name']);
    await page.locator('.columns-picker summary').click();
    const picker = page.getByRole('group', { name: 'Columns shown' });
    // the configured columns first, in their order; never the hidden field
    const offered = await picker.getByRole('checkbox').evaluateAll((els) => els.map((e) => e.parentElement?.textContent?.trim() ?? ''));
    expect(offered).toEqual(['tier', 'Full name', 'id', 'note']);
    await picker.getByRole('checkbox', { name: 'tier', exact: true }).check();
    expect(await table.locator('thead th').allTextContents()).toEqual(['tier', 'Full name']);
    expect(await page.getByText(secret).count()).toBe(0);
    await w.screenshot('fix8-01-column-picker');

    await page.goto(url(`/a/${app}/data/customer/${c.id}`));
    await page.getByRole('form', { name: 'customer record' }).waitFor();
    await page.getByLabel('Full name *').waitFor();
    // the key is shown read-only; the hidden field neither as an input nor as a value
    await page.locator('dl.readonly').getByText(c.id).waitFor();
    expect(await page.locator('dl.readonly dt').allTextContents()).toEqual(['id']);
    expect(await page.getByText(secret).count()).toBe(0);
    expect(await page.getByLabel('secret').count()).toBe(0);
    await w.screenshot('fix8-02-record-hidden');
  });

  it('refuses Headers values that are not strings at the Headers input, before sending', async () => {
    w = await openSignedInPage(browser, server);
    page = w.page;
    const sent: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/_admin/webhooks')) sent.push(r.postData() ?? '');
    });
    const hookUrl = `http://127.0.0.1:9/headers-${run}`;
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('Entity').selectOption('customer');
    await dialog.getByLabel('URL').fill(hookUrl);
    const headers = dialog.getByLabel('Headers (JSON)');
    const error = dialog.locator('[data-error-for="Headers (JSON)"]');
    for (const [text, message] of [
      ['{"X-Count": 5}', 'headers.X-Count must be a string'],
      ['{"X-Token": "ok", "X-Flag": true}', 'headers.X-Flag must be a string'],
      ['{"X-Empty": null}', 'headers.X-Empty must be a string'],
      ['{"X-Nested": {"a": "b"}}', 'headers.X-Nested must be a string'],
      ['{"X-List": ["a"]}', 'headers.X-List must be a string'],
    ] as const) {
      await headers.fill(text);
      await dialog.getByRole('button', { name: 'Save webhook' }).click();
      await expect.poll(async () => (await error.count()) === 1 && (await error.textContent()) === message).toBe(true);
      expect(await headers.getAttribute('aria-invalid')).toBe('true');
      expect(await dialog.locator('.alert').count()).toBe(0);
    }
    expect(sent).toEqual([]);
    await w.screenshot('fix8-03-webhook-header-values');

    await headers.fill('{"X-Count": "5"}');
    await dialog.getByRole('button', { name: 'Save webhook' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(sent).toHaveLength(1);
    const hooks = (await server.client.get(api('/_admin/webhooks'), { token })).body.data as { url: string; headers: unknown }[];
    expect(hooks.filter((h) => h.url === hookUrl)).toMatchObject([{ headers: { 'X-Count': '5' } }]);
  });

  it('offers on nested child rows only the actions the caller’s permissions on the child entity grant', async () => {
    const c = await post('/customer', { name: `Parent ${run}`, orders: { data: [{ total: 7 }] } });
    const [order] = (await server.client.get(api(`/order?filter[customer_id]=${c.id}`), { token })).body.data as { id: string }[];

    // read on order only: the orders are shown, not editable, no row added or removed
    const openParent = async () => {
      await openAsClerk();
      await page.goto(url(`/a/${app}/data/customer/${c.id}`));
      const form = page.getByRole('form', { name: 'customer record' });
      const orders = form.getByRole('region', { name: 'orders (order)' });
      const row = orders.getByRole('group', { name: 'order 1' });
      await row.getByLabel('total').waitFor();
      return { form, orders, row };
    };
    let { form, orders, row } = await openParent();
    expect(await row.getByLabel('total').inputValue()).toBe('7');
    expect(await row.getByLabel('total').isDisabled()).toBe(true);
    expect(await orders.getByRole('button', { name: 'Add order' }).count()).toBe(0);
    expect(await orders.getByRole('button', { name: 'Remove order 1' }).count()).toBe(0);
    // the parent stays editable: update on customer is granted
    expect(await form.getByLabel('Full name *').isDisabled()).toBe(false);
    await form.getByRole('button', { name: 'Save', exact: true }).waitFor();
    await w.screenshot('fix8-04-children-read-only');
    expectCleanPage(w);
    await w.close();

    // with delete on order the row may be removed (and the removal saved), its values still not changed
    await post('/_admin/permissions', { entity: 'order', action: 'delete', roles: ['clerk'] });
    ({ form, orders, row } = await openParent());
    expect(await row.getByLabel('total').isDisabled()).toBe(true);
    expect(await orders.getByRole('button', { name: 'Add order' }).count()).toBe(0);
    await orders.getByRole('button', { name: 'Remove order 1' }).click();
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await server.client.get(api(`/order/${order!.id}`), { token })).status).toBe(404);
    expect(w.httpErrors).toEqual([]);
  });

  it('shows a json value’s large integer in the history as the number it is', async () => {
    const raw = `{"name": "Big ${run}", "note": {"n": 12345678901234567890}}`;
    const created = await server.client.post(api('/customer'), { token, raw });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = (created.body as { data: { id: string } }).data.id;

    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/data/customer/${id}`));
    await page.getByRole('tab', { name: 'History' }).click();
    const entry = page.getByRole('region', { name: 'History' }).getByRole('row', { name: /^note/ });
    await entry.waitFor();
    expect(await entry.locator('td.to').textContent()).toBe('{"n":12345678901234567890}');
    await w.screenshot('fix8-05-history-big-number');

    await page.goto(url(`/a/${app}/activity`));
    await page.getByLabel('Record id').fill(id);
    const log = page.getByRole('region', { name: 'Audit log' });
    await expect.poll(() => log.locator('.timeline > li').count()).toBe(1);
    expect(await log.getByRole('row', { name: /^note/ }).locator('td.to').textContent()).toBe('{"n":12345678901234567890}');
  });

  it('the link picker of a many_to_many relation offers the records not linked yet, also past a page of linked ones', async () => {
    // labels of this attempt only: a retry must not find the first attempt's tags among the options
    const attempt = `${run}${Math.random().toString(36).slice(2, 6)}`;
    const tags: { id: string; label: string }[] = [];
    for (let i = 1; i <= 12; i++) tags.push(await post('/tag', { label: `tag ${String(i).padStart(2, '0')} ${attempt}` }));
    // the ten the picker's unfiltered first page lists are linked: that page would hold only those
    const first = (await server.client.get(api('/tag?per_page=10'), { token })).body.data as { id: string; label: string }[];
    const rest = tags.filter((t) => !first.some((f) => f.id === t.id)).map((t) => t.label);
    const c = await post('/customer', { name: `Linker ${run}`, tags: { data: first.map((t) => ({ id: t.id })) } });

    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/data/customer/${c.id}`));
    const links = page.getByRole('region', { name: 'tags (tag)' });
    await links.getByText(first[0]!.label).waitFor();
    await links.getByRole('combobox', { name: 'Link a tag' }).click();
    const list = links.getByRole('listbox', { name: 'tag matches' });
    await expect.poll(async () => (await list.getByRole('option').allTextContents()).map((t) => t.replace(/ \S+$/, '')).sort()).toEqual(rest.sort());
    // The picked tag is read back after it is linked; a slow answer must not make a Save right after the pick
    // lose the link (it did: the link waited for that answer).
    const picked = tags.find((t) => t.label === rest[0])!;
    await page.route(`**/api/${app}/tag/${picked.id}`, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue().catch(() => undefined);
    });
    await list.getByRole('option', { name: new RegExp(`^${rest[0]!}`) }).click();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(async () => ((await server.client.get(api(`/customer/${c.id}?include=tags`), { token })).body.data.tags as unknown[]).length)
      .toBe(11);
    await w.screenshot('fix8-06-link-picker');
  });

  it('shows a Related load that does not parse, and the API’s related_load errors, at the Related load input', async () => {
    w = await openSignedInPage(browser, server);
    page = w.page;
    const sent: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/_admin/rules')) sent.push(r.postData() ?? '');
    });
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.getByLabel('Entity').selectOption('customer');
    await dialog.getByLabel('Rule type').selectOption('expression');
    const expression = `related.orders.length > 99 && record.name == 'rel ${run}'`;
    await dialog.getByLabel('Expression').fill(expression);
    const related = dialog.getByLabel('Related load (JSON)');
    const relatedError = dialog.locator('[data-error-for="Related load (JSON)"]');
    const exprError = dialog.locator('[data-error-for="Expression"]');

    // not JSON: found before sending, shown at the input only
    await related.fill('[{"relation": ');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await relatedError.waitFor();
    expect(await relatedError.textContent()).toBe('related_load must be JSON, e.g. [{"relation": "items"}]');
    expect(await related.getAttribute('aria-invalid')).toBe('true');
    expect(await dialog.locator('.alert').count()).toBe(0);
    expect(sent).toEqual([]);

    // the API's messages name related_load (with no detail path): at the Related load input, not at Expression
    for (const [text, message] of [
      ['[{"relation": "nope"}]', 'related_load[0].relation: no relation nope from customer'],
      ['[{"relation": "orders", "filter": "x >"}]', 'related_load[0].filter must be an object'],
    ] as const) {
      await related.fill(text);
      await dialog.getByRole('button', { name: 'Save rule' }).click();
      await expect.poll(async () => (await relatedError.count()) === 1 && (await relatedError.textContent()) === message).toBe(true);
      expect(await exprError.count()).toBe(0);
    }
    expect(w.httpErrors.filter((e) => e === `422 POST /api/${app}/_admin/rules`)).toHaveLength(2);

    await related.fill('[{"relation": "orders"}]');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await dialog.waitFor({ state: 'detached' });
    const rules = (await server.client.get(api('/_admin/rules'), { token })).body.data as {
      definition: { expression?: string; related_load?: unknown };
    }[];
    expect(rules.filter((x) => x.definition.expression === expression)).toMatchObject([{ definition: { related_load: [{ relation: 'orders' }] } }]);
    await w.screenshot('fix8-07-rule-related-load');
  });

  it('does not ask for a slug the API generates from its source: no required mark, not forced into the form when hidden', async () => {
    await post('/_admin/entities', {
      name: 'post',
      table: 'posts',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      slug: { field: 'slug', source: 'title' },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'slug', type: 'string', required: true, unique: true },
      ],
    });
    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/data/post/new`));
    const form = page.getByRole('form', { name: 'post record' });
    await form.getByLabel('title *').waitFor();
    expect(await form.getByLabel('slug', { exact: true }).count()).toBe(1);
    expect(await form.getByLabel('slug *').count()).toBe(0);

    // hidden by the UI config: the form leaves it out (the API fills it in), with no notice asking for it
    await post('/_admin/ui-configs', { entity: 'post', config: { hidden: ['slug'] } });
    await page.reload();
    await form.getByLabel('title *').fill(`Hello World ${run}`);
    expect(await form.getByLabel(/^slug/).count()).toBe(0);
    expect(await form.locator('.notice').count()).toBe(0);
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(new RegExp(`/a/${app}/data/post$`));
    const posts = (await server.client.get(api('/post'), { token })).body.data as { title: string; slug: string }[];
    expect(posts).toMatchObject([{ title: `Hello World ${run}`, slug: `hello-world-${run}` }]);
    await w.screenshot('fix8-08-slug-not-required');
  });

  it('offers an app user the History tab of a record whose entity keeps history', async () => {
    const c = await post('/customer', { name: `Storied ${run}`, tier: 'bronze' });
    expect((await server.client.put(api(`/customer/${c.id}`), { token, body: { tier: 'silver' } })).status).toBe(200);

    await openAsClerk();
    await page.goto(url(`/a/${app}/data/customer/${c.id}`));
    await page.getByRole('form', { name: 'customer record' }).getByLabel('Full name *').waitFor();
    await page.getByRole('tab', { name: 'History' }).click();
    const history = page.getByRole('region', { name: 'History' });
    await expect.poll(() => history.locator('.timeline > li').count()).toBe(2);
    const newest = history.locator('.timeline > li').first();
    expect(await newest.locator('.badge').textContent()).toBe('update');
    expect(await newest.getByRole('row', { name: /^tier/ }).locator('td.to').textContent()).toBe('silver');
    await w.screenshot('fix8-09-app-user-history');
    // an entity without history has no such tab
    const o = await post('/order', { customer_id: c.id, total: 3 });
    await page.goto(url(`/a/${app}/data/order/${o.id}`));
    await page.getByRole('form', { name: 'order record' }).getByLabel('total').waitFor();
    expect(await page.getByRole('tab').count()).toBe(0);
    expect(w.httpErrors).toEqual([]);
  });

  it('shows a stored record’s own key (parent or nested child) read-only: a changed key would be ignored or write another row', async () => {
    await post('/_admin/entities', {
      name: 'country',
      table: 'countries',
      primary_key: { field: 'code', type: 'string', generated: false },
      fields: [
        { name: 'code', type: 'string' },
        { name: 'label', type: 'string' },
      ],
    });
    await post('/_admin/entities', {
      name: 'city',
      table: 'cities',
      primary_key: { field: 'code', type: 'string', generated: false },
      fields: [
        { name: 'code', type: 'string' },
        { name: 'country_code', type: 'string' },
        { name: 'label', type: 'string' },
      ],
    });
    await post('/_admin/relations', { name: 'cities', type: 'one_to_many', source: 'country', target: 'city', target_key: 'country_code' });
    const country = `c${run}`;
    const city = `b${run}`;
    await post('/country', { code: country, label: 'Germany', cities: { data: [{ code: city, label: 'Berlin' }] } });

    w = await openSignedInPage(browser, server);
    page = w.page;
    // a new record takes its key
    await page.goto(url(`/a/${app}/data/country/new`));
    await page.getByRole('form', { name: 'country record' }).getByLabel('code', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Add city' }).click();
    expect(await page.getByRole('group', { name: 'city 1' }).getByLabel('code', { exact: true }).count()).toBe(1);

    await page.goto(url(`/a/${app}/data/country/${country}`));
    const form = page.getByRole('form', { name: 'country record' });
    await form.getByLabel('label', { exact: true }).first().waitFor();
    const fields = form.getByRole('region', { name: 'Fields' });
    expect(await fields.getByLabel('code', { exact: true }).count()).toBe(0);
    expect(await fields.locator('dl.readonly dd').allTextContents()).toEqual([country]);
    const row = form.getByRole('group', { name: 'city 1' });
    expect(await row.getByLabel('label').inputValue()).toBe('Berlin');
    expect(await row.getByLabel('code', { exact: true }).count()).toBe(0);
    await row.getByLabel('label').fill('Berlin-Mitte');
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(async () => (await server.client.get(api(`/city?filter[country_code]=${country}`), { token })).body.data)
      .toEqual([{ code: city, country_code: country, label: 'Berlin-Mitte' }]);
    await w.screenshot('fix8-10-key-read-only');
  });

  it('offers a state only when the first transition to it allows the caller, as the API decides', async () => {
    await post('/_admin/entities', {
      name: 'ticket',
      table: 'tickets',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
        { name: 'status', type: 'string' },
      ],
    });
    // the second open → closed is never reached: the API takes the first, which is for managers
    await post('/_admin/state-machines', {
      entity: 'ticket',
      field: 'status',
      definition: {
        initial: 'open',
        transitions: [
          { from: 'open', to: 'closed', roles: ['manager'] },
          { from: 'open', to: 'closed' },
          { from: 'open', to: 'held' },
        ],
      },
    });
    for (const action of ['read', 'update']) await post('/_admin/permissions', { entity: 'ticket', action, roles: ['clerk'] });
    const t = await post('/ticket', { title: `Ticket ${run}`, status: 'open' });
    const clerkToken = await server.client.login(api('/auth/login'), clerk.email, clerk.password);
    const refused = await server.client.put(api(`/ticket/${t.id}`), { token: clerkToken, body: { status: 'closed' } });
    expect(refused.status).toBe(403);

    await openAsClerk();
    await page.goto(url(`/a/${app}/data/ticket/${t.id}`));
    const status = page.getByRole('form', { name: 'ticket record' }).getByLabel('status');
    await status.waitFor();
    expect(await status.locator('option').allTextContents()).toEqual(['open', 'held']);
    expectCleanPage(w);
    await w.close();

    // an admin may take every transition
    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/data/ticket/${t.id}`));
    await page.getByRole('form', { name: 'ticket record' }).getByLabel('status').waitFor();
    expect(await page.getByRole('form', { name: 'ticket record' }).getByLabel('status').locator('option').allTextContents()).toEqual([
      'open',
      'closed',
      'held',
    ]);
  });

  it('after an expired session on another app whose name starts alike, takes the app user to their own app', async () => {
    const other = `${app}x`;
    await server.createApp(other);
    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${other}/data`));
    await page.getByRole('heading', { name: 'Data' }).waitFor();
    // spoil both tokens: the next request's refresh fails and the session ends on the other app's page
    await page.evaluate(() => {
      const k = 'rocket.console.session';
      const s = JSON.parse(sessionStorage.getItem(k)!);
      sessionStorage.setItem(k, JSON.stringify({ ...s, access: 'x.e30.x', refresh: '00000000-0000-4000-8000-000000000000' }));
    });
    await page.reload();
    await page.waitForURL(/\/admin\/login$/);
    await page.getByText('Your session ended').waitFor();
    await signInAsClerk();
    await page.waitForURL(new RegExp(`/admin/a/${app}/data$`));
    await page.getByRole('list', { name: 'Entities' }).getByRole('link', { name: 'customer' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Not available' }).count()).toBe(0);
  });
});
