import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * Claim-by-claim audit of spec/console.md (round 12): "actions that take longer than about 300 ms show
 * progress" — also a list reloading for another sort (its old rows still shown) and the Logic editors'
 * Save buttons, not only the record form and the schema designer (the requests are held back by the test
 * until it has seen the progress, then let through to the real server); and a workflow can be deleted
 * from the console, as the API allows and as rules, state machines and webhooks can. One server, one
 * browser, one page.
 */
describe('admin console, claim audit (12)', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;

  beforeAll(async () => {
    let post: (path: string, body: unknown) => Promise<unknown>;
    ({ server, browser, app, post } = await startConsoleSuite());
    await post('/_admin/entities', {
      name: 'note',
      table: 'notes',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
      ],
    });
    for (const title of ['Bravo', 'Alpha', 'Charlie']) await post('/note', { title });
    await post('/_admin/workflows', {
      name: 'note_review',
      trigger: { type: 'state_change', entity: 'note', field: 'title', to: 'Review me' },
      context: { record_id: 'trigger.record_id' },
      steps: [{ id: 'review', type: 'approval', on_approve: 'end', on_reject: 'end' }],
    });
    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  /** Holds the requests `matches` picks until `release()`; `held` resolves when the first one arrives. */
  const holdRequests = async (glob: string, matches: (r: Route) => boolean) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let arrived!: () => void;
    const held = new Promise<void>((r) => {
      arrived = r;
    });
    // fallback, not continue: the harness's own context route (same-origin guard) then answers every request once.
    await page.route(glob, async (route) => {
      if (!matches(route)) return route.fallback();
      arrived();
      await gate;
      return route.fallback();
    });
    return { held, release };
  };

  it('shows progress while a list reloads for another sort and while a Logic editor saves', async () => {
    await page.goto(url(`/a/${app}/data/note`));
    const table = page.getByRole('table', { name: 'note records' });
    await page.getByText('3 records').waitFor();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(3);

    // the sorted page is on its way: the rows shown are the old ones, and the page says it is loading
    const list = await holdRequests(`**/api/${app}/note?*`, (r) => r.request().method() === 'GET' && r.request().url().includes('sort='));
    await page.getByRole('columnheader', { name: /title/ }).getByRole('button').click();
    await list.held;
    await page.getByRole('status').filter({ hasText: 'Loading…' }).waitFor();
    list.release();
    await expect.poll(() => table.locator('tbody tr td:nth-child(2)').allTextContents()).toEqual(['Alpha', 'Bravo', 'Charlie']);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Loading…' }).count()).toBe(0);
    await page.unrouteAll({ behavior: 'wait' });

    // a rule being saved says so on its Save button, as the record form's and the designer's do
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.getByLabel('Field', { exact: true }).selectOption('title');
    await dialog.getByLabel('Operator').selectOption('min_length');
    await dialog.getByLabel('Threshold').fill('2');
    const save = await holdRequests(`**/api/${app}/_admin/rules`, (r) => r.request().method() === 'POST');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await save.held;
    await dialog.getByRole('button', { name: 'Saving…' }).waitFor();
    save.release();
    await dialog.waitFor({ state: 'detached' });
    await page.unrouteAll({ behavior: 'wait' });
    const rules = await server.client.get(`/api/${app}/_admin/rules`, { token: server.platformToken });
    expect(rules.body.data).toHaveLength(1);
    expectCleanPage(w);
  });

  it('deletes a workflow from its editor, after asking (the API offers DELETE, as for rules, machines, webhooks)', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Workflows' }).click();
    await page.getByRole('button', { name: 'Edit workflow note_review' }).click();
    const editor = page.getByRole('form', { name: 'Workflow editor' });
    await editor.getByRole('button', { name: 'Delete', exact: true }).click();
    const ask = page.getByRole('dialog', { name: 'Delete this workflow?' });
    await ask.getByRole('button', { name: 'Delete', exact: true }).click();
    await ask.waitFor({ state: 'detached' });
    await page.getByText('No workflows yet.').waitFor();
    const left = await server.client.get(`/api/${app}/_admin/workflows`, { token: server.platformToken });
    expect(left.body.data).toEqual([]);
    expectCleanPage(w);
  });
});
