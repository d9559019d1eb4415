import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sparticuz from '@sparticuz/chromium';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startTestServer, type TestServer } from './server.js';

/**
 * Headless Chromium for end-to-end tests. The browser binary ships inside the
 * `@sparticuz/chromium` npm package (installed by `npm ci` from the lock file), so a fresh
 * machine needs no browser download at run time; it is unpacked once into the temp folder.
 */

/** Screenshots and other test output; gitignored. */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, '../../test-artifacts');

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

// Without the background-networking flags Chromium keeps trying to reach Google's services,
// which this machine's closed network refuses many times a second.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Unpacks the browser into the temp folder unless it is there already; returns its path. */
export function prepareChromium(): Promise<string> {
  return sparticuz.executablePath();
}

/** Launches Chromium; playwright gives it a fresh user-data-dir. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = await prepareChromium();
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /**
   * Console messages of type error and uncaught page errors, in order. Chromium's own line for an
   * API answer with a 4xx status ("Failed to load resource …") is not here but in `httpErrors`:
   * the console shows such answers to the user on purpose.
   */
  consoleErrors: string[];
  /** Same-origin responses with status >= 400, as "<status> <method> <path>". */
  httpErrors: string[];
  /** Every request the page tried to send to an origin other than `origin` (they are aborted). */
  foreignRequests: string[];
  /**
   * Controls without an accessible name (spec/console.md: every control has a label), found on the
   * pages screenshotted, as "<screenshot>: <tag> <html>".
   */
  unlabelled: string[];
  /**
   * Screenshots the page at 1280×800 and 390×844 into test-artifacts/screenshots/<name>-{desktop,phone}.png
   * and records the page's unlabelled controls.
   */
  screenshot(name: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A new browser context and page watched for console errors and requests leaving `origin`.
 * Requests to other origins are recorded and aborted, so a test never touches the network.
 */
export async function openWatchedPage(browser: Browser, origin: string): Promise<WatchedPage> {
  const allowed = new URL(origin).origin;
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop, acceptDownloads: true });
  const consoleErrors: string[] = [];
  const httpErrors: string[] = [];
  const foreignRequests: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url, allowed)) return route.continue();
    foreignRequests.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) return;
    consoleErrors.push(`${msg.text()} @ ${msg.location().url}`);
  });
  page.on('response', (res) => {
    if (res.status() < 400 || !isLocal(res.url(), allowed)) return;
    const u = new URL(res.url());
    httpErrors.push(`${res.status()} ${res.request().method()} ${u.pathname}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  const unlabelled: string[] = [];

  return {
    context,
    page,
    consoleErrors,
    httpErrors,
    foreignRequests,
    unlabelled,
    async screenshot(name) {
      for (const c of await unlabelledControls(page)) unlabelled.push(`${name}: ${c}`);
      const dir = join(ARTIFACTS_DIR, 'screenshots');
      await mkdir(dir, { recursive: true });
      const before = page.viewportSize() ?? VIEWPORTS.desktop;
      const paths: string[] = [];
      for (const [label, size] of Object.entries(VIEWPORTS)) {
        await page.setViewportSize(size);
        // let layout settle after the resize (media queries, resize observers)
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
        const path = join(dir, `${name}-${label}.png`);
        await page.screenshot({ path, fullPage: false });
        paths.push(path);
      }
      await page.setViewportSize(before);
      return paths;
    },
    async close() {
      await context.close();
    },
  };
}

function isLocal(url: string, origin: string): boolean {
  if (url.startsWith('data:') || url.startsWith('blob:') || url.startsWith('about:')) return true;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

/**
 * Visible form controls and buttons with no accessible name: an approximation of the accessibility
 * tree's name (aria-labelledby, aria-label, a <label>, a button's text or an input's title) that is
 * enough to catch a control a screen reader would announce only by its role.
 */
async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const controls = document.querySelectorAll<HTMLElement>(
      'input:not([type=hidden]), select, textarea, button, [role=button], [role=combobox], [role=tab], a[href]',
    );
    for (const el of controls) {
      if (!el.checkVisibility?.() && el.getClientRects().length === 0) continue;
      const named =
        (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).some((id) => (document.getElementById(id)?.textContent ?? '').trim() !== '') ||
        (el.getAttribute('aria-label') ?? '').trim() !== '' ||
        ('labels' in el && ((el as HTMLInputElement).labels?.length ?? 0) > 0) ||
        (el.getAttribute('title') ?? '').trim() !== '' ||
        (!/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) && (el.textContent ?? '').trim() !== '') ||
        (el instanceof HTMLInputElement && /^(submit|button|reset)$/.test(el.type) && el.value.trim() !== '');
      if (!named) out.push(`${el.tagName.toLowerCase()} ${el.outerHTML.slice(0, 120)}`);
    }
    return out;
  });
}

/** Signs the console in as the platform admin from its login page and waits for the list of apps. */
export async function signInAsPlatform(page: Page, origin: string, who: { platformEmail: string; platformPassword: string }): Promise<void> {
  await page.goto(`${origin}/admin/login`);
  await page.getByLabel('Email').fill(who.platformEmail);
  await page.getByLabel('Password').fill(who.platformPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/admin\/apps$/);
}

/** What a console suite starts with: a server holding one new app, a browser, and a create helper for that app. */
export interface ConsoleSuite {
  server: TestServer;
  browser: Browser;
  app: string;
  token: string;
  /** Creates through the app's API (`/_admin/entities`, `/ticket`, …), expecting 201; answers the created `data`. */
  post(path: string, body: unknown): Promise<any>;
}

export async function startConsoleSuite(): Promise<ConsoleSuite> {
  const [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  const { name: app, token } = await server.createApp();
  const post = async (path: string, body: unknown) => {
    const r = await server.client.post(`/api/${app}${path}`, { token, body });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.data;
  };
  return { server, browser, app, token, post };
}

/** A watched page signed in as the platform admin; each of its steps waits at most 20 s. */
export async function openSignedInPage(browser: Browser, server: TestServer): Promise<WatchedPage> {
  const w = await openWatchedPage(browser, server.rocket.url);
  w.page.setDefaultTimeout(20_000);
  await signInAsPlatform(w.page, server.rocket.url, server.config);
  return w;
}

/** What every console test ends with: no console error, nothing fetched from another origin, every control labelled. */
export function expectCleanPage(w: WatchedPage): void {
  expect(w.consoleErrors).toEqual([]);
  expect(w.foreignRequests).toEqual([]);
  expect(w.unlabelled).toEqual([]);
}
