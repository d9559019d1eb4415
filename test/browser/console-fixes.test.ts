import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, expectCleanPage, openSignedInPage, startConsoleSuite, VIEWPORTS, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * Defects found by a black-box audit of the console: each test here failed before its fix.
 * Schema: author 1—n post (post.author_id, a foreign-key picker), post n—m tag, post 1—n comment
 * (nested child form; comment.note hidden by its UI config), a state machine on post.status whose
 * draft→published transition sets published_at.
 */
describe('admin console, audit fixes', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let token: string;
  let machineId: string;
  let receiver: Server;
  const url = (p: string) => `${server.rocket.url}/admin${p}`;
  const api = (p: string) => `/api/${app}${p}`;
  const pk = { field: 'id', type: 'uuid', generated: true };
  const storedMachine = async () => (await server.client.get(api(`/_admin/state-machines/${machineId}`), { token })).body.data;

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token } = suite);
    const { post } = suite;
    await post('/_admin/entities', {
      name: 'author',
      table: 'authors',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
      ],
    });
    await post('/_admin/entities', {
      name: 'tag',
      table: 'tags',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'label', type: 'string', required: true },
      ],
    });
    await post('/_admin/entities', {
      name: 'post',
      table: 'posts',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'status', type: 'string' },
        { name: 'published_at', type: 'string' },
        // fourth: at 1280×800 it sits in the last column of the form grid
        { name: 'attachment', type: 'file' },
        { name: 'meta', type: 'json' },
        { name: 'author_id', type: 'uuid' },
      ],
    });
    await post('/_admin/entities', {
      name: 'comment',
      table: 'comments',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'body', type: 'string' },
        { name: 'note', type: 'string' },
        { name: 'post_id', type: 'uuid' },
      ],
    });
    await post('/_admin/relations', { name: 'posts', type: 'one_to_many', source: 'author', target: 'post', target_key: 'author_id' });
    await post('/_admin/relations', { name: 'comments', type: 'one_to_many', source: 'post', target: 'comment', target_key: 'post_id' });
    await post('/_admin/relations', {
      name: 'tags',
      type: 'many_to_many',
      source: 'post',
      target: 'tag',
      join_table: 'post_tags',
      source_join_key: 'post_id',
      target_join_key: 'tag_id',
    });
    await post('/_admin/ui-configs', { entity: 'comment', config: { hidden: ['note'] } });
    // deliveries for the Activity page's delivery log (its table is wider than a phone)
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await post('/_admin/webhooks', {
      entity: 'post',
      hook: 'after_write',
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/post`,
      method: 'POST',
      async: true,
      retry: { max_attempts: 1, backoff: 'linear' },
    });
    machineId = (
      await post('/_admin/state-machines', {
        entity: 'post',
        field: 'status',
        definition: {
          initial: 'draft',
          transitions: [
            { from: 'draft', to: 'published', actions: [{ type: 'set_field', field: 'published_at', value: 'now' }] },
            { from: 'published', to: 'archived', roles: ['editor'] },
          ],
        },
      })
    ).id;
    for (const name of ['Ada', 'Alan', 'Grace']) await post('/author', { name });
    for (const label of ['red', 'green', 'blue']) await post('/tag', { label });

    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
    receiver?.close();
  });
  afterEach(() => expectCleanPage(w));

  const openMachine = async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'State machines' }).click();
    await page.getByRole('button', { name: 'Edit state machine post.status' }).click();
    return page.getByRole('form', { name: 'State machine editor' });
  };
  const saveMachine = async (form: ReturnType<Page['getByRole']>) => {
    const put = page.waitForRequest((r: Request) => r.method() === 'PUT' && r.url().includes('/_admin/state-machines/'));
    await form.getByRole('button', { name: 'Save state machine' }).click();
    const body = (await put).postDataJSON();
    await page.getByRole('img', { name: 'States of post.status' }).waitFor();
    return body;
  };

  it('state machine editor keeps, shows and edits the actions of each transition', async () => {
    const before = await storedMachine();
    // a save that changes nothing sends the stored definition back unchanged
    let form = await openMachine();
    expect(await form.getByLabel('Transition 1 action 1 type').inputValue()).toBe('set_field');
    expect(await form.getByLabel('Transition 1 action 1 field').inputValue()).toBe('published_at');
    expect(await form.getByLabel('Transition 1 action 1 value').inputValue()).toBe('now');
    expect(await form.getByRole('img', { name: 'State diagram' }).textContent()).toContain('set published_at = now');
    await w.screenshot('60-state-machine-actions');
    const sent = await saveMachine(form);
    expect(sent.definition).toEqual(before.definition);
    expect((await storedMachine()).definition).toEqual(before.definition);

    // a changed guard leaves the actions as they are; an action added to the second transition is saved
    form = await openMachine();
    await form.getByLabel('Transition 1 guard').fill("record.title != ''");
    await form.getByRole('button', { name: 'Add action to transition 2' }).click();
    await form.getByLabel('Transition 2 action 1 type').selectOption('send_event');
    await form.getByLabel('Transition 2 action 1 event').fill('post_archived');
    await saveMachine(form);
    let def = (await storedMachine()).definition;
    expect(def.transitions[0]).toEqual({
      from: 'draft',
      to: 'published',
      guard: "record.title != ''",
      actions: [{ type: 'set_field', field: 'published_at', value: 'now' }],
    });
    expect(def.transitions[1]).toEqual({
      from: 'published',
      to: 'archived',
      roles: ['editor'],
      actions: [{ type: 'send_event', event: 'post_archived' }],
    });

    // edit one action's value, remove another
    form = await openMachine();
    await form.getByLabel('Transition 1 action 1 value').fill('2025-01-01T00:00:00Z');
    await form.getByRole('button', { name: 'Remove action 1 of transition 2' }).click();
    await saveMachine(form);
    def = (await storedMachine()).definition;
    expect(def.transitions[0].actions).toEqual([{ type: 'set_field', field: 'published_at', value: '2025-01-01T00:00:00Z' }]);
    expect(def.transitions[1]).toEqual({ from: 'published', to: 'archived', roles: ['editor'] });

    // back to the stored machine the other tests use
    const reset = await server.client.put(api(`/_admin/state-machines/${machineId}`), {
      token,
      body: { entity: 'post', field: 'status', active: true, definition: before.definition },
    });
    expect(reset.status).toBe(200);
  });

  /** Writes of post records the page sends from now on, as "<method> <path>". */
  const watchWrites = () => {
    const writes: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (r.method() !== 'GET' && path.startsWith(api('/post'))) writes.push(`${r.method()} ${path}`);
    });
    return writes;
  };
  const settle = () => page.waitForTimeout(600);

  it('a JSON field that does not parse blocks the save (create and update): focused, announced, nothing sent', async () => {
    const writes = watchWrites();
    await page.goto(url(`/a/${app}/data/post/new`));
    await page.getByLabel('title *').fill('Half a post');
    await page.getByLabel('meta').fill('{"lang": ');
    await page.getByText(/^Not valid JSON/).waitFor();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved: meta: Not valid JSON' }).waitFor();
    await settle();
    expect(writes).toEqual([]);
    expect(page.url()).toMatch(/\/data\/post\/new$/);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('meta');
    await w.screenshot('61-record-json-invalid');
    await page.getByLabel('meta').fill('{"lang": "en"}');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/post$/);
    expect(writes).toEqual([`POST ${api('/post')}`]);
    const created = (await server.client.get(api('/post?filter[title]=Half a post'), { token })).body.data[0];
    expect(created.meta).toEqual({ lang: 'en' });

    // update: neither the JSON field nor the other changed fields are sent
    writes.length = 0;
    await page.goto(url(`/a/${app}/data/post/${created.id}`));
    await page.getByLabel('title *').fill('Renamed');
    await page.getByLabel('meta').fill('{"lang": "de"');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved: meta: Not valid JSON' }).waitFor();
    await settle();
    expect(writes).toEqual([]);
    expect((await server.client.get(api(`/post/${created.id}`), { token })).body.data).toMatchObject({ title: 'Half a post', meta: { lang: 'en' } });
    await page.getByLabel('meta').fill('{"lang": "de"}');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(async () => (await server.client.get(api(`/post/${created.id}`), { token })).body.data)
      .toMatchObject({ title: 'Renamed', meta: { lang: 'de' } });
  });

  it('import: each per-item error string is one list item, with the summary', async () => {
    await page.goto(url(`/a/${app}/api`));
    const file = join(ARTIFACTS_DIR, 'import-errors.json');
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        rules: [
          { entity: 'nowhere', hook: 'before_write', type: 'field', definition: {} },
          { entity: 'post', hook: 'before_write', type: 'expression', definition: { expression: 'record.title != ' } },
        ],
      }),
    );
    await page.getByLabel('Export document (JSON)').setInputFiles(file);
    const answer = page.waitForResponse((r) => r.url().endsWith('/_admin/import'));
    await page.getByRole('button', { name: 'Import' }).click();
    const errors: string[] = (await (await answer).json()).data.errors;
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => typeof e === 'string')).toBe(true);
    await page.getByRole('table', { name: 'Import summary' }).waitFor();
    await page.getByRole('heading', { name: 'Problems (2)' }).waitFor();
    const items = page.locator('ul.problems > li');
    expect(await items.allTextContents()).toEqual(errors);
    expect(await page.locator('ul.problems code').count()).toBe(0);
    await w.screenshot('62-api-import-errors');
  });

  it('foreign-key and link pickers work from the keyboard (combobox: arrows, Enter, Escape)', async () => {
    const writes = watchWrites();
    await page.goto(url(`/a/${app}/data/post/new`));
    await page.getByLabel('title *').fill('Keyboard post');
    const fk = page.getByRole('combobox', { name: 'author_id' });
    await fk.focus();
    const list = page.getByRole('listbox', { name: 'author matches' });
    await expect.poll(() => list.getByRole('option').count()).toBe(3);
    const names = await list.getByRole('option').allTextContents();
    const active = async () => {
      const id = await fk.getAttribute('aria-activedescendant');
      return id ? page.locator(`[id="${id}"]`).textContent() : null;
    };
    expect(await active()).toBe(null);
    await fk.press('ArrowDown');
    expect(await active()).toBe(names[0]);
    await fk.press('ArrowDown');
    await fk.press('ArrowDown');
    expect(await active()).toBe(names[2]);
    await fk.press('ArrowUp');
    expect(await active()).toBe(names[1]);
    expect(await list.getByRole('option', { selected: true }).textContent()).toBe(names[1]);
    await w.screenshot('63-fk-picker-keyboard');
    // Enter picks the active option and does not submit the record form
    await fk.press('Enter');
    const picked = names[1]!.replace(/\s+\S+$/, '');
    await page.getByText(`Selected: ${picked}`).waitFor();
    expect(await list.count()).toBe(0);
    await settle();
    expect(writes).toEqual([]);
    expect(page.url()).toMatch(/\/data\/post\/new$/);

    // the many-to-many link picker: Escape closes the list, ArrowDown opens it again
    const link = page.getByRole('combobox', { name: 'Link a tag' });
    await link.fill('re');
    const tags = page.getByRole('listbox', { name: 'tag matches' });
    await expect.poll(() => tags.getByRole('option').count()).toBe(2); // red, green
    await link.press('Escape');
    expect(await tags.count()).toBe(0);
    expect(await link.getAttribute('aria-expanded')).toBe('false');
    await link.press('ArrowDown');
    await expect.poll(() => tags.getByRole('option').count()).toBe(2);
    await link.press('ArrowDown');
    const first = (await tags.getByRole('option').first().textContent())!.replace(/\s+\S+$/, '');
    await link.press('Enter');
    await page.getByRole('region', { name: 'tags (tag)' }).getByRole('listitem').filter({ hasText: first }).waitFor();
    await settle();
    expect(writes).toEqual([]);

    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/post$/);
    const saved = (await server.client.get(api('/post?filter[title]=Keyboard post&include=tags'), { token })).body.data[0];
    const author = (await server.client.get(api(`/author/${saved.author_id}`), { token })).body.data;
    expect(author.name).toBe(picked);
    expect(saved.tags.map((t: { label: string }) => t.label)).toEqual([first]);
  });

  it('after a save the state field offers the transitions of the saved state, without a reload', async () => {
    const created = await server.client.post(api('/post'), { token, body: { title: 'Moving post', status: 'draft' } });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    await page.goto(url(`/a/${app}/data/post/${id}`));
    const status = page.getByLabel('status');
    await expect.poll(() => status.locator('option').allTextContents()).toEqual(['draft', 'published']);
    await status.selectOption('published');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await server.client.get(api(`/post/${id}`), { token })).body.data.status).toBe('published');
    await expect.poll(() => page.getByLabel('status').locator('option').allTextContents()).toEqual(['published', 'archived']);
    expect(await page.getByLabel('status').inputValue()).toBe('published');
    // the action's value shows too (published_at was set by the transition)
    await expect.poll(() => page.getByLabel('published_at').inputValue()).not.toBe('');
    expect(page.url()).toMatch(new RegExp(`/data/post/${id}$`));
  });

  it('activity filters apply together: changing the action keeps the typed entity', async () => {
    await page.goto(url(`/a/${app}/activity`));
    const log = page.getByRole('region', { name: 'Audit log' });
    await log.getByText('_entities').first().waitFor();
    await log.getByLabel('Entity').fill('_state_machines');
    const req = page.waitForRequest((r) => r.url().includes('/_admin/history') && r.url().includes('action=update'));
    await log.getByLabel('Action').selectOption('update');
    const q = new URL((await req).url()).searchParams;
    expect(q.get('entity')).toBe('_state_machines');
    expect(q.get('action')).toBe('update');
    expect(await log.getByLabel('Entity').inputValue()).toBe('_state_machines');
    await settle();
    expect(await log.getByLabel('Entity').inputValue()).toBe('_state_machines');
    await log.getByText('_state_machines').first().waitFor();
  });

  it('no horizontal page scrolling: Activity at 390×844, a record form with a file field at 1280×800', async () => {
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    const settleLayout = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    try {
      await expect.poll(async () => (await server.client.get(api('/_admin/webhook-logs'), { token })).body.data.length).toBeGreaterThan(0);
      await page.setViewportSize(VIEWPORTS.phone);
      await page.goto(url(`/a/${app}/activity`));
      await page.getByRole('region', { name: 'Audit log' }).getByText('_entities').first().waitFor();
      await page.getByRole('table', { name: 'Deliveries' }).waitFor();
      await settleLayout();
      expect(await overflow()).toBeLessThanOrEqual(0);
      for (const size of [VIEWPORTS.desktop, VIEWPORTS.phone]) {
        await page.setViewportSize(size);
        await page.goto(url(`/a/${app}/data/post/new`));
        await page.getByLabel('attachment').waitFor();
        await settleLayout();
        expect(await overflow(), `${size.width}×${size.height}`).toBeLessThanOrEqual(0);
      }
    } finally {
      await page.setViewportSize(VIEWPORTS.desktop);
    }
  });

  it('UI-config hidden fields are hidden in nested child forms too', async () => {
    await page.goto(url(`/a/${app}/data/post/new`));
    const comments = page.getByRole('region', { name: 'comments (comment)' });
    await comments.getByRole('button', { name: 'Add comment' }).click();
    const row = comments.getByRole('group', { name: 'comment 1' });
    await row.getByLabel('body').waitFor();
    expect(await row.getByLabel('note').count()).toBe(0);
    await page.getByLabel('title *').fill('Commented post');
    await row.getByLabel('body').fill('First!');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/post$/);
    const saved = (await server.client.get(api('/post?filter[title]=Commented post&include=comments'), { token })).body.data[0];
    expect(saved.comments).toMatchObject([{ body: 'First!', note: null }]);
  });
});
