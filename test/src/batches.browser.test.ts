import os from 'node:os';
import path from 'node:path';
import {
  BatchRepository,
  BIRTH_STATES,
  batchKeys,
  emptyProgress,
  type JobState,
  type NewJob,
} from '@gtr/core';
import { setJobState } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import type { Browser } from 'playwright-core';
import {
  type DashboardPage,
  launchChromium,
  openDashboard,
  type PageGlobals,
  shownJobIds,
  waitForRows,
} from './support/browser.js';
import { ROOT } from './support/processes.js';

/**
 * Jobs made straight into Redis, many at once (the relay is the one under test, not the import
 * path): each born as its kind is, then put in its state.
 */
async function seed(t: TestRelay, jobs: NewJob[]): Promise<void> {
  const make = async (job: NewJob): Promise<void> => {
    const born = BIRTH_STATES[job.kind][0];
    await t.relay.jobs.create({ ...job, state: born });
    if (job.state !== born) await setJobState(t.relay.jobs, job.id, job.state);
  };
  for (let i = 0; i < jobs.length; i += 500) await Promise.all(jobs.slice(i, i + 500).map(make));
}

const importJob = (
  i: number,
  state: JobState,
  batch: string | null,
  extra: Partial<NewJob> = {},
): NewJob => ({
  id: `imp${String(i).padStart(5, '0')}`,
  kind: 'import',
  state,
  name: `Migrated video ${i}`,
  filename: `${i}.mp4`,
  size: 40_000_000 + i,
  origin_url: `https://cdn.example.com/library/${i}.mp4`,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
  progress: { ...emptyProgress(), video_id: 500_000 + i },
  owner: 'cms',
  batch,
  batch_index: batch ? i : null,
  ...extra,
});

describe('the migrations view and server-side search in a browser, with thousands of jobs', () => {
  let browser: Browser;
  let t: TestRelay;
  let d: DashboardPage | null = null;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    t = await startTestRelay({
      upstream: { url: 'https://api.gcore.com', emulator: false },
      tokens: [{ name: 'ops', role: 'operator', token: 'operator-token-0123456789abcdef' }],
    });
  });
  afterEach(async () => {
    const seen = d ? { errors: d.errors, dialogs: d.dialogs } : null;
    await d?.close();
    d = null;
    await t.close();
    if (seen) expect(seen).toEqual({ errors: [], dialogs: [] });
  });

  it('shows each migration with its progress and failed items, narrows the list to one, retries its failed, exports it, and searches every job at the relay', async () => {
    // The migration started 40 minutes ago, so that its rate and ETA are those of a real one.
    const earlier = new BatchRepository(t.redis, t.prefix, () => Date.now() - 40 * 60_000);
    const spring = await earlier.create({ name: 'Spring catalogue 2025', owner: 'cms' });
    const folder = await t.relay.batches.create({ name: 'Folder /media/2024', owner: 'cms' });
    const FAILED = [17, 117, 417, 717, 917, 1117, 1317, 1517, 1717, 1917, 1957, 1997];
    const jobs: NewJob[] = [];
    // 3 000 older jobs outside any batch, then a migration of 2 000 and a folder of 20 uploads.
    for (let i = 0; i < 3_000; i++) jobs.push(importJob(10_000 + i, 'ready', null));
    for (let i = 0; i < 2_000; i++) {
      const state: JobState = FAILED.includes(i) ? 'failed' : i < 1_500 ? 'ready' : 'processing';
      jobs.push(importJob(i, state, spring.id));
    }
    for (let i = 0; i < 20; i++) {
      jobs.push({
        ...importJob(20_000 + i, i < 5 ? 'receiving' : 'queued', folder.id),
        kind: 'upload',
        origin_url: null,
        name: `Holiday clip ${i}`,
      });
    }
    await seed(t, jobs);
    // Failures carry Gcore's words (set after creation: a created job has no error).
    for (const i of FAILED) {
      await t.relay.jobs.update(importJob(i, 'failed', spring.id).id, {
        error: {
          code: 'GCORE_PROCESSING_FAILED',
          message: `File Invalid: moov atom not found (${i})`,
          retryable: true,
        },
      });
    }

    // Begun 40 minutes before the page opens, however long this machine took to write 5 000 jobs:
    // the pace below is exact to a tenth, a window of seconds.
    await t.redis.hset(batchKeys(t.prefix, spring.id).hash, 'created_at', Date.now() - 40 * 60_000);
    d = await openDashboard(browser, t.url, 'operator-token-0123456789abcdef', { height: 1000 });
    const { page } = d;
    const card = page.locator(`li.batch[data-batch-id="${spring.id}"]`);
    await card
      .locator('.batch-summary:text-is("1,493 of 2,000 ready · 12 failed · 495 on the way")')
      .waitFor();
    // 1 505 final in 40 minutes: about 37.6 a minute, 495 to go.
    await card.locator('.batch-pace:text-is("37.6/min · ETA 13 min")').waitFor();
    // Its failed items with Gcore's messages (the first five; the export has all twelve).
    await card
      .locator('.batch-failed-message:has-text("File Invalid: moov atom not found (1997)")')
      .waitFor();
    await card.locator('.batch-failed-more:text-is("and 7 more in the export")').waitFor();
    expect(await card.locator('.batch-failed-message').count()).toBe(5);
    expect(await card.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('1493');
    await page
      .locator(
        `li.batch[data-batch-id="${folder.id}"] .batch-summary:text-is("0 of 20 ready · 20 on the way")`,
      )
      .waitFor();
    // Counts over every job, not the page loaded.
    await page.waitForSelector('[data-count-for="all"]:text-is("5,020")');

    // Server-side search: an old job, far beyond the 100 loaded, found by its name.
    await page.locator('#search').fill('Migrated video 10042');
    await waitForRows(page, ['imp10042']);
    await page.locator('#list-count:text-is("1 match")').waitFor();
    // By a prefix of its URL's words and its Gcore video id too.
    await page.locator('#search').fill('cdn library 1004');
    await page.waitForFunction(
      () =>
        Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('#job-rows tr'))
          .length === 11,
    );
    await page.locator('#search').fill('510042');
    await waitForRows(page, ['imp10042']);
    expect(new URL(page.url()).searchParams.get('q')).toBe('510042');
    await page.locator('#search').fill('');

    // "Failed (12)": the list narrows to the migration's failed jobs, newest first.
    await card.getByRole('button', { name: 'Show the failed jobs of Spring catalogue 2025' }).click();
    const failedIds = [...FAILED].reverse().map((i) => importJob(i, 'failed', spring.id).id);
    await waitForRows(page, failedIds);
    expect(new URL(page.url()).searchParams.get('batch')).toBe(spring.id);
    await page
      .locator('#batch-filter:not([hidden]) #batch-filter-name:text-is("Spring catalogue 2025")')
      .waitFor();
    await page.screenshot({
      path: process.env.DASHBOARD_SCREENSHOT
        ? path.join(ROOT, 'docs', 'dashboard-batches.png')
        : path.join(os.tmpdir(), 'dashboard-batches.png'),
    });

    // The export, as the link downloads it: one row per job of the migration.
    const href = await card
      .getByRole('link', { name: 'Export Spring catalogue 2025 as CSV' })
      .getAttribute('href');
    const csv = await page.evaluate(async (url) => (await fetch(url)).text(), href!);
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(2_001);
    expect(lines.filter((l) => l.includes(',failed,'))).toHaveLength(12);

    // Retry failed: exactly those twelve go back to the queue; the card follows.
    const retried = page.waitForResponse(
      (res) => res.url().endsWith(`/api/batches/${spring.id}/retry`) && res.request().method() === 'POST',
    );
    await card.getByRole('button', { name: 'Retry the failed jobs of Spring catalogue 2025' }).click();
    expect(await (await retried).json()).toMatchObject({ retried: 12, refused: [] });
    await card
      .locator('.batch-summary:text-is("1,493 of 2,000 ready · 507 on the way")')
      .waitFor({ timeout: 10_000 });
    expect(await card.getByRole('button', { name: /Retry the failed/ }).count()).toBe(0);
    await page
      .getByRole('status')
      .filter({ hasText: 'Retrying 12 failed jobs of “Spring catalogue 2025”' })
      .waitFor();
    const counts = (await t.relay.batches.get(spring.id))!.counts;
    expect([counts.failed, counts.queued, counts.ready]).toEqual([0, 12, 1_493]);
    // The list (failed of this batch) empties as they move on.
    await waitForRows(page, []);
    expect(await shownJobIds(page)).toEqual([]);
  }, 120_000);

  it('stays responsive while 20 000 jobs change state (the longest task is reported)', async () => {
    const batch = await t.relay.batches.create({ name: 'Twenty thousand', owner: 'cms' });
    const jobs = Array.from({ length: 20_000 }, (_, i) => importJob(i, 'processing', batch.id));
    await seed(t, jobs);
    d = await openDashboard(browser, t.url, 'operator-token-0123456789abcdef');
    const { page } = d;
    await page.waitForSelector('[data-count-for="processing"]:text-is("20,000")');
    // The longest the page's main thread was busy at a stretch: the gap between the ticks of a
    // 10 ms interval, less those 10 ms.
    await page.evaluate(() => {
      const g = globalThis as unknown as { longest: number; setInterval: typeof setInterval };
      g.longest = 0;
      let last = performance.now();
      g.setInterval(() => {
        const now = performance.now();
        g.longest = Math.max(g.longest, now - last - 10);
        last = now;
      }, 10);
    });
    // The measure sees a busy stretch at all (a loop of 120 ms), then starts from zero.
    await page.evaluate(() => {
      const end = performance.now() + 120;
      while (performance.now() < end);
    });
    await page.waitForFunction(() => (globalThis as unknown as { longest: number }).longest >= 100);
    await page.evaluate(() => {
      (globalThis as unknown as { longest: number }).longest = 0;
    });
    for (let i = 0; i < jobs.length; i += 500) {
      await Promise.all(
        jobs.slice(i, i + 500).map((j) => t.relay.jobs.transition(j.id, 'ready', ['processing'])),
      );
    }
    await page.waitForSelector('[data-count-for="ready"]:text-is("20,000")', { timeout: 30_000 });
    await page
      .locator(`li.batch[data-batch-id="${batch.id}"] .batch-summary:text-is("20,000 of 20,000 ready")`)
      .waitFor({ timeout: 15_000 });
    const longest = await page.evaluate(() => (globalThis as unknown as { longest: number }).longest);
    // A timing is a benchmark, not an assertion: reported for the record.
    process.stdout.write(
      `dashboard while 20 000 jobs changed state: longest task ${Math.round(longest)} ms\n`,
    );
  }, 180_000);
});
