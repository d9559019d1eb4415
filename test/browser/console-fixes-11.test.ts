import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The eleventh console audit: the live list refills a page a row left (and leaves a page past the last);
 * a link picked but gone meanwhile is reported at the picker; moving an entity to another table asks first;
 * a filter without a value is not applied as if it filtered; a new nested child row starts as a new record
 * does (false checkboxes, defaults). One server, one browser, one page.
 */
describe('admin console, audit fixes (11)', { timeout: 180_000 }, () => {
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
    await post('/_admin/entities', {
      name: 'item',
      table: 'items',
      primary_key: { field: 'id', type: 'int', generated: true },
      fields: [
        { name: 'id', type: 'int' },
        { name: 'title', type: 'string' },
      ],
    });
    await post('/_admin/entities', {
      name: 'tag',
      table: 'tags',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await post('/_admin/relations', {
      name: 'tags',
      type: 'many_to_many',
      source: 'item',
      target: 'tag',
      join_table: 'item_tags',
      source_join_key: 'item_id',
      target_join_key: 'tag_id',
    });
    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  it('a row deleted elsewhere from a full page: the next page’s first row moves up, as a reload shows', async () => {
    const ids: number[] = [];
    for (let i = 1; i <= 26; i++) ids.push((await post('/item', { title: `Item ${String(i).padStart(2, '0')}` })).id);
    await page.goto(url(`/a/${app}/data/item`));
    const table = page.getByRole('table', { name: 'item records' });
    await page.getByText('live', { exact: true }).waitFor();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    expect((await server.client.delete(`/api/${app}/item/${ids[0]}`, { token })).status).toBe(200);
    await expect.poll(() => page.getByText('25 records').count()).toBe(1);
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    expectCleanPage(w);
  });

  it('the last row of the last page deleted elsewhere: the list goes back to the last page there is', async () => {
    await page.goto(url(`/a/${app}/data/item`));
    await page.getByText('live', { exact: true }).waitFor();
    const extra = await post('/item', { title: 'Item 27' });
    await page.getByText('26 records').waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2 of 2').waitFor();
    const table = page.getByRole('table', { name: 'item records' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect((await server.client.delete(`/api/${app}/item/${extra.id}`, { token })).status).toBe(200);
    await page.getByText('Page 1 of 1').waitFor();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(25);
    expectCleanPage(w);
  });

  it('a tag picked in the link picker but deleted meanwhile: the picker says why it was not linked, nothing fails silently', async () => {
    const item = await post('/item', { title: 'Linked item' });
    const red = await post('/tag', { name: 'Red' });
    await page.goto(url(`/a/${app}/data/item/${item.id}`));
    const picker = page.getByRole('combobox', { name: 'Link a tag' });
    await picker.click();
    const option = page.getByRole('option', { name: /Red/ });
    await option.waitFor();
    expect((await server.client.delete(`/api/${app}/tag/${red.id}`, { token })).status).toBe(200);
    await option.click();
    const err = page.locator('[data-error-for="Link a tag"]');
    await expect.poll(() => err.textContent()).toBe(`Not linked: tag with id ${red.id} not found`);
    expect(await page.getByRole('region', { name: 'tags (tag)' }).getByText('No linked tag records.').count()).toBe(1);
    expectCleanPage(w);
  });

  it('a link search the server refuses says so at the picker instead of "No matches"', async () => {
    const item = await post('/item', { title: 'Searching item' });
    await post('/tag', { name: 'Blue' });
    await page.goto(url(`/a/${app}/data/item/${item.id}`));
    const picker = page.getByRole('combobox', { name: 'Link a tag' });
    // The search answers 403 with the API's envelope, as it does for a user without read on the target.
    const search = `**/api/${app}/tag?*`;
    await page.route(search, (route) =>
      route.request().method() === 'GET'
        ? route.fulfill({
            status: 403,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'FORBIDDEN', message: "No 'read' permission on 'tag'" } }),
          })
        : route.fallback(),
    );
    await picker.click();
    const list = page.getByRole('listbox', { name: 'tag matches' });
    await list.getByRole('alert').filter({ hasText: "Could not search tag: No 'read' permission on 'tag'" }).waitFor();
    expect(await list.getByText('No matches').count()).toBe(0);
    expect(await list.getByRole('option').count()).toBe(0);
    // The same search answered: the match shows and the message goes.
    await page.unroute(search);
    await picker.fill('Blu');
    await list.getByRole('option', { name: /Blue/ }).waitFor();
    expect(await list.getByRole('alert').count()).toBe(0);
    await picker.fill('Zzz');
    await list.getByRole('status').filter({ hasText: 'No matches' }).waitFor();
    expectCleanPage(w);
  });

  it('asks before moving a stored entity to another table, where its records would no longer show', async () => {
    await post('/_admin/entities', {
      name: 'memo',
      table: 'memos',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'body', type: 'string' },
      ],
    });
    await post('/memo', { body: 'Keep me' });
    await page.goto(url(`/a/${app}/schema/entities/memo`));
    const stored = async () => (await server.client.get(`/api/${app}/_admin/entities/memo`, { token })).body.data.definition.table;
    await page.getByLabel('Table', { exact: true }).fill('memos_v2');
    await page.getByRole('button', { name: 'Save entity' }).click();
    const dialog = page.getByRole('dialog', { name: 'Move memo to table memos_v2?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('The rows of memos stay in the database but no longer show');
    expect(await stored()).toBe('memos');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await stored()).toBe('memos');
    // a save that keeps the table asks nothing
    await page.getByLabel('Table', { exact: true }).fill('memos');
    await page.getByRole('button', { name: 'Save entity' }).click();
    await page.getByText('Entity memo saved').waitFor();
    expect(await page.getByRole('dialog').count()).toBe(0);
    await page.getByLabel('Table', { exact: true }).fill('memos_v2');
    await page.getByRole('button', { name: 'Save entity' }).click();
    await dialog.getByRole('button', { name: 'Change table' }).click();
    await expect.poll(stored).toBe('memos_v2');
    expectCleanPage(w);
  });

  it('a filter without a value is not applied as if it filtered: Apply stops at its empty value input', async () => {
    await page.goto(url(`/a/${app}/data/item`));
    const table = page.getByRole('table', { name: 'item records' });
    await page.getByText(/^\d+ records/).waitFor();
    const requests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('filter')) requests.push(r.url());
    });
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('title');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const value = page.getByLabel('Filter 1 value');
    await expect.poll(() => value.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await value.evaluate((el) => (el as HTMLInputElement).validity.valueMissing)).toBe(true);
    expect(requests).toEqual([]);
    await value.fill('Item 02');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(requests.length).toBeGreaterThan(0);
    expectCleanPage(w);
  });

  it('a new nested child row saves an unticked checkbox as false and its field defaults, as a new record does', async () => {
    await post('/_admin/entities', {
      name: 'part',
      table: 'parts',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'item_id', type: 'int' },
        { name: 'label', type: 'string' },
        { name: 'rush', type: 'boolean' },
        { name: 'grade', type: 'string', enum: ['a', 'b'], default: 'b' },
      ],
    });
    await post('/_admin/relations', { name: 'parts', type: 'one_to_many', source: 'item', target: 'part', target_key: 'item_id' });
    const item = await post('/item', { title: 'With parts' });
    await page.goto(url(`/a/${app}/data/item/${item.id}`));
    const parts = page.getByRole('region', { name: 'parts (part)' });
    await parts.getByRole('button', { name: 'Add part' }).click();
    const row = parts.getByRole('group', { name: 'part 1' });
    await row.getByLabel('label').fill('Bolt');
    expect(await row.getByLabel('rush').isChecked()).toBe(false);
    expect(await row.getByLabel('grade').inputValue()).toBe('b');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('item saved').waitFor();
    const stored = await server.client.get(`/api/${app}/part?filter[item_id]=${item.id}`, { token });
    expect(stored.body.data).toMatchObject([{ label: 'Bolt', rush: false, grade: 'b' }]);
    // the list shows what the form showed: No, not an empty cell
    await page.goto(url(`/a/${app}/data/part`));
    const table = page.getByRole('table', { name: 'part records' });
    await expect.poll(() => table.locator('tbody tr').first().textContent()).toContain('No');
    expectCleanPage(w);
  });
});
