import { mkdir } from 'node:fs/promises';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage, openSignedInPage, startConsoleSuite, VIEWPORTS, type WatchedPage } from '../support/browser.js';
import type { TestServer } from '../support/server.js';

/**
 * The thirteenth console audit: every page at 390×844 (spec/console.md, Pages: works on a phone).
 * On each page the document does not scroll sideways, a table scrolls inside its own box, an open
 * dialog lies inside the screen with its main button reachable, and no input is squeezed to a sliver;
 * the same pages at 1280×800 keep their desktop layout. One server, one browser, one page for all of it.
 */

/** Screenshots to look at by hand; not test output anyone keeps. */
const SHOTS = '/tmp/phone-shots';

interface Layout {
  viewport: number;
  docWidth: number;
  /** Outermost elements that stick out past the right edge of the screen, unclipped: why the page scrolls. */
  overflowing: string[];
  /** Tables with no sideways scroller of their own inside the screen. */
  unscrolled: string[];
  /** Text inputs and selects narrower than 120 px. */
  squeezed: string[];
  /** Open dialogs whose box leaves the screen or whose content scrolls sideways inside them. */
  dialogs: { name: string; left: number; right: number; scrollsSideways: boolean }[];
}

/** How the page is laid out now: what sticks out, what squeezes, where tables and dialogs sit. */
function measure(page: Page): Promise<Layout> {
  return page.evaluate(() => {
    const vw = window.innerWidth;
    const visible = (el: Element) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.getAttribute('class') ? `.${el.getAttribute('class')!.trim().split(/\s+/).join('.')}` : ''}${
        el.getAttribute('aria-label') ? `[${el.getAttribute('aria-label')}]` : ''
      } ${Math.round(el.getBoundingClientRect().width)}px`;
    const clipper = (el: Element) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        if (p.tagName === 'DIALOG') return p;
        if (getComputedStyle(p).overflowX !== 'visible') return p;
      }
      return null;
    };
    const sticksOut = (el: Element) => {
      if (!visible(el)) return false;
      const r = el.getBoundingClientRect();
      if (r.right <= vw + 1) return false;
      const c = clipper(el);
      return !c || c.getBoundingClientRect().right > vw + 1;
    };
    const overflowing: string[] = [];
    for (const el of document.body.querySelectorAll('*')) {
      if (sticksOut(el) && !(el.parentElement && sticksOut(el.parentElement))) overflowing.push(name(el));
    }
    // a word too long to wrap runs out of its box without making the box wider
    const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let n = texts.nextNode(); n; n = texts.nextNode()) {
      const el = n.parentElement!;
      range.selectNodeContents(n);
      if (range.getBoundingClientRect().right <= vw + 1 || !visible(el)) continue;
      const c = clipper(el);
      if (!c || c.getBoundingClientRect().right > vw + 1) overflowing.push(`text "${n.textContent!.trim().slice(0, 40)}" in ${name(el)}`);
    }
    const unscrolled: string[] = [];
    for (const t of document.querySelectorAll('table')) {
      if (!visible(t)) continue;
      let box: Element | null = null;
      for (let p = t.parentElement; p && p !== document.body; p = p.parentElement) {
        if (/^(auto|scroll)$/.test(getComputedStyle(p).overflowX)) {
          box = p;
          break;
        }
      }
      const r = box?.getBoundingClientRect();
      if (!r || r.left < -1 || r.right > vw + 1) unscrolled.push(name(t));
    }
    const squeezed: string[] = [];
    for (const el of document.querySelectorAll('input:not([type=checkbox]):not([type=radio]):not([type=hidden]), select, textarea')) {
      if (!visible(el) || getComputedStyle(el).opacity === '0') continue;
      // an inline select (page size, sort) is as wide as its options by design
      if (el.closest('.field.inline')) continue;
      if (el.getBoundingClientRect().width < 120) squeezed.push(name(el));
    }
    const dialogs = [...document.querySelectorAll('dialog[open]')].map((d) => {
      const r = d.getBoundingClientRect();
      return { name: d.getAttribute('aria-label') ?? '', left: r.left, right: r.right, scrollsSideways: d.scrollWidth > d.clientWidth + 1 };
    });
    return { viewport: vw, docWidth: document.scrollingElement!.scrollWidth, overflowing, unscrolled, squeezed, dialogs };
  });
}

describe('admin console, audit fixes (13): every page at 390×844', { timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let app: string;
  let post: (path: string, body: unknown) => Promise<any>;
  let shipmentId: string;
  const run = Date.now().toString(36);
  const url = (p: string) => `${server.rocket.url}/admin/a/${app}${p}`;
  const long =
    'A long description that goes on and on about the parcel, its contents, the route it takes across the country and the people who handle it on the way';

  const settle = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

  /**
   * Asserts the layout checks on what the page shows now, after a screenshot under `name`; soft, so one
   * run lists every page's problems rather than the first.
   */
  const audit = async (name: string) => {
    await settle();
    const height = Math.min(await page.evaluate(() => document.scrollingElement!.scrollHeight), 1800);
    await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true, clip: { x: 0, y: 0, width: page.viewportSize()!.width, height } });
    const l = await measure(page);
    expect.soft(l.docWidth, `${name}: the page scrolls sideways; sticking out: ${l.overflowing.join(' | ')}`).toBeLessThanOrEqual(l.viewport + 1);
    expect.soft(l.unscrolled, `${name}: tables without a scroller of their own`).toEqual([]);
    expect.soft(l.squeezed, `${name}: inputs narrower than 120 px`).toEqual([]);
    for (const d of l.dialogs) {
      expect.soft(d.left, `${name}: dialog ${d.name} starts off screen`).toBeGreaterThanOrEqual(0);
      expect.soft(d.right, `${name}: dialog ${d.name} ends off screen`).toBeLessThanOrEqual(l.viewport);
      expect.soft(d.scrollsSideways, `${name}: dialog ${d.name} scrolls sideways`).toBe(false);
    }
  };

  /** The dialog's main button can be scrolled to and takes a click: it lies inside the screen, nothing covers it. */
  const reachable = async (button: Locator) => {
    await button.scrollIntoViewIfNeeded();
    await button.click({ trial: true, timeout: 5_000 });
    const b = (await button.boundingBox())!;
    const size = page.viewportSize()!;
    expect(b.x).toBeGreaterThanOrEqual(0);
    expect(b.x + b.width).toBeLessThanOrEqual(size.width);
    expect(b.y + b.height).toBeLessThanOrEqual(size.height);
  };

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    const suite = await startConsoleSuite();
    ({ server, browser, app, post } = suite);
    await post('/_admin/entities', {
      name: 'customer',
      table: 'customers',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'name', type: 'string', required: true },
      ],
    });
    await post('/_admin/entities', {
      name: 'shipment',
      table: 'shipments',
      history: true,
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'reference', type: 'string', required: true },
        { name: 'description', type: 'text' },
        { name: 'customer_id', type: 'uuid' },
        { name: 'weight_kg', type: 'decimal', precision: 2 },
        { name: 'pieces', type: 'int' },
        { name: 'fragile', type: 'boolean' },
        { name: 'ship_date', type: 'date' },
        { name: 'delivered_at', type: 'timestamp' },
        { name: 'status', type: 'string', default: 'draft' },
        { name: 'tracking_code', type: 'string' },
        { name: 'extra', type: 'json' },
        { name: 'estimated_delivery_window_in_business_days', type: 'int' },
      ],
    });
    // a long name makes every select that lists the entities wide
    await post('/_admin/entities', {
      name: 'customs_declaration_for_international_shipments',
      table: 'customs_declarations',
      primary_key: { field: 'id', type: 'uuid', generated: true },
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'harmonized_system_commodity_code', type: 'string' },
      ],
    });
    await post('/_admin/relations', { name: 'shipments', type: 'one_to_many', source: 'customer', target: 'shipment', target_key: 'customer_id' });
    await post('/_admin/rules', {
      entity: 'shipment',
      hook: 'before_write',
      type: 'expression',
      definition: {
        expression: "record.pieces < 0 || record.tracking_code == 'nonsense-that-is-rather-long-to-show'",
        message: 'Pieces must not be negative',
      },
    });
    await post('/_admin/state-machines', {
      entity: 'shipment',
      field: 'status',
      active: true,
      definition: {
        initial: 'draft',
        transitions: [
          { from: 'draft', to: 'packed' },
          { from: 'packed', to: 'shipped' },
        ],
      },
    });
    await post('/_admin/workflows', {
      name: 'approve_fragile_shipments_before_they_leave',
      trigger: { type: 'state_change', entity: 'shipment', field: 'status', to: 'packed' },
      context: { record_id: 'trigger.record_id' },
      steps: [{ id: 'review', type: 'approval', on_approve: 'end', on_reject: 'end' }],
    });
    await post('/_admin/users', {
      email: `dispatcher-with-a-long-address-${run}@example.com`,
      password: 'dispatch-pass-1',
      roles: ['dispatcher', 'clerk'],
    });
    await post('/_admin/permissions', {
      entity: 'shipment',
      action: 'read',
      roles: ['dispatcher'],
      conditions: [{ field: 'tracking_code', operator: 'eq', value: 'a-rather-long-tracking-code' }],
    });
    await post('/_admin/invites', { email: `new-colleague-${run}@example.com`, roles: ['dispatcher'] });
    const customer = await post('/customer', { name: 'Northwind Traders' });
    const s = await post('/shipment', {
      reference: `SHP-${run}-0001`,
      description: long,
      customer_id: customer.id,
      weight_kg: '12.50',
      pieces: 3,
      fragile: true,
      ship_date: '2026-03-10',
      delivered_at: '2026-03-12T10:00:00Z',
      tracking_code: 'TRACK-0001-XYZ-LONG-CODE',
      extra: { carrier: 'Acme Freight', dimensions: { w: 30, h: 20, d: 10 } },
    });
    shipmentId = s.id;
    for (let i = 2; i <= 4; i++)
      await post('/shipment', { reference: `SHP-${run}-000${i}`, description: long, pieces: i, tracking_code: `TRACK-000${i}` });
    const r = await server.client.put(`/api/${app}/shipment/${shipmentId}`, {
      token: suite.token,
      body: { description: `${long}, updated`, tracking_code: 'TRACK-0001-XYZ-LONG-CODE-2' },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // added last: no delivery is tried for the writes above
    await post('/_admin/webhooks', {
      entity: 'shipment',
      hook: 'after_write',
      url: 'http://127.0.0.1:9/hooks/shipment-notifications-for-the-dispatch-team',
      method: 'POST',
      async: true,
      retry: { max_attempts: 1, backoff: 'linear' },
    });
    w = await openSignedInPage(browser, server);
    page = w.page;
  });
  afterAll(async () => {
    await w?.close();
    await browser?.close();
    await server?.close();
  });

  it('at 390×844 the schema, data and record pages fit the screen; wide tables scroll inside their box', async () => {
    await page.setViewportSize(VIEWPORTS.phone);
    await page.goto(`${server.rocket.url}/admin/apps`);
    await page.getByRole('list', { name: 'Apps' }).waitFor();
    await audit('apps');
    await page.getByRole('button', { name: 'New app' }).click();
    await audit('apps-new');
    await reachable(page.getByRole('dialog').getByRole('button', { name: 'Create app' }));
    await page.keyboard.press('Escape');

    await page.goto(url('/schema'));
    await page.getByRole('heading', { name: 'Schema', level: 1 }).waitFor();
    await audit('schema');
    await page.goto(url('/schema/entities/shipment'));
    await page.getByRole('form', { name: 'Entity designer' }).waitFor();
    await audit('entity-designer');
    await page.goto(url('/schema/relations/shipments'));
    await page.getByRole('form', { name: 'Relation editor' }).waitFor();
    await audit('relation-editor');

    await page.goto(url('/data'));
    await page.getByRole('list', { name: 'Entities' }).waitFor();
    await audit('data-index');
    await page.goto(url('/data/shipment'));
    const table = page.getByRole('table', { name: 'shipment records' });
    await table.getByText(`SHP-${run}-0001`).waitFor();
    await page.getByRole('button', { name: 'Add filter' }).click();
    await audit('records');
    // the rows are wider than the screen: their own box scrolls, not the page
    expect(await table.evaluate((t) => t.parentElement!.scrollWidth > t.parentElement!.clientWidth)).toBe(true);

    await page.goto(url(`/data/shipment/${shipmentId}`));
    await page.getByRole('form', { name: 'shipment record' }).getByLabel('reference *').waitFor();
    await audit('record-form');
    await page.goto(url('/data/shipment/new'));
    await page.getByRole('form', { name: 'shipment record' }).getByLabel('reference *').waitFor();
    await audit('record-new');
    await page.goto(url(`/data/customer`));
    await page.getByRole('table', { name: 'customer records' }).getByText('Northwind Traders').click();
    await page.getByRole('form', { name: 'customer record' }).getByLabel('name *').waitFor();
    await audit('record-children');

    await page.goto(url(`/data/shipment/${shipmentId}`));
    await page.getByRole('tab', { name: 'History' }).click();
    await page.getByRole('region', { name: 'History' }).getByText('TRACK-0001-XYZ-LONG-CODE-2').waitFor();
    await audit('record-history');
    // an old or new value gets a readable column, not a word per line; the entry's box scrolls instead
    const cells = page.getByRole('region', { name: 'History' }).locator('td.from, td.to');
    for (const width of await cells.evaluateAll((tds) => tds.map((td) => td.getBoundingClientRect().width))) {
      expect(width).toBeGreaterThanOrEqual(120);
    }
    expectCleanPage(w);
  });

  it('at 390×844 the New rule dialog fits the screen and its Save button takes a click', async () => {
    await page.setViewportSize(VIEWPORTS.phone);
    await page.goto(url('/logic'));
    await page.getByRole('table', { name: 'Rules' }).waitFor();
    await audit('rules');
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.waitFor();
    await audit('rule-new');
    // the longer form of an expression rule, too
    await dialog.getByLabel('Rule type').selectOption('expression');
    await audit('rule-new-expression');
    await reachable(dialog.getByRole('button', { name: 'Save rule' }));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page
      .getByRole('table', { name: 'Rules' })
      .getByRole('button', { name: /record\.pieces/ })
      .click();
    const edit = page.getByRole('dialog', { name: 'Edit rule' });
    await edit.waitFor();
    await audit('rule-edit');
    await reachable(edit.getByRole('button', { name: 'Save rule' }));
    await edit.getByRole('button', { name: 'Cancel' }).click();
    expectCleanPage(w);
  });

  it('at 390×844 the state machine, workflow and webhook pages and dialogs fit the screen', async () => {
    await page.setViewportSize(VIEWPORTS.phone);
    await page.goto(url('/logic'));
    await page.getByRole('tab', { name: 'State machines' }).click();
    await page.getByRole('button', { name: 'Edit state machine shipment.status' }).click();
    await page.getByRole('form', { name: 'State machine editor' }).waitFor();
    await audit('state-machine');
    await page.getByRole('tab', { name: 'Workflows' }).click();
    await page.getByRole('button', { name: 'Edit workflow approve_fragile_shipments_before_they_leave' }).click();
    await page.getByRole('form', { name: 'Workflow editor' }).waitFor();
    await audit('workflow');
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByRole('table', { name: 'Webhooks' }).waitFor();
    await audit('webhooks');
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.waitFor();
    await audit('webhook-new');
    await reachable(dialog.getByRole('button', { name: /^(Save|Create)/ }));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expectCleanPage(w);
  });

  it('at 390×844 users, invites, permissions, activity, API, inbox and profile fit the screen', async () => {
    await page.setViewportSize(VIEWPORTS.phone);
    await page.goto(url('/access'));
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await audit('users');
    await page.getByRole('button', { name: 'New user' }).click();
    const user = page.getByRole('dialog', { name: 'New user' });
    await user.waitFor();
    await audit('user-new');
    await reachable(user.getByRole('button', { name: /^(Save|Create)/ }));
    await user.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('tab', { name: 'Invites' }).click();
    await page.getByRole('table', { name: 'Invites' }).waitFor();
    await audit('invites');
    await page.getByRole('tab', { name: 'Permissions' }).click();
    await page.getByRole('table', { name: 'Permission grid' }).waitFor();
    await audit('permissions');
    await page.getByRole('button', { name: 'Edit read policy on shipment for dispatcher' }).click();
    const policy = page.getByRole('dialog', { name: 'read on shipment' });
    await policy.waitFor();
    await audit('policy');
    await reachable(policy.getByRole('button', { name: /^Save/ }));
    await policy.getByRole('button', { name: 'Cancel' }).click();

    await page.goto(url('/activity'));
    await page.getByRole('region', { name: 'Audit log' }).getByText('TRACK-0001-XYZ-LONG-CODE-2').first().waitFor();
    await audit('activity');
    await page.goto(url('/api'));
    await page.getByRole('heading', { name: 'Import', exact: true }).waitFor();
    await audit('api');
    await page.goto(url('/inbox'));
    await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
    await audit('inbox');
    await page.goto(url('/profile'));
    await page.getByRole('region', { name: 'Account' }).waitFor();
    await audit('profile');
    expectCleanPage(w);
  });

  it('at 1280×800 the same pages keep their desktop layout', async () => {
    await page.setViewportSize(VIEWPORTS.desktop);
    const pages: [string, string, () => Promise<unknown>][] = [
      ['schema', '/schema', () => page.getByRole('heading', { name: 'Schema', level: 1 }).waitFor()],
      ['records', '/data/shipment', () => page.getByRole('table', { name: 'shipment records' }).getByText(`SHP-${run}-0001`).waitFor()],
      ['record-form', `/data/shipment/${shipmentId}`, () => page.getByRole('form', { name: 'shipment record' }).getByLabel('reference *').waitFor()],
      ['access', '/access', () => page.getByRole('table', { name: 'Users' }).waitFor()],
      ['activity', '/activity', () => page.getByRole('region', { name: 'Audit log' }).getByText('TRACK-0001-XYZ-LONG-CODE-2').first().waitFor()],
    ];
    for (const [name, path, ready] of pages) {
      await page.goto(url(path));
      await ready();
      await audit(`desktop-${name}`);
    }
    // the sidebar stays beside the content
    const nav = (await page.getByRole('navigation', { name: 'App sections' }).boundingBox())!;
    expect(nav.width).toBeGreaterThan(150);
    await page.goto(url('/logic'));
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New rule' });
    await dialog.waitFor();
    await audit('desktop-rule-new');
    // a wide dialog with its inputs side by side, not one tall column
    expect((await dialog.boundingBox())!.width).toBe(800);
    const entity = (await dialog.getByLabel('Entity').boundingBox())!;
    const hook = (await dialog.getByLabel('Hook').boundingBox())!;
    expect(hook.y).toBe(entity.y);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expectCleanPage(w);
  });
});
