import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The tenth console audit: the platform admin's "New app" form shows the API's refusals (a taken name, an
 * admin email without its password) at the input they concern, and asks for the admin email and password
 * together, as the API seeds a chosen admin only from both; the Access page's invite form shows a refused
 * invite at the Emails input; the rule editor shows a refused field rule at its Field select. One server, one
 * browser, one page.
 */
describe('admin console, audit fixes (10)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let post: (path: string, body: unknown) => Promise<any>;

  beforeAll(async () => {
    ({ server, browser, app, post } = await startConsoleSuite());
    await post('/_admin/entities', {
      name: 'note',
      table: 'notes',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string' },
      ],
    });
    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  const openForm = async () => {
    await page.goto(`${server.rocket.url}/admin/apps`);
    await page.getByRole('button', { name: 'New app' }).click();
    return page.getByRole('dialog', { name: 'New app' });
  };

  it('shows "App already exists" at the Name input', async () => {
    const dialog = await openForm();
    await dialog.getByLabel('Name', { exact: true }).fill(app);
    await dialog.getByRole('button', { name: 'Create app' }).click();
    const err = dialog.locator('[data-error-for="Name"]');
    await expect.poll(() => err.textContent()).toBe(`App already exists: ${app}`);
    expect(await dialog.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expectCleanPage(w);
  });

  it('asks for the admin password with an admin email, and shows the API’s refusal at the password input', async () => {
    const dialog = await openForm();
    const name = `x${Date.now().toString(36)}`;
    await dialog.getByLabel('Name', { exact: true }).fill(name);
    await dialog.getByLabel('Admin email').fill('owner@example.com');
    // the hint no longer promises a default password the API would refuse to use with a chosen email
    expect(await dialog.getByLabel('Admin password').evaluate((el: HTMLInputElement) => el.required)).toBe(true);
    expect(await dialog.textContent()).not.toContain('Leave empty for the default (changeme)');
    // sent anyway (as a browser without form validation would): the API's message lands at the password input
    await dialog.locator('form').evaluate((f: HTMLFormElement) => {
      f.noValidate = true;
    });
    await dialog.getByRole('button', { name: 'Create app' }).click();
    const err = dialog.locator('[data-error-for="Admin password"]');
    await expect.poll(() => err.textContent()).toBe('admin_password is required with admin_email');
    expect(w.httpErrors).toContain('422 POST /api/_platform/apps');
    const list = await server.client.get('/api/_platform/apps', { token: server.platformToken });
    expect(JSON.stringify(list.body)).not.toContain(name);
    expectCleanPage(w);
  });

  it('shows a refused invite ("A user with this email already exists") at the Emails input', async () => {
    const email = `taken-${Date.now().toString(36)}@example.com`;
    await post('/_admin/users', { email, password: 'taken-pass-1', roles: ['clerk'] });
    await page.goto(`${server.rocket.url}/admin/a/${app}/access`);
    await page.getByRole('tab', { name: 'Invites' }).click();
    const invites = page.getByRole('region', { name: 'Invites' });
    await invites.getByLabel('Emails').fill(email);
    await invites.getByRole('button', { name: 'Send invite' }).click();
    const err = invites.locator('[data-error-for="Emails"]');
    await expect.poll(() => err.textContent()).toBe('A user with this email already exists');
    expect(await invites.getByLabel('Emails').getAttribute('aria-invalid')).toBe('true');
    expectCleanPage(w);
  });

  it('shows a field rule the API refuses for its field ("min needs a number field") at the Field select', async () => {
    await page.goto(`${server.rocket.url}/admin/a/${app}/logic`);
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.getByLabel('Entity').selectOption('note');
    await dialog.getByLabel('Rule type').selectOption('field');
    await dialog.getByLabel('Field', { exact: true }).selectOption('title');
    await dialog.getByLabel('Operator').selectOption('min');
    await dialog.getByLabel('Threshold').fill('3');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    const err = dialog.locator('[data-error-for="Field"]');
    await expect.poll(() => err.textContent()).toMatch(/^definition\.field: min needs a number field/);
    expect(await dialog.getByLabel('Field', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expectCleanPage(w);
  });
});
