import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, VIEWPORTS, type WatchedPage } from '../support/browser.js';
import { uniqueName, type TestServer } from '../support/server.js';

const EXAMPLES = resolve(import.meta.dirname, '../fixtures/examples');

describe('admin console, audit fixes (3)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  const api = (p: string) => `/api/${app}${p}`;
  const pk = { field: 'id', type: 'uuid', generated: true };
  /** The API's answer as text: JSON.parse would round the digits this is about. */
  const rawGet = async (path: string) => (await fetch(`${server.rocket.url}${api(path)}`, { headers: { authorization: `Bearer ${token}` } })).text();
  const sql = async (text: string, params: unknown[] = []) => {
    const rt = await server.rocket.services.apps.get(app);
    if (!rt) throw new Error('app runtime missing');
    return (await rt.db.query(text, params as never[])) as unknown as Record<string, unknown>[];
  };

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token } = suite);
    const { post } = suite;
    await post('/_admin/entities', {
      name: 'purchase',
      table: 'purchases',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
        { name: 'meta', type: 'json' },
        { name: 'amount', type: 'decimal', precision: 2 },
      ],
    });
    await post('/_admin/entities', {
      name: 'counter',
      table: 'counters',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'start', type: 'bigint', default: '9007199254740993' },
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
  afterEach(() => expectCleanPage(w));

  it('a large integer inside a json field stays a JSON number through the editor and a save', async () => {
    // a raw body: a bare number this long cannot pass through JSON.stringify with its digits
    const res = await fetch(`${server.rocket.url}${api('/purchase')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"name":"First","meta":{"order_no":98765432109876543210,"note":"x"}}',
    });
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { data: { id: string } }).data.id;
    const typeOf = async () =>
      (
        await sql(`SELECT jsonb_typeof(meta->'order_no') AS t, meta->>'order_no' AS v, meta->>'note' AS note, name FROM purchases WHERE id = $1`, [
          id,
        ])
      )[0];
    // the API stores and returns the number's exact digits: the console must keep whatever digits the API
    // gives it, as a number
    const digits = (await typeOf())?.v as string;
    expect(digits).toBe('98765432109876543210');
    expect(await typeOf()).toMatchObject({ t: 'number' });
    expect(await rawGet(`/purchase/${id}`)).toContain(`"order_no":${digits}`);

    await page.goto(url(`/a/${app}/data/purchase/${id}`));
    const meta = page.getByLabel('meta');
    await expect.poll(() => meta.inputValue()).toContain(`"order_no": ${digits}`);
    await w.screenshot('80-record-json-bignumber');
    await page.getByLabel('name *').fill('First, renamed');
    await meta.fill((await meta.inputValue()).replace('"x"', '"y"'));
    const put = page.waitForRequest((r) => r.method() === 'PUT' && r.url().includes(`/purchase/${id}`));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    expect((await put).postData()).toContain(`"order_no":${digits}`);
    await expect.poll(typeOf).toMatchObject({ t: 'number', v: digits, note: 'y', name: 'First, renamed' });
    // the form starts again from the saved record (its title names the saved name): the number is still bare
    await page.getByRole('heading', { name: 'purchase: First, renamed' }).waitFor();
    await expect.poll(() => page.getByLabel('meta').inputValue()).toContain(`"order_no": ${digits}`);

    // an edit of another field alone leaves the json value as it is
    await page.getByLabel('name *').fill('First, again');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(typeOf).toMatchObject({ t: 'number', v: digits, name: 'First, again' });
  });

  it('the entity designer keeps a bigint default beyond 2^53 as its digits', async () => {
    await page.goto(url(`/a/${app}/schema/entities/counter`));
    await expect.poll(() => page.getByLabel('Field 2 default').inputValue()).toBe('9007199254740993');
    await page.getByLabel('Record history').check();
    const put = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/_admin/entities/counter'));
    await page.getByRole('button', { name: 'Save entity' }).click();
    expect((await put).status()).toBe(200);
    const stored = await rawGet('/_admin/entities/counter');
    expect(stored).toMatch(/"default":"?9007199254740993"?/);
    expect(stored).toContain('"history":true');
  });

  it('a decimal value keeps every digit when saved from the record form', async () => {
    await page.goto(url(`/a/${app}/data/purchase/new`));
    await page.getByLabel('name *').fill('Exact');
    await page.getByLabel('amount').fill('1234567890123456.78');
    const post = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/purchase'));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    expect((await post).postData()).toContain('"amount":"1234567890123456.78"');
    await page.waitForURL(/\/data\/purchase$/);
    await expect.poll(async () => (await sql(`SELECT amount::text AS a FROM purchases WHERE name = 'Exact'`))[0]?.a).toBe('1234567890123456.78');
  });

  it('the schema page of the skills-assessment example fits desktop and phone widths', async () => {
    const other = await server.createApp(uniqueName('sk'));
    const doc = JSON.parse(await readFile(join(EXAMPLES, 'skills-assessment.json'), 'utf8'));
    const imported = await server.client.post(`/api/${other.name}/_admin/import`, { token: other.token, body: doc });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    try {
      for (const size of [VIEWPORTS.desktop, VIEWPORTS.phone]) {
        await page.setViewportSize(size);
        await page.goto(url(`/a/${other.name}/schema`));
        await page.getByRole('heading', { name: 'Relations', exact: true }).waitFor();
        await page.getByRole('img', { name: /Entity-relationship diagram/ }).waitFor();
        expect(await page.evaluate(() => document.documentElement.scrollWidth), `${size.width}`).toBeLessThanOrEqual(size.width);
        expect(await overflow()).toBeLessThanOrEqual(0);
        // the relations table scrolls inside its card: its last column can be reached
        const last = page.getByRole('columnheader', { name: 'From → to' });
        await last.scrollIntoViewIfNeeded();
        expect(await last.isVisible()).toBe(true);
      }
      await w.screenshot('81-schema-skills');
    } finally {
      await page.setViewportSize(VIEWPORTS.desktop);
    }
  });

  it('a rule with a threshold that is not a number is refused at the Threshold input', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.getByLabel('Entity').selectOption('purchase');
    await dialog.getByLabel('Field', { exact: true }).selectOption('amount');
    await dialog.getByLabel('Operator').selectOption('min');
    const threshold = dialog.getByLabel('Threshold');
    await threshold.fill('abc');
    const post = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/_admin/rules'));
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    expect(JSON.parse((await post).postData() ?? '{}').definition.value).toBe('abc');
    const described = async () => {
      const ids = (await threshold.getAttribute('aria-describedby')) ?? '';
      const texts = await Promise.all(
        ids
          .split(/\s+/)
          .filter(Boolean)
          .map((i) => page.locator(`[id="${i}"]`).textContent()),
      );
      return texts.join(' ');
    };
    await expect.poll(described).toMatch(/definition\.value must be a number for min/);
    await w.screenshot('82-rule-threshold-error');
    await threshold.fill('10');
    await dialog.getByRole('button', { name: 'Save rule' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    const rules = (await server.client.get(api('/_admin/rules'), { token })).body.data as { definition: { value: unknown } }[];
    expect(rules.map((r) => r.definition.value)).toEqual([10]);
  });
});
