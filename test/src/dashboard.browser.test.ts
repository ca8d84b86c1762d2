import os from 'node:os';
import path from 'node:path';
import {
  emptyProgress,
  type JobError,
  type JobKind,
  type JobState,
  type JobVideo,
  StatsCounters,
} from '@gtr/core';
import { setJobState } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import type { Browser } from 'playwright-core';
import {
  type DashboardPage,
  elementsWiderThanWindow,
  jobRowSelector,
  launchChromium,
  openDashboard,
  type PageGlobals,
  waitForJobRow,
  waitForProgress,
  waitForRows,
} from './support/browser.js';
import { ROOT } from './support/processes.js';

interface Seed {
  id: string;
  name: string;
  state: JobState;
  kind?: JobKind;
  size?: number | null;
  bytes_received?: number;
  bytes_forwarded?: number;
  video?: JobVideo | null;
  attempts?: number;
  error?: JobError | null;
  minutesAgo?: number;
  owner?: string;
}

describe('jobs dashboard in a browser', () => {
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
    t = await startTestRelay({ upstream: { url: 'https://api.gcore.com', emulator: false } });
  });
  afterEach(async () => {
    // A healthy page logs no errors and opens no JavaScript dialog, whatever the test did.
    const seen = d ? { errors: d.errors, dialogs: d.dialogs } : null;
    await d?.close();
    d = null;
    await t.close();
    if (seen) expect(seen).toEqual({ errors: [], dialogs: [] });
  });

  async function seed(job: Seed): Promise<void> {
    const kind = job.kind ?? 'upload';
    const size = job.size === undefined ? (kind === 'upload' ? 100_000_000 : null) : job.size;
    await t.relay.jobs.create({
      id: job.id,
      kind,
      // Born as its kind is (BIRTH_STATES), then moved to the state the test wants.
      state: kind === 'upload' ? 'receiving' : 'queued',
      name: job.name,
      filename: kind === 'upload' ? `${job.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.mp4` : null,
      size,
      origin_url: kind === 'import' ? `https://media.example.com/archive/${job.id}.mp4` : null,
      request: { description: null, filetype: null, fields: {}, callback_url: null, via: 'gcore' },
      progress: { ...emptyProgress(), token: 'gcore-tus-secret' },
      created_at: new Date(Date.now() - (job.minutesAgo ?? 1) * 60_000).toISOString(),
      owner: job.owner ?? null,
    });
    await setJobState(t.relay.jobs, job.id, job.state, {
      bytes_received:
        job.bytes_received ?? (kind === 'upload' && job.state !== 'receiving' ? (size ?? 0) : 0),
      bytes_forwarded: job.bytes_forwarded ?? 0,
      video: job.video ?? null,
      attempts: job.attempts ?? (job.state === 'receiving' || job.state === 'queued' ? 0 : 1),
      error: job.error ?? null,
    });
  }

  const video = (id: number, status: JobVideo['status']): JobVideo => ({
    id,
    status,
    error: null,
    hls_url: null,
    slug: null,
  });

  it('lists jobs and follows one through every state without reloading the page', async () => {
    await seed({ id: 'other', name: 'Quarterly all-hands', state: 'ready', video: video(7, 'ready') });
    await seed({
      id: 'live',
      name: 'Launch keynote',
      state: 'receiving',
      size: 10_000_000,
      bytes_received: 0,
    });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    await waitForJobRow(page, 'other', 'ready');
    await waitForJobRow(page, 'live', 'receiving');
    // A reload or navigation would drop this marker.
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).sameDocument = true;
    });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });

    const jobs = t.relay.jobs;
    await jobs.update('live', { bytes_received: 5_000_000 });
    await waitForProgress(page, 'live', 'received', 50);
    await setJobState(jobs, 'live', 'queued', { bytes_received: 10_000_000 });
    await waitForJobRow(page, 'live', 'queued');
    await waitForProgress(page, 'live', 'received', 100);
    await setJobState(jobs, 'live', 'creating', { attempts: 1 });
    await waitForJobRow(page, 'live', 'creating');
    await setJobState(jobs, 'live', 'uploading', { video: video(42, 'empty') });
    await waitForJobRow(page, 'live', 'uploading');
    for (const percent of [25, 60, 100]) {
      await jobs.update('live', { bytes_forwarded: percent * 100_000 });
      await waitForProgress(page, 'live', 'forwarded', percent);
    }
    await setJobState(jobs, 'live', 'processing', { video: video(42, 'pending') });
    await waitForJobRow(page, 'live', 'processing');
    await page.waitForSelector(`${jobRowSelector('live')} .col-gcore >> text=Transcoding`);
    await setJobState(jobs, 'live', 'ready', { video: video(42, 'ready') });
    await waitForJobRow(page, 'live', 'ready');
    // The header's counts follow too.
    await page.waitForSelector('[data-count-for="ready"]:text-is("2")');

    expect(navigations).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sameDocument)).toBe(true);
    expect(await page.locator('#live').getAttribute('data-status')).toBe('live');
  });

  it('retries a failed job from its Retry button and shows it queued', async () => {
    await seed({
      id: 'broken',
      name: 'Corrupt interview',
      kind: 'import',
      state: 'failed',
      attempts: 3,
      error: { code: 'GCORE_VIDEO_ERROR', message: 'File Invalid', retryable: false },
      video: { ...video(77, 'error'), error: 'File Invalid' },
    });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    const row = page.locator(jobRowSelector('broken', 'failed'));
    await row.locator('.job-error >> text=File Invalid').waitFor();
    const retried = page.waitForResponse(
      (res) => res.url().endsWith('/api/jobs/broken/retry') && res.request().method() === 'POST',
    );
    await row.getByRole('button', { name: 'Retry Corrupt interview' }).click();
    expect((await retried).status()).toBe(202);
    await waitForJobRow(page, 'broken', 'queued');
    expect((await t.relay.jobs.get('broken'))?.state).toBe('queued');
    // An import Gcore pulls itself goes back on the light import queue.
    expect(await t.queues.import.getJob('broken')).toBeDefined();
    await page.getByRole('status').filter({ hasText: 'Retrying “Corrupt interview”' }).waitFor();
  });

  it('cancels a queued job after asking, and shows it canceled', async () => {
    await seed({ id: 'waiting', name: 'Webinar recording', kind: 'import', state: 'queued' });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    const row = page.locator(jobRowSelector('waiting', 'queued'));
    await row.getByRole('button', { name: 'Cancel Webinar recording' }).click();
    const dialog = page.locator('#cancel-dialog[open]');
    await dialog.waitFor();
    expect(await dialog.locator('#cancel-name').textContent()).toBe('Webinar recording');
    const canceled = page.waitForResponse(
      (res) => res.url().endsWith('/api/jobs/waiting') && res.request().method() === 'DELETE',
    );
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    expect((await canceled).status()).toBe(202);
    await waitForJobRow(page, 'waiting', 'canceled');
    expect(await page.locator(`${jobRowSelector('waiting')} button`).count()).toBe(0);
    expect((await t.relay.jobs.get('waiting'))?.state).toBe('canceled');
  });

  it('narrows the list by state, by kind and by a search for name or id', async () => {
    await seed({ id: 'f-1', name: 'Alpha failed one', state: 'failed', error: failure('Gcore timed out') });
    await seed({
      id: 'f-2',
      name: 'Beta failed two',
      kind: 'import',
      state: 'failed',
      error: failure('404'),
    });
    await seed({ id: 'r-1', name: 'Alpha ready', state: 'ready', video: video(1, 'ready') });
    await seed({ id: 'q-1', name: 'Gamma queued', kind: 'import', state: 'queued' });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    const waitForShown = (ids: string[]) => waitForRows(page, ids);
    await waitForShown(['q-1', 'r-1', 'f-2', 'f-1']);

    await page.locator('[data-filter-state="failed"]').click();
    await waitForShown(['f-2', 'f-1']);
    expect(new URL(page.url()).searchParams.get('state')).toBe('failed');
    expect(await page.locator('[data-filter-state="failed"]').getAttribute('aria-pressed')).toBe('true');

    await page.locator('#filter-kind').selectOption('import');
    await waitForShown(['f-2']);
    await page.locator('#filter-kind').selectOption('');
    await page.locator('[data-filter-state=""]').click();
    await waitForShown(['q-1', 'r-1', 'f-2', 'f-1']);

    await page.locator('#search').fill('alpha');
    await waitForShown(['r-1', 'f-1']);
    await page.locator('#search').fill('q-1');
    await waitForShown(['q-1']);
    await page.locator('#search').fill('no such job');
    await waitForShown([]);
    await page.locator('#empty:not([hidden]) >> text=No jobs match').waitFor();
    await page.locator('#search').fill('');
    await waitForShown(['q-1', 'r-1', 'f-2', 'f-1']);
  });

  it("shows each job's owner and narrows the list to one owner", async () => {
    await seed({ id: 'o-1', name: 'Camera upload', state: 'queued', owner: 'camera-app' });
    await seed({ id: 'o-2', name: 'CMS upload', state: 'queued', owner: 'cms' });
    await seed({ id: 'o-3', name: 'Another camera upload', state: 'ready', owner: 'camera-app' });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    await waitForRows(page, ['o-3', 'o-2', 'o-1']);
    expect(await page.locator('tr[data-job-id="o-2"] .meta-owner').textContent()).toBe('cms');
    // The filter lists the configured tokens' names plus any asked for in the URL.
    await page.goto(`${t.url}/dashboard?owner=camera-app`);
    await waitForRows(page, ['o-3', 'o-1']);
    expect(await page.locator('#filter-owner').inputValue()).toBe('camera-app');
    await page.locator('#filter-owner').selectOption('');
    await waitForRows(page, ['o-3', 'o-2', 'o-1']);
    expect(new URL(page.url()).searchParams.get('owner')).toBeNull();
  });

  it("shows each tool's open uploads and declared bytes against its quota", async () => {
    await t.close();
    t = await startTestRelay({
      tokens: [
        { name: 'camera-app', token: 'token-camera', role: 'tool' },
        { name: 'cms', token: 'token-cms', role: 'tool' },
        { name: 'ops', token: 'token-ops', role: 'operator' },
      ],
      quota: { maxOpenUploads: 2, maxOpenBytes: 10_000_000, diskReserveBytes: 0 },
    });
    for (const length of [3_000_000, 6_000_000]) {
      const res = await fetch(`${t.url}/files/`, {
        method: 'POST',
        headers: {
          Authorization: 'Bearer token-camera',
          'Tus-Resumable': '1.0.0',
          'Upload-Length': String(length),
          'Upload-Metadata': `filename ${Buffer.from('clip.mp4').toString('base64')}`,
        },
      });
      expect(res.status).toBe(201);
    }
    d = await openDashboard(browser, t.url, 'token-ops');
    const { page } = d;
    const row = (owner: string) => page.locator(`#open-upload-rows tr[data-owner="${owner}"]`);
    await row('camera-app').waitFor();
    expect(await row('camera-app').locator('td').allTextContents()).toEqual([
      'camera-app',
      '2 of 2',
      '9.00 MB of 10.0 MB',
    ]);
    expect(await row('cms').locator('td').allTextContents()).toEqual(['cms', '0 of 2', '0 B of 10.0 MB']);
    // At its limit a tool's line stands out.
    expect(await row('camera-app').getAttribute('class')).toBe('open-uploads-near');
    expect(await row('cms').getAttribute('class')).toBe('');
    expect(await page.locator('#open-uploads-limits').textContent()).toContain('at most 2 open uploads');
  });

  it('shows names and errors made of markup as plain text and runs none of it', async () => {
    const name = '<img src=x onerror=alert(1)>';
    await seed({
      id: 'xss',
      name,
      state: 'failed',
      error: { code: 'GCORE_ERROR', message: '<script>alert(2)</script>', retryable: false },
    });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    const row = page.locator(jobRowSelector('xss'));
    await row.waitFor();
    expect(await row.locator('.job-name').textContent()).toBe(name);
    expect(await row.locator('.job-error-message').textContent()).toBe('<script>alert(2)</script>');
    // Live updates take the same path.
    const svg = '<svg onload=alert(3)><b>bold</b>';
    await t.relay.jobs.update('xss', { name: svg });
    await page.locator(`${jobRowSelector('xss')} .job-name`, { hasText: svg }).waitFor();
    expect(await row.locator('.job-name').textContent()).toBe(svg);
    expect(await page.locator('tbody img, tbody script, tbody svg, tbody b').count()).toBe(0);
    await row.getByRole('button', { name: `Retry ${svg}` }).isVisible();
    expect(d.dialogs).toEqual([]);
  });

  it('warns loudly when the relay forwards to the built-in emulator', async () => {
    await t.close();
    t = await startTestRelay({ upstream: { url: 'http://127.0.0.1:8090', emulator: true } });
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    await page.locator('#upstream-url:text-is("http://127.0.0.1:8090")').waitFor();
    await page.locator('#upstream-emulator:visible').waitFor();
    expect(await page.locator('#emulator-banner').isVisible()).toBe(true);
  });

  it('shows which Gcore API it forwards to, without an emulator warning', async () => {
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    await page.locator('#upstream-url:text-is("https://api.gcore.com")').waitFor();
    expect(await page.locator('#upstream-emulator').isVisible()).toBe(false);
    expect(await page.locator('#emulator-banner').isVisible()).toBe(false);
  });

  it('fits a narrow window: one card per job, nothing wider than the screen', async () => {
    await seed({
      id: 'n-1',
      name: 'A long name for a phone-sized window test video',
      state: 'uploading',
      bytes_forwarded: 30_000_000,
    });
    await seed({
      id: 'n-2',
      kind: 'import',
      name: 'Failed one',
      state: 'failed',
      error: failure('Gcore answered 503 five times'),
    });
    d = await openDashboard(browser, t.url, t.token, { width: 390, height: 800 });
    const { page } = d;
    await waitForJobRow(page, 'n-2', 'failed');
    await page.screenshot({ path: path.join(os.tmpdir(), 'dashboard-narrow.png'), fullPage: true });
    expect(await elementsWiderThanWindow(page)).toEqual([]);
    // Cards: the job's name spans the card and its state sits below it, not beside it.
    const row = page.locator(jobRowSelector('n-2'));
    const nameBox = (await row.locator('.col-job').boundingBox())!;
    const stateBox = (await row.locator('.col-state').boundingBox())!;
    expect(stateBox.y).toBeGreaterThanOrEqual(nameBox.y + nameBox.height - 1);
    expect(nameBox.width).toBeGreaterThan(300);
    await page.getByRole('button', { name: 'Retry Failed one' }).click();
    await waitForJobRow(page, 'n-2', 'queued');
  });

  it('renders a realistic mix of jobs at 1280×800 (screenshot: docs/dashboard.png)', async () => {
    const gb = 1_000_000_000;
    const mix: Seed[] = [
      {
        id: 'k9Xq2mRt',
        name: 'Product launch keynote 2025',
        state: 'uploading',
        size: 4.2 * gb,
        bytes_forwarded: 2.73 * gb,
        video: video(884213, 'empty'),
        minutesAgo: 6,
      },
      {
        id: 'p3Lw8vNe',
        name: 'Onboarding – Module 3: Security basics',
        state: 'receiving',
        size: 1.8 * gb,
        bytes_received: 0.62 * gb,
        minutesAgo: 2,
      },
      {
        id: 'b7Ty4cQz',
        name: 'Customer interview – ACME Corp',
        state: 'processing',
        size: 860_000_000,
        bytes_forwarded: 860_000_000,
        video: video(884207, 'pending'),
        minutesAgo: 14,
      },
      {
        id: 'z1Hd6sKa',
        name: 'Webinar: Scaling video delivery',
        kind: 'import',
        state: 'creating',
        minutesAgo: 3,
      },
      { id: 'm5Rc9pWu', name: 'Town hall – March', state: 'queued', size: 2.3 * gb, minutesAgo: 4 },
      {
        id: 'e2Gv7nXb',
        name: 'Support macro walkthrough',
        state: 'failed',
        size: 310_000_000,
        bytes_forwarded: 120_000_000,
        attempts: 8,
        video: video(884199, 'empty'),
        error: {
          code: 'GCORE_RATE_LIMITED',
          message: 'Gcore kept answering 429 Too Many Requests; gave up after 8 attempts',
          retryable: true,
        },
        minutesAgo: 38,
      },
      {
        id: 'q8Ju3fLs',
        name: 'Brand film (director’s cut)',
        state: 'ready',
        size: 3.1 * gb,
        bytes_forwarded: 3.1 * gb,
        video: video(884170, 'ready'),
        minutesAgo: 95,
      },
      {
        id: 'w4Np1yDm',
        name: 'Archive: 2019 conference day 2',
        kind: 'import',
        state: 'failed',
        attempts: 1,
        video: { ...video(884188, 'error'), error: 'File Invalid' },
        error: { code: 'GCORE_VIDEO_ERROR', message: 'File Invalid', retryable: false },
        minutesAgo: 52,
      },
      {
        id: 'c6Bz5tHr',
        name: 'Release notes 4.12 screencast',
        state: 'ready',
        size: 420_000_000,
        bytes_forwarded: 420_000_000,
        video: video(884160, 'ready'),
        minutesAgo: 180,
      },
      {
        id: 'u9Ks2gVe',
        name: 'Sales kickoff highlights',
        kind: 'import',
        state: 'processing',
        video: video(884210, 'viewable'),
        minutesAgo: 9,
      },
      {
        id: 'r3Fx8hPo',
        name: 'Draft – do not publish',
        state: 'canceled',
        size: 95_000_000,
        bytes_received: 40_000_000,
        minutesAgo: 240,
      },
      {
        id: 'y7Lm4jQc',
        name: 'Engineering all-hands Q2',
        state: 'ready',
        size: 1.2 * gb,
        bytes_forwarded: 1.2 * gb,
        video: video(884101, 'ready'),
        minutesAgo: 1_500,
      },
    ];
    for (const job of mix) await seed(job);
    await t.queues.forward.add('upload', { id: 'm5Rc9pWu' }, { jobId: 'm5Rc9pWu' });
    const stats = new StatsCounters(t.redis, t.prefix);
    await stats.recordForwarded(187_000_000);
    for (let i = 0; i < 2; i++) await stats.recordRateLimited();
    d = await openDashboard(browser, t.url, t.token);
    const { page } = d;
    await waitForRows(
      page,
      mix.sort((a, b) => (a.minutesAgo ?? 0) - (b.minutesAgo ?? 0)).map((job) => job.id),
    );
    await page.waitForSelector('[data-count-for="all"]:text-is("12")');
    await page.waitForSelector('#m-throughput:text-is("18.7 MB/s")');
    await page.waitForSelector('.metric-warn #m-429:text-is("2")');
    expect(await elementsWiderThanWindow(page)).toEqual([]);
    // The screenshot in the repo changes only on request: DASHBOARD_SCREENSHOT=1.
    const file = process.env.DASHBOARD_SCREENSHOT
      ? path.join(ROOT, 'docs', 'dashboard.png')
      : path.join(os.tmpdir(), 'dashboard.png');
    await page.screenshot({ path: file });
    await page.screenshot({ path: path.join(os.tmpdir(), 'dashboard-full.png'), fullPage: true });
  });
});

const failure = (message: string): JobError => ({ code: 'GCORE_ERROR', message, retryable: false });
