import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { JobState } from '@gtr/core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from './processes.js';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it). Never a downloaded browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no browser at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface DashboardPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors seen so far (a healthy page has none). */
  errors: string[];
  /** JavaScript dialogs (alert, confirm, prompt) that opened; each is dismissed. */
  dialogs: string[];
  close(): Promise<void>;
}

/** Opens `/dashboard` logged in with HTTP Basic (user "ops", password = relay token), as an operator would. */
export async function openDashboard(
  browser: Browser,
  relayUrl: string,
  token: string,
  { width = 1280, height = 800, query = '' } = {},
): Promise<DashboardPage> {
  const context = await browser.newContext({
    viewport: { width, height },
    httpCredentials: { username: 'ops', password: token },
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(5_000);
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(`${relayUrl}/dashboard${query}`);
  // Live once the event stream is subscribed: from then on no change is missed.
  await page.waitForSelector('#live[data-status="live"]');
  return { context, page, errors, dialogs, close: () => context.close() };
}

export const jobRowSelector = (id: string, state?: JobState) =>
  `tr[data-job-id="${id}"]${state ? `[data-state="${state}"]` : ''}`;

/** Waits until the job's row shows `state` (stable hooks: `data-job-id`, `data-state`). */
export async function waitForJobRow(
  page: Page,
  id: string,
  state?: JobState,
  timeout = 5_000,
): Promise<void> {
  await page.waitForSelector(jobRowSelector(id, state), { timeout });
}

/** Waits until a progress bar of the job (`received` or `forwarded`) shows `percent`. */
export async function waitForProgress(
  page: Page,
  id: string,
  bar: 'received' | 'forwarded',
  percent: number,
  timeout = 5_000,
): Promise<void> {
  await page.waitForSelector(`${jobRowSelector(id)} [data-progress="${bar}"][aria-valuenow="${percent}"]`, {
    timeout,
  });
}

// The functions below run in the page. The test project is type-checked without the DOM library,
// so they reach the page's globals through this description of the little they use. (They must be
// functions, not source text: the dashboard's CSP forbids eval, which string predicates need.)

interface PageElement {
  dataset: Record<string, string | undefined>;
  tagName: string;
  id: string;
  classList: Iterable<string>;
  getBoundingClientRect(): { right: number };
}

/** `globalThis` inside the dashboard page, as far as these helpers use it. */
export interface PageGlobals {
  document: { querySelectorAll(selector: string): Iterable<PageElement> };
  innerWidth: number;
  [marker: string]: unknown;
}

/** The job ids of the rows shown, top to bottom. */
export function shownJobIds(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(
      (globalThis as unknown as PageGlobals).document.querySelectorAll('#job-rows tr'),
      (row) => row.dataset.jobId ?? '',
    ),
  );
}

/** Waits until exactly these rows show, in this order. */
export async function waitForRows(page: Page, ids: string[], timeout = 5_000): Promise<void> {
  await page
    .waitForFunction(
      (want) =>
        Array.from(
          (globalThis as unknown as PageGlobals).document.querySelectorAll('#job-rows tr'),
          (row) => row.dataset.jobId,
        ).join(',') === want,
      ids.join(','),
      { timeout },
    )
    .catch(async (error: unknown) => {
      throw new Error(
        `rows ${JSON.stringify(await shownJobIds(page))}, wanted ${JSON.stringify(ids)}: ${error}`,
      );
    });
}

/** Elements that stick out of the window on the right (a page that fits has none). */
export function elementsWiderThanWindow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const page = globalThis as unknown as PageGlobals;
    return Array.from(page.document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > page.innerWidth + 0.5)
      .map((el) => `${el.tagName.toLowerCase()}.${Array.from(el.classList).join('.')}#${el.id}`);
  });
}

/** The client bundles a tool page may load: tus-js-client's and Uppy's, as their packages ship them. */
const CLIENT_BUNDLES: Record<string, string> = {
  '/tus.min.js': path.join(ROOT, 'test/node_modules/tus-js-client/dist/tus.min.js'),
  '/uppy.min.js': path.join(ROOT, 'test/node_modules/uppy/dist/uppy.min.js'),
};

/**
 * A tool's page on an origin of its own (`http://localhost:<port>`, so every request to the relay
 * is cross-origin): serves `page` and the client bundles, opens it with `?relay=&token=`, and
 * resolves with the text of its `#out` once that starts with `done` or `error`.
 */
export async function runToolPage(
  browser: Browser,
  page: string,
  relay: { url: string; token: string },
  timeoutMs = 30_000,
): Promise<string> {
  const tool = http.createServer((req, res) => {
    const bundle = CLIENT_BUNDLES[req.url?.split('?')[0] ?? ''];
    if (bundle) {
      res.setHeader('Content-Type', 'text/javascript');
      fs.createReadStream(bundle).pipe(res);
      return;
    }
    res.setHeader('Content-Type', 'text/html');
    res.end(page);
  });
  await new Promise<void>((resolve) => tool.listen(0, '127.0.0.1', resolve));
  const context = await browser.newContext();
  try {
    const origin = `http://localhost:${(tool.address() as AddressInfo).port}`;
    const tab = await context.newPage();
    await tab.goto(`${origin}/?${new URLSearchParams({ relay: relay.url, token: relay.token })}`);
    await tab.waitForFunction(
      () =>
        /^(done|error)/.test(
          (
            globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }
          ).document.getElementById('out').textContent,
        ),
      undefined,
      { timeout: timeoutMs },
    );
    return (await tab.locator('#out').textContent()) ?? '';
  } finally {
    await context.close();
    tool.close();
  }
}
