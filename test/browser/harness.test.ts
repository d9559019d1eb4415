import type { Browser } from 'playwright-core';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openWatchedPage } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The harness itself: what the console tests rely on must notice what it claims to notice.
describe('browser harness', () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads a page of the server under test with no errors and no foreign request', async () => {
    const w = await openWatchedPage(browser, server.rocket.url);
    const res = await w.page.goto(`${server.rocket.url}/health`);
    expect(res?.status()).toBe(200);
    expect(await w.page.textContent('body')).toContain('"status":"ok"');
    expect(w.consoleErrors).toEqual([]);
    expect(w.foreignRequests).toEqual([]);
    const shots = await w.screenshot('harness-health');
    expect(shots).toHaveLength(2);
    for (const s of shots) expect(existsSync(s)).toBe(true);
    await w.close();
  });

  it('finds controls without an accessible name', async () => {
    const w = await openWatchedPage(browser, server.rocket.url);
    await w.page.goto(`${server.rocket.url}/health`);
    await w.page.setContent(
      '<label>Named <input></label><input aria-label="also named"><button>ok</button><input id="bare"><button id="empty"></button><select></select>',
    );
    await w.screenshot('harness-labels');
    expect(w.unlabelled.map((u) => u.split(' ').slice(0, 3).join(' '))).toEqual([
      'harness-labels: input <input',
      'harness-labels: button <button',
      'harness-labels: select <select></select>',
    ]);
    await w.close();
  });

  it('records console errors and blocks requests to other origins', async () => {
    const w = await openWatchedPage(browser, server.rocket.url);
    await w.page.goto(`${server.rocket.url}/health`);
    await w.page.evaluate(async () => {
      console.error('boom');
      await fetch('http://foreign.invalid/x').catch(() => undefined);
    });
    expect(w.consoleErrors.some((e) => e.startsWith('boom'))).toBe(true);
    expect(w.foreignRequests).toEqual(['http://foreign.invalid/x']);
    await w.close();
  });
});
