import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

const HELPDESK = resolve(import.meta.dirname, '../fixtures/examples/helpdesk-ticketing.json');

/**
 * The twelfth console audit, on the helpdesk example schema imported through the API: coming back to a
 * record list from one of its records (its "← list" link, the browser's Back) finds the page, sort and
 * filters the user left, not page 1 unsorted; the filter builder offers ≥ and ≤ on a text field, as it
 * offers > and < (the API compares strings with all four); the Logic and Access tabs work from the keyboard as
 * tabs announced to a screen reader do (arrow keys, Home, End; one Tab stop; a panel named after its tab).
 * One server, one browser, one page.
 */
describe('admin console, audit fixes (12)', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  let post: (path: string, body: unknown) => Promise<any>;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;

  beforeAll(async () => {
    ({ server, browser, app, token, post } = await startConsoleSuite());
    const doc = JSON.parse(await readFile(HELPDESK, 'utf8'));
    const imported = await server.client.post(`/api/${app}/_admin/import`, { token, body: doc });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    // 7 sample tickets and 8 more: two pages of 10
    const customer = '10000000-0000-0000-0000-000000000001';
    for (let i = 1; i <= 8; i++) {
      await post('/ticket', { title: `Zz ticket ${String(i).padStart(2, '0')}`, description: 'More rows', customer_id: customer, priority: 'low' });
    }
    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  it('back on a list from one of its records (its link, the browser’s Back): the same page, sort and filter', async () => {
    await page.goto(url(`/a/${app}/data/ticket`));
    const table = page.getByRole('table', { name: 'ticket records' });
    await page.getByText('15 records').waitFor();
    await page.getByLabel('Rows per page').selectOption('10');
    // every ticket but the one critical: 14 rows, sorted by title descending, second page (4 rows)
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('priority');
    await page.getByLabel('Filter 1 operator').selectOption('neq');
    await page.getByLabel('Filter 1 value').selectOption('critical');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('14 records').waitFor();
    const title = page.getByRole('columnheader', { name: /title/ }).getByRole('button');
    await title.click();
    await title.click();
    await expect.poll(() => page.getByRole('columnheader', { name: /title/ }).getAttribute('aria-sort')).toBe('descending');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2 of 2').waitFor();
    const firstTitle = () => table.locator('tbody tr').first().locator('td').nth(1).textContent();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(4);
    const left = await firstTitle();
    expect(left).not.toMatch(/^Zz ticket/);

    const expectAsLeft = async () => {
      await page.getByText('Page 2 of 2').waitFor();
      expect(await page.getByText('14 records').count()).toBe(1);
      expect(await page.getByRole('columnheader', { name: /title/ }).getAttribute('aria-sort')).toBe('descending');
      expect(await page.getByLabel('Filter 1 value').inputValue()).toBe('critical');
      expect(await page.getByLabel('Rows per page').inputValue()).toBe('10');
      await expect.poll(() => table.locator('tbody tr').count()).toBe(4);
      expect(await firstTitle()).toBe(left);
    };

    await table.locator('tbody tr').first().click();
    await page.waitForURL(/\/data\/ticket\/[0-9a-f-]{36}$/);
    await page.getByRole('link', { name: '← ticket list' }).click();
    await expectAsLeft();

    await table.locator('tbody tr').nth(1).click();
    await page.waitForURL(/\/data\/ticket\/[0-9a-f-]{36}$/);
    await page.goBack();
    await expectAsLeft();
    expectCleanPage(w);
  });

  it('the filter builder offers ≥ and ≤ on a text field, as it offers > and <', async () => {
    await page.goto(url(`/a/${app}/data/ticket`));
    const table = page.getByRole('table', { name: 'ticket records' });
    await page.getByText(/^\d+ records/).waitFor();
    // a list left filtered is kept while the console stays loaded, not across a reload
    expect(await page.getByLabel('Filter 1 field').count()).toBe(0);
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('title');
    const ops = await page
      .getByLabel('Filter 1 operator')
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(ops).toEqual(expect.arrayContaining(['gt', 'gte', 'lt', 'lte']));
    await page.getByLabel('Filter 1 operator').selectOption('gte');
    await page.getByLabel('Filter 1 value').fill('Zz ticket 06');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('3 records').waitFor();
    const titles = async () => (await table.locator('tbody tr td:nth-child(2)').allTextContents()).sort();
    expect(await titles()).toEqual(['Zz ticket 06', 'Zz ticket 07', 'Zz ticket 08']);
    await page.getByLabel('Filter 1 operator').selectOption('lte');
    await page.getByLabel('Filter 1 value').fill('Cannot login to dashboard after password reset');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('2 records').waitFor();
    expect(await titles()).toEqual(['API returns 500 on batch import endpoint', 'Cannot login to dashboard after password reset']);
    expectCleanPage(w);
  });

  it('Logic and Access tabs: arrow keys, Home and End pick a tab; one Tab stop; the panel is named after its tab', async () => {
    await page.goto(url(`/a/${app}/logic`));
    const tabs = page.getByRole('tablist', { name: 'Logic sections' });
    const selected = () => tabs.locator('[aria-selected="true"]').textContent();
    const focused = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    await tabs.getByRole('tab', { name: 'Rules' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(selected).toBe('State machines');
    expect(await focused()).toBe('State machines');
    await page.getByRole('tabpanel', { name: 'State machines' }).getByRole('button', { name: 'New state machine' }).waitFor();
    await page.keyboard.press('End');
    await expect.poll(selected).toBe('Webhooks');
    await page.getByRole('tabpanel', { name: 'Webhooks' }).getByRole('button', { name: 'New webhook' }).waitFor();
    await page.keyboard.press('ArrowRight');
    await expect.poll(selected).toBe('Rules');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(selected).toBe('Webhooks');
    await page.keyboard.press('Home');
    await expect.poll(selected).toBe('Rules');
    expect(await focused()).toBe('Rules');
    // one Tab stop for the whole row: Tab leaves the tabs for the panel
    const tabStops = await tabs.getByRole('tab').evaluateAll((ts) => ts.map((t) => (t as HTMLElement).tabIndex));
    expect(tabStops).toEqual([0, -1, -1, -1]);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('[role=tablist]') === null)).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.closest('[role=tabpanel]') !== null)).toBe(true);

    await page.goto(url(`/a/${app}/access`));
    const access = page.getByRole('tablist', { name: 'Access sections' });
    await access.getByRole('tab', { name: 'Users' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => access.locator('[aria-selected="true"]').textContent()).toBe('Invites');
    await page.getByRole('tabpanel', { name: 'Invites' }).waitFor();
    expectCleanPage(w);
  });
});
