import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, expectCleanPage, openSignedInPage, startConsoleSuite, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The fifth console audit: numbers the API now answers with every digit (decimals in the list and the
 * form, json numbers, decimal defaults in the designer, the export document), and nested writes that
 * must stay a diff whatever write_mode the relation defaults to.
 */
describe('admin console, audit fixes (5)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  const api = (p: string) => `/api/${app}${p}`;
  const pk = { field: 'id', type: 'uuid', generated: true };
  const rawPost = async (path: string, body: string) => {
    const res = await fetch(`${server.rocket.url}${api(path)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { data: { id: string } }).data;
  };
  const rawGet = async (path: string) => (await fetch(`${server.rocket.url}${api(path)}`, { headers: { authorization: `Bearer ${token}` } })).text();

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token } = suite);
    const { post } = suite;
    await post('/_admin/entities', {
      name: 'ledger',
      table: 'ledgers',
      primary_key: pk,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
        { name: 'amount', type: 'decimal', precision: 2 },
        { name: 'rate', type: 'decimal' },
        { name: 'big', type: 'bigint' },
        { name: 'meta', type: 'json' },
        { name: 'day', type: 'date' },
        { name: 'at', type: 'timestamp' },
      ],
    });
    await post('/_admin/entities', {
      name: 'order',
      table: 'orders',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
      ],
    });
    // soft-deleting children: their included rows carry no deleted_at
    await post('/_admin/entities', {
      name: 'line',
      table: 'lines',
      primary_key: pk,
      soft_delete: true,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await post('/_admin/entities', {
      name: 'label',
      table: 'labels',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await post('/_admin/entities', {
      name: 'note',
      table: 'notes',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'order_id', type: 'uuid' },
        { name: 'name', type: 'string' },
      ],
    });
    await post('/_admin/relations', {
      name: 'lines',
      type: 'one_to_many',
      source: 'order',
      target: 'line',
      target_key: 'order_id',
      write_mode: 'replace',
    });
    await post('/_admin/relations', {
      name: 'notes',
      type: 'one_to_many',
      source: 'order',
      target: 'note',
      target_key: 'order_id',
      write_mode: 'append',
    });
    await post('/_admin/relations', {
      name: 'labels',
      type: 'many_to_many',
      source: 'order',
      target: 'label',
      join_table: 'order_labels',
      source_join_key: 'order_id',
      target_join_key: 'label_id',
      write_mode: 'replace',
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

  const sql = async (text: string, params: unknown[] = []) => {
    const rt = await server.rocket.services.apps.get(app);
    if (!rt) throw new Error('app runtime missing');
    return (await rt.db.query(text, params as never[])) as unknown as Record<string, unknown>[];
  };

  it('decimals with more digits than a double holds keep every digit in the list, the form and a save', async () => {
    const row = await rawPost(
      '/ledger',
      '{"name":"Exact","amount":"1234567890123456.78","rate":"0.12345678901234567891","big":"9007199254740993","meta":{"x":0.12345678901234567891,"n":98765432109876543210}}',
    );
    // the API answers with bare numbers of every digit: the console has to read them as such
    expect(await rawGet(`/ledger/${row.id}`)).toContain('"amount":1234567890123456.78');
    await page.goto(url(`/a/${app}/data/ledger`));
    const first = page.getByRole('table', { name: 'ledger records' }).locator('tbody tr').first();
    await first.getByText('Exact').waitFor();
    const cells = await first.locator('td').allTextContents();
    expect(cells).toContain('1234567890123456.78');
    expect(cells).toContain('0.12345678901234567891');
    expect(cells).toContain('9007199254740993');

    await page.goto(url(`/a/${app}/data/ledger/${row.id}`));
    expect(await page.getByLabel('amount').inputValue()).toBe('1234567890123456.78');
    expect(await page.getByLabel('rate').inputValue()).toBe('0.12345678901234567891');
    const meta = page.getByLabel('meta');
    expect(JSON.parse((await meta.inputValue()).replace(/(\d{16,}(\.\d+)?|0\.\d{16,})/g, '"$1"'))).toEqual({
      x: '0.12345678901234567891',
      n: '98765432109876543210',
    });
    await w.screenshot('95-exact-decimals');

    // saving another change leaves those digits alone, and a json edit keeps the numbers it did not touch
    await meta.fill((await meta.inputValue()).replace('{', '{ "note": "checked",'));
    await page.getByLabel('Name *').fill('Exact (2)');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await sql('SELECT name FROM ledgers WHERE id = $1', [row.id]))[0]?.name).toBe('Exact (2)');
    const [db] = await sql(
      `SELECT amount::text AS amount, rate::text AS rate, big::text AS big, meta->>'x' AS x, jsonb_typeof(meta->'x') AS xt, meta->>'n' AS n, meta->>'note' AS note FROM ledgers WHERE id = $1`,
      [row.id],
    );
    expect(db).toEqual({
      amount: '1234567890123456.78',
      rate: '0.12345678901234567891',
      big: '9007199254740993',
      x: '0.12345678901234567891',
      xt: 'number',
      n: '98765432109876543210',
      note: 'checked',
    });
    expect(w.httpErrors).toEqual([]);
  });

  it('nested edits are saved as a diff whatever write_mode the relation defaults to (replace, append)', async () => {
    // names of this run only: a retry must not find the labels of an earlier attempt in the picker
    const run = Math.random().toString(36).slice(2, 7);
    const [redName, blueName] = [`red-${run}`, `blue-${run}`];
    const red = await rawPost('/label', JSON.stringify({ name: redName }));
    await rawPost('/label', JSON.stringify({ name: blueName }));
    const order = await rawPost(
      '/order',
      JSON.stringify({
        title: 'Big order',
        lines: { data: [{ name: 'first line' }, { name: 'second line' }] },
        notes: { data: [{ name: 'call first' }, { name: 'fragile' }] },
        labels: { data: [{ id: red.id }] },
      }),
    );
    const children = async () => {
      const r = await server.client.get(api(`/order/${order.id}?include=lines,notes,labels`), { token });
      const names = (k: string) => (r.body.data[k] as { name: string }[]).map((x) => x.name).sort();
      return { lines: names('lines'), notes: names('notes'), labels: names('labels') };
    };
    expect(await children()).toEqual({ lines: ['first line', 'second line'], notes: ['call first', 'fragile'], labels: [redName] });

    await page.goto(url(`/a/${app}/data/order/${order.id}`));
    const lines = page.getByRole('region', { name: 'lines (line)' });
    const notes = page.getByRole('region', { name: 'notes (note)' });
    const labels = page.getByRole('region', { name: 'labels (label)' });
    await lines.getByRole('group', { name: 'line 2' }).waitFor();
    // change one line (replace would delete the other), drop a note and rename the other (append would ignore both)
    const secondLine = lines.getByRole('group', { name: 'line 2' }).getByLabel('name');
    await secondLine.fill(`${await secondLine.inputValue()} (changed)`);
    const firstNote = notes.getByRole('group', { name: 'note 1' });
    const keep = (await firstNote.getByLabel('name').inputValue()) === 'fragile' ? 'note 1' : 'note 2';
    await notes.getByRole('button', { name: `Remove note ${keep === 'note 1' ? 2 : 1}` }).click();
    await notes.getByRole('group', { name: 'note 1' }).getByLabel('name').fill('fragile!');
    // link one more label (replace would unlink red)
    const picker = labels.getByLabel('Link a label');
    await picker.fill(blueName);
    await page.getByRole('option', { name: new RegExp(blueName) }).click();
    // the chip itself (the picker's hint also names the choice for a moment)
    await labels.locator('li.chip', { hasText: blueName }).waitFor();
    await w.screenshot('96-nested-write-modes');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await children()).labels).toEqual([blueName, redName]);
    const after = await children();
    expect(after.lines).toHaveLength(2);
    expect(after.lines.filter((n) => n.endsWith('(changed)'))).toHaveLength(1);
    expect(after.notes).toEqual(['fragile!']);
    expect(w.httpErrors).toEqual([]);
  });

  it('export keeps a number a double cannot hold as a JSON number, and import sends one as a number', async () => {
    // a rule definition is a JSON document; the admin API answers its threshold as a bare number beyond 2^53
    const rule = await rawPost(
      '/_admin/rules',
      '{"entity":"ledger","hook":"before_write","type":"field","definition":{"field":"big","operator":"max","value":9007199254740993,"message":"too much"}}',
    );
    const digits = /"value":(\d+)/.exec(await rawGet(`/_admin/rules/${rule.id}`))?.[1];
    expect(digits).toMatch(/^900719925474099\d$/);
    await page.goto(url(`/a/${app}/api`));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download export' }).click()]);
    const text = await readFile((await download.path())!, 'utf8');
    expect(text).toContain(`"value": ${digits},`);
    await server.client.delete(api(`/_admin/rules/${rule.id}`), { token });

    // the downloaded document imports back with the number a number
    const file = join(ARTIFACTS_DIR, 'import-exact-numbers.json');
    await writeFile(file, text);
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === api('/_admin/import'));
    await page.getByLabel('Export document (JSON)').setInputFiles(file);
    await page.getByRole('button', { name: 'Import' }).click();
    expect((await sent).postData()).toContain(`"value":${digits},`);
    await page.getByRole('table', { name: 'Import summary' }).waitFor();
    expect(await rawGet('/_admin/rules')).toContain(`"value":${digits},`);
  });

  it('the entity designer keeps a decimal default of more digits than a double holds', async () => {
    await server.client.post(api('/_admin/entities'), {
      token,
      body: {
        name: 'price',
        table: 'prices',
        primary_key: pk,
        fields: [
          { name: 'id', type: 'uuid' },
          { name: 'amount', type: 'decimal', precision: 2 },
        ],
      },
    });
    await page.goto(url(`/a/${app}/schema/entities/price`));
    await page.getByLabel('Field 2 default').fill('1234567890123456.78');
    const put = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/_admin/entities/price'));
    await page.getByRole('button', { name: 'Save entity' }).click();
    expect((await put).status()).toBe(200);
    const made = await rawPost('/price', '{}');
    expect(await rawGet(`/price/${made.id}`)).toContain('"amount":1234567890123456.78');
    // shown again with its digits, and an unrelated save leaves them
    await page.reload();
    await expect.poll(() => page.getByLabel('Field 2 default').inputValue()).toBe('1234567890123456.78');
    await page.getByLabel('Record history').check();
    const again = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/_admin/entities/price'));
    await page.getByRole('button', { name: 'Save entity' }).click();
    expect((await again).status()).toBe(200);
    const next = await rawPost('/price', '{}');
    expect(await rawGet(`/price/${next.id}`)).toContain('"amount":1234567890123456.78');
  });
});
