import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openWatchedPage, type WatchedPage, signInAsPlatform } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** issue 13: the API reference page in headless Chromium, with a pasted token and with the console's session. */
describe('GET /api/:app/_docs in a browser', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let app: { name: string; token: string };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    app = await server.createApp();
    const created = await server.client.post(`/api/${app.name}/_admin/entities`, {
      token: app.token,
      body: {
        name: 'gadget',
        table: 'gadgets',
        primary_key: { field: 'id', type: 'uuid', generated: true },
        fields: [
          { name: 'id', type: 'uuid', required: true },
          { name: 'label', type: 'string', required: true },
        ],
      },
    });
    expect(created.status).toBe(201);
    await server.client.post(`/api/${app.name}/gadget`, { token: app.token, body: { label: 'sprocket' } });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function operationsShown(page: Page): Promise<void> {
    await page.locator('.opblock-summary-path', { hasText: '/gadget/{id}' }).first().waitFor();
    await page.getByText('listGadget').first().waitFor();
  }

  it('asks for a token, then renders the operations, loading nothing from another origin', async () => {
    const w: WatchedPage = await openWatchedPage(browser, server.rocket.url);
    try {
      const page = w.page;
      page.setDefaultTimeout(20_000);
      await page.goto(`${server.rocket.url}/api/${app.name}/_docs`);
      await page.getByRole('status').filter({ hasText: 'Paste an access token' }).waitFor();
      await page.getByLabel('Access token').fill('not-a-token');
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByRole('status').filter({ hasText: 'could not be loaded' }).waitFor();
      await page.getByLabel('Access token').fill(`Bearer ${app.token}`);
      await page.getByRole('button', { name: 'Use token' }).click();
      await operationsShown(page);
      await expect.poll(() => page.getByText('/_admin/entities').count()).toBeGreaterThan(0);
      await w.screenshot('30-api-docs');

      // "Try it out" sends the token to this origin only
      await page
        .locator('.opblock-summary-path', { hasText: /^\/gadget$/ })
        .first()
        .click();
      await page.getByRole('button', { name: 'Try it out' }).first().click();
      await page.getByRole('button', { name: 'Execute' }).first().click();
      await page.locator('.live-responses-table .response-col_status', { hasText: '200' }).first().waitFor();
      await expect.poll(() => page.locator('.live-responses-table').first().textContent()).toContain('sprocket');

      expect(w.foreignRequests).toEqual([]);
      expect(w.consoleErrors).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it("reuses the console's session when opened from the console's API page", async () => {
    const w = await openWatchedPage(browser, server.rocket.url);
    try {
      const page = w.page;
      page.setDefaultTimeout(20_000);
      await signInAsPlatform(page, server.rocket.url, server.config);
      await page.goto(`${server.rocket.url}/admin/a/${app.name}/api`);
      await page.getByRole('link', { name: `open /api/${app.name}/_docs` }).click();
      await page.waitForURL(new RegExp(`/api/${app.name}/_docs$`));
      await operationsShown(page);
      await page.getByRole('status').filter({ hasText: 'console session' }).waitFor();
      // and back to the console, still signed in
      await page.getByRole('link', { name: 'Console' }).click();
      await page.waitForURL(new RegExp(`/admin/a/${app.name}/api$`));
      await page.getByRole('link', { name: `open /api/${app.name}/_docs` }).waitFor();
      expect(w.foreignRequests).toEqual([]);
      expect(w.consoleErrors).toEqual([]);
    } finally {
      await w.close();
    }
  });
});
