import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, openWatchedPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The sixth console audit: what a non-admin sees on an admin page, switching apps through the browser's
 * history, and the access editors' errors placed at the inputs they concern.
 */
describe('admin console, audit fixes (6)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let other: string;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app } = suite);
    const { post } = suite;
    other = (await server.createApp()).name;
    await post('/_admin/entities', {
      name: 'po',
      table: 'pos',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'owner_id', type: 'string' },
      ],
    });
    await post('/_admin/users', { email: 'clerk@example.com', password: 'clerk-pass-1', roles: ['clerk'] });
    await post('/_admin/permissions', { entity: 'po', action: 'read', roles: ['clerk'] });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(async () => {
    if (w) expectCleanPage(w);
    await w?.close();
  });

  it('tells an app user that an admin page is for admins, not that it does not exist', async () => {
    w = await openWatchedPage(browser, server.rocket.url);
    page = w.page;
    page.setDefaultTimeout(20_000);
    await page.goto(url('/login'));
    await page.getByText('App user').click();
    await page.getByLabel('App name').fill(app);
    await page.getByLabel('Email').fill('clerk@example.com');
    await page.getByLabel('Password').fill('clerk-pass-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(new RegExp(`/admin/a/${app}/data$`));
    for (const p of ['logic', 'access', 'schema/entities/po', 'activity', 'api']) {
      await page.goto(url(`/a/${app}/${p}`));
      await page.getByRole('heading', { name: 'Not available' }).waitFor();
      await page.getByText('Only admins of this app can open this page.').waitFor();
      expect(await page.getByRole('main').count()).toBe(1);
    }
    // a path that is no page at all still says so, inside the shell's one main landmark
    await page.goto(url(`/a/${app}/nowhere`));
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    expect(await page.getByRole('main').count()).toBe(1);
    await w.screenshot('fix6-01-admins-only');
  });

  it('shows the app in the address bar after a history jump from one app straight to another', async () => {
    w = await openSignedInPage(browser, server);
    page = w.page;
    const users = page.getByRole('table', { name: 'Users' });
    await page.goto(url(`/a/${app}/access`));
    await users.getByText('clerk@example.com').waitFor();
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('link', { name: other, exact: true }).first().click();
    await page.waitForURL(new RegExp(`/a/${other}/`));
    await page.getByRole('navigation', { name: 'App sections' }).getByRole('link', { name: 'Access' }).click();
    await users.getByText('admin@localhost').waitFor();
    expect(await users.getByText('clerk@example.com').count()).toBe(0);
    // back three entries at once (the back button's history menu): past the apps list, into the first app
    await page.evaluate(() => history.go(-3));
    await page.waitForURL(new RegExp(`/a/${app}/access$`));
    await users.getByText('clerk@example.com').waitFor();
    await expect.poll(() => page.locator('.crumb strong').textContent()).toBe(app);
  });

  it('places the user and policy errors at the inputs they name', async () => {
    w = await openSignedInPage(browser, server);
    page = w.page;
    await page.goto(url(`/a/${app}/access`));
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.getByLabel('Email').fill('Clerk@Example.com');
    await dialog.getByLabel('Password').fill('another-pass');
    await dialog.getByRole('button', { name: 'Save user' }).click();
    const emailError = dialog.locator('[data-error-for="Email"]');
    await emailError.waitFor();
    expect(await emailError.textContent()).toBe('A user with this email already exists');
    await expect.poll(() => dialog.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
    expect(await dialog.locator('[data-error-for="Password"]').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('tab', { name: 'Permissions' }).click();
    await page.getByRole('button', { name: 'Add update policy on po' }).click();
    const policy = page.getByRole('dialog', { name: 'update on po' });
    await policy.getByLabel('Roles').fill('clerk');
    await policy.getByRole('button', { name: 'Add condition' }).click();
    await policy.getByLabel('Condition 1 field').selectOption('owner_id');
    await policy.getByLabel('Condition 1 operator').selectOption('gt');
    await policy.getByLabel('Condition 1 value').fill('$user.id');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    const valueError = policy.locator('[data-error-for="Condition 1 value"]');
    await valueError.waitFor();
    expect(await valueError.textContent()).toMatch(/^conditions\[0\]\.value /);
    // with eq the caller's id is a valid value: saved as the row condition
    await policy.getByLabel('Condition 1 operator').selectOption('eq');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await policy.waitFor({ state: 'detached' });
    const r = await server.client.get(`/api/${app}/_admin/permissions`, {
      token: await server.client.login(`/api/${app}/auth/login`, 'admin@localhost', 'changeme'),
    });
    const saved = (r.body.data as { entity: string; action: string; roles: string[]; conditions?: unknown[] }[]).find((p) => p.action === 'update');
    expect(saved).toMatchObject({ entity: 'po', roles: ['clerk'], conditions: [{ field: 'owner_id', operator: 'eq', value: '$user.id' }] });
    await w.screenshot('fix6-03-policy');
  });
});
