import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, expectCleanPage, openSignedInPage, startConsoleSuite, VIEWPORTS, type WatchedPage } from '../support/browser.js';
import { uniqueName, type TestServer } from '../support/server.js';

const EXAMPLES = resolve(import.meta.dirname, '../fixtures/examples');

/** A rectangle in page pixels, as getBoundingClientRect answers it. */
interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** What a diagram test measures of one drawing. */
interface Geometry {
  boxes: { name: string; rect: Rect; texts: Rect[] }[];
  lines: { name: string; points: { x: number; y: number }[] }[];
  labels: { name: string; text: string; rect: Rect }[];
  svg: Rect;
}

const overlap = (a: Rect, b: Rect, slack = 0) =>
  a.left < b.right - slack && b.left < a.right - slack && a.top < b.bottom - slack && b.top < a.bottom - slack;
const inside = (p: { x: number; y: number }, r: Rect, inset: number) =>
  p.x > r.left + inset && p.x < r.right - inset && p.y > r.top + inset && p.y < r.bottom - inset;
const distanceToEdge = (p: { x: number; y: number }, r: Rect) => {
  const dx = Math.max(r.left - p.x, 0, p.x - r.right);
  const dy = Math.max(r.top - p.y, 0, p.y - r.bottom);
  if (dx > 0 || dy > 0) return Math.hypot(dx, dy);
  return Math.min(p.x - r.left, r.right - p.x, p.y - r.top, r.bottom - p.y);
};

/** Boxes, sampled relation lines and labels of the ER diagram, in page pixels. */
function erGeometry(svg: Locator): Promise<Geometry> {
  return svg.evaluate((el) => {
    const rect = (e: Element) => {
      const r = e.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    };
    const boxes = [...el.querySelectorAll('g.er-box')].map((g) => ({
      name: g.querySelector('.er-title')?.textContent ?? '',
      rect: rect(g.querySelector('rect')!),
      texts: [...g.querySelectorAll('text')].map(rect),
    }));
    const lines: { name: string; points: { x: number; y: number }[] }[] = [];
    const labels: { name: string; text: string; rect: Rect }[] = [];
    for (const g of el.querySelectorAll('g.er-rel')) {
      if (!g.querySelector('path')) continue;
      const name = g.getAttribute('data-relation') ?? g.querySelector('text')?.textContent ?? '';
      const path = g.querySelector('path') as SVGPathElement;
      const m = path.getScreenCTM()!;
      const len = path.getTotalLength();
      const points: { x: number; y: number }[] = [];
      for (let l = 0; l <= len; l += 2) {
        const p = path.getPointAtLength(l).matrixTransform(m);
        points.push({ x: p.x, y: p.y });
      }
      const end = path.getPointAtLength(len).matrixTransform(m);
      points.push({ x: end.x, y: end.y });
      lines.push({ name, points });
    }
    for (const t of el.querySelectorAll('.er-label, g.er-rel text')) {
      const g = t.closest('[data-relation]') ?? t.closest('g.er-rel');
      const name = g?.getAttribute('data-relation') ?? t.textContent ?? '';
      if (!labels.some((x) => x.name === name)) labels.push({ name, text: t.textContent ?? '', rect: rect(t) });
    }
    return { boxes, lines, labels, svg: rect(el) };
  });
}

describe('admin console, audit fixes (2)', { timeout: 240_000 }, () => {
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

  beforeAll(async () => {
    const suite = await startConsoleSuite();
    ({ server, browser, app, token } = suite);
    const { post } = suite;
    await post('/_admin/entities', {
      name: 'asset',
      table: 'assets',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
        { name: 'serial', type: 'bigint' },
        { name: 'picture', type: 'file' },
      ],
    });
    await post('/_admin/entities', {
      name: 'ticket',
      table: 'tickets',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'priority', type: 'string', enum: ['low', 'high'] },
        { name: 'status', type: 'string' },
      ],
    });
    await post('/_admin/entities', {
      name: 'note',
      table: 'notes',
      primary_key: pk,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'title', type: 'string', required: true },
        { name: 'description', type: 'string', required: true },
        { name: 'remark', type: 'string' },
      ],
    });
    await post('/_admin/ui-configs', { entity: 'note', config: { hidden: ['description', 'remark'] } });
    await post('/_admin/workflows', {
      name: 'escalate_tickets_to_team_lead',
      trigger: { type: 'state_change', entity: 'ticket', field: 'status', to: 'review' },
      context: { record_id: 'trigger.record_id' },
      steps: [
        {
          id: 'lead',
          type: 'approval',
          assignee: { type: 'role', role: 'team_lead' },
          timeout: '4h',
          on_approve: 'end',
          on_timeout: 'end',
          on_reject: { goto: 'notify' },
        },
        { id: 'notify', type: 'action', actions: [{ type: 'send_event', event: 'ticket_rejected' }], then: 'end' },
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

  it('a file field downloads with the session token and keeps its file name', async () => {
    const bytes = Buffer.from('\x89PNG\r\n\x1a\nnot really an image');
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'image/png' }), 'pic.png');
    const up = await fetch(`${server.rocket.url}${api('/_files/upload')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const file = ((await up.json()) as { data: { id: string } }).data;
    const created = await server.client.post(api('/asset'), { token, body: { name: 'Camera', picture: file.id } });
    expect(created.status).toBe(201);

    await page.goto(url(`/a/${app}/data/asset/${created.body.data.id}`));
    const link = page.getByRole('link', { name: 'pic.png' });
    await link.waitFor();
    await w.screenshot('70-record-file-link');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 8000 }), link.click()]);
    expect(download.suggestedFilename()).toBe('pic.png');
    const saved = await download.path();
    expect(await readFile(saved)).toEqual(bytes);
    expect(w.httpErrors.filter((e) => e.includes('/_files/'))).toEqual([]);
    expect(page.context().pages()).toHaveLength(1);
  });

  it('bigint values beyond 2^53 keep every digit: shown, edited and created', async () => {
    // a digit string: a bare number this long would be rounded by any JSON parser on the way in
    const raw = await server.client.post(api('/asset'), { token, body: { name: 'Big one', serial: '9007199254740993' } });
    expect(raw.status).toBe(201);
    const id = raw.body.data.id as string;
    expect(await rawGet(`/asset/${id}`)).toContain('"serial":9007199254740993');

    await page.goto(url(`/a/${app}/data/asset`));
    const table = page.getByRole('table', { name: 'asset records' });
    await table.getByText('9007199254740993', { exact: true }).waitFor();

    await page.goto(url(`/a/${app}/data/asset/${id}`));
    const serial = page.getByLabel('serial');
    await expect.poll(() => serial.inputValue()).toBe('9007199254740993');
    await w.screenshot('71-record-bigint');
    await serial.fill('9007199254740995');
    const put = page.waitForRequest((r) => r.method() === 'PUT' && r.url().includes(`/asset/${id}`));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    expect((await put).postData()).toContain('"serial":"9007199254740995"');
    await expect.poll(() => rawGet(`/asset/${id}`)).toContain('"serial":9007199254740995');
    await expect.poll(() => page.getByLabel('serial').inputValue()).toBe('9007199254740995');

    await page.goto(url(`/a/${app}/data/asset/new`));
    await page.getByLabel('name *').fill('Bigger one');
    await page.getByLabel('serial').fill('-18014398509481985');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/asset$/);
    await expect.poll(() => rawGet('/asset?filter[name]=Bigger one')).toContain('"serial":-18014398509481985');
  });

  it('a live filtered list drops rows that stop matching and adds rows that start matching', async () => {
    const ids: Record<string, string> = {};
    for (const [title, priority] of [
      ['Alpha', 'low'],
      ['Bravo', 'low'],
      ['Charlie', 'high'],
    ]) {
      const r = await server.client.post(api('/ticket'), { token, body: { title, priority } });
      expect(r.status).toBe(201);
      ids[title!] = r.body.data.id;
    }
    await page.goto(url(`/a/${app}/data/ticket`));
    await page.getByText('live', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter 1 field').selectOption('priority');
    await page.getByLabel('Filter 1 value').selectOption('low');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const table = page.getByRole('table', { name: 'ticket records' });
    // the first column is the id
    const titles = async () => (await table.locator('tbody tr td:nth-child(2)').allTextContents()).sort();
    await expect.poll(titles).toEqual(['Alpha', 'Bravo']);
    const count = () => page.locator('.page-head p').first().textContent();
    await expect.poll(count).toMatch(/^2 records\b/);
    await page.evaluate(() => {
      (window as unknown as { notReloaded?: boolean }).notReloaded = true;
    });

    expect((await server.client.put(api(`/ticket/${ids.Bravo}`), { token, body: { priority: 'high' } })).status).toBe(200);
    await expect.poll(titles).toEqual(['Alpha']);
    await expect.poll(count).toMatch(/^1 record\b/);
    expect((await server.client.put(api(`/ticket/${ids.Charlie}`), { token, body: { priority: 'low' } })).status).toBe(200);
    await expect.poll(titles).toEqual(['Alpha', 'Charlie']);
    await expect.poll(count).toMatch(/^2 records\b/);
    // a change that keeps the row inside the filter is shown in place
    expect((await server.client.put(api(`/ticket/${ids.Alpha}`), { token, body: { title: 'Alpha 2' } })).status).toBe(200);
    await expect.poll(titles).toEqual(['Alpha 2', 'Charlie']);
    await w.screenshot('72-data-live-filtered');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it('inbox: each approval names its record with a link; Reject asks first', async () => {
    const made: Record<string, string> = {};
    for (const title of ['Printer on fire', 'Coffee machine empty']) {
      const r = await server.client.post(api('/ticket'), { token, body: { title, priority: 'low' } });
      made[title] = r.body.data.id;
      expect((await server.client.put(api(`/ticket/${r.body.data.id}`), { token, body: { status: 'review' } })).status).toBe(200);
    }
    const pending = (await server.client.get(api('/_workflows/pending'), { token })).body.data as { id: string; context: { record_id: string } }[];
    expect(pending).toHaveLength(2);

    await page.goto(url(`/a/${app}/inbox`));
    const cards = page.getByRole('list', { name: 'Pending approvals' }).getByRole('article');
    await expect.poll(() => cards.count()).toBe(2);
    const fire = cards.filter({ hasText: 'Printer on fire' });
    const coffee = cards.filter({ hasText: 'Coffee machine empty' });
    await fire.waitFor();
    await coffee.waitFor();
    const link = fire.getByRole('link', { name: /Printer on fire/ });
    expect(await link.getAttribute('href')).toBe(`/admin/a/${app}/data/ticket/${made['Printer on fire']}`);
    await w.screenshot('73-inbox-records');

    // Reject asks first; keeping the step changes nothing
    await fire.getByRole('button', { name: 'Reject' }).click();
    const ask = page.getByRole('dialog', { name: /Reject/ });
    await ask.getByText('Printer on fire').waitFor();
    await w.screenshot('74-inbox-reject-confirm');
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => ask.count()).toBe(0);
    expect((await server.client.get(api('/_workflows/pending'), { token })).body.data).toHaveLength(2);

    await fire.getByRole('button', { name: 'Reject' }).click();
    await page
      .getByRole('dialog', { name: /Reject/ })
      .getByRole('button', { name: 'Reject' })
      .click();
    await expect.poll(() => cards.count()).toBe(1);
    await coffee.waitFor();
    const left = (await server.client.get(api('/_workflows/pending'), { token })).body.data as { context: { record_id: string } }[];
    expect(left.map((i) => i.context.record_id)).toEqual([made['Coffee machine empty']]);

    await coffee.getByRole('link', { name: /Coffee machine empty/ }).click();
    await page.waitForURL(new RegExp(`/data/ticket/${made['Coffee machine empty']}$`));
  });

  it('ER diagram: every relation line joins its two entities around the others, every label is clear', async () => {
    for (const example of ['content-management', 'helpdesk-ticketing', 'employee-management', 'skills-assessment']) {
      const other = await server.createApp(uniqueName('er'));
      const doc = JSON.parse(await readFile(join(EXAMPLES, `${example}.json`), 'utf8'));
      const imported = await server.client.post(`/api/${other.name}/_admin/import`, { token: other.token, body: doc });
      expect(imported.status, JSON.stringify(imported.body)).toBe(200);
      const relations = new Map<string, { source: string; target: string }>(
        (doc.relations as { name: string; source: string; target: string }[]).map((r) => [r.name, r]),
      );
      await page.goto(url(`/a/${other.name}/schema`));
      const svg = page.getByRole('img', { name: /Entity-relationship diagram/ });
      await svg.waitFor();
      if (example === 'content-management') await w.screenshot('75-er-many-to-many');
      if (example === 'helpdesk-ticketing') await w.screenshot('76-er-helpdesk');
      if (example === 'skills-assessment') await w.screenshot('77-er-skills');
      // the whole drawing, for a person to look at (the page screenshots show only its top)
      await svg.screenshot({ path: join(ARTIFACTS_DIR, 'screenshots', `75-er-${example}-diagram.png`) });
      const g = await erGeometry(svg);
      const box = (name: string) => g.boxes.find((b) => b.name === name)!.rect;
      expect(g.lines).toHaveLength(relations.size);
      expect(g.labels.map((l) => l.text).sort()).toEqual([...relations.keys()].sort());
      for (const line of g.lines) {
        const rel = relations.get(line.name)!;
        const where = `${example}: ${line.name}`;
        // starts at its source's edge and ends at its target's
        expect(distanceToEdge(line.points[0]!, box(rel.source)), where).toBeLessThan(3);
        expect(distanceToEdge(line.points.at(-1)!, box(rel.target)), where).toBeLessThan(3);
        // and runs through no box on its way (its own included: it would be hidden there)
        for (const p of line.points) {
          for (const b of g.boxes) expect(inside(p, b.rect, 2), `${where} crosses ${b.name}`).toBe(false);
        }
      }
      for (const [i, label] of g.labels.entries()) {
        const where = `${example}: label ${label.text}`;
        for (const b of g.boxes) expect(overlap(label.rect, b.rect), `${where} over ${b.name}`).toBe(false);
        for (const o of g.labels.slice(i + 1)) expect(overlap(label.rect, o.rect), `${where} over ${o.text}`).toBe(false);
        expect(label.rect.left, where).toBeGreaterThanOrEqual(g.svg.left);
        expect(label.rect.right, where).toBeLessThanOrEqual(g.svg.right);
        expect(label.rect.top, where).toBeGreaterThanOrEqual(g.svg.top);
        expect(label.rect.bottom, where).toBeLessThanOrEqual(g.svg.bottom);
        // next to its own line
        const line = g.lines.find((l) => l.name === label.name)!;
        const cx = (label.rect.left + label.rect.right) / 2;
        const near = Math.min(
          ...line.points.map((p) =>
            Math.hypot(Math.max(label.rect.left - p.x, 0, p.x - label.rect.right), p.y - (label.rect.top + label.rect.bottom) / 2),
          ),
        );
        expect(near, `${where} at x ${cx}`).toBeLessThan(20);
      }
    }
  });

  /** Node boxes, their texts and the edge labels of a flow diagram, in page pixels. */
  const flowGeometry = (svg: Locator) =>
    svg.evaluate((el) => {
      const rect = (e: Element) => {
        const r = e.getBoundingClientRect();
        return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, text: e.textContent ?? '' };
      };
      return {
        nodes: [...el.querySelectorAll('g.flow-node')].map((g) => ({
          rect: rect(g.querySelector('rect')!),
          texts: [...g.querySelectorAll('text')].map(rect),
        })),
        labels: [...el.querySelectorAll('g.flow-edge text')].map(rect),
        svg: rect(el),
      };
    });
  const checkFlow = async (svg: Locator, where: string) => {
    const g = await flowGeometry(svg);
    for (const n of g.nodes) {
      for (const t of n.texts) {
        expect(t.left, `${where}: "${t.text}" fits its box`).toBeGreaterThanOrEqual(n.rect.left);
        expect(t.right, `${where}: "${t.text}" fits its box`).toBeLessThanOrEqual(n.rect.right);
      }
    }
    for (const [i, l] of g.labels.entries()) {
      for (const o of g.labels.slice(i + 1)) expect(overlap(l, o, 0.5), `${where}: "${l.text}" over "${o.text}"`).toBe(false);
      for (const n of g.nodes) expect(overlap(l, n.rect), `${where}: "${l.text}" over a step`).toBe(false);
      expect(l.left, where).toBeGreaterThanOrEqual(g.svg.left);
      expect(l.right, where).toBeLessThanOrEqual(g.svg.right);
    }
    return g;
  };

  it('workflow diagram: labels of one arc do not print over each other, subtitles fit their boxes', async () => {
    await page.goto(url(`/a/${app}/logic`));
    await page.getByRole('tab', { name: 'Workflows' }).click();
    const svg = page.getByRole('img', { name: 'Steps of workflow escalate_tickets_to_team_lead' });
    await svg.waitFor();
    const text = (await svg.textContent()) ?? '';
    for (const word of ['approve', 'timeout', 'reject', 'approval · 4h · team_lead']) expect(text).toContain(word);
    await w.screenshot('78-workflow-diagram');
    await checkFlow(svg, 'workflow');

    // a state machine with long labels on neighbouring arcs
    const sm = await server.client.post(api('/_admin/state-machines'), {
      token,
      body: {
        entity: 'ticket',
        field: 'status',
        definition: {
          initial: 'new',
          transitions: [
            { from: 'new', to: 'review', roles: ['agent', 'team_lead'], guard: "record.title != ''" },
            { from: 'review', to: 'done', roles: ['team_lead'], actions: [{ type: 'set_field', field: 'priority', value: 'low' }] },
            { from: 'new', to: 'done', roles: ['admin'] },
            { from: 'review', to: 'new', guard: 'record.priority == "high"' },
            { from: 'done', to: 'new' },
          ],
        },
      },
    });
    expect(sm.status).toBe(201);
    await page.getByRole('tab', { name: 'State machines' }).click();
    const states = page.getByRole('img', { name: 'States of ticket.status' });
    await states.waitFor();
    await w.screenshot('79-state-diagram-labels');
    await checkFlow(states, 'state machine');
    expect((await server.client.delete(api(`/_admin/state-machines/${sm.body.data.id}`), { token })).status).toBe(200);
  });

  it('workflow editor at 390×844: nothing runs off the side, Save workflow is on screen', async () => {
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    const settleLayout = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    try {
      await page.setViewportSize(VIEWPORTS.phone);
      await page.goto(url(`/a/${app}/logic`));
      await page.getByRole('tab', { name: 'Workflows' }).click();
      for (const open of ['Edit workflow escalate_tickets_to_team_lead', 'New workflow']) {
        await page.getByRole('button', { name: open }).click();
        const form = page.getByRole('form', { name: 'Workflow editor' });
        await form.getByRole('img', { name: 'Workflow diagram' }).waitFor();
        await settleLayout();
        expect(await overflow(), open).toBeLessThanOrEqual(0);
        const save = await form.getByRole('button', { name: 'Save workflow' }).boundingBox();
        expect(save!.x + save!.width, open).toBeLessThanOrEqual(VIEWPORTS.phone.width);
        if (open === 'Edit workflow escalate_tickets_to_team_lead') await w.screenshot('80-workflow-editor-phone');
        await form.getByRole('button', { name: 'Back' }).click();
      }
    } finally {
      await page.setViewportSize(VIEWPORTS.desktop);
    }
  });

  it('a required field without default stays in the new-record form although the UI config hides it', async () => {
    await page.goto(url(`/a/${app}/data/note/new`));
    await page.getByLabel('title *').fill('Hidden but needed');
    const description = page.getByLabel('description *');
    await description.waitFor();
    expect(await page.getByLabel('remark').count()).toBe(0);
    await w.screenshot('81-record-hidden-required');
    await description.fill('Filled in');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/data\/note$/);
    const saved = (await server.client.get(api('/note?filter[title]=Hidden but needed'), { token })).body.data;
    expect(saved).toMatchObject([{ title: 'Hidden but needed', description: 'Filled in' }]);
    // an existing record keeps the UI config: the field is not offered for editing
    await page.goto(url(`/a/${app}/data/note/${saved[0].id}`));
    await page.getByLabel('title *').waitFor();
    expect(await page.getByLabel('description *').count()).toBe(0);
  });

  it('closing a dialog (Escape, Cancel, ✕) returns focus to the control that opened it', async () => {
    const r = await server.client.post(api('/ticket'), { token, body: { title: 'Focus me', priority: 'low' } });
    await page.goto(url(`/a/${app}/data/ticket/${r.body.data.id}`));
    const del = page.getByRole('button', { name: 'Delete' });
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? document.activeElement?.tagName);
    const dialog = page.getByRole('dialog', { name: 'Delete this ticket?' });

    await del.click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(focused).toBe('Delete');

    await del.click();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(focused).toBe('Delete');

    await page.goto(url(`/a/${app}/access`));
    const opener = page.getByRole('button', { name: 'New user' });
    await opener.click();
    const users = page.getByRole('dialog', { name: 'New user' });
    await users.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => users.count()).toBe(0);
    await expect.poll(focused).toBe('New user');
  });
});
