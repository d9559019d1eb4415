import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openWatchedPage, type WatchedPage, signInAsPlatform } from '../support/browser.js';
import { startTestServer, uniqueName, type TestServer } from '../support/server.js';

const EXAMPLES = resolve(import.meta.dirname, '../fixtures/examples');
const NAMES = ['content-management', 'employee-management', 'helpdesk-ticketing', 'skills-assessment'];

/** issue 16: each example schema imported through the API page, and each of its entities browsed. */
describe('admin console with the example schemas', () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    w = await openWatchedPage(browser, server.rocket.url);
    page = w.page;
    page.setDefaultTimeout(15_000);
    await signInAsPlatform(page, server.rocket.url, server.config);
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  for (const name of NAMES) {
    it(`${name}: imports and every entity's list and first record open without a browser error`, async () => {
      const { name: app } = await server.createApp(uniqueName('ex'));
      const file = join(EXAMPLES, `${name}.json`);
      const doc = JSON.parse(await readFile(file, 'utf8'));
      const entities: string[] = (doc.data ?? doc).entities.map((e: { name: string }) => e.name);

      await page.goto(`${server.rocket.url}/admin/a/${app}/api`);
      await page.getByLabel('Export document (JSON)').setInputFiles(file);
      await page.getByRole('button', { name: 'Import' }).click();
      await page.getByRole('table', { name: 'Import summary' }).waitFor({ timeout: 60_000 });
      if (name === 'content-management') await w.screenshot('20-example-import');

      const check = await server.client.get(`/api/${app}/_admin/entities`, { token: server.platformToken });
      expect(check.body.data.map((e: { name: string }) => e.name).sort()).toEqual([...entities].sort());

      for (const entity of entities) {
        await page.goto(`${server.rocket.url}/admin/a/${app}/data/${entity}`);
        const table = page.getByRole('table', { name: `${entity} records` });
        await table.waitFor();
        const rows = table.locator('tbody tr');
        if ((await rows.count()) > 0) {
          await rows.first().click();
          await page.getByRole('form', { name: `${entity} record` }).waitFor();
          await page.getByRole('button', { name: 'Save', exact: true }).waitFor();
        }
      }
      if (name === 'helpdesk-ticketing') {
        await page.goto(`${server.rocket.url}/admin/a/${app}/schema`);
        await page.getByRole('img', { name: /Entity-relationship diagram/ }).waitFor();
        await w.screenshot('21-example-schema');
        await page.goto(`${server.rocket.url}/admin/a/${app}/data/ticket`);
        await page.getByRole('table', { name: 'ticket records' }).locator('tbody tr').first().click();
        await page.getByRole('form', { name: 'ticket record' }).waitFor();
        await w.screenshot('22-example-record');
      }
      expect(w.consoleErrors).toEqual([]);
      expect(w.foreignRequests).toEqual([]);
      expect(w.unlabelled).toEqual([]);
    }, 240_000);
  }
});
