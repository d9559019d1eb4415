import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The fourth console audit: rule editor wording, the filter builder (removing the last filter,
 * several enum values for "is one of", hidden fields), stale field errors in the record form, labels
 * in the history tab and the many-to-many notation of the ER diagram.
 */
describe('admin console, audit fixes (4)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  const api = (p: string) => `/api/${app}${p}`;
  const pk = { field: 'id', type: 'uuid', generated: true };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token } = suite);
    const { post } = suite;
    await post('/_admin/entities', {
      name: 'ticket',
      table: 'tickets',
      primary_key: pk,
      history: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'status', type: 'string', enum: ['open', 'pending', 'closed'] },
        { name: 'effort', type: 'integer' },
        { name: 'secret', type: 'string' },
      ],
    });
    await post('/_admin/rules', {
      entity: 'ticket',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'effort', operator: 'min', value: 0, message: 'effort must not be negative' },
    });
    await post('/_admin/ui-configs', { entity: 'ticket', config: { labels: { title: 'Headline', effort: 'Effort (h)' }, hidden: ['secret'] } });
    for (const [title, status] of [
      ['Printer jam', 'open'],
      ['VPN down', 'pending'],
      ['New laptop', 'closed'],
    ] as const) {
      ids[title] = (await post('/ticket', { title, status, effort: 1 })).id;
    }
    await post('/_admin/entities', {
      name: 'tag',
      table: 'tags',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await post('/_admin/entities', {
      name: 'comment',
      table: 'comments',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'ticket_id', type: 'uuid' },
        { name: 'body', type: 'text' },
      ],
    });
    await post('/_admin/relations', {
      name: 'tags',
      type: 'many_to_many',
      source: 'ticket',
      target: 'tag',
      join_table: 'ticket_tags',
      source_join_key: 'ticket_id',
      target_join_key: 'tag_id',
    });
    await post('/_admin/relations', { name: 'comments', type: 'one_to_many', source: 'ticket', target: 'comment', target_key: 'ticket_id' });

    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });
  afterEach(() => expectCleanPage(w));

  const titles = (p: Page) =>
    p
      .getByRole('table', { name: 'ticket records' })
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.textContent ?? ''));
  const shownTitles = async (p: Page) => {
    const all = await titles(p);
    return ['Printer jam', 'VPN down', 'New laptop'].filter((t) => all.some((r) => r.includes(t)));
  };

  it('the rule editor says an expression rule describes the violation (truthy = rejected), as spec/rules.md does', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    const type = dialog.getByLabel('Rule type');
    const option = await type.locator('option[value="expression"]').textContent();
    expect(option).not.toMatch(/must be true/i);
    expect(option).toMatch(/violat|reject|refuse/i);
    await type.selectOption('expression');
    const help = await dialog.locator('.field', { has: page.getByLabel('Expression') }).textContent();
    expect(help).toMatch(/violat|reject|refuse/i);
    // the example is an error condition, not an invariant that must hold
    expect(help).not.toContain('record.total >= 0');
    await w.screenshot('90-rule-expression-wording');
    // the rule written as the hint suggests does what the hint says
    await dialog.getByLabel('Entity').selectOption('ticket');
    await dialog.getByLabel('Expression').fill("record.status == 'closed' && record.effort == nil");
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    const refused = await server.client.post(api('/ticket'), { token, body: { title: 'No effort', status: 'closed' } });
    expect(refused.status).toBe(422);
    const accepted = await server.client.post(api('/ticket'), { token, body: { title: 'With effort', status: 'closed', effort: 2 } });
    expect(accepted.status).toBe(201);
    // leave the other tests the three tickets of beforeAll
    const rules = (await server.client.get(api('/_admin/rules'), { token })).body.data as { id: string; type: string }[];
    for (const r of rules.filter((x) => x.type === 'expression')) await server.client.delete(api(`/_admin/rules/${r.id}`), { token });
    await server.client.delete(api(`/ticket/${accepted.body.data.id}`), { token });
  });

  it('removing the last filter lists every record again', async () => {
    await page.goto(url(`/a/${app}/data/ticket`));
    await expect.poll(() => shownTitles(page)).toHaveLength(3);
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('status');
    await page.getByLabel('Filter 1 operator').selectOption('eq');
    await page.getByLabel('Filter 1 value').selectOption('open');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => shownTitles(page)).toEqual(['Printer jam']);
    const refetch = page.waitForRequest((r) => r.method() === 'GET' && new URL(r.url()).pathname === api('/ticket'));
    await page.getByRole('button', { name: 'Remove filter 1' }).click();
    expect(new URL((await refetch).url()).search).not.toContain('filter');
    await expect.poll(() => shownTitles(page)).toHaveLength(3);
    await expect.poll(() => page.getByText('3 records').count()).toBe(1);
  });

  it('"is one of" on an enum field takes several values', async () => {
    await page.goto(url(`/a/${app}/data/ticket`));
    await expect.poll(() => shownTitles(page)).toHaveLength(3);
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('status');
    await page.getByLabel('Filter 1 operator').selectOption('in');
    const value = page.getByLabel('Filter 1 value');
    expect(await value.evaluate((el) => el instanceof HTMLSelectElement && el.multiple)).toBe(true);
    await value.selectOption(['open', 'closed']);
    const req = page.waitForRequest((r) => r.method() === 'GET' && new URL(r.url()).pathname === api('/ticket'));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    expect(new URL((await req).url()).searchParams.get('filter[status.in]')).toBe('open,closed');
    await expect.poll(() => shownTitles(page)).toEqual(['Printer jam', 'New laptop']);
    await w.screenshot('91-filter-enum-in');
    // and the choice shows as chosen
    expect(await value.evaluate((el) => [...(el as HTMLSelectElement).selectedOptions].map((o) => o.value))).toEqual(['open', 'closed']);
  });

  it('fields the UI config hides are not offered by the filter builder', async () => {
    await page.goto(url(`/a/${app}/data/ticket`));
    await page.getByRole('button', { name: 'Add filter' }).click();
    const options = await page
      .getByLabel('Filter 1 field')
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toContain('title');
    expect(options).not.toContain('secret');
  });

  it('a field error goes away once the field is changed, and after a successful save', async () => {
    await page.goto(url(`/a/${app}/data/ticket/${ids['VPN down']}`));
    const effort = page.getByLabel('Effort (h)');
    const fieldError = page.locator('.field.has-error', { has: effort }).getByRole('alert');
    await effort.fill('-3');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => fieldError.textContent()).toContain('effort must not be negative');
    expect(await effort.getAttribute('aria-invalid')).toBe('true');
    await effort.fill('4');
    await expect.poll(() => fieldError.count()).toBe(0);
    expect(await effort.getAttribute('aria-invalid')).toBeNull();
    // nor does the summary above the form keep naming it
    expect(await page.getByText('effort must not be negative').count()).toBe(0);
    await w.screenshot('92-record-error-cleared');
    // another field's change leaves that field's error where it is
    await effort.fill('-1');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => fieldError.count()).toBe(1);
    await page.getByLabel('Headline *').fill('VPN down again');
    expect(await fieldError.count()).toBe(1);
    await effort.fill('5');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(async () => (await server.client.get(api(`/ticket/${ids['VPN down']}`), { token })).body.data)
      .toMatchObject({ title: 'VPN down again', effort: 5 });
    await expect.poll(() => page.getByLabel('Effort (h)').inputValue()).toBe('5');
    expect(await page.locator('.field.has-error').count()).toBe(0);
    expect(await page.getByText('effort must not be negative').count()).toBe(0);

    // a new record: the error stays until its field changes
    await page.goto(url(`/a/${app}/data/ticket/new`));
    await page.getByLabel('Headline *').fill('Broken chair');
    await page.getByLabel('Effort (h)').fill('-2');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => fieldError.count()).toBe(1);
    await page.getByLabel('Effort (h)').fill('2');
    await expect.poll(() => fieldError.count()).toBe(0);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/ticket$/);
    expect(w.httpErrors.filter((e) => !e.startsWith('422 '))).toEqual([]);
  });

  it('the history tab names fields by their UI-config labels', async () => {
    const r = await server.client.put(api(`/ticket/${ids['Printer jam']}`), { token, body: { title: 'Printer jam (2)', effort: 3 } });
    expect(r.status).toBe(200);
    await page.goto(url(`/a/${app}/data/ticket/${ids['Printer jam']}`));
    await page.getByRole('tab', { name: 'History' }).click();
    const history = page.getByRole('region', { name: 'History' });
    await history.getByText('Printer jam (2)').first().waitFor();
    const names = await history.getByRole('rowheader').allTextContents();
    expect(names).toContain('Headline');
    expect(names).toContain('Effort (h)');
    expect(names).not.toContain('title');
    expect(names).not.toContain('effort');
    // status has no label: its own name
    expect(names).toContain('status');
    await w.screenshot('93-history-labels');
  });

  it('the ER diagram draws a many_to_many relation with "many" at both ends', async () => {
    await page.goto(url(`/a/${app}/schema`));
    const svg = page.getByRole('img', { name: /Entity-relationship diagram/ });
    await svg.waitFor();
    const markers = (name: string) =>
      svg.locator(`g.er-rel[data-relation="${name}"] path`).evaluate((p) => [p.getAttribute('marker-start'), p.getAttribute('marker-end')]);
    expect(await markers('tags')).toEqual(['url(#er-many)', 'url(#er-many)']);
    expect(await markers('comments')).toEqual(['url(#er-one)', 'url(#er-many)']);
    expect(await page.locator('figure.diagram figcaption').textContent()).toMatch(/many-to-many/i);
    await w.screenshot('94-er-many-to-many-ends');
  });
});
